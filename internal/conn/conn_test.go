package conn_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/conn"
)

// connect lists the topics of b's brokers with a client connecting as s
// says, and returns the topics, the error as Explain explains it (or as
// the client returned it, when Explain has nothing to say), and how long
// it took. The request's deadline is long: a failure that takes it is a
// failure to fail fast.
func connect(t *testing.T, b *broker.Broker, s conn.Settings) (kadm.TopicDetails, time.Duration, error) {
	t.Helper()
	sec, err := conn.New(s)
	if err != nil {
		t.Fatalf("New(%+v): %v", s, err)
	}
	cl, err := kgo.NewClient(append(sec.Options(), kgo.SeedBrokers(b.Addrs()...), kgo.DialTimeout(10*time.Second))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 45*time.Second)
	defer cancel()
	start := time.Now()
	d, err := kadm.NewClient(cl).ListTopics(ctx)
	took := time.Since(start)
	if e := sec.Explain(err); e != nil {
		err = e
	}
	return d, took, err
}

// start starts a broker with o and the topic "events".
func start(t *testing.T, o broker.Options) *broker.Broker {
	t.Helper()
	o.Topics = []string{"events"}
	b, err := broker.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// wantError checks that err is there, came soon, and says every want.
func wantError(t *testing.T, what string, err error, took time.Duration, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	t.Logf("%s (%v): %v", what, took, err)
	if took > 10*time.Second {
		t.Errorf("%s: the error took %v, want a few seconds at most: %v", what, took, err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%s: error %q does not say %q", what, err, w)
		}
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestSASLOverTLS connects with every password mechanism over TLS
// (SASL_SSL), the password given, from a file, or from a file that
// changes.
func TestSASLOverTLS(t *testing.T) {
	t.Parallel()
	g, err := broker.GenerateTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b := start(t, broker.Options{TLS: g.Config, Users: []broker.User{{Name: "alice", Password: "alice-pw"}}})
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "password", "alice-pw\n")
	for _, m := range []string{conn.Plain, conn.ScramSHA256, conn.ScramSHA512} {
		for _, viaFile := range []bool{false, true} {
			s := conn.Settings{Protocol: conn.SASLSSL, CAFile: g.CAFile, Mechanism: m, Username: "alice"}
			if viaFile {
				s.PasswordFile = pwFile
			} else {
				s.Password = conn.NewSecret("alice-pw")
			}
			if d, _, err := connect(t, b, s); err != nil || !d.Has("events") {
				t.Errorf("%s (password file: %t): topics %v, error %v", m, viaFile, d.Names(), err)
			}
		}
	}
}

// TestWrongPasswordFailsFast: a broker that closes the connection on a
// wrong password (as kfake does) must not be retried until a timeout: the
// error says authentication failed, names the mechanism and the user, and
// comes after a handful of attempts.
func TestWrongPasswordFailsFast(t *testing.T) {
	t.Parallel()
	for _, m := range []string{conn.Plain, conn.ScramSHA256, conn.ScramSHA512} {
		t.Run(m, func(t *testing.T) {
			t.Parallel()
			b := start(t, broker.Options{Users: []broker.User{{Name: "alice", Password: "alice-pw"}}})
			var attempts atomic.Int64
			b.Cluster().ControlKey(int16(kmsg.SASLHandshake), func(kmsg.Request) (kmsg.Response, error, bool) {
				attempts.Add(1)
				return nil, nil, false
			})
			_, took, err := connect(t, b, conn.Settings{Protocol: conn.SASLPlaintext, Mechanism: m, Username: "alice",
				Password: conn.NewSecret("not-the-password")})
			wantError(t, "wrong password", err, took, "authentication failed", m, `user "alice"`, "sasl.username")
			var ae *conn.AuthError
			if !errors.As(err, &ae) || ae.Mechanism != m || ae.User != "alice" {
				t.Errorf("error %v is not an AuthError of %s as alice", err, m)
			}
			if strings.Contains(err.Error(), "not-the-password") {
				t.Errorf("the error shows the password: %v", err)
			}
			t.Logf("%s: %d attempts, %v: %v", m, attempts.Load(), took, err)
			if n := attempts.Load(); n > 4 {
				t.Errorf("%d authentication attempts before failing, want at most 4 (no retry storm)", n)
			}
		})
	}
}

// TestProtocolMismatch: TLS or SASL on one side only is named as such.
func TestProtocolMismatch(t *testing.T) {
	t.Parallel()
	g, err := broker.GenerateTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	plainBroker := start(t, broker.Options{})
	tlsBroker := start(t, broker.Options{TLS: g.Config})
	saslBroker := start(t, broker.Options{Users: []broker.User{{Name: "alice", Password: "pw"}}})
	tests := []struct {
		name string
		b    *broker.Broker
		s    conn.Settings
		want []string
	}{
		{"plaintext client, TLS listener", tlsBroker, conn.Settings{},
			[]string{"requires TLS", "security_protocol is plaintext", "ssl"}},
		{"SASL client without TLS, TLS listener", tlsBroker,
			conn.Settings{Protocol: conn.SASLPlaintext, Mechanism: conn.Plain, Username: "alice", Password: conn.NewSecret("pw")},
			[]string{"requires TLS", "set it to sasl_ssl"}},
		{"TLS client, plaintext listener", plainBroker, conn.Settings{Protocol: conn.SSL, CAFile: g.CAFile},
			[]string{"TLS handshake", "plaintext listener", "security_protocol plaintext"}},
		{"plaintext client, SASL listener", saslBroker, conn.Settings{},
			[]string{"requires SASL", "security_protocol is plaintext", "sasl_plaintext"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, took, err := connect(t, tt.b, tt.s)
			wantError(t, tt.name, err, took, tt.want...)
		})
	}
}

// TestCertificateProblems: a certificate the client cannot trust says
// why, with certificates made here.
func TestCertificateProblems(t *testing.T) {
	t.Parallel()
	ca, other := newCA(t, "ca"), newCA(t, "other-ca")
	now := time.Now()
	good := ca.issue("good", []string{"127.0.0.1", "localhost"}, now.Add(-time.Hour), now.Add(time.Hour))
	tests := []struct {
		name string
		cert issued
		s    conn.Settings
		want []string
	}{
		{"unknown CA", good, conn.Settings{Protocol: conn.SSL, CAFile: other.file},
			[]string{"unknown authority", "tls.ca_file " + other.file + " did not sign it"}},
		{"system roots", good, conn.Settings{Protocol: conn.SSL},
			[]string{"unknown authority", "set tls.ca_file"}},
		{"hostname mismatch", ca.issue("elsewhere", []string{"elsewhere.example"}, now.Add(-time.Hour), now.Add(time.Hour)),
			conn.Settings{Protocol: conn.SSL, CAFile: ca.file},
			[]string{"not valid for the name dialled", "elsewhere.example", "tls.server_name"}},
		{"server name set", good, conn.Settings{Protocol: conn.SSL, CAFile: ca.file, ServerName: "kafka.example"},
			[]string{"not valid for the name dialled", "kafka.example"}},
		{"expired", ca.issue("expired", []string{"127.0.0.1"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour)),
			conn.Settings{Protocol: conn.SSL, CAFile: ca.file},
			[]string{"expired or is not valid yet", "renew"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := start(t, broker.Options{TLS: server(tt.cert, nil)})
			_, took, err := connect(t, b, tt.s)
			wantError(t, tt.name, err, took, tt.want...)
		})
	}
	t.Run("insecure_skip_verify", func(t *testing.T) {
		t.Parallel()
		b := start(t, broker.Options{TLS: server(ca.issue("expired", []string{"elsewhere"}, now.Add(-48*time.Hour), now.Add(-24*time.Hour)), nil)})
		s := conn.Settings{Protocol: conn.SSL, InsecureSkipVerify: true}
		sec, err := conn.New(s)
		if err != nil || !sec.Insecure() {
			t.Fatalf("New: %v; Insecure() should be true", err)
		}
		if _, _, err := connect(t, b, s); err != nil {
			t.Errorf("insecure_skip_verify should accept any certificate: %v", err)
		}
	})
}

// TestMutualTLS: a broker that requires client certificates takes the
// one configured and names what is missing without one.
func TestMutualTLS(t *testing.T) {
	t.Parallel()
	ca, clients := newCA(t, "ca"), newCA(t, "clients")
	now := time.Now()
	b := start(t, broker.Options{TLS: server(ca.issue("broker", []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour)), clients)})
	client := clients.issue("client", nil, now.Add(-time.Hour), now.Add(time.Hour))
	if d, _, err := connect(t, b, conn.Settings{Protocol: conn.SSL, CAFile: ca.file, CertFile: client.certFile, KeyFile: client.keyFile}); err != nil || !d.Has("events") {
		t.Errorf("with a client certificate: topics %v, error %v", d.Names(), err)
	}
	_, took, err := connect(t, b, conn.Settings{Protocol: conn.SSL, CAFile: ca.file})
	wantError(t, "no client certificate", err, took, "requires a client certificate", "tls.cert_file and tls.key_file")
	stranger := ca.issue("stranger", nil, now.Add(-time.Hour), now.Add(time.Hour))
	_, took, err = connect(t, b, conn.Settings{Protocol: conn.SSL, CAFile: ca.file, CertFile: stranger.certFile, KeyFile: stranger.keyFile})
	wantError(t, "a client certificate of another CA", err, took, "refused this client's certificate", stranger.certFile)
}

// TestUnsupportedMechanism: kfake enables PLAIN and SCRAM only, so
// OAUTHBEARER and AWS_MSK_IAM are refused at the handshake, which names
// the mechanism. (What kfake cannot test of them, their unit tests do.)
func TestUnsupportedMechanism(t *testing.T) {
	t.Parallel()
	b := start(t, broker.Options{Users: []broker.User{{Name: "alice", Password: "pw"}}})
	token := writeFile(t, t.TempDir(), "token", "eyJ.token")
	for _, s := range []conn.Settings{
		{Protocol: conn.SASLPlaintext, Mechanism: conn.OAuthBearer, TokenFile: token},
		{Protocol: conn.SASLPlaintext, Mechanism: conn.AWSMSKIAM},
	} {
		_, took, err := connect(t, b, s)
		wantError(t, s.Mechanism, err, took, "do not enable SASL mechanism "+s.Mechanism)
	}
}

// TestSilentBrokerIsNotExplained: a listener that accepts connections and
// never answers is no security problem; Explain leaves the caller's
// message (the brokers did not answer) alone.
func TestSilentBrokerIsNotExplained(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn // open, unanswered, until the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	for _, s := range []conn.Settings{{}, {Protocol: conn.SSL}} {
		sec, err := conn.New(s)
		if err != nil {
			t.Fatal(err)
		}
		cl, err := kgo.NewClient(append(sec.Options(), kgo.SeedBrokers(ln.Addr().String()), kgo.RequestTimeoutOverhead(time.Second))...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		_, err = kadm.NewClient(cl).ListTopics(ctx)
		cancel()
		cl.Close()
		if err == nil {
			t.Fatalf("%s: listed topics of a silent listener", s.Protocol)
		}
		if e := sec.Explain(err); e != nil {
			t.Errorf("%s: Explain(%v) = %v, want nil: a silent broker is not a security problem", s.Protocol, err, e)
		}
	}
}
