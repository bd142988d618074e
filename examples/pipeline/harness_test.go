package main

// The harness of the process tests: building the binary, starting and
// watching processes, producing inputs and collecting outputs.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// partitions is the partition count of the app's topics in the crash and
// rebalance tests.
const partitions = 8

// heavyThreshold is the pipeline's default heavy_threshold.
const heavyThreshold = 10

// binary is the pipeline binary, built once for every test of the package.
var binary struct {
	dir  string // made by TestMain, removed after the tests
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pipeline-process-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "process tests: temp dir for the binary:", err)
		os.Exit(1)
	}
	binary.dir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// pipelineBinary returns the path of the pipeline binary, building it on
// first use. It skips the test with -short: these tests run processes.
func pipelineBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the pipeline binary and runs processes; skipped with -short")
	}
	binary.once.Do(func() {
		path := filepath.Join(binary.dir, "pipeline")
		// go test puts its own go first on PATH. A test run with -race
		// builds the workers with it too, so races in the real processes
		// fail the test (the race detector exits 66).
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			binary.err = fmt.Errorf("go %s .: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		binary.path = path
	})
	if binary.err != nil {
		t.Fatal(binary.err)
	}
	return binary.path
}

// childEnv is the environment of the processes: the test's, without EDDY_*
// variables, so that a developer's settings cannot change what is tested
// (and an unknown one cannot fail the start).
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "EDDY_") })
}

// stream is one output of a process: kept in memory for the test to await
// lines in, and copied to a file for the failure log.
type stream struct {
	file *os.File
	mu   struct {
		sync.Mutex
		buf     []byte
		changed chan struct{} // closed and replaced on each write
	}
}

func newStream(t *testing.T, path string) *stream {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	s := &stream{file: f}
	s.mu.changed = make(chan struct{})
	return s
}

// Write is called by os/exec's copying goroutine.
func (s *stream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, _ = s.file.Write(p) // the copy in memory is what tests read
	s.mu.buf = append(s.mu.buf, p...)
	close(s.mu.changed)
	s.mu.changed = make(chan struct{})
	return len(p), nil
}

// snapshot returns what was written so far and a channel closed on the
// next write.
func (s *stream) snapshot() (string, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return string(s.mu.buf), s.mu.changed
}

func (s *stream) String() string { text, _ := s.snapshot(); return text }

// process is a running pipeline subcommand.
type process struct {
	name           string
	cmd            *exec.Cmd
	stdout, stderr *stream
	done           chan struct{} // closed once it exited and its output is read
	state          *os.ProcessState
	waitErr        error
}

// start runs the pipeline binary with args as a process named name (for
// messages and file names). stdin may be nil. A cleanup kills it if it is
// still running and, if the test failed, logs its output.
func start(t *testing.T, name string, stdin io.Reader, args ...string) *process {
	t.Helper()
	bin := pipelineBinary(t)
	dir := t.TempDir()
	p := &process{
		name:   name,
		stdout: newStream(t, filepath.Join(dir, name+".stdout")),
		stderr: newStream(t, filepath.Join(dir, name+".stderr")),
		done:   make(chan struct{}),
	}
	// The context kills the process if the cleanup below never runs (a
	// panic); the cleanup is the normal way.
	p.cmd = exec.CommandContext(t.Context(), bin, args...)
	p.cmd.Env = childEnv()
	p.cmd.Stdin = stdin
	p.cmd.Stdout = p.stdout
	p.cmd.Stderr = p.stderr
	// Bound Wait's copying of the output after an exit.
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		p.state = p.cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.stdout.file.Close()
		p.stderr.file.Close()
		if strings.Contains(p.stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s: the race detector reported a data race", name)
		}
		if t.Failed() {
			t.Logf("%s (%s): %s\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), p.state,
				logTail(p.stdout.String()), logTail(p.stderr.String()))
		}
	})
	return p
}

// logTail returns the end of a long log.
func logTail(s string) string {
	const most = 16 << 10
	if len(s) <= most {
		return s
	}
	return "[...]\n" + s[len(s)-most:]
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// awaitLine waits until s (an output of p) has a line matching re and
// returns the submatches. It fails the test if p exits first or timeout
// passes.
func (p *process) awaitLine(t *testing.T, s *stream, re *regexp.Regexp, timeout time.Duration, what string) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		text, changed := s.snapshot()
		if m := re.FindStringSubmatch(text); m != nil {
			return m
		}
		select {
		case <-changed:
		case <-p.done:
			if m := re.FindStringSubmatch(s.String()); m != nil {
				return m
			}
			t.Fatalf("%s: awaiting %s (a line matching %q): the process exited (%s) without printing it", p.name, what, re, p.state)
		case <-deadline.C:
			t.Fatalf("%s: awaiting %s (a line matching %q): none within %v", p.name, what, re, timeout)
		}
	}
}

// awaitExit waits up to timeout for p to exit and returns its state.
func (p *process) awaitExit(t *testing.T, timeout time.Duration, what string) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.state
	case <-time.After(timeout):
		t.Fatalf("%s: awaiting its exit (%s): still running after %v", p.name, what, timeout)
		return nil
	}
}

// kill9 kills p with SIGKILL and checks that the signal is what ended it.
func (p *process) kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%s: kill -9: %v", p.name, err)
	}
	st := p.awaitExit(t, 10*time.Second, "after kill -9")
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: after kill -9 the process ended with %s, want killed by SIGKILL (did it exit before the kill?)", p.name, st)
	}
}

// brokerAddrRE is the broker subcommand's one line on stdout.
var brokerAddrRE = regexp.MustCompile(`(?m)^broker listening on (\S+)$`)

// startBroker runs `pipeline broker` on a free port with the app's topics
// of parts partitions and returns its address once it prints it.
func startBroker(t *testing.T, parts int) string {
	t.Helper()
	p := start(t, "broker", nil, "broker", "--listen", "127.0.0.1:0", "--topics-partitions", fmt.Sprint(parts))
	return p.awaitLine(t, p.stdout, brokerAddrRE, 30*time.Second, "the broker's address")[1]
}

// httpAddrRE is the worker's log line naming its HTTP server; the worker
// listens on --http 127.0.0.1:0 and the test reads the port it got, so no
// other process can take the port in between.
var httpAddrRE = regexp.MustCompile(`msg="serving http".* addr=http://(\S+)`)

// worker is a running `pipeline worker` process.
type worker struct {
	*process
	http string // host:port of its HTTP server
}

// startWorker runs a worker of group and waits until /readyz says it
// joined the group. commitInterval is its --commit-interval.
func startWorker(t *testing.T, name, broker, group, commitInterval string) *worker {
	t.Helper()
	p := start(t, name, nil, "worker",
		"--brokers", broker,
		"--group", group,
		"--http", "127.0.0.1:0",
		"--commit-interval", commitInterval,
		"--session-timeout", "6s",
		"--log-level", "info",
	)
	w := &worker{process: p}
	w.http = p.awaitLine(t, p.stderr, httpAddrRE, 30*time.Second, "the HTTP server's address")[1]
	eventually(t, 30*time.Second, name+" to be ready (GET /readyz answering 200)", func() (bool, string) {
		if p.exited() {
			t.Fatalf("%s exited (%s) before it was ready", name, p.state)
		}
		code, body, err := w.get("/readyz")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	return w
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// get fetches path from the worker's HTTP server.
func (w *worker) get(path string) (int, []byte, error) {
	resp, err := httpClient.Get("http://" + w.http + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(body), err
}

// workerStatus is the part of GET /status the tests read.
type workerStatus struct {
	Partitions []struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
		Next      int64  `json:"next_offset"`
	} `json:"partitions"`
	Records struct {
		Handled      int64 `json:"handled"`
		Skipped      int64 `json:"skipped"`
		DecodeErrors int64 `json:"decode_errors"`
	} `json:"records"`
}

// status fetches and decodes GET /status.
func (w *worker) status() (workerStatus, error) {
	var s workerStatus
	code, body, err := w.get("/status")
	if err != nil {
		return s, err
	}
	if code != http.StatusOK {
		return s, fmt.Errorf("GET /status: %d %s", code, body)
	}
	if err := json.Unmarshal(body, &s); err != nil {
		return s, fmt.Errorf("GET /status: %v in %s", err, body)
	}
	return s, nil
}

// held returns the "events" partitions in s, in order.
func (s workerStatus) held() []int32 {
	var ps []int32
	for _, p := range s.Partitions {
		if p.Topic == "events" {
			ps = append(ps, p.Partition)
		}
	}
	slices.Sort(ps)
	return ps
}

// eventually polls cond every 50ms until it holds, failing the test after
// timeout with what was awaited and what cond last saw. Only for state
// that has no event to await.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("awaiting %s: not within %v; last seen: %s", what, timeout, seen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// newClient returns a kgo client of broker, closed when the test ends.
func newClient(t *testing.T, broker string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(broker)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// input is one event the test produced, by its source ("events/p@o").
type input struct {
	key    string
	kind   string
	weight float64
}

// produceEvents produces n events numbered from first and adds them to
// ins by source.
func produceEvents(t *testing.T, cl *kgo.Client, ins map[string]input, first, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if err := produce(ctx, cl, ins, first, n); err != nil {
		t.Fatal(err)
	}
}

// produce produces n events numbered from first, keyed user-0 to user-999
// so that they spread over the partitions, and adds them to ins by source.
func produce(ctx context.Context, cl *kgo.Client, ins map[string]input, first, n int) error {
	kinds := []string{"click", "view", "purchase"}
	recs := make([]*kgo.Record, 0, n)
	byRec := make(map[*kgo.Record]input, n)
	for i := first; i < first+n; i++ {
		// Weights 0.0 to 19.5: half heavy, half light.
		in := input{key: fmt.Sprintf("user-%d", i%1000), kind: kinds[i%len(kinds)], weight: float64(i%40) / 2}
		v, err := json.Marshal(Event{Kind: in.kind, Weight: in.weight})
		if err != nil {
			return err
		}
		r := &kgo.Record{Topic: "events", Key: []byte(in.key), Value: v}
		recs = append(recs, r)
		byRec[r] = in
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing events %d to %d: %w", first, first+n-1, err)
	}
	for _, r := range recs {
		ins[source(r.Topic, r.Partition, r.Offset)] = byRec[r]
	}
	return nil
}

// eventStream produces events in batches at a steady rate, so that a
// worker consuming them is always mid-stream: it has records it handled
// since its last commit, and records still to come.
type eventStream struct {
	produced atomic.Int64  // events acknowledged so far
	done     chan struct{} // closed when the stream ends
	ins      map[string]input
	err      error // why the stream ended early; read after done
}

// produceStream produces n events, batch at a time, one batch per every.
// The pace is load shaping, not synchronisation: what the test awaits is
// the end of the stream and the outputs.
func produceStream(t *testing.T, cl *kgo.Client, n, batch int, every time.Duration) *eventStream {
	s := &eventStream{done: make(chan struct{}), ins: map[string]input{}}
	ctx := t.Context() // cancelled when the test ends, before the cleanup below
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for first := 0; first < n; first += batch {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := produce(pctx, cl, s.ins, first, min(batch, n-first))
			cancel()
			if err != nil {
				s.err = err
				return
			}
			s.produced.Store(int64(min(first+batch, n)))
			select {
			case <-tick.C:
			case <-ctx.Done():
				s.err = ctx.Err()
				return
			}
		}
	}()
	t.Cleanup(func() { <-s.done })
	return s
}

// wait waits for the stream to end and returns what it produced.
func (s *eventStream) wait(t *testing.T, timeout time.Duration) map[string]input {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("awaiting the end of the event stream: not within %v; %d events produced", timeout, s.produced.Load())
	}
	if s.err != nil {
		t.Fatalf("event stream: %v (after %d events)", s.err, s.produced.Load())
	}
	return s.ins
}

func source(topic string, partition int32, offset int64) string {
	return fmt.Sprintf("%s/%d@%d", topic, partition, offset)
}

// parseSource splits an "events/p@o" source.
func parseSource(src string) (partition int32, offset int64, ok bool) {
	n, err := fmt.Sscanf(src, "events/%d@%d", &partition, &offset)
	return partition, offset, err == nil && n == 2
}

// endOffsets returns the end offset of each input partition, from what
// was produced.
func endOffsets(ins map[string]input) map[int32]int64 {
	ends := map[int32]int64{}
	for src := range ins {
		p, o, _ := parseSource(src)
		ends[p] = max(ends[p], o+1)
	}
	return ends
}

// output is one record the pipeline wrote.
type output struct {
	topic, key string
	value      Enriched
	err        error // the value did not decode
}

// outputs reads "heavy" and "light" from the start for as long as the test
// runs.
type outputs struct {
	mu struct {
		sync.Mutex
		recs     []output
		bySource map[string]int // how many outputs name each source
		fetchErr error          // the last fetch error, for failure messages
		changed  chan struct{}  // closed and replaced when recs grows
	}
}

func collectOutputs(t *testing.T, broker string) *outputs {
	t.Helper()
	cl := newClient(t, broker, kgo.ConsumeTopics("heavy", "light"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	o := &outputs{}
	o.mu.bySource = map[string]int{}
	o.mu.changed = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { o.read(ctx, cl) })
	t.Cleanup(func() { cancel(); wg.Wait() }) // before newClient's Close
	return o
}

func (o *outputs) read(ctx context.Context, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		o.mu.Lock()
		fs.EachError(func(_ string, _ int32, err error) { o.mu.fetchErr = err })
		n := len(o.mu.recs)
		fs.EachRecord(func(r *kgo.Record) {
			out := output{topic: r.Topic, key: string(r.Key)}
			out.err = json.Unmarshal(r.Value, &out.value)
			o.mu.recs = append(o.mu.recs, out)
			o.mu.bySource[out.value.Source]++
		})
		if len(o.mu.recs) > n {
			close(o.mu.changed)
			o.mu.changed = make(chan struct{})
		}
		o.mu.Unlock()
	}
}

// await waits until cond, called with the records read so far, holds. On
// timeout it fails the test with what was awaited and cond's last report.
func (o *outputs) await(t *testing.T, timeout time.Duration, what string, cond func(recs []output, bySource map[string]int) (bool, string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		ok, seen := cond(o.mu.recs, o.mu.bySource)
		changed, fetchErr := o.mu.changed, o.mu.fetchErr
		o.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			if fetchErr != nil {
				seen += fmt.Sprintf("; last fetch error: %v", fetchErr)
			}
			t.Fatalf("awaiting %s: not within %v; seen: %s", what, timeout, seen)
		}
	}
}

// missing lists the sources of ins that no output names, sorted.
func missing(ins map[string]input, bySource map[string]int) []string {
	var ms []string
	for src := range ins {
		if bySource[src] == 0 {
			ms = append(ms, src)
		}
	}
	slices.Sort(ms)
	return ms
}

// awaitEveryInput waits until every input has at least one output.
func (o *outputs) awaitEveryInput(t *testing.T, timeout time.Duration, ins map[string]input) {
	t.Helper()
	o.await(t, timeout, fmt.Sprintf("an output naming each of the %d inputs as its source", len(ins)),
		func(recs []output, bySource map[string]int) (bool, string) {
			ms := missing(ins, bySource)
			return len(ms) == 0, fmt.Sprintf("%d outputs; %d inputs without one, the first: %v", len(recs), len(ms), ms[:min(len(ms), 10)])
		})
}

// check checks every output against its input: the key is the input's, the
// class follows the weight and names the topic, kind and weight are
// copied. It returns how many outputs repeat a source (at-least-once
// duplicates).
func (o *outputs) check(t *testing.T, ins map[string]input) (duplicates int) {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	bad := 0
	for _, out := range o.mu.recs {
		in, ok := ins[out.value.Source]
		want := "light"
		if in.weight >= heavyThreshold {
			want = "heavy"
		}
		var problem string
		switch v := out.value; {
		case out.err != nil:
			problem = fmt.Sprintf("value does not decode: %v", out.err)
		case !ok:
			problem = "its source is no input of this test"
		case out.key != in.key:
			problem = fmt.Sprintf("key %q, want the input's %q", out.key, in.key)
		case v.Class != want || out.topic != want:
			problem = fmt.Sprintf("class %q on topic %q for weight %v, want %q on %q", v.Class, out.topic, in.weight, want, want)
		case v.Kind != in.kind || v.Weight != in.weight:
			problem = fmt.Sprintf("kind %q weight %v, want the input's %q %v", v.Kind, v.Weight, in.kind, in.weight)
		case v.Processed.IsZero():
			problem = "no processed time"
		}
		if problem != "" {
			if bad++; bad <= 10 {
				t.Errorf("output %s %q (source %q): %s", out.topic, out.key, out.value.Source, problem)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d bad outputs in all", bad)
	}
	if ms := missing(ins, o.mu.bySource); len(ms) > 0 {
		t.Errorf("%d of %d inputs have no output, the first: %v", len(ms), len(ins), ms[:min(len(ms), 10)])
	}
	return len(o.mu.recs) - len(o.mu.bySource)
}

// endOffsetsOf lists the end offsets of topics.
func endOffsetsOf(t *testing.T, adm *kadm.Client, topics ...string) kadm.ListedOffsets {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	listed, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		t.Fatalf("listing the end offsets of %v: %v", topics, err)
	}
	return listed
}

// awaitWritten waits until the test has read every output written so far
// and returns how many outputs name a source at or past from's offset on
// its partition (absent: 0).
func (o *outputs) awaitWritten(t *testing.T, adm *kadm.Client, from map[int32]int64) (past int) {
	t.Helper()
	var written int64
	endOffsetsOf(t, adm, "heavy", "light").Each(func(l kadm.ListedOffset) { written += l.Offset })
	o.await(t, 30*time.Second, fmt.Sprintf("the %d outputs written so far", written),
		func(recs []output, _ map[string]int) (bool, string) {
			return int64(len(recs)) >= written, fmt.Sprintf("%d outputs", len(recs))
		})
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, r := range o.mu.recs {
		if p, off, ok := parseSource(r.value.Source); ok && off >= from[p] {
			past++
		}
	}
	return past
}

// committedOffsets returns group's committed offsets on "events" by
// partition; a partition without a commit is absent.
func committedOffsets(t *testing.T, adm *kadm.Client, group string) map[int32]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	resps, err := adm.FetchOffsets(ctx, group)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		t.Fatalf("fetching the committed offsets of group %s: %v", group, err)
	}
	c := map[int32]int64{}
	for p := range int32(partitions) {
		if r, ok := resps.Lookup("events", p); ok {
			c[p] = r.At
		}
	}
	return c
}
