package runtime

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddy-streams/eddy/internal/cli"
	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/serde"
)

// toolHandler is the handler of the tools' test app; the tools never run
// it.
type toolHandler struct{}

func (toolHandler) OnMessage(*Context, *Message[string, string]) error { return nil }

// toolApp returns an app that reads source and writes outputs.
func toolApp(source string, outputs ...string) *App {
	app := NewApp("tools")
	Handle[string, string](app, toolHandler{}, serde.String(), serde.String(), source)
	if len(outputs) > 0 {
		NewOutput(app, serde.String(), serde.String(), outputs...)
	}
	return app
}

// toolCluster starts a one-broker kfake cluster with topics of partitions
// partitions and returns its address.
func toolCluster(t *testing.T, partitions int32, topics ...string) string {
	t.Helper()
	_, brokers := testCluster(t, int(partitions), topics...)
	return brokers[0]
}

// toolRun is one run of a subcommand.
type toolRun struct {
	code        int
	out, errOut string
}

// runTool runs the CLI in-process with stdin and environ.
func runTool(ctx context.Context, app *App, stdin string, environ []string, args ...string) toolRun {
	var out, errOut bytes.Buffer
	code := runCLI(ctx, app, args, cli.IO{In: strings.NewReader(stdin), Out: &out, Err: &errOut, Environ: environ})
	return toolRun{code, out.String(), errOut.String()}
}

// mustRun runs a subcommand that must succeed and returns its stdout.
func mustRun(t *testing.T, app *App, stdin string, args ...string) string {
	t.Helper()
	r := runTool(t.Context(), app, stdin, nil, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit code %d, stderr:\n%s", args, r.code, r.errOut)
	}
	return r.out
}

func TestProduceConsumeRoundTrip(t *testing.T) {
	t.Parallel()
	addr := toolCluster(t, 1, "events")
	app := toolApp("events")

	input := "a\t1\n" +
		"keyless\n" +
		"b\t\\N\n" +
		"\n" +
		"c\tx\ty\n" +
		"d\t\n" +
		"e\t2\r\n" +
		"f\tlast line without newline"
	r := runTool(t.Context(), app, input, []string{"EDDY_BROKERS=" + addr}, "produce", "--topic", "events")
	if r.code != 0 {
		t.Fatalf("produce: exit code %d, stderr:\n%s", r.code, r.errOut)
	}
	if want := "produced 7 records to events\n"; r.errOut != want {
		t.Errorf("produce stderr = %q, want %q", r.errOut, want)
	}

	got := mustRun(t, app, "", "consume", "--brokers", addr, "--topic", "events", "--from-beginning", "--max", "7")
	want := "a\t1\n" +
		"\tkeyless\n" +
		"b\t\\N\n" +
		"c\tx\ty\n" +
		"d\t\n" +
		"e\t2\n" +
		"f\tlast line without newline\n"
	if got != want {
		t.Errorf("consume printed\n%q\nwant\n%q", got, want)
	}

	// What the printed lines cannot show: null and empty are different
	// records.
	recs := testkit.Consume(t, []string{addr}, "events", 7)
	if recs[1].Key != nil {
		t.Errorf("keyless line: key = %q, want null", recs[1].Key)
	}
	if recs[2].Value != nil {
		t.Errorf(`\N line: value = %q, want null (a tombstone)`, recs[2].Value)
	}
	if recs[4].Value == nil {
		t.Errorf("line %q: value is null, want empty", "d\t")
	}
}

func TestConsumeStopsAtMaxAndTimeout(t *testing.T) {
	t.Parallel()
	addr := toolCluster(t, 1, "events")
	app := toolApp("events")
	mustRun(t, app, "k1\tv1\nk2\tv2\nk3\tv3\n", "produce", "--brokers", addr, "--topic", "events")

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"max", []string{"--from-beginning", "--max", "2"}, "k1\tv1\nk2\tv2\n"},
		{"timeout prints what came and is no error", []string{"--from-beginning", "--timeout", "500ms"}, "k1\tv1\nk2\tv2\nk3\tv3\n"},
		{"without from-beginning starts at the end", []string{"--timeout", "300ms"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			args := append([]string{"consume", "--brokers", addr, "--topic", "events"}, tc.args...)
			if got := mustRun(t, app, "", args...); got != tc.want {
				t.Errorf("printed %q, want %q", got, tc.want)
			}
		})
	}
}

func TestProduceConsumeMissingTopicFailsNamingIt(t *testing.T) {
	t.Parallel()
	addr := toolCluster(t, 1, "events")
	app := toolApp("events")
	for _, args := range [][]string{
		{"produce", "--topic", "no-such-topic"},
		{"consume", "--topic", "no-such-topic", "--from-beginning"},
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			// Well below the connect timeout: a tool that waited for the
			// topic would be cut off and fail with another message.
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			r := runTool(ctx, app, "k\tv\n", []string{"EDDY_BROKERS=" + addr}, args...)
			if r.code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.errOut)
			}
			if want := `cli: topic "no-such-topic" does not exist on ` + addr; !strings.Contains(r.errOut, want) {
				t.Errorf("stderr = %q, want it to contain %q", r.errOut, want)
			}
		})
	}
	if got := mustRun(t, app, "", "topics", "list", "--brokers", addr); strings.Contains(got, "no-such-topic") {
		t.Errorf("the missing topic was created:\n%s", got)
	}
}

func TestProduceConsumeTopicsWithoutBrokersFail(t *testing.T) {
	t.Parallel()
	app := toolApp("events")
	for _, args := range [][]string{
		{"produce", "--topic", "events"},
		{"consume", "--topic", "events"},
		{"topics", "create"},
		{"topics", "list"},
	} {
		r := runTool(t.Context(), app, "k\tv\n", nil, args...)
		if r.code != 1 {
			t.Errorf("%v: exit code %d, want 1; stderr:\n%s", args, r.code, r.errOut)
		}
		want := "cli: no brokers: pass --brokers or set EDDY_BROKERS " +
			"(a worker started without brokers logs its embedded broker's address)\n"
		if !strings.HasSuffix(r.errOut, want) {
			t.Errorf("%v: stderr = %q, want it to end with %q", args, r.errOut, want)
		}
	}
}

func TestProduceFailedRecordNamesItsLine(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(1, "events"),
		kfake.BrokerConfigs(map[string]string{"message.max.bytes": "200"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]

	// Line 1 is skipped but counted; line 2 is too large for the broker,
	// even compressed.
	noise := make([]byte, 1000)
	for i := range noise {
		noise[i] = byte(rand.N(256))
	}
	input := "\n" + "k\t" + hex.EncodeToString(noise) + "\n"
	r := runTool(t.Context(), toolApp("events"), input, nil, "produce", "--brokers", addr, "--topic", "events")
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.errOut)
	}
	for _, want := range []string{"produced 0 records to events\n", `cli: produce to "events": line 2: MESSAGE_TOO_LARGE`} {
		if !strings.Contains(r.errOut, want) {
			t.Errorf("stderr = %q, want it to contain %q", r.errOut, want)
		}
	}
}

func TestProduceUnreachableBrokerFailsNamingIt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		listen func(t *testing.T) string // returns the broker address
	}{
		{"refuses connections", refusingAddr},
		{"never answers", silentAddr},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr := tc.listen(t)
			// The tool gives up after --connect-timeout; the test's own
			// deadline bounds a hang, it is not the behaviour under test.
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			r := runTool(ctx, toolApp("events"), "k\tv\n", nil, "produce", "--brokers", addr, "--topic", "events", "--connect-timeout", "1s")
			if r.code != 1 {
				t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.errOut)
			}
			for _, want := range []string{addr, "(are the addresses right and the brokers up?)"} {
				if !strings.Contains(r.errOut, want) {
					t.Errorf("stderr = %q, want it to contain %q", r.errOut, want)
				}
			}
		})
	}
}

// refusingAddr returns an address that refuses connections: that of a
// closed listener.
func refusingAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return ln.Addr().String()
}

// silentAddr returns the address of a listener that accepts connections
// and never answers a request.
func silentAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	})
	return ln.Addr().String()
}

func TestTopicsCreateThenList(t *testing.T) {
	t.Parallel()
	// orders exists with 3 partitions; the config asks for 2.
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "orders"), kfake.SeedTopics(1, "other"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr := c.ListenAddrs()[0]
	app := toolApp("orders", "orders-enriched")
	env := []string{"EDDY_BROKERS=" + addr, "EDDY_TOPICS_PARTITIONS=2"}

	r := runTool(t.Context(), app, "", env, "topics", "create")
	if r.code != 0 {
		t.Fatalf("topics create: exit code %d, stderr:\n%s", r.code, r.errOut)
	}
	if want := "exists orders (3 partitions)\ncreated orders-enriched (2 partitions)\n"; r.out != want {
		t.Errorf("topics create printed\n%q\nwant\n%q", r.out, want)
	}
	if want := "warning: topic orders has 3 partitions, not the configured 2"; !strings.Contains(r.errOut, want) {
		t.Errorf("topics create stderr = %q, want it to contain %q", r.errOut, want)
	}

	// Again, with the verb after the flags: now everything exists.
	r = runTool(t.Context(), app, "", env, "topics", "--topics-partitions", "3", "create")
	if want := "exists orders (3 partitions)\nexists orders-enriched (2 partitions)\n"; r.code != 0 || r.out != want {
		t.Errorf("second topics create: exit code %d, printed\n%q\nwant\n%q\nstderr:\n%s", r.code, r.out, want, r.errOut)
	}
	if want := "warning: topic orders-enriched has 2 partitions, not the configured 3"; !strings.Contains(r.errOut, want) {
		t.Errorf("second topics create stderr = %q, want it to contain %q", r.errOut, want)
	}

	got := mustRun(t, app, "", "topics", "list", "--brokers", addr)
	want := "orders\t3 partitions\t(app)\n" +
		"orders-enriched\t2 partitions\t(app)\n" +
		"other\t1 partitions\n"
	if got != want {
		t.Errorf("topics list printed\n%q\nwant\n%q", got, want)
	}
}

func TestTopicsUnknownVerbIsUsageError(t *testing.T) {
	t.Parallel()
	addr := toolCluster(t, 1, "events")
	app := toolApp("events")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"topics", "frobnicate"}, `unknown topics verb "frobnicate": use create (create the app's topics) or list`},
		{[]string{"topics"}, "topics needs a verb: create"},
		{[]string{"topics", "list", "extra"}, `unexpected arguments ["extra"] after topics list`},
	} {
		r := runTool(t.Context(), app, "", []string{"EDDY_BROKERS=" + addr}, tc.args...)
		if r.code != 2 {
			t.Errorf("%v: exit code %d, want 2; stderr:\n%s", tc.args, r.code, r.errOut)
		}
		if !strings.Contains(r.errOut, tc.want) {
			t.Errorf("%v: stderr = %q, want it to contain %q", tc.args, r.errOut, tc.want)
		}
	}
}

func TestProduceConsumeBrokerUsageErrors(t *testing.T) {
	t.Parallel()
	app := toolApp("events")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"produce"}, "--topic is required"},
		{[]string{"consume", "--brokers", "127.0.0.1:1"}, "--topic is required"},
		{[]string{"consume", "--topic", "t", "--max", "-1"}, "--max -1: must be 0 (no limit) or more"},
		{[]string{"consume", "--topic", "t", "--timeout", "-1s"}, "--timeout -1s: must be 0 (no limit) or more"},
		{[]string{"produce", "--topic", "t", "stray"}, "unexpected arguments"},
		{[]string{"broker", "--listen", "nonsense"}, `--listen "nonsense" is not host:port`},
		{[]string{"broker", "--min-session-timeout", "0s"}, "--min-session-timeout 0s: must be more than 0"},
	} {
		r := runTool(t.Context(), app, "", nil, tc.args...)
		if r.code != 2 {
			t.Errorf("%v: exit code %d, want 2; stderr:\n%s", tc.args, r.code, r.errOut)
		}
		if !strings.Contains(r.errOut, tc.want) {
			t.Errorf("%v: stderr = %q, want it to contain %q", tc.args, r.errOut, tc.want)
		}
	}
}

// runningBroker is a broker subcommand running in a goroutine.
type runningBroker struct {
	addr   string
	cancel context.CancelFunc
	done   chan int // its exit code
	stderr *lockedBuffer
}

// lockedBuffer is a bytes.Buffer that a test may read while the broker
// goroutine writes it.
type lockedBuffer struct {
	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startToolBroker runs `broker args...` and returns once it has printed
// its address.
func startToolBroker(t *testing.T, app *App, args ...string) *runningBroker {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	pr, pw := io.Pipe()
	b := &runningBroker{cancel: cancel, done: make(chan int, 1), stderr: &lockedBuffer{}}
	go func() {
		code := runCLI(ctx, app, append([]string{"broker"}, args...),
			cli.IO{In: strings.NewReader(""), Out: pw, Err: b.stderr})
		pw.Close()
		b.done <- code
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("broker printed no address (%v); exit code %d, stderr:\n%s", err, <-b.done, b.stderr)
	}
	go io.Copy(io.Discard, pr) // nothing more is expected; never block the broker
	addr, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "broker listening on ")
	if !ok {
		cancel()
		t.Fatalf("broker's first line = %q, want \"broker listening on host:port\"", line)
	}
	b.addr = addr
	t.Cleanup(func() { b.stop(t) })
	return b
}

// stop cancels the broker and waits for it to return, which must be with
// exit code 0.
func (b *runningBroker) stop(t *testing.T) {
	t.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	b.cancel = nil
	select {
	case code := <-b.done:
		if code != 0 {
			t.Errorf("broker exit code %d, want 0; stderr:\n%s", code, b.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("broker did not return within 30s of cancelling its context")
	}
}

func TestBrokerServesProduceAndConsume(t *testing.T) {
	t.Parallel()
	app := toolApp("events", "results")
	b := startToolBroker(t, app, "--listen", "127.0.0.1:0", "--topics-partitions", "1")
	if host, port, err := net.SplitHostPort(b.addr); err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("broker address %q: want 127.0.0.1 and the port it picked (%v)", b.addr, err)
	}

	got := mustRun(t, app, "", "topics", "list", "--brokers", b.addr)
	if want := "events\t1 partitions\t(app)\nresults\t1 partitions\t(app)\n"; got != want {
		t.Errorf("topics list printed\n%q\nwant\n%q", got, want)
	}
	mustRun(t, app, "k1\tv1\nk1\t\\N\n", "produce", "--brokers", b.addr, "--topic", "events")
	got = mustRun(t, app, "", "consume", "--brokers", b.addr, "--topic", "events", "--from-beginning", "--max", "2")
	if want := "k1\tv1\nk1\t\\N\n"; got != want {
		t.Errorf("consume printed %q, want %q", got, want)
	}

	// Compaction runs often enough to watch, not Kafka's hourly default.
	cfgs, err := kadm.NewClient(testkit.NewClient(t, []string{b.addr})).DescribeBrokerConfigs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var backoff string
	for _, rc := range cfgs {
		for _, c := range rc.Configs {
			if c.Key == "log.cleaner.backoff.ms" && c.Value != nil {
				backoff = *c.Value
			}
		}
	}
	if backoff != "1000" {
		t.Errorf("log.cleaner.backoff.ms = %q, want 1000", backoff)
	}

	b.stop(t)
}

func TestBrokerDataDirKeepsRecordsAcrossRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	app := toolApp("events")
	b := startToolBroker(t, app, "--listen", "127.0.0.1:0", "--data-dir", dir, "--topics-partitions", "1")
	mustRun(t, app, "k\tkept\n", "produce", "--brokers", b.addr, "--topic", "events")
	b.stop(t)

	// The restarted broker serves an app that has since declared an
	// output: the data dir keeps the old topic, and the new one is made.
	app = toolApp("events", "results")
	b = startToolBroker(t, app, "--listen", "127.0.0.1:0", "--data-dir", dir, "--topics-partitions", "1")
	got := mustRun(t, app, "", "consume", "--brokers", b.addr, "--topic", "events", "--from-beginning", "--max", "1")
	if want := "k\tkept\n"; got != want {
		t.Errorf("after a restart, consume printed %q, want %q", got, want)
	}
	got = mustRun(t, app, "", "topics", "list", "--brokers", b.addr)
	if want := "events\t1 partitions\t(app)\nresults\t1 partitions\t(app)\n"; got != want {
		t.Errorf("after a restart, topics list printed\n%q\nwant\n%q", got, want)
	}
}

func TestBrokerPortInUseIsReported(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r := runTool(t.Context(), toolApp("events"), "", nil, "broker", "--listen", ln.Addr().String())
	if r.code != 1 {
		t.Fatalf("exit code %d, want 1; stderr:\n%s", r.code, r.errOut)
	}
	if want := "is another broker running there?"; !strings.Contains(r.errOut, want) {
		t.Errorf("stderr = %q, want it to contain %q", r.errOut, want)
	}
}

// TestToolUsageListsOnlyItsFlags: a tool's -h shows the settings it reads
// (connection, and its own), not the worker's.
func TestToolUsageListsOnlyItsFlags(t *testing.T) {
	t.Parallel()
	app := toolApp("events")
	for _, tc := range []struct {
		command   string
		want, not []string
	}{
		{"produce", []string{"-brokers", "-client-id", "-topic"}, []string{"-mode", "-max-in-flight", "-commit-interval", "-topics-partitions"}},
		{"consume", []string{"-brokers", "-from-beginning"}, []string{"-mode", "-state-dir"}},
		{"topics", []string{"-brokers", "-topics-partitions", "-topics-replication-factor"}, []string{"-mode", "-handler-backoff"}},
		{"broker", []string{"-listen", "-topics-partitions"}, []string{"-brokers", "-mode", "-group"}},
		{"worker", []string{"-brokers", "-mode", "-commit-interval", "-state-dir"}, nil},
	} {
		r := runTool(t.Context(), app, "", nil, tc.command, "-h")
		if r.code != 0 {
			t.Fatalf("%s -h: exit code %d", tc.command, r.code)
		}
		for _, f := range tc.want {
			if !strings.Contains(r.errOut, "  "+f+" ") && !strings.Contains(r.errOut, "  "+f+"\n") {
				t.Errorf("%s -h lacks %s:\n%s", tc.command, f, r.errOut)
			}
		}
		for _, f := range tc.not {
			if strings.Contains(r.errOut, "  "+f+" ") || strings.Contains(r.errOut, "  "+f+"\n") {
				t.Errorf("%s -h lists %s, which it does not use", tc.command, f)
			}
		}
	}
	// A worker's flag given to a tool is a usage error naming it.
	if r := runTool(t.Context(), app, "", nil, "produce", "--topic", "events", "--mode", "bulk"); r.code != 2 || !strings.Contains(r.errOut, "-mode") {
		t.Fatalf("produce --mode: exit %d, stderr %q; want a usage error naming -mode", r.code, r.errOut)
	}
}

func TestLagShowsCommittedEndAndOwner(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "events")
	produce(t, brokers, rec("events", 0, "a", "1"), rec("events", 0, "b", "2"), rec("events", 0, "c", "3"), rec("events", 1, "d", "4"))
	app := NewApp("lagged", WithLogger(testLogger(t)))
	Handle(app, &countOnly{}, serde.String(), serde.String(), "events")
	cfg := testConfig(t, brokers)
	env := []string{"EDDY_BROKERS=" + strings.Join(brokers, ","), "EDDY_GROUP=" + cfg.Group}

	// Before any worker: nothing committed, every record is lag.
	out := mustRunEnv(t, app, env, "lag")
	for _, want := range []string{"group " + cfg.Group, "events  0          -          3    3    -", "events  1          -          1    1    -", "total"} {
		if !strings.Contains(out, want) {
			t.Errorf("lag before the worker:\n%s\nwant a line with %q", out, want)
		}
	}
	startApp(t, app, cfg)
	eventually(t, 30*time.Second, "both partitions committed", func() bool {
		c := committed(t, brokers, cfg.Group, "events")
		return c[0] == 3 && c[1] == 1
	})
	out = mustRunEnv(t, app, env, "lag")
	for _, want := range []string{"events  0          3          3    0    lagged-", "events  1          1          1    0    lagged-"} {
		if !strings.Contains(out, want) {
			t.Errorf("lag with the worker:\n%s\nwant a line with %q", out, want)
		}
	}
}

// mustRunEnv runs a subcommand with environ that must succeed and returns
// its stdout.
func mustRunEnv(t *testing.T, app *App, environ []string, args ...string) string {
	t.Helper()
	r := runTool(t.Context(), app, "", environ, args...)
	if r.code != 0 {
		t.Fatalf("%v: exit code %d, stderr:\n%s", args, r.code, r.errOut)
	}
	return r.out
}
