package runtime

// End-to-end tests of the connection settings: an app with a table and a
// global table over SASL_SSL, the tools over SASL_SSL against the broker
// subcommand, and a worker's start-up against brokers it cannot
// authenticate with or reach securely.

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// secureBroker starts a broker that speaks TLS only, with a CA made for
// it, and requires SASL as user "app" with the password appPassword.
func secureBroker(t *testing.T, partitions int, topics ...string) (*broker.Broker, *broker.GeneratedTLS) {
	t.Helper()
	g, err := broker.GenerateTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Options{Partitions: partitions, Topics: topics, TLS: g.Config,
		Users: []broker.User{{Name: "app", Password: appPassword}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b, g
}

// appPassword is the password of user "app": no output may show it.
const appPassword = "app-pw-Zq81x-never-shown"

// writeSecret writes s to a file of its own and returns the path.
func writeSecret(t *testing.T, s string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// namedCounter counts records per key in a table, looks the key's name up
// in a global table, and writes "name=count" to "out".
type namedCounter struct {
	counts *tables.Table[string, int64]
	names  *tables.Table[string, string]
	out    *Output[string, string]
}

func (h *namedCounter) OnMessage(ctx *Context, msg *Message[string, string]) error {
	n, _, err := h.counts.Get(ctx, msg.Key)
	if err != nil {
		return err
	}
	if err := h.counts.Set(ctx, msg.Key, n+1); err != nil {
		return err
	}
	name, _, err := h.names.Get(ctx, msg.Key)
	if err != nil {
		return err
	}
	return h.out.Produce(ctx, "out", msg.Key, fmt.Sprintf("%s=%d", name, n+1))
}

func namedCountApp(logger *slog.Logger) *App {
	app := NewApp("secure", WithLogger(logger))
	h := &namedCounter{
		counts: NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{}),
		names:  NewGlobalTable(app, "names", "names", serde.String(), serde.String(), tables.Options{}),
		out:    NewOutput(app, serde.String(), serde.String(), "out"),
	}
	Handle(app, h, serde.String(), serde.String(), "in")
	return app
}

// TestStatefulAppOverSASLSSL runs an app with a table, a global table and
// an output against a broker that requires SCRAM-SHA-512 over TLS: the
// worker's group client, its changelog writes, the global table's
// follower and, after a restart with an empty store, the table's restore
// all connect with the settings; offsets are committed; the password shows
// in no log line.
func TestStatefulAppOverSASLSSL(t *testing.T) {
	t.Parallel()
	const keys = 10
	b, g := secureBroker(t, 2, "in", "out", "names")
	cfg := testConfig(t, b.Addrs())
	cfg.TableStore = "memory://"
	cfg.SecurityProtocol, cfg.TLSCAFile = "sasl_ssl", g.CAFile
	cfg.SASLMechanism, cfg.SASLUsername, cfg.SASLPasswordFile = "SCRAM-SHA-512", "app", writeSecret(t, appPassword)
	opts, err := cfg.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cl := testkit.NewClient(t, nil, append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	produce := func(recs ...*kgo.Record) {
		t.Helper()
		if err := cl.ProduceSync(t.Context(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range keys {
		produce(&kgo.Record{Topic: "names", Key: fmt.Appendf(nil, "k%d", i), Value: fmt.Appendf(nil, "name%d", i)})
	}
	produce(keyed("in", 10*keys, keys)...)

	var logs lockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r := startApp(t, namedCountApp(logger), cfg)
	outputs := readOutputs(t, cl, 10*keys)
	for i := range keys {
		if want := fmt.Sprintf("name%d=10", i); outputs[fmt.Sprint("k", i)] != want {
			t.Errorf("k%d: last output %q, want %q", i, outputs[fmt.Sprint("k", i)], want)
		}
	}
	awaitCommitted(t, cl, cfg.Group, "in", 10*keys)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}

	// A new worker with an empty store restores the counts from the
	// changelog, over SASL_SSL, before it handles one more record a key.
	produce(keyed("in", keys, keys)...)
	r = startApp(t, namedCountApp(logger), cfg)
	outputs = readOutputs(t, cl, 11*keys)
	for i := range keys {
		if want := fmt.Sprintf("name%d=11", i); outputs[fmt.Sprint("k", i)] != want {
			t.Errorf("after the restore, k%d: last output %q, want %q", i, outputs[fmt.Sprint("k", i)], want)
		}
	}
	awaitCommitted(t, cl, cfg.Group, "in", 11*keys)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !strings.Contains(logs.String(), "security_protocol=sasl_ssl") {
		t.Errorf("the worker's log does not name the security protocol:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), appPassword) {
		t.Errorf("the worker's log shows the password:\n%s", logs.String())
	}
}

// readOutputs reads "out" from its start until it holds n records and
// returns the last value of each key.
func readOutputs(t *testing.T, base *kgo.Client, n int) map[string]string {
	t.Helper()
	cl, err := kgo.NewClient(append(base.Opts(), kgo.ConsumeTopics("out"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	last := map[string]string{}
	for read := 0; read < n; {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d outputs within 60s", read, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			last[string(r.Key)] = string(r.Value)
			read++
		})
	}
	return last
}

// awaitCommitted waits until group has committed n records of topic.
func awaitCommitted(t *testing.T, cl *kgo.Client, group, topic string, n int64) {
	t.Helper()
	adm := kadm.NewClient(cl)
	var got int64
	eventually(t, 30*time.Second, fmt.Sprintf("%d records of %s committed", n, topic), func() bool {
		offsets, err := adm.FetchOffsets(t.Context(), group)
		if err != nil {
			return false
		}
		got = 0
		for _, o := range offsets[topic] {
			got += o.At
		}
		return got == n
	})
}

// TestToolsOverSASLSSL runs the broker subcommand requiring SASL and TLS
// (a CA it generates), and the topics, produce and consume tools against
// it, with the password from the environment and from a file.
func TestToolsOverSASLSSL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := toolApp("events", "results")
	b := startToolBroker(t, app, "--listen", "127.0.0.1:0", "--topics-partitions", "1",
		"--sasl-user", "app:"+appPassword, "--sasl-user", "other:other-pw", "--tls-generate", dir)
	if want := "clients connect with security_protocol sasl_ssl, tls.ca_file " + filepath.Join(dir, "ca.pem"); !strings.Contains(b.stderr.String(), want) {
		t.Errorf("broker stderr does not say %q:\n%s", want, b.stderr)
	}
	env := []string{"EDDY_BROKERS=" + b.addr, "EDDY_SECURITY_PROTOCOL=SASL_SSL", "EDDY_TLS_CA_FILE=" + filepath.Join(dir, "ca.pem"),
		"EDDY_SASL_MECHANISM=scram-sha-256", "EDDY_SASL_USERNAME=app", "EDDY_SASL_PASSWORD=" + appPassword}
	run := func(stdin string, env []string, args ...string) string {
		t.Helper()
		r := runTool(t.Context(), app, stdin, env, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit code %d, stderr:\n%s", args, r.code, r.errOut)
		}
		if strings.Contains(r.out+r.errOut, appPassword) {
			t.Errorf("%v shows the password:\n%s%s", args, r.out, r.errOut)
		}
		return r.out
	}
	if got, want := run("", env, "topics", "list"), "events\t1 partitions\t(app)\nresults\t1 partitions\t(app)\n"; got != want {
		t.Errorf("topics list printed %q, want %q", got, want)
	}
	run("k1\tv1\nk2\tv2\n", env, "produce", "--topic", "events")
	// PLAIN, the password from a file named by a flag.
	fileEnv := append(env[:3:3], "EDDY_SASL_MECHANISM=PLAIN", "EDDY_SASL_USERNAME=app")
	got := run("", fileEnv, "consume", "--topic", "events", "--from-beginning", "--max", "2",
		"--sasl-password-file", writeSecret(t, appPassword))
	if want := "k1\tv1\nk2\tv2\n"; got != want {
		t.Errorf("consume printed %q, want %q", got, want)
	}
	// lag reads the app's group over the same connection.
	if out := run("", env, "lag"); out == "" {
		t.Error("lag printed nothing")
	}
	// The tools' -h lists the connection settings.
	if r := runTool(t.Context(), app, "", nil, "consume", "-h"); r.code != 0 || !strings.Contains(r.errOut, "-sasl-password-file") ||
		!strings.Contains(r.errOut, "-tls-ca-file") || !strings.Contains(r.errOut, "-security-protocol") {
		t.Errorf("consume -h: exit code %d; want the connection settings listed:\n%s", r.code, r.errOut)
	}
	// insecure_skip_verify works, and warns.
	insecure := append(env[:2:2], "EDDY_SASL_MECHANISM=SCRAM-SHA-512", "EDDY_SASL_USERNAME=other", "EDDY_SASL_PASSWORD=other-pw",
		"EDDY_TLS_INSECURE_SKIP_VERIFY=true")
	r := runTool(t.Context(), app, "", insecure, "topics", "create")
	if r.code != 0 || !strings.Contains(r.errOut, "warning: tls.insecure_skip_verify is on") {
		t.Errorf("topics create with insecure_skip_verify: exit code %d, stderr:\n%s", r.code, r.errOut)
	}
	// Without SASL the broker closes the connection, and the tool says
	// SASL is required.
	r = runTool(t.Context(), app, "", []string{env[0], "EDDY_SECURITY_PROTOCOL=ssl", env[2]}, "topics", "list")
	if r.code != 1 || !strings.Contains(r.errOut, "requires SASL authentication") {
		t.Errorf("topics list without SASL: exit code %d, want 1 saying SASL is required; stderr:\n%s", r.code, r.errOut)
	}
}

// TestWorkerCannotConnect: a worker that cannot authenticate or reach the
// brokers securely exits non-zero within seconds (well within
// connect_timeout), saying what failed and what to set; no output shows
// the password.
func TestWorkerCannotConnect(t *testing.T) {
	t.Parallel()
	b, g := secureBroker(t, 1, "in", "out", "names")
	plain, err := broker.Start(broker.Options{Topics: []string{"in", "out", "names"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(plain.Close)
	const wrong = "wrong-pw-Jx55-never-shown"
	base := []string{"worker", "--http", "off", "--connect-timeout", "60s"}
	tests := []struct {
		name string
		args []string
		env  []string
		code int
		want []string
	}{
		{"wrong password",
			[]string{"--brokers", b.Addrs()[0], "--security-protocol", "sasl_ssl", "--tls-ca-file", g.CAFile,
				"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "app"},
			[]string{"EDDY_SASL_PASSWORD=" + wrong}, 1,
			[]string{"cannot connect to the brokers", "authentication failed", "SASL SCRAM-SHA-256", `user "app"`}},
		{"unknown user",
			[]string{"--brokers", b.Addrs()[0], "--security-protocol", "sasl_ssl", "--tls-ca-file", g.CAFile,
				"--sasl-mechanism", "PLAIN", "--sasl-username", "nobody"},
			[]string{"EDDY_SASL_PASSWORD=" + wrong}, 1,
			[]string{"authentication failed", "SASL PLAIN", `user "nobody"`}},
		{"no CA file",
			[]string{"--brokers", b.Addrs()[0], "--security-protocol", "sasl_ssl", "--tls-ca-file", "/nonexistent/ca.pem",
				"--sasl-mechanism", "PLAIN", "--sasl-username", "app"},
			[]string{"EDDY_SASL_PASSWORD=" + wrong}, 1,
			[]string{"tls.ca_file", "/nonexistent/ca.pem", "no such file"}},
		{"system roots",
			[]string{"--brokers", b.Addrs()[0], "--security-protocol", "sasl_ssl", "--sasl-mechanism", "PLAIN", "--sasl-username", "app"},
			[]string{"EDDY_SASL_PASSWORD=" + wrong}, 1,
			[]string{"unknown authority", "set tls.ca_file"}},
		{"plaintext against TLS",
			[]string{"--brokers", b.Addrs()[0]}, nil, 1,
			[]string{"requires TLS", "security_protocol is plaintext"}},
		{"TLS against plaintext",
			[]string{"--brokers", plain.Addrs()[0], "--security-protocol", "ssl", "--tls-ca-file", g.CAFile}, nil, 1,
			[]string{"during the TLS handshake", "plaintext listener"}},
		{"unknown mechanism",
			[]string{"--brokers", b.Addrs()[0], "--security-protocol", "sasl_ssl", "--sasl-mechanism", "KERBEROS"}, nil, 1,
			[]string{`--sasl-mechanism: "KERBEROS" is not a SASL mechanism: use one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER, AWS_MSK_IAM`}},
		{"missing token file",
			[]string{"--brokers", b.Addrs()[0], "--security-protocol", "sasl_ssl", "--tls-ca-file", g.CAFile,
				"--sasl-mechanism", "OAUTHBEARER", "--sasl-token-file", "/nonexistent/token"}, nil, 1,
			[]string{"sasl.token_file", "/nonexistent/token"}},
		{"security without brokers",
			[]string{"--security-protocol", "ssl"}, nil, 1,
			[]string{"security_protocol ssl needs brokers", "embedded broker"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := namedCountApp(slog.New(slog.DiscardHandler))
			start := time.Now()
			r := runTool(t.Context(), app, "", tt.env, append(base, tt.args...)...)
			took := time.Since(start)
			if r.code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", r.code, tt.code, r.errOut)
			}
			if took > 15*time.Second {
				t.Errorf("took %v to fail, want a few seconds (connect_timeout is 60s)", took)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.errOut, w) {
					t.Errorf("stderr does not say %q:\n%s", w, r.errOut)
				}
			}
			if strings.Contains(r.out+r.errOut, wrong) {
				t.Errorf("the output shows the password:\n%s%s", r.out, r.errOut)
			}
		})
	}
}
