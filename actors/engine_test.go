package actors_test

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/modes"
)

// The tests below run an Engine as the runtime does: a kgo client wired
// to its callbacks, against an in-process kfake broker.

// patience bounds every wait for an event that should come; reaching it
// fails the test rather than hanging it.
const patience = 30 * time.Second

// newCluster starts a broker with topics of the given partition count.
func newCluster(t *testing.T, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes one record to each partition of topic.
func produce(t *testing.T, c *kfake.Cluster, topic string, partitions int32) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	for p := range partitions {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Partition: p, Value: []byte("v")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// engineClient returns a client wired to e as the Engine's doc says,
// consuming topics in group.
func engineClient(t *testing.T, c *kfake.Cluster, e *actors.Engine, group string, topics []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topics...),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(e.OnAssigned),
		kgo.OnPartitionsRevoked(e.OnRevoked),
		kgo.OnPartitionsLost(e.OnLost),
		kgo.FetchMaxWait(100 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// run runs e on cl until stop is called; stop returns Run's error.
func run(t *testing.T, e *actors.Engine, cl *kgo.Client) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.Run(ctx, cl) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(2 * patience):
				err = fmt.Errorf("Run did not return within %v of its context's end", 2*patience)
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

// await fails the test unless ch is closed within patience.
func await(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(patience):
		t.Fatalf("%s: not within %v", what, patience)
	}
}

// logEvents is a slog.Handler that lets a test wait for a log message.
type logEvents struct {
	t  *testing.T
	mu sync.Mutex // guards all below
	// seen are channels by message, closed once a record with that
	// message was logged.
	seen  map[string]chan struct{}
	lines []string
}

func newLogEvents(t *testing.T) *logEvents {
	l := &logEvents{t: t, seen: map[string]chan struct{}{}}
	t.Cleanup(func() {
		if t.Failed() {
			l.mu.Lock()
			defer l.mu.Unlock()
			t.Logf("engine log:\n%s", strings.Join(l.lines, "\n"))
		}
	})
	return l
}

func (l *logEvents) chanLocked(msg string) chan struct{} {
	ch := l.seen[msg]
	if ch == nil {
		ch = make(chan struct{})
		l.seen[msg] = ch
	}
	return ch
}

// await returns a channel closed once msg is logged.
func (l *logEvents) await(msg string) <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.chanLocked(msg)
}

// logged reports whether msg was logged.
func (l *logEvents) logged(msg string) bool {
	select {
	case <-l.await(msg):
		return true
	default:
		return false
	}
}

func (l *logEvents) Enabled(context.Context, slog.Level) bool { return true }

func (l *logEvents) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %q", r.Time.Format("15:04:05.000"), r.Level, r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s", a)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	ch := l.chanLocked(r.Message)
	select {
	case <-ch:
	default:
		close(ch)
	}
	return nil
}

func (l *logEvents) WithAttrs(as []slog.Attr) slog.Handler { return &logView{l, as} }
func (l *logEvents) WithGroup(string) slog.Handler         { return l }

// logView is a logEvents with attributes added to its records.
type logView struct {
	*logEvents
	attrs []slog.Attr
}

func (v *logView) Handle(ctx context.Context, r slog.Record) error {
	r.AddAttrs(v.attrs...)
	return v.logEvents.Handle(ctx, r)
}

func (v *logView) WithAttrs(as []slog.Attr) slog.Handler {
	return &logView{v.logEvents, append(append([]slog.Attr(nil), v.attrs...), as...)}
}

// state is a Processor with Stateful hooks, each optional.
type state struct {
	process func(*actors.Call) error
	restore func(context.Context) error
	flush   func(context.Context) error
	close   func()
	// closed is closed by Close.
	closed    chan struct{}
	closeOnce sync.Once
}

func newState() *state { return &state{closed: make(chan struct{})} }

func (s *state) Process(c *actors.Call) error {
	if s.process != nil {
		return s.process(c)
	}
	return nil
}

func (s *state) Abandon(_ *actors.Call, err error) error { return err }

func (s *state) Restore(ctx context.Context) error {
	if s.restore != nil {
		return s.restore(ctx)
	}
	return nil
}

func (s *state) Flush(ctx context.Context) error {
	if s.flush != nil {
		return s.flush(ctx)
	}
	return nil
}

func (s *state) Committed() error { return nil }
func (s *state) Full() bool       { return false }

func (s *state) Close() error {
	if s.close != nil {
		s.close()
	}
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

// isClosed reports whether Close was called.
func (s *state) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

// TestPartitionAssignedAsShutdownBeginsIsStopped: the client calls
// OnAssigned whenever the fetch loop lets rebalances through, which it
// also does on its way out, before the shutdown takes the assignment over.
// A partition whose processor is still being built when that happens must
// be stopped and its state closed, not registered in an assignment the
// shutdown already emptied (where nothing would ever drain it or close its
// store).
//
// The window is narrow with a live group, so the test plays the client's
// part for that one callback: it calls OnAssigned itself, on the client
// Run uses, and holds the processor's construction until the shutdown has
// begun.
func TestPartitionAssignedAsShutdownBeginsIsStopped(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, "in", "more")
	logs := newLogEvents(t)
	building := make(chan struct{})
	assignedReturned := make(chan struct{})
	late := newState()
	first := newState()
	// The shutdown closes in/0's state before it stops the engine actor:
	// holding that keeps the engine actor up until the late OnAssigned has
	// returned, so the late partition gets as far as it can.
	first.close = func() {
		select {
		case <-assignedReturned:
		case <-time.After(patience):
			t.Errorf("the late OnAssigned did not return within %v of the shutdown closing in/0", patience)
		}
	}
	e, err := actors.New(testSettings(actors.Config{
		Logger: slog.New(logs),
		NewProcessor: func(tp actors.TopicPartition) (actors.Processor, error) {
			if tp.Topic == "in" {
				return first, nil
			}
			close(building)
			<-logs.await("shutting down")
			return late, nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	cl := engineClient(t, c, e, "g", []string{"in"})
	stop := run(t, e, cl)
	await(t, logs.await("partition assigned"), "in/0 assigned")

	go func() {
		defer close(assignedReturned)
		e.OnAssigned(context.Background(), cl, map[string][]int32{"more": {0}})
	}()
	await(t, building, "the late partition's processor being built")
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	await(t, assignedReturned, "the late OnAssigned returning")
	if !first.isClosed() {
		t.Error("in/0's state was not closed by the shutdown")
	}
	if !late.isClosed() {
		t.Error("the state of a partition assigned as the shutdown began was never closed")
	}
	if st := e.Status(); len(st) != 0 {
		t.Errorf("after Run returned, Status lists %+v; want no partition", st)
	}
}

// TestAssignedAfterShutdownReturns: a partition assigned so late that Run
// has stopped the engine actor before its processor is built must not
// leave OnAssigned waiting for an actor that will never answer (the
// rebalance, and the client's Close, would wait with it); its state is
// given back.
func TestAssignedAfterShutdownReturns(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, "in", "more")
	logs := newLogEvents(t)
	building := make(chan struct{})
	runReturned := make(chan struct{})
	late := newState()
	e, err := actors.New(testSettings(actors.Config{
		Logger: slog.New(logs),
		NewProcessor: func(tp actors.TopicPartition) (actors.Processor, error) {
			if tp.Topic == "in" {
				return newState(), nil
			}
			close(building)
			<-runReturned
			return late, nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	cl := engineClient(t, c, e, "g", []string{"in"})
	stop := run(t, e, cl)
	await(t, logs.await("partition assigned"), "in/0 assigned")

	assignedReturned := make(chan struct{})
	go func() {
		defer close(assignedReturned)
		e.OnAssigned(context.Background(), cl, map[string][]int32{"more": {0}})
	}()
	await(t, building, "the late partition's processor being built")
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	close(runReturned)
	await(t, assignedReturned, "OnAssigned returning after Run did")
	if !late.isClosed() {
		t.Error("the state of a partition assigned after the shutdown was never closed")
	}
}

// TestRevokeDuringABrokerOutageEnds: with the broker refusing writes
// (retriably, as during an outage), a stateful partition's flush waits
// for acknowledgements that do not come. The periodic commit holding the
// commit lock must give up at its deadline, and a revoke waiting for that
// lock at the end of its own: the group moves on, the revoked partition's
// state is closed, and the next owner gets the partition.
func TestRevokeDuringABrokerOutageEnds(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 2, "in", "state")
	produce(t, c, "in", 2)
	outage := c.Fault(kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: "state", Err: kerr.NotEnoughReplicas, Count: -1})
	t.Cleanup(outage.Remove) // lets a stuck flush finish, so a failing test ends

	writer, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(writer.Close)
	logs := newLogEvents(t)
	var mu sync.Mutex
	states := map[actors.TopicPartition]*state{}
	e, err := actors.New(testSettings(actors.Config{
		Logger:         slog.New(logs),
		CommitInterval: 50 * time.Millisecond,
		DrainTimeout:   time.Second,
		NewProcessor: func(tp actors.TopicPartition) (actors.Processor, error) {
			st := newState()
			// Flush writes the partition's state to the broker and
			// waits for the acknowledgement, or for its context, as
			// tables do; the write itself outlives the flush.
			st.flush = func(ctx context.Context) error {
				acked := make(chan error, 1)
				writer.Produce(context.Background(), &kgo.Record{Topic: "state", Value: []byte(tp.String())}, func(_ *kgo.Record, err error) { acked <- err })
				select {
				case err := <-acked:
					return err
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			mu.Lock()
			defer mu.Unlock()
			states[tp] = st
			return st, nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	cl := engineClient(t, c, e, "g", []string{"in"}, kgo.HeartbeatInterval(100*time.Millisecond))
	run(t, e, cl)
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := outage.Wait(ctx, 1); err != nil {
		t.Fatalf("no flush reached the broker: %v", err)
	}

	// A second member joins: one partition is revoked from the Engine.
	gained := make(chan actors.TopicPartition, 2)
	other, err := kgo.NewClient(
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ConsumerGroup("g"),
		kgo.ConsumeTopics("in"),
		kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			for _, p := range m["in"] {
				gained <- actors.TopicPartition{Topic: "in", Partition: p}
			}
		}),
	)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	var tp actors.TopicPartition
	select {
	case tp = <-gained:
	case <-time.After(patience):
		t.Fatalf("the second member got no partition within %v: the revoke did not end", patience)
	}
	mu.Lock()
	st := states[tp]
	mu.Unlock()
	if st == nil || !st.isClosed() {
		t.Errorf("%s moved to the other member with its state on this one not closed", tp)
	}
	outage.Remove() // the shutdown's final commit need not wait for its deadline
}

// TestStepListingDoesNotHoldTheEngineActor: beginning a step lists its
// topics' end offsets, which takes as long as the broker takes to answer
// (up to 10s). The engine actor must stay free meanwhile: a rebalance
// callback, which waits for it to start partitions, returns while the
// broker still holds the listing.
func TestStepListingDoesNotHoldTheEngineActor(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, "users", "orders", "more")
	produce(t, c, "users", 1)
	held := make(chan struct{})
	release := make(chan struct{})
	var holding sync.Once
	// The first listing of users' end offsets is the step's (the
	// client itself lists start offsets, to start consuming).
	c.ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		for _, rt := range req.(*kmsg.ListOffsetsRequest).Topics {
			if rt.Topic == "users" && len(rt.Partitions) > 0 && rt.Partitions[0].Timestamp == -1 {
				holding.Do(func() {
					close(held)
					c.SleepControl(func() { <-release })
				})
			}
		}
		return nil, nil, false // answered as usual
	})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce)
	logs := newLogEvents(t)
	e, err := actors.New(testSettings(actors.Config{
		Logger: slog.New(logs),
		Steps:  [][]string{{"users"}},
		Topics: []string{"users", "orders"},
		NewProcessor: func(actors.TopicPartition) (actors.Processor, error) {
			return newState(), nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	cl := engineClient(t, c, e, "g", []string{"users", "orders"})
	run(t, e, cl)
	await(t, held, "the step's offset listing reaching the broker")

	// As the client would on a rebalance.
	assigned := make(chan struct{})
	go func() {
		defer close(assigned)
		e.OnAssigned(context.Background(), cl, map[string][]int32{"more": {0}})
	}()
	await(t, assigned, "OnAssigned returning")
	if logs.logged("listing the offsets of a step's topics; retrying") {
		t.Fatal("OnAssigned returned only once the step's offset listing had given up: it waited for the engine actor's broker call")
	}
	releaseOnce()
	await(t, logs.await("every step complete: consuming every topic"), "the step plan completing once the listing is answered")
}

// restarts is an Observer that reports handler restarts on a channel.
type restarts struct {
	ch chan actors.TopicPartition
}

func (r restarts) HandlerRestarted(tp actors.TopicPartition)    { r.ch <- tp }
func (restarts) Rebalanced(string, int)                         {}
func (restarts) Committed(int, error)                           {}
func (restarts) Stalled(actors.TopicPartition)                  {}
func (restarts) ModeSwitched(actors.TopicPartition, modes.Mode) {}
func (restarts) StepCompleted(int)                              {}
func (restarts) GroupRejoin(actors.GroupStatus)                 {}

// TestDrainDuringARestartBackoffDoesNotWaitForIt: a handler that panicked
// is restarted after a backoff, with its record delivered again. A drain
// (revoke, shutdown) during that backoff must not wait for it: the
// partition is stopping, the record is left for the next owner.
func TestDrainDuringARestartBackoffDoesNotWaitForIt(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 1, "in")
	produce(t, c, "in", 1)
	logs := newLogEvents(t)
	restarted := restarts{ch: make(chan actors.TopicPartition, 10)}
	e, err := actors.New(testSettings(actors.Config{
		Logger:       slog.New(logs),
		Backoff:      time.Hour,
		MaxBackoff:   time.Hour,
		DrainTimeout: 5 * time.Second,
		Observer:     restarted,
		NewProcessor: func(actors.TopicPartition) (actors.Processor, error) {
			st := newState()
			st.process = func(*actors.Call) error { panic("boom") }
			return st, nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	stop := run(t, e, engineClient(t, c, e, "g", []string{"in"}))
	select {
	case <-restarted.ch:
	case <-time.After(patience):
		t.Fatalf("the handler did not panic within %v", patience)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if logs.logged("drain deadline passed with a record still in its handler") {
		t.Fatal("the shutdown's drain waited for the handler's restart backoff until its deadline")
	}
}

// testSettings fills the fields a test leaves zero with the runtime's
// default settings; the runtime itself sets every field from its
// settings table.
func testSettings(c actors.Config) actors.Config {
	c.MaxInFlight = cmp.Or(c.MaxInFlight, 10000)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, 3)
	c.Backoff = cmp.Or(c.Backoff, 100*time.Millisecond)
	c.MaxBackoff = cmp.Or(c.MaxBackoff, 5*time.Second)
	c.CommitInterval = cmp.Or(c.CommitInterval, 5*time.Second)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, 30*time.Second)
	c.StallTimeout = cmp.Or(c.StallTimeout, 5*time.Minute)
	if c.Modes.LagHigh == 0 {
		c.Modes.LagHigh, c.Modes.LagLow, c.Modes.MinDwell = 10000, 1000, 10*time.Second
	}
	c.BulkMaxRecords = cmp.Or(c.BulkMaxRecords, min(1000, c.MaxInFlight))
	c.BulkMaxWait = cmp.Or(c.BulkMaxWait, 500*time.Millisecond)
	return c
}

// TestNewRefusesMissingSettings: the engine has no defaults of its own
// (the runtime's settings table has them), so a field left zero is an
// error naming it, not a silent default.
func TestNewRefusesMissingSettings(t *testing.T) {
	t.Parallel()
	_, err := actors.New(actors.Config{NewProcessor: func(actors.TopicPartition) (actors.Processor, error) { return nil, nil }})
	for _, want := range []string{"Config.MaxInFlight must be more than 0", "Config.CommitInterval must be more than 0", "Config.BulkMaxWait must be more than 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New with no settings: %v; want it to say %q", err, want)
		}
	}
}
