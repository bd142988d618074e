package proctest

import (
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
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/testkit"
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
	w    testkit.Watch
	buf  []byte // what was written so far; under w
}

func newOutput(t *testing.T, path string) *Output {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	return &Output{file: f}
}

// Write is called by os/exec's copying goroutine.
func (o *Output) Write(p []byte) (int, error) {
	o.w.Change(func() {
		_, _ = o.file.Write(p) // the copy in memory is what tests read
		o.buf = append(o.buf, p...)
	})
	return len(p), nil
}

// String returns what was written so far.
func (o *Output) String() string {
	var s string
	o.w.Read(func() { s = string(o.buf) })
	return s
}

// Process is a running subcommand of a Binary.
type Process struct {
	Name           string
	Stdout, Stderr *Output
	Started        time.Time // when it was started

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
	p.Started = time.Now()
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
// far, checking it after each write; cond returns what it saw, for the
// failure message. It fails the test if p exits first or timeout passes.
// cond runs under o's lock: it must not call o's methods.
func (p *Process) AwaitOutput(t *testing.T, o *Output, timeout time.Duration, what string, cond func(text string) (ok bool, seen string)) {
	t.Helper()
	exited := func() string { return fmt.Sprintf("the process exited (%s)", p.state) }
	o.w.AwaitUnless(t, p.done, exited, timeout, what+" from "+p.Name, func() (bool, string) { return cond(string(o.buf)) })
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

// Broker is a running `broker` process and the test's client of it.
type Broker struct {
	Addr   string      // host:port
	Client *kgo.Client // closed when the test ends
}

// StartBroker runs `broker` on a free port with the app's topics of
// partitions partitions, and args (such as --min-session-timeout), and
// returns it once it prints its address.
func (b *Binary) StartBroker(t *testing.T, partitions int, args ...string) *Broker {
	t.Helper()
	args = append([]string{"broker", "--listen", "127.0.0.1:0", "--topics-partitions", fmt.Sprint(partitions)}, args...)
	p := b.Start(t, "broker", nil, args...)
	addr := p.AwaitLine(t, p.Stdout, brokerAddrRE, 30*time.Second, "the broker's address")[1]
	return &Broker{Addr: addr, Client: testkit.NewClient(t, []string{addr})}
}

// Brokers returns the broker's address as the seed list testkit's helpers
// take.
func (k *Broker) Brokers() []string { return []string{k.Addr} }

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
	w := b.LaunchWorker(t, name, args...)
	w.AwaitReady(t, 30*time.Second)
	return w
}

// LaunchWorker runs a worker as StartWorker does, but returns as soon as
// its HTTP server listens, which is just before it sets out to join its
// group: for tests that act on a worker while it joins.
func (b *Binary) LaunchWorker(t *testing.T, name string, args ...string) *Worker {
	t.Helper()
	p := b.Start(t, name, nil, append([]string{"worker", "--http", "127.0.0.1:0", "--log-level", "info"}, args...)...)
	w := &Worker{Process: p}
	w.HTTP = p.AwaitLine(t, p.Stderr, httpAddrRE, 30*time.Second, "the HTTP server's address")[1]
	return w
}

// AwaitReady waits up to timeout until GET /readyz answers 200: the worker
// joined its group and restored its tables.
func (w *Worker) AwaitReady(t *testing.T, timeout time.Duration) {
	t.Helper()
	testkit.Eventually(t, timeout, w.Name+" to be ready (GET /readyz answering 200)", func() (bool, string) {
		if w.Exited() {
			t.Fatalf("%s exited (%s) before it was ready", w.Name, w.state)
		}
		code, body, err := w.Get("/readyz")
		if err != nil {
			return false, err.Error()
		}
		return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
	})
}

// Get fetches path from the worker's HTTP server (testkit.Get).
func (w *Worker) Get(path string) (code int, body []byte, err error) {
	return testkit.Get("http://" + w.HTTP + path)
}

// GetJSON fetches path and decodes its JSON body, whatever the status,
// into v (testkit.GetJSON).
func (w *Worker) GetJSON(path string, v any) (code int, err error) {
	return testkit.GetJSON("http://"+w.HTTP+path, v)
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
	Membership struct {
		MemberID   string `json:"member_id"`
		Generation int32  `json:"generation"`
		Stable     bool   `json:"stable"`
	} `json:"membership"`
	// Rejoins counts the group guard's rejoins as a new member: 0 on a
	// healthy broker.
	Rejoins int64 `json:"rejoins"`
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
