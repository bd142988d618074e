package config

// The connection settings (security_protocol, tls.*, sasl.*): their
// checks, and the conn.Security every client of a worker or a tool is
// built with.

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/conn"
	"github.com/eddy-streams/eddy/internal/settings"
)

// Secret is a password or a token held by a Config (SASLPassword): it
// prints (fmt, every verb), marshals (text, JSON) and logs (slog) as
// "[redacted]", so that a Config can be printed, dumped or logged whole.
// Build one with NewSecret; the zero Secret is unset. Reveal returns the
// text.
type Secret = conn.Secret

// NewSecret returns a Secret holding s; "" gives the unset Secret.
func NewSecret(s string) Secret { return conn.NewSecret(s) }

// optionalString is a string setting whose default is empty.
func optionalString(key, arg string, field func(*Config) *string, doc string) setting {
	return settings.Custom(envPrefix, key, arg, "", doc, field, "",
		func(s string) (string, error) { return s, nil }, func(s string) string { return s })
}

// parseMechanism reads a SASL mechanism in any case; "" is none.
func parseMechanism(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	m := strings.ToUpper(s)
	if !slices.Contains(conn.Mechanisms, m) {
		return "", fmt.Errorf("%q is not a SASL mechanism: use one of %s%s", s, strings.Join(conn.Mechanisms, ", "),
			settings.DidYouMean(m, conn.Mechanisms))
	}
	return m, nil
}

// validateSecurity checks the connection settings together: each TLS or
// SASL setting needs a protocol that uses it, and each mechanism what it
// authenticates with.
func validateSecurity(c *Config, from settings.Sources) []settings.Problem {
	var ps []settings.Problem
	fail := func(key string, format string, args ...any) {
		ps = append(ps, settings.Problem{Source: from[key], Err: fmt.Errorf(format, args...)})
	}
	src := func(key string) string { return cmp.Or(from[key], "the default") }
	proto := c.SecurityProtocol
	useTLS := proto == conn.SSL || proto == conn.SASLSSL
	useSASL := proto == conn.SASLPlaintext || proto == conn.SASLSSL

	tlsSet := []struct {
		key string
		set bool
	}{
		{"tls.ca_file", c.TLSCAFile != ""}, {"tls.cert_file", c.TLSCertFile != ""}, {"tls.key_file", c.TLSKeyFile != ""},
		{"tls.server_name", c.TLSServerName != ""}, {"tls.insecure_skip_verify", c.TLSInsecureSkipVerify},
	}
	for _, t := range tlsSet {
		if t.set && !useTLS {
			fail(t.key, "%s is set, but security_protocol %s (from %s) does not use TLS: set security_protocol ssl or sasl_ssl, or remove %s",
				t.key, proto, src("security_protocol"), t.key)
		}
	}
	if useTLS && (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		if c.TLSCertFile == "" {
			fail("tls.key_file", "tls.key_file is set without tls.cert_file: mutual TLS needs the certificate and its key")
		} else {
			fail("tls.cert_file", "tls.cert_file is set without tls.key_file: mutual TLS needs the certificate and its key")
		}
	}

	saslSet := []struct {
		key string
		set bool
	}{
		{"sasl.mechanism", c.SASLMechanism != ""}, {"sasl.username", c.SASLUsername != ""},
		{"sasl.password", c.SASLPassword.IsSet()}, {"sasl.password_file", c.SASLPasswordFile != ""},
		{"sasl.token_file", c.SASLTokenFile != ""},
	}
	if !useSASL {
		for _, t := range saslSet {
			if t.set {
				fail(t.key, "%s is set, but security_protocol %s (from %s) does not use SASL: set security_protocol sasl_plaintext or sasl_ssl, or remove %s",
					t.key, proto, src("security_protocol"), t.key)
			}
		}
		return ps
	}
	m := c.SASLMechanism
	if m == "" {
		fail("security_protocol", "security_protocol %s needs sasl.mechanism: one of %s", proto, strings.Join(conn.Mechanisms, ", "))
		return ps
	}
	notFor := func(keys ...string) {
		for _, t := range saslSet {
			if t.set && slices.Contains(keys, t.key) {
				fail(t.key, "%s is not used by sasl.mechanism %s (from %s): remove it", t.key, m, src("sasl.mechanism"))
			}
		}
	}
	switch {
	case conn.UsesPassword(m):
		if c.SASLUsername == "" {
			fail("sasl.mechanism", "sasl.mechanism %s needs sasl.username", m)
		}
		switch {
		case c.SASLPassword.IsSet() && c.SASLPasswordFile != "":
			fail("sasl.password_file", "both sasl.password (from %s) and sasl.password_file are set: keep one", src("sasl.password"))
		case !c.SASLPassword.IsSet() && c.SASLPasswordFile == "":
			fail("sasl.mechanism", "sasl.mechanism %s needs a password: set %sSASL_PASSWORD, or sasl.password_file to a file that holds it",
				m, envPrefix)
		}
		notFor("sasl.token_file")
	case m == conn.OAuthBearer:
		if c.SASLTokenFile == "" {
			fail("sasl.mechanism", "sasl.mechanism %s needs sasl.token_file, the file that holds the token", m)
		}
		notFor("sasl.username", "sasl.password", "sasl.password_file")
	case m == conn.AWSMSKIAM:
		// Credentials come from the AWS SDK's default chain.
		notFor("sasl.username", "sasl.password", "sasl.password_file", "sasl.token_file")
	}
	return ps
}

// connSettings are the connection settings of c, for conn.New.
func (c Config) connSettings() conn.Settings {
	return conn.Settings{
		Protocol: c.SecurityProtocol,
		CAFile:   c.TLSCAFile, CertFile: c.TLSCertFile, KeyFile: c.TLSKeyFile,
		ServerName: c.TLSServerName, InsecureSkipVerify: c.TLSInsecureSkipVerify,
		Mechanism: c.SASLMechanism, Username: c.SASLUsername, Password: c.SASLPassword,
		PasswordFile: c.SASLPasswordFile, TokenFile: c.SASLTokenFile,
	}
}

// Security builds the connection security of a checked Config: it reads
// the files the settings name. It is for the runtime, which builds every
// client with it; its type is internal.
func (c Config) Security() (*conn.Security, error) {
	sec, err := conn.New(c.connSettings())
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return sec, nil
}

// Connection returns the part of c that says how to reach the cluster:
// Brokers, ClientID, SecurityProtocol and the TLS* and SASL* fields;
// every other field is zero. A harness or a second app uses it to connect
// as the workers do, with settings of its own for the rest.
func (c Config) Connection() Config {
	return Config{
		Brokers: c.Brokers, ClientID: c.ClientID, SecurityProtocol: c.SecurityProtocol,
		TLSCAFile: c.TLSCAFile, TLSCertFile: c.TLSCertFile, TLSKeyFile: c.TLSKeyFile,
		TLSServerName: c.TLSServerName, TLSInsecureSkipVerify: c.TLSInsecureSkipVerify,
		SASLMechanism: c.SASLMechanism, SASLUsername: c.SASLUsername, SASLPassword: c.SASLPassword,
		SASLPasswordFile: c.SASLPasswordFile, SASLTokenFile: c.SASLTokenFile,
	}
}

// ClientOptions returns the franz-go options of a client that reaches the
// brokers as c says: the seed brokers, the client id when c sets one, and
// the connection security (TLS, SASL). It is for a program's own clients
// (in an App.Command, a Starter, a test harness), which then connect
// exactly as the worker and the tools do. Zero fields take their
// defaults; c is checked as App.Run checks it, and the files it names are
// read. It fails when c names no brokers. Safe to call concurrently.
func (c Config) ClientOptions() ([]kgo.Opt, error) {
	if len(c.Brokers) == 0 {
		return nil, errors.New("config: ClientOptions: the config names no brokers")
	}
	clientID := c.ClientID
	// Any app name passes the checks; only the connection part is used.
	full, err := c.Complete("eddy")
	if err != nil {
		return nil, err
	}
	sec, err := full.Security()
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(full.Brokers...)}, sec.Options()...)
	if clientID != "" {
		opts = append(opts, kgo.ClientID(clientID))
	}
	return opts, nil
}

// Load resolves a Config as the worker subcommand does, without flags:
// defaults, the YAML file at path (when path is empty, the one EDDY_CONFIG
// names, if any), then the EDDY_* variables of environ ("KEY=VALUE", as
// os.Environ returns them). It is for programs with a command line of
// their own, such as a benchmark harness, that must reach the cluster as
// the app's workers do. appName is the default group and client id.
func Load(appName, path string, environ []string) (Config, error) {
	fs := flag.NewFlagSet(appName, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := Bind(fs, appName, nil)
	var args []string
	if path != "" {
		args = []string{"--config", path}
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return l.Load(environ)
}
