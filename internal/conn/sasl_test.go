package conn

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNewNamesTheFileItCannotUse: every file New reads names its setting
// and path when missing or unusable, and an unknown name lists the valid
// ones.
func TestNewNamesTheFileItCannotUse(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing.pem")
	notPEM := filepath.Join(dir, "not.pem")
	write(t, notPEM, "hello")
	empty := filepath.Join(dir, "empty")
	write(t, empty, "\n")
	unreadable := filepath.Join(dir, "unreadable")
	write(t, unreadable, "c0ntent-m4rker")
	if err := os.Chmod(unreadable, 0); err != nil {
		t.Fatal(err)
	}
	unreadableToo := os.Geteuid() != 0 // root reads anything
	type test struct {
		name string
		s    Settings
		want []string
		is   error
	}
	tests := []test{
		{"missing CA", Settings{Protocol: SSL, CAFile: missing}, []string{"tls.ca_file", missing}, fs.ErrNotExist},
		{"CA not PEM", Settings{Protocol: SSL, CAFile: notPEM}, []string{"tls.ca_file " + notPEM + " holds no PEM certificate"}, nil},
		{"missing cert", Settings{Protocol: SSL, CertFile: missing, KeyFile: notPEM}, []string{"tls.cert_file", missing}, fs.ErrNotExist},
		{"missing key", Settings{Protocol: SSL, CertFile: notPEM, KeyFile: missing}, []string{"tls.key_file", missing}, fs.ErrNotExist},
		{"cert and key not a pair", Settings{Protocol: SSL, CertFile: notPEM, KeyFile: notPEM}, []string{"tls.cert_file " + notPEM, "tls.key_file " + notPEM}, nil},
		{"cert without key", Settings{Protocol: SSL, CertFile: notPEM}, []string{"tls.cert_file is set without tls.key_file"}, nil},
		{"missing password file", Settings{Protocol: SASLSSL, Mechanism: Plain, Username: "u", PasswordFile: missing},
			[]string{"sasl.password_file", missing}, fs.ErrNotExist},
		{"empty password file", Settings{Protocol: SASLSSL, Mechanism: ScramSHA256, Username: "u", PasswordFile: empty},
			[]string{"sasl.password_file " + empty + " is empty"}, nil},
		{"missing token file", Settings{Protocol: SASLSSL, Mechanism: OAuthBearer, TokenFile: missing},
			[]string{"sasl.token_file", missing}, fs.ErrNotExist},
		// Unreadable: a directory where a file should be (root reads
		// any file, so a mode cannot make one unreadable here).
		{"password file is a directory", Settings{Protocol: SASLSSL, Mechanism: Plain, Username: "u", PasswordFile: dir},
			[]string{"sasl.password_file", dir, "is a directory"}, nil},
		{"CA file is a directory", Settings{Protocol: SSL, CAFile: dir}, []string{"tls.ca_file", dir, "is a directory"}, nil},
		{"key file is a directory", Settings{Protocol: SSL, CertFile: notPEM, KeyFile: dir}, []string{"tls.key_file", dir, "is a directory"}, nil},
		{"no password", Settings{Protocol: SASLSSL, Mechanism: Plain, Username: "u"}, []string{"needs a password", "EDDY_SASL_PASSWORD", "sasl.password_file"}, nil},
		{"both passwords", Settings{Protocol: SASLSSL, Mechanism: Plain, Username: "u", Password: NewSecret("p"), PasswordFile: empty},
			[]string{"both sasl.password and sasl.password_file"}, nil},
		{"no mechanism", Settings{Protocol: SASLSSL}, []string{"needs sasl.mechanism", "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM"}, nil},
		{"unknown mechanism", Settings{Protocol: SASLPlaintext, Mechanism: "GSSAPI"}, []string{`unknown SASL mechanism "GSSAPI"`, "PLAIN, SCRAM-SHA-256"}, nil},
		{"unknown protocol", Settings{Protocol: "tls"}, []string{`unknown security protocol "tls"`, "plaintext, ssl, sasl_plaintext, sasl_ssl"}, nil},
		{"TLS file without TLS", Settings{Protocol: SASLPlaintext, Mechanism: Plain, CAFile: notPEM}, []string{"does not use TLS"}, nil},
		{"mechanism without SASL", Settings{Protocol: SSL, Mechanism: Plain}, []string{"does not use SASL"}, nil},
	}
	if unreadableToo {
		tests = append(tests, test{"unreadable password file", Settings{Protocol: SASLSSL, Mechanism: Plain, Username: "u", PasswordFile: unreadable},
			[]string{"sasl.password_file", unreadable}, fs.ErrPermission})
	}
	for _, tt := range tests {
		_, err := New(tt.s)
		if err == nil {
			t.Errorf("%s: New gave no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", tt.name, err, w)
			}
		}
		if tt.is != nil && !errors.Is(err, tt.is) {
			t.Errorf("%s: error %v is not %v", tt.name, err, tt.is)
		}
		if strings.Contains(err.Error(), "c0ntent-m4rker") {
			t.Errorf("%s: error %v shows a file's content", tt.name, err)
		}
	}
}

// authenticate runs s's mechanism's first step against host and returns
// its first message.
func authenticate(t *testing.T, s Settings, host string) (string, error) {
	t.Helper()
	sec, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	_, first, err := sec.sasl.Authenticate(t.Context(), host)
	return string(first), err
}

// TestFilesAreReadAgainWhenTheyChange: a renewed token or a rotated
// password file is used by the next authentication.
func TestFilesAreReadAgainWhenTheyChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	write(t, token, "token-one\n")
	s := Settings{Protocol: SASLSSL, Mechanism: OAuthBearer, TokenFile: token}
	sec, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	first := func() string {
		t.Helper()
		_, msg, err := sec.sasl.Authenticate(t.Context(), "broker:9092")
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	if msg := first(); !strings.Contains(msg, "auth=Bearer token-one\x01") {
		t.Fatalf("OAUTHBEARER's first message %q does not carry the token", msg)
	}
	write(t, token, "token-two-renewed")
	// A modification time within the file system's granularity of the
	// first write is told apart by the size.
	if msg := first(); !strings.Contains(msg, "auth=Bearer token-two-renewed\x01") {
		t.Fatalf("after the token file changed, the first message %q does not carry the new token", msg)
	}
	if err := os.Remove(token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sec.sasl.Authenticate(t.Context(), "broker:9092"); err == nil || !strings.Contains(err.Error(), token) {
		t.Errorf("with the token file gone: error %v, want one naming %s", err, token)
	}

	pw := filepath.Join(dir, "password")
	write(t, pw, "one")
	ps := Settings{Protocol: SASLSSL, Mechanism: Plain, Username: "alice", PasswordFile: pw}
	psec, err := New(ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"one", "two-rotated"} {
		write(t, pw, want+"\n")
		_, msg, err := psec.sasl.Authenticate(t.Context(), "broker:9092")
		if err != nil {
			t.Fatal(err)
		}
		if string(msg) != "\x00alice\x00"+want {
			t.Errorf("PLAIN's message %q, want the password %q", msg, want)
		}
	}
}

// TestMSKIAMUsesTheDefaultCredentialChain builds AWS_MSK_IAM's first
// message with credentials from the environment, which the AWS SDK's
// default chain reads first. kfake does not speak AWS_MSK_IAM, so what a
// broker makes of the message is not tested; the signing is franz-go's.
// (t.Setenv forbids t.Parallel.)
func TestMSKIAMUsesTheDefaultCredentialChain(t *testing.T) {
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY":       "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
		"AWS_SESSION_TOKEN":           "session-token-example",
		"AWS_REGION":                  "eu-west-1",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_PROFILE":                 "",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		t.Setenv(k, v)
	}
	s := Settings{Protocol: SASLSSL, Mechanism: AWSMSKIAM}
	msg, err := authenticate(t, s, "b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098")
	if err != nil {
		t.Fatal(err)
	}
	var challenge map[string]string
	if err := json.Unmarshal([]byte(msg), &challenge); err != nil {
		t.Fatalf("first message %q is not JSON: %v", msg, err)
	}
	for k, want := range map[string]string{
		"action":               "kafka-cluster:Connect",
		"host":                 "b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com",
		"x-amz-security-token": "session-token-example",
	} {
		if challenge[k] != want {
			t.Errorf("%s = %q, want %q (message %s)", k, challenge[k], want, msg)
		}
	}
	// The region comes from the broker's name; the key id from the
	// environment, through the chain.
	if c := challenge["x-amz-credential"]; !strings.HasPrefix(c, "AKIDEXAMPLE/") || !strings.Contains(c, "/us-east-1/kafka-cluster/") {
		t.Errorf("x-amz-credential = %q, want the key id and the broker's region", c)
	}

	// Lazy: with no credentials anywhere, New succeeds (nothing is
	// resolved at start) and the authentication fails naming the chain.
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	t.Setenv("AWS_SESSION_TOKEN", "")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	sec, err := New(s)
	if err != nil {
		t.Fatalf("New without credentials: %v (credentials are resolved per authentication)", err)
	}
	_, _, err = sec.sasl.Authenticate(ctx, "b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098")
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Errorf("without credentials: error %v, want one saying none were found and where the chain looks", err)
	}
}

// TestExplainBrokerAnswers: what Kafka answers (rather than closing the
// connection, as kfake does) is explained too.
func TestExplainBrokerAnswers(t *testing.T) {
	t.Parallel()
	sec, err := New(Settings{Protocol: SASLSSL, Mechanism: ScramSHA512, Username: "orders", Password: NewSecret("pw")})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		err  error
		want []string
	}{
		{fmt.Errorf("request: %w", kerr.SaslAuthenticationFailed),
			[]string{"authentication failed", "SASL SCRAM-SHA-512", `user "orders"`, "SASL_AUTHENTICATION_FAILED"}},
		{kerr.TopicAuthorizationFailed, []string{`authenticated user "orders" but refuse it this`, "ACLs"}},
		{kerr.IllegalSaslState, []string{"did not expect SASL on this listener"}},
	} {
		got := sec.Explain(tt.err)
		if got == nil {
			t.Errorf("Explain(%v) = nil", tt.err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(got.Error(), w) {
				t.Errorf("Explain(%v) = %q, does not say %q", tt.err, got, w)
			}
		}
		if !errors.Is(got, tt.err) && !errors.Is(got, kerr.SaslAuthenticationFailed) {
			t.Errorf("Explain(%v) = %v does not wrap the broker's error", tt.err, got)
		}
	}
	if got := sec.Explain(kerr.UnknownTopicOrPartition); got != nil {
		t.Errorf("Explain(UNKNOWN_TOPIC_OR_PARTITION) = %v, want nil: not a connection problem", got)
	}
}
