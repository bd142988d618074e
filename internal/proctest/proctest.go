package proctest

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

// Binary is the binary of one example's main package, built once for every
// test of the test binary. Create it with NewBinary; its methods may be
// called from parallel tests.
type Binary struct {
	pkgDir string
	once   sync.Once
	dir    string // holds the binary; removed by Run
	path   string
	err    error
}

// NewBinary returns the binary of the main package in pkgDir, relative to
// the test's working directory ("." for the test's own package). Nothing is
// built until a test needs it.
func NewBinary(pkgDir string) *Binary {
	return &Binary{pkgDir: pkgDir}
}

// Run runs the tests and removes the binary; a TestMain returns its result
// to os.Exit.
func (b *Binary) Run(m *testing.M) int {
	code := m.Run()
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
	return code
}

// Path returns the path of the binary, building it on first use. It skips
// the test with -short: these tests run processes.
func (b *Binary) Path(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds an example binary and runs processes; skipped with -short")
	}
	b.once.Do(func() {
		abs, err := filepath.Abs(b.pkgDir)
		if err != nil {
			b.err = err
			return
		}
		if b.dir, b.err = os.MkdirTemp("", "eddy-process-test-"); b.err != nil {
			return
		}
		path := filepath.Join(b.dir, filepath.Base(abs))
		// go test puts its own go first on PATH. A test run with -race
		// builds the processes with it too, so races in them fail the
		// test (the race detector exits 66, and Start's cleanup looks for
		// its report).
		args := []string{"build", "-o", path}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, b.pkgDir)
		if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
			return
		}
		b.path = path
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// childEnv is the environment of the processes: the test's, without EDDY_*
// variables, so that a developer's settings cannot change what is tested
// (and an unknown one cannot fail the start).
func childEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "EDDY_") })
}

// Output is one output stream of a process: kept in memory for the test to
// await lines in, and copied to a file in the test's temp dir.
type Output struct {
	file *os.File
	mu   struct {
		sync.Mutex
		buf     []byte
		changed chan struct{} // closed and replaced on each write
	}
}

func newOutput(t *testing.T, path string) *Output {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	o := &Output{file: f}
	o.mu.changed = make(chan struct{})
	return o
}

// Write is called by os/exec's copying goroutine.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, _ = o.file.Write(p) // the copy in memory is what tests read
	o.mu.buf = append(o.mu.buf, p...)
	close(o.mu.changed)
	o.mu.changed = make(chan struct{})
	return len(p), nil
}

// snapshot returns what was written so far and a channel closed on the
// next write.
func (o *Output) snapshot() (string, <-chan struct{}) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.mu.buf), o.mu.changed
}

// String returns what was written so far.
func (o *Output) String() string { text, _ := o.snapshot(); return text }

// Process is a running subcommand of a Binary.
type Process struct {
	Name           string
	Stdout, Stderr *Output

	cmd     *exec.Cmd
	done    chan struct{} // closed once it exited and its output is read
	state   *os.ProcessState
	waitErr error
}

// Start runs the binary with args as a process named name (for messages and
// file names). stdin may be nil. A cleanup kills it if it is still running,
// fails the test if the race detector reported a data race in it, and, if
// the test failed, logs its output.
func (b *Binary) Start(t *testing.T, name string, stdin io.Reader, args ...string) *Process {
	t.Helper()
	bin := b.Path(t)
	dir := t.TempDir()
	p := &Process{
		Name:   name,
		Stdout: newOutput(t, filepath.Join(dir, name+".stdout")),
		Stderr: newOutput(t, filepath.Join(dir, name+".stderr")),
		done:   make(chan struct{}),
	}
	// The context kills the process if the cleanup below never runs (a
	// panic); the cleanup is the normal way.
	p.cmd = exec.CommandContext(t.Context(), bin, args...)
	p.cmd.Env = childEnv()
	p.cmd.Stdin = stdin
	p.cmd.Stdout = p.Stdout
	p.cmd.Stderr = p.Stderr
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
		if !p.Exited() {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		p.Stdout.file.Close()
		p.Stderr.file.Close()
		if strings.Contains(p.Stderr.String(), "WARNING: DATA RACE") {
			t.Errorf("%s: the race detector reported a data race", name)
		}
		if t.Failed() {
			t.Logf("%s (%s): %s\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), p.state,
				logTail(p.Stdout.String()), logTail(p.Stderr.String()))
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

// Exited reports whether p has exited.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// State is how p ended; nil while it runs.
func (p *Process) State() *os.ProcessState {
	if !p.Exited() {
		return nil
	}
	return p.state
}

// AwaitOutput waits until cond holds for the text of o (an output of p) so
// far; cond returns what it saw, for the failure message. It fails the test
// if p exits first or timeout passes.
func (p *Process) AwaitOutput(t *testing.T, o *Output, timeout time.Duration, what string, cond func(text string) (ok bool, seen string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		text, changed := o.snapshot()
		ok, seen := cond(text)
		if ok {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			if ok, seen = cond(o.String()); ok {
				return
			}
			t.Fatalf("%s: awaiting %s: the process exited (%s) first; seen: %s", p.Name, what, p.state, seen)
		case <-deadline.C:
			t.Fatalf("%s: awaiting %s: not within %v; seen: %s", p.Name, what, timeout, seen)
		}
	}
}

// AwaitLine waits until o (an output of p) has a line matching re and
// returns the submatches, failing the test as AwaitOutput does.
func (p *Process) AwaitLine(t *testing.T, o *Output, re *regexp.Regexp, timeout time.Duration, what string) []string {
	t.Helper()
	var m []string
	p.AwaitOutput(t, o, timeout, fmt.Sprintf("%s (a line matching %q)", what, re), func(text string) (bool, string) {
		m = re.FindStringSubmatch(text)
		return m != nil, "no such line"
	})
	return m
}

// AwaitExit waits up to timeout for p to exit and returns its state.
func (p *Process) AwaitExit(t *testing.T, timeout time.Duration, what string) *os.ProcessState {
	t.Helper()
	select {
	case <-p.done:
		return p.state
	case <-time.After(timeout):
		t.Fatalf("%s: awaiting its exit (%s): still running after %v", p.Name, what, timeout)
		return nil
	}
}

// Kill9 kills p with SIGKILL and checks that the signal is what ended it.
func (p *Process) Kill9(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%s: kill -9: %v", p.Name, err)
	}
	st := p.AwaitExit(t, 10*time.Second, "after kill -9")
	ws, ok := st.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%s: after kill -9 the process ended with %s, want killed by SIGKILL (did it exit before the kill?)", p.Name, st)
	}
}

// Stop sends p SIGTERM and fails the test unless it exits with status 0
// within timeout: a graceful stop.
func (p *Process) Stop(t *testing.T, timeout time.Duration) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to %s: %v", p.Name, err)
	}
	if st := p.AwaitExit(t, timeout, "after SIGTERM"); !st.Success() {
		t.Fatalf("%s after SIGTERM: %s (%v), want exit status 0", p.Name, st, p.waitErr)
	}
}

// brokerAddrRE is the broker subcommand's one line on stdout.
var brokerAddrRE = regexp.MustCompile(`(?m)^broker listening on (\S+)$`)

// Broker is a running `broker` process and the test's clients of it.
type Broker struct {
	Addr   string      // host:port
	Client *kgo.Client // closed when the test ends
	Admin  *kadm.Client
}

// StartBroker runs `broker` on a free port with the app's topics of
// partitions partitions and returns it once it prints its address.
func (b *Binary) StartBroker(t *testing.T, partitions int) *Broker {
	t.Helper()
	p := b.Start(t, "broker", nil, "broker", "--listen", "127.0.0.1:0", "--topics-partitions", fmt.Sprint(partitions))
	addr := p.AwaitLine(t, p.Stdout, brokerAddrRE, 30*time.Second, "the broker's address")[1]
	cl := NewClient(t, addr)
	return &Broker{Addr: addr, Client: cl, Admin: kadm.NewClient(cl)}
}

// httpAddrRE is the worker's log line naming its HTTP server; the worker
// listens on --http 127.0.0.1:0 and the test reads the port it got, so no
// other process can take the port in between.
var httpAddrRE = regexp.MustCompile(`msg="serving http".* addr=http://(\S+)`)

// Worker is a running `worker` process.
type Worker struct {
	*Process
	HTTP string // host:port of its HTTP server
}

// StartWorker runs `worker --http 127.0.0.1:0 --log-level info` with args
// (--brokers, --group, ...) and waits until GET /readyz says it joined its
// group and restored its tables.
func (b *Binary) StartWorker(t *testing.T, name string, args ...string) *Worker {
	t.Helper()
	p := b.Start(t, name, nil, append([]string{"worker", "--http", "127.0.0.1:0", "--log-level", "info"}, args...)...)
	w := &Worker{Process: p}
	w.HTTP = p.AwaitLine(t, p.Stderr, httpAddrRE, 30*time.Second, "the HTTP server's address")[1]
	Eventually(t, 30*time.Second, name+" to be ready (GET /readyz answering 200)", func() (bool, string) {
		if p.Exited() {
			t.Fatalf("%s exited (%s) before it was ready", name, p.state)
		}
		code, body, err := w.Get("/readyz")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
	return w
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// Get fetches path from the worker's HTTP server.
func (w *Worker) Get(path string) (code int, body []byte, err error) {
	resp, err := httpClient.Get("http://" + w.HTTP + path)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	return resp.StatusCode, bytes.TrimSpace(body), err
}

// GetJSON fetches path and decodes its JSON body, whatever the status,
// into v.
func (w *Worker) GetJSON(path string, v any) (code int, err error) {
	code, body, err := w.Get(path)
	if err != nil {
		return code, err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return code, fmt.Errorf("GET %s: %d, %v in %s", path, code, err, body)
	}
	return code, nil
}

// Status is the part of a worker's GET /status the tests read. It is
// declared here, not taken from the runtime, so that a change of the JSON
// users see fails the tests.
type Status struct {
	Ready      bool              `json:"ready"`
	Partitions []PartitionStatus `json:"partitions"`
	Records    struct {
		Handled      int64 `json:"handled"`
		Skipped      int64 `json:"skipped"`
		DecodeErrors int64 `json:"decode_errors"`
	} `json:"records"`
}

// PartitionStatus is one partition a worker holds.
type PartitionStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Next      int64  `json:"next_offset"` // -1 before the first record
	Committed int64  `json:"committed_offset"`
	Restoring bool   `json:"restoring"`
}

// Status fetches and decodes GET /status.
func (w *Worker) Status() (Status, error) {
	var s Status
	code, err := w.GetJSON("/status", &s)
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("GET /status: %d", code)
	}
	return s, err
}

// Held returns the partitions of topic in s, in order.
func (s Status) Held(topic string) []int32 {
	var ps []int32
	for _, p := range s.Partitions {
		if p.Topic == topic {
			ps = append(ps, p.Partition)
		}
	}
	slices.Sort(ps)
	return ps
}

// Eventually polls cond every 50ms until it holds, failing the test after
// timeout with what was awaited and what cond last saw. Only for state
// that has no event to await.
func Eventually(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
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

// Within calls fn with a context that ends after timeout (or with the
// test) and fails the test if fn returns an error.
func Within(t *testing.T, timeout time.Duration, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		t.Fatal(err)
	}
}

// NewClient returns a kgo client of broker, closed when the test ends.
func NewClient(t *testing.T, broker string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(broker)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// EndOffsets lists the end offsets of topics.
func EndOffsets(t *testing.T, adm *kadm.Client, topics ...string) kadm.ListedOffsets {
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

// CommittedOffsets returns group's committed offsets on topic by
// partition; a partition without a commit is absent.
func CommittedOffsets(t *testing.T, adm *kadm.Client, group, topic string) map[int32]int64 {
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
	for p, r := range resps[topic] {
		if r.At >= 0 {
			c[p] = r.At
		}
	}
	return c
}

// Consumer reads topics from their start for as long as the test runs and
// hands each record to the function Consume was given.
type Consumer struct {
	mu struct {
		sync.Mutex       // also held while add and Await's and Do's functions run
		fetchErr   error // the last fetch error, for failure messages
		changed    chan struct{}
	}
}

// Consume starts reading topics from their start; add is called with each
// record, in order within a partition. add, and the functions given to
// Await and Do, run under one lock, so the state they share needs none of
// its own.
func Consume(t *testing.T, broker string, add func(*kgo.Record), topics ...string) *Consumer {
	t.Helper()
	cl := NewClient(t, broker, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	c := &Consumer{}
	c.mu.changed = make(chan struct{})
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			c.mu.Lock()
			fs.EachError(func(_ string, _ int32, err error) { c.mu.fetchErr = err })
			fs.EachRecord(add)
			if fs.NumRecords() > 0 {
				close(c.mu.changed)
				c.mu.changed = make(chan struct{})
			}
			c.mu.Unlock()
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() }) // before NewClient's Close
	return c
}

// Await waits until cond holds, checking it after each fetch. On timeout it
// fails the test with what was awaited and cond's last report.
func (c *Consumer) Await(t *testing.T, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		ok, seen := cond()
		changed, fetchErr := c.mu.changed, c.mu.fetchErr
		c.mu.Unlock()
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

// Do runs fn under the lock add runs under, to read what add gathered.
func (c *Consumer) Do(fn func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fn()
}

// Paced produces records in batches at a steady rate, so that a worker
// consuming them is always mid-stream: it has records it handled since its
// last commit, and records still to come.
type Paced struct {
	produced atomic.Int64  // records acknowledged so far
	done     chan struct{} // closed when the stream ends
	err      error         // why the stream ended early; read after done
}

// ProducePaced calls produce for records first to first+n-1 of n in all,
// batch at a time, one batch per every, from a goroutine of its own. The
// pace is load shaping, not synchronisation: what a test awaits is the end
// of the stream (Wait) and what the workers made of it.
func ProducePaced(t *testing.T, n, batch int, every time.Duration, produce func(ctx context.Context, first, n int) error) *Paced {
	s := &Paced{done: make(chan struct{})}
	ctx := t.Context() // cancelled when the test ends, before the cleanup below
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for first := 0; first < n; first += batch {
			pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := produce(pctx, first, min(batch, n-first))
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

// Produced returns how many records were acknowledged so far.
func (s *Paced) Produced() int64 { return s.produced.Load() }

// Wait waits for the stream to end; after it returns, what produce wrote is
// safe to read.
func (s *Paced) Wait(t *testing.T, timeout time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("awaiting the end of the paced stream: not within %v; %d records produced", timeout, s.Produced())
	}
	if s.err != nil {
		t.Fatalf("paced stream: %v (after %d records)", s.err, s.Produced())
	}
}
