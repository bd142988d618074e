package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// password is the secret the tests below set: it must show nowhere.
const password = "pw-8f3kq-never-shown"

func TestSecuritySettingsLoad(t *testing.T) {
	t.Parallel()
	in := configInput{
		file: `brokers: [kafka-1:9093]
security_protocol: SASL_SSL
tls:
  ca_file: /etc/kafka/ca.pem
  server_name: kafka.internal
sasl:
  mechanism: scram-sha-512
  username: orders
`,
		env: []string{"EDDY_SASL_PASSWORD=" + password},
	}
	c, _, err := in.load(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.SecurityProtocol != "sasl_ssl" || c.TLSCAFile != "/etc/kafka/ca.pem" || c.TLSServerName != "kafka.internal" ||
		c.SASLMechanism != "SCRAM-SHA-512" || c.SASLUsername != "orders" || c.SASLPassword.Reveal() != password {
		t.Errorf("loaded %+v", c)
	}
	// Flags and a password file, mutual TLS.
	in = configInput{args: []string{"--brokers", "k:9093", "--security-protocol", "ssl", "--tls-cert-file", "/c.pem",
		"--tls-key-file", "/k.pem", "--tls-insecure-skip-verify=true"}}
	if c, _, err = in.load(t); err != nil {
		t.Fatal(err)
	}
	if c.SecurityProtocol != "ssl" || c.TLSCertFile != "/c.pem" || c.TLSKeyFile != "/k.pem" || !c.TLSInsecureSkipVerify {
		t.Errorf("loaded %+v", c)
	}
	in = configInput{env: []string{"EDDY_SECURITY_PROTOCOL=sasl_plaintext", "EDDY_SASL_MECHANISM=OAUTHBEARER",
		"EDDY_SASL_TOKEN_FILE=/run/token"}}
	if c, _, err = in.load(t); err != nil {
		t.Fatal(err)
	}
	if c.SASLMechanism != "OAUTHBEARER" || c.SASLTokenFile != "/run/token" {
		t.Errorf("loaded %+v", c)
	}
}

// TestSecuritySettingsErrors: the cross-checks of the connection
// settings, each naming where the value came from and what to do; none
// shows the password.
func TestSecuritySettingsErrors(t *testing.T) {
	t.Parallel()
	pw := "EDDY_SASL_PASSWORD=" + password
	tests := []struct {
		name string
		in   configInput
		want []string
	}{
		{"SASL without a mechanism", configInput{args: []string{"--security-protocol", "sasl_ssl"}},
			[]string{"runtime: config: --security-protocol: security_protocol sasl_ssl needs sasl.mechanism: one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM"}},
		{"unknown mechanism", configInput{env: []string{"EDDY_SECURITY_PROTOCOL=sasl_ssl", "EDDY_SASL_MECHANISM=SCRAM-SHA-265", pw}},
			[]string{`EDDY_SASL_MECHANISM: "SCRAM-SHA-265" is not a SASL mechanism: use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM (did you mean "SCRAM-SHA-256"?)`}},
		{"unknown protocol", configInput{file: "security_protocol: tls\n"},
			[]string{`{file}: security_protocol: "tls" is not one of plaintext, ssl, sasl_plaintext, sasl_ssl`}},
		{"PLAIN without a user", configInput{env: []string{"EDDY_SECURITY_PROTOCOL=sasl_ssl", "EDDY_SASL_MECHANISM=plain", pw}},
			[]string{"EDDY_SASL_MECHANISM: sasl.mechanism PLAIN needs sasl.username"}},
		{"SCRAM without a password", configInput{file: "security_protocol: sasl_plaintext\nsasl: {mechanism: SCRAM-SHA-256, username: u}\n"},
			[]string{"{file}: sasl.mechanism: sasl.mechanism SCRAM-SHA-256 needs a password: set EDDY_SASL_PASSWORD, or sasl.password_file"}},
		{"password and password file", configInput{
			args: []string{"--security-protocol", "sasl_ssl", "--sasl-mechanism", "PLAIN", "--sasl-username", "u", "--sasl-password-file", "/pw"},
			env:  []string{pw}},
			[]string{"--sasl-password-file: both sasl.password (from EDDY_SASL_PASSWORD) and sasl.password_file are set: keep one"}},
		{"TLS file without TLS", configInput{args: []string{"--tls-ca-file", "/ca.pem"}},
			[]string{"--tls-ca-file: tls.ca_file is set, but security_protocol plaintext (from the default) does not use TLS: set security_protocol ssl or sasl_ssl, or remove tls.ca_file"}},
		{"TLS file with SASL only", configInput{args: []string{"--security-protocol", "sasl_plaintext", "--sasl-mechanism", "PLAIN",
			"--sasl-username", "u", "--tls-insecure-skip-verify=true"}, env: []string{pw}},
			[]string{"--tls-insecure-skip-verify: tls.insecure_skip_verify is set, but security_protocol sasl_plaintext (from --security-protocol) does not use TLS"}},
		{"certificate without key", configInput{args: []string{"--security-protocol", "ssl", "--tls-cert-file", "/c.pem"}},
			[]string{"--tls-cert-file: tls.cert_file is set without tls.key_file"}},
		{"SASL setting without SASL", configInput{args: []string{"--security-protocol", "ssl"}, env: []string{pw}},
			[]string{"EDDY_SASL_PASSWORD: sasl.password is set, but security_protocol ssl (from --security-protocol) does not use SASL"}},
		{"OAUTHBEARER without a token file", configInput{args: []string{"--security-protocol", "sasl_ssl", "--sasl-mechanism", "oauthbearer"}},
			[]string{"--sasl-mechanism: sasl.mechanism OAUTHBEARER needs sasl.token_file"}},
		{"MSK IAM with a password", configInput{args: []string{"--security-protocol", "sasl_ssl", "--sasl-mechanism", "aws_msk_iam"}, env: []string{pw}},
			[]string{"EDDY_SASL_PASSWORD: sasl.password is not used by sasl.mechanism AWS_MSK_IAM (from --sasl-mechanism): remove it"}},
		{"token file with SCRAM", configInput{args: []string{"--security-protocol", "sasl_ssl", "--sasl-mechanism", "SCRAM-SHA-512",
			"--sasl-username", "u", "--sasl-token-file", "/t"}, env: []string{pw}},
			[]string{"--sasl-token-file: sasl.token_file is not used by sasl.mechanism SCRAM-SHA-512"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, expand, err := tt.in.load(t)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if w = expand(w); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if strings.Contains(err.Error(), password) {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

// TestConfigNeverShowsThePassword prints, dumps and logs a Config holding
// a password in every way a program might, and fails on every error path
// that has the Config at hand.
func TestConfigNeverShowsThePassword(t *testing.T) {
	t.Parallel()
	c := Default("app")
	c.Brokers = []string{"kafka:9093"}
	c.SecurityProtocol, c.SASLMechanism, c.SASLUsername, c.SASLPassword = "sasl_ssl", "PLAIN", "app", NewSecret(password)
	type wrapper struct{ cfg Config } // unexported: fmt cannot call its fields' methods
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
		outs = append(outs, fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c), fmt.Sprintf(verb, wrapper{c}))
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(js))
	var buf bytes.Buffer
	for _, l := range []*slog.Logger{slog.New(slog.NewTextHandler(&buf, nil)), slog.New(slog.NewJSONHandler(&buf, nil))} {
		l.Info("starting", "config", c, "password", c.SASLPassword)
	}
	outs = append(outs, buf.String())
	bad := c
	bad.SASLPasswordFile = "/nonexistent/password"
	for _, cfg := range []Config{bad, func() Config { c := c; c.SASLMechanism = "plain-ish"; return c }()} {
		if _, err := cfg.Complete("app"); err == nil {
			t.Fatalf("Complete(%v) gave no error", cfg)
		} else {
			outs = append(outs, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	if _, err := bad.ClientOptions(); err == nil {
		t.Error("ClientOptions of a Config with a password and a password file gave no error")
	} else {
		outs = append(outs, err.Error())
	}
	for _, o := range outs {
		if strings.Contains(o, password) || strings.Contains(o, fmt.Sprintf("%x", password)) {
			t.Errorf("the password shows in %s", o)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", c), "SASLPassword:[redacted]") || !strings.Contains(string(js), `"SASLPassword":"[redacted]"`) {
		t.Errorf("a set password should read [redacted]: %+v\n%s", c, js)
	}
}

// TestConnectionKeepsEveryConnectionSetting: Connection copies each
// setting that says how to reach the cluster, and nothing else.
func TestConnectionKeepsEveryConnectionSetting(t *testing.T) {
	t.Parallel()
	full := Default("app")
	full.Brokers = []string{"k:1"}
	full.TLSCAFile, full.TLSCertFile, full.TLSKeyFile, full.TLSServerName = "ca", "cert", "key", "name"
	full.TLSInsecureSkipVerify, full.SASLMechanism, full.SASLUsername = true, "PLAIN", "u"
	full.SASLPassword, full.SASLPasswordFile, full.SASLTokenFile = NewSecret("p"), "pf", "tf"
	got := full.Connection()
	conn, other := reflect.ValueOf(got), reflect.ValueOf(full)
	for _, s := range configSettings("app") {
		i := fieldIndex(&full, s.Field(&full))
		connection := s.Key == "brokers" || s.Key == "client_id" || s.Key == "security_protocol" ||
			strings.HasPrefix(s.Key, "tls.") || strings.HasPrefix(s.Key, "sasl.")
		switch {
		case connection && !reflect.DeepEqual(conn.Field(i).Interface(), other.Field(i).Interface()):
			t.Errorf("Connection() lost %s (%s)", conn.Type().Field(i).Name, s.Key)
		case !connection && !conn.Field(i).IsZero():
			t.Errorf("Connection() kept %s (%s), which is not about connecting", conn.Type().Field(i).Name, s.Key)
		}
	}
}

func fieldIndex(c *Config, ptr any) int {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if v.Field(i).Addr().Pointer() == reflect.ValueOf(ptr).Pointer() {
			return i
		}
	}
	return -1
}

// TestLoad resolves a file and the environment without flags.
func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "eddy.yaml")
	if err := os.WriteFile(path, []byte("brokers: [k:9093]\nsecurity_protocol: ssl\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load("bench", path, []string{"EDDY_TLS_SERVER_NAME=kafka.internal", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	if c.SecurityProtocol != "ssl" || c.TLSServerName != "kafka.internal" || c.Group != "bench" || c.Brokers[0] != "k:9093" {
		t.Errorf("Load = %+v", c)
	}
	if _, err := Load("bench", "", []string{"EDDY_SASL_MECHANISM=PLAIN"}); err == nil ||
		!strings.Contains(err.Error(), "EDDY_SASL_MECHANISM: sasl.mechanism is set, but security_protocol plaintext") {
		t.Errorf("Load with a mechanism and no SASL: %v", err)
	}
}
