package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/eddy-streams/eddy/broker"
)

// list lists the topics of the broker at addrs with a client of opts, and
// returns the error.
func list(t *testing.T, addrs []string, opts ...kgo.Opt) (kadm.TopicDetails, error) {
	t.Helper()
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(addrs...), kgo.RequestRetries(1))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	return kadm.NewClient(cl).ListTopics(t.Context())
}

// trusting is a TLS client config that trusts the CA in caFile.
func trusting(t *testing.T, caFile string) *tls.Config {
	t.Helper()
	data, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		t.Fatalf("%s holds no certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

func TestUsersAuthenticateWithEveryMechanism(t *testing.T) {
	t.Parallel()
	b, err := broker.Start(broker.Options{Topics: []string{"a"}, Users: []broker.User{{Name: "alice", Password: "s3cret"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, m := range []sasl.Mechanism{
		plain.Auth{User: "alice", Pass: "s3cret"}.AsMechanism(),
		scram.Auth{User: "alice", Pass: "s3cret"}.AsSha256Mechanism(),
		scram.Auth{User: "alice", Pass: "s3cret"}.AsSha512Mechanism(),
	} {
		if d, err := list(t, b.Addrs(), kgo.SASL(m)); err != nil || !d.Has("a") {
			t.Errorf("%s as alice: topics %v, error %v; want topic a", m.Name(), d.Names(), err)
		}
	}
	// The wrong password, and no SASL at all, are refused: kfake closes
	// the connection.
	if _, err := list(t, b.Addrs(), kgo.SASL(plain.Auth{User: "alice", Pass: "wrong"}.AsMechanism())); err == nil {
		t.Error("PLAIN with a wrong password listed topics")
	}
	if _, err := list(t, b.Addrs()); err == nil {
		t.Error("a client without SASL listed topics")
	}
}

func TestGeneratedTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	g, err := broker.GenerateTLS(dir, "broker.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{g.CAFile, g.CertFile, g.KeyFile, g.ClientCertFile, g.ClientKeyFile} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("GenerateTLS did not write %s: %v", f, err)
		}
	}
	if st, err := os.Stat(g.KeyFile); err == nil && st.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", g.KeyFile, st.Mode().Perm())
	}
	b, err := broker.Start(broker.Options{Topics: []string{"a"}, TLS: g.Config})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if d, err := list(t, b.Addrs(), kgo.DialTLSConfig(trusting(t, g.CAFile))); err != nil || !d.Has("a") {
		t.Errorf("TLS client trusting ca.pem: topics %v, error %v; want topic a", d.Names(), err)
	}
	// The certificate is valid for the names given and localhost.
	c := trusting(t, g.CAFile)
	c.ServerName = "broker.test"
	if _, err := list(t, b.Addrs(), kgo.DialTLSConfig(c)); err != nil {
		t.Errorf("TLS client checking the name broker.test: %v", err)
	}
	c = trusting(t, g.CAFile)
	c.ServerName = "elsewhere.test"
	var hostErr x509.HostnameError
	if _, err := list(t, b.Addrs(), kgo.DialTLSConfig(c)); !errors.As(err, &hostErr) {
		t.Errorf("TLS client checking the name elsewhere.test: error %v, want an x509.HostnameError", err)
	}
}

// TestMutualTLSDataDirAndUsers starts a broker that requires client
// certificates and SASL from a data dir twice: its own requests (creating
// topics a restart adds) present its certificate and its first user.
func TestMutualTLSDataDirAndUsers(t *testing.T) {
	t.Parallel()
	g, err := broker.GenerateTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	server, err := broker.ServerTLS(g.CertFile, g.KeyFile, g.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	users := []broker.User{{Name: "admin", Password: "pw"}}
	data := t.TempDir()
	for i, topics := range [][]string{{"a"}, {"a", "b"}} {
		b, err := broker.Start(broker.Options{DataDir: data, Topics: topics, TLS: server, Users: users})
		if err != nil {
			t.Fatalf("start %d: %v", i+1, err)
		}
		c := trusting(t, g.CAFile)
		cert, err := tls.LoadX509KeyPair(g.ClientCertFile, g.ClientKeyFile)
		if err != nil {
			t.Fatal(err)
		}
		c.Certificates = []tls.Certificate{cert}
		d, err := list(t, b.Addrs(), kgo.DialTLSConfig(c), kgo.SASL(scram.Auth{User: "admin", Pass: "pw"}.AsSha512Mechanism()))
		if err != nil || !d.Has(topics[len(topics)-1]) {
			t.Errorf("start %d: topics %v, error %v; want %v", i+1, d.Names(), err, topics)
		}
		// Without a client certificate the handshake is refused.
		if _, err := list(t, b.Addrs(), kgo.DialTLSConfig(trusting(t, g.CAFile)), kgo.DialTimeout(5*time.Second)); err == nil {
			t.Errorf("start %d: a client without a certificate listed topics", i+1)
		}
		b.Close()
	}
}

func TestUserPrintsWithoutPassword(t *testing.T) {
	t.Parallel()
	u := broker.User{Name: "alice", Password: "s3cret"}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(verb, u); strings.Contains(s, "s3cret") {
			t.Errorf("%s of a User = %q: shows the password", verb, s)
		}
	}
}
