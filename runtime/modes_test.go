package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/modes"
	"github.com/eddy-streams/eddy/serde"
)

// batcher is a bulk handler that journals each call: "bulk first-last n"
// or "one offset".
type batcher struct {
	j       *journal
	onBulk  func(ctx *Context, msgs []*Message[string, string]) error
	onError func(ctx *Context, recs []*Record, err error) error

	mu       sync.Mutex
	finished []string
}

func (b *batcher) OnMessage(ctx *Context, msg *Message[string, string]) error {
	b.j.add("one %d", msg.Record.Offset)
	return nil
}

func (b *batcher) OnBulk(ctx *Context, msgs []*Message[string, string]) error {
	if b.onBulk != nil {
		if err := b.onBulk(ctx, msgs); err != nil {
			return err
		}
	}
	b.j.add("bulk %d-%d %d", msgs[0].Record.Offset, msgs[len(msgs)-1].Record.Offset, len(msgs))
	return nil
}

func (b *batcher) OnBulkFinished(ctx *Context, recs []*Record, o Outcome) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.finished = append(b.finished, fmt.Sprintf("%s %d-%d", o, recs[0].Offset, recs[len(recs)-1].Offset))
}

// bulkErrorBatcher adds OnBulkError to a batcher.
type bulkErrorBatcher struct{ *batcher }

func (b bulkErrorBatcher) OnBulkError(ctx *Context, recs []*Record, err error) error {
	return b.onError(ctx, recs, err)
}

func records(topic string, partition int32, from, n int) []*kgo.Record {
	out := make([]*kgo.Record, n)
	for i := range out {
		out[i] = rec(topic, partition, fmt.Sprintf("k%d", from+i), fmt.Sprintf("v%d", from+i))
	}
	return out
}

func bulkConfig(t *testing.T, brokers []string, maxRecords int, maxWait time.Duration) Config {
	cfg := testConfig(t, brokers)
	cfg.Mode = modes.Bulk
	cfg.BulkMaxRecords = maxRecords
	cfg.BulkMaxWait = maxWait
	return cfg
}

func TestBulkBatchesByCount(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "b")
	produce(t, brokers, records("b", 0, 0, 35)...)
	j := &journal{}
	app := NewApp("bulkcount", WithLogger(testLogger(t)))
	Handle[string, string](app, &batcher{j: j}, serde.String(), serde.String(), "b")
	cfg := bulkConfig(t, brokers, 10, time.Hour)
	startApp(t, app, cfg)
	got := j.await(t, 3)
	want := []string{"bulk 0-9 10", "bulk 10-19 10", "bulk 20-29 10"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("batches %q, want %q", got, want)
	}
	// The last five wait for a full batch (max_wait is an hour): they are
	// not handled, so not committed.
	eventually(t, 10*time.Second, "the three batches to be committed", func() bool {
		return committed(t, brokers, cfg.Group, "b")[0] == 30
	})
	produce(t, brokers, records("b", 0, 35, 5)...)
	if got := j.await(t, 4); got[3] != "bulk 30-39 10" {
		t.Fatalf("fourth batch %q, want bulk 30-39 10", got[3])
	}
	st, _ := app.Status()
	if p := st.Partitions[0]; p.Mode != modes.Bulk || p.ModeSwitches != 0 {
		t.Fatalf("status mode %q with %d switches; want bulk, forced, no switch", p.Mode, p.ModeSwitches)
	}
}

func TestBulkBatchesByTime(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "b")
	j := &journal{}
	app := NewApp("bulktime", WithLogger(testLogger(t)))
	Handle[string, string](app, &batcher{j: j}, serde.String(), serde.String(), "b")
	const wait = 300 * time.Millisecond
	startApp(t, app, bulkConfig(t, brokers, 1000, wait))
	eventually(t, 10*time.Second, "the app to join", func() bool {
		st, _ := app.Status()
		return st.Ready && len(st.Partitions) == 1
	})
	sent := time.Now()
	produce(t, brokers, records("b", 0, 0, 3)...)
	got := j.await(t, 1)
	if elapsed := time.Since(sent); elapsed < wait {
		t.Fatalf("a partial batch was handled %v after its records were produced, before max_wait %v", elapsed, wait)
	}
	if got[0] != "bulk 0-2 3" {
		t.Fatalf("batch %q, want the three records after max_wait", got[0])
	}
}

// A handler without bulk hooks gets bulk batches record by record, but the
// batch is committed as one: a batch cut short is handled again whole.
func TestBulkWithoutBulkHooksCommitsPerBatch(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "b")
	produce(t, brokers, records("b", 0, 0, 10)...)
	var seen []int64
	var mu sync.Mutex
	reached := make(chan struct{})
	app := NewApp("bulkplain", WithLogger(testLogger(t)))
	Handle(app, HandlerFunc[string, string](func(ctx *Context, msg *Message[string, string]) error {
		mu.Lock()
		seen = append(seen, msg.Record.Offset)
		mu.Unlock()
		if msg.Record.Offset == 5 {
			close(reached)
			<-ctx.Done() // held until the shutdown deadline cancels it
			return ctx.Err()
		}
		return nil
	}), serde.String(), serde.String(), "b")
	cfg := bulkConfig(t, brokers, 10, time.Hour)
	cfg.ShutdownTimeout = 200 * time.Millisecond
	r := startApp(t, app, cfg)
	<-reached
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if c, ok := committed(t, brokers, cfg.Group, "b")[0]; ok {
		t.Fatalf("committed %d with the batch 0-9 cut short at 5; want nothing committed", c)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 6 || seen[0] != 0 || seen[5] != 5 {
		t.Fatalf("handled %v, want 0..5 one by one", seen)
	}

	// The next run handles the whole batch again.
	j := &journal{}
	app2 := NewApp("bulkplain", WithLogger(testLogger(t)))
	Handle[string, string](app2, &batcher{j: j}, serde.String(), serde.String(), "b")
	startApp(t, app2, cfg)
	if got := j.await(t, 1); got[0] != "bulk 0-9 10" {
		t.Fatalf("after restart %q, want the whole batch 0-9", got[0])
	}
}

func TestBulkErrorPolicies(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	t.Run("default policy skips the batch", func(t *testing.T) {
		t.Parallel()
		_, brokers := testCluster(t, 1, "b")
		produce(t, brokers, records("b", 0, 0, 20)...)
		j := &journal{}
		b := &batcher{j: j, onBulk: func(_ *Context, msgs []*Message[string, string]) error {
			if msgs[0].Record.Offset == 0 {
				return boom
			}
			return nil
		}}
		app := NewApp("bulkskip", WithLogger(testLogger(t)))
		Handle[string, string](app, b, serde.String(), serde.String(), "b")
		cfg := bulkConfig(t, brokers, 10, time.Hour)
		startApp(t, app, cfg)
		if got := j.await(t, 1); got[0] != "bulk 10-19 10" {
			t.Fatalf("journal %q", got)
		}
		eventually(t, 10*time.Second, "the skipped and the handled batch to be committed", func() bool {
			return committed(t, brokers, cfg.Group, "b")[0] == 20
		})
		st, _ := app.Status()
		if st.Records.Skipped != 10 || st.Records.Handled != 10 || st.Records.HandlerErrors != 10 {
			t.Fatalf("counts %+v; want 10 skipped, 10 handled, 10 handler errors", st.Records)
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		if strings.Join(b.finished, ",") != "skipped 0-9,handled 10-19" {
			t.Fatalf("OnBulkFinished saw %q", b.finished)
		}
	})
	t.Run("OnBulkError returning an error stops the app", func(t *testing.T) {
		t.Parallel()
		_, brokers := testCluster(t, 1, "b")
		produce(t, brokers, records("b", 0, 0, 20)...)
		var gotErr error
		b := bulkErrorBatcher{&batcher{j: &journal{},
			onBulk: func(_ *Context, msgs []*Message[string, string]) error {
				if msgs[0].Record.Offset == 10 {
					return boom
				}
				return nil
			},
			onError: func(_ *Context, recs []*Record, err error) error {
				gotErr = err
				return fmt.Errorf("giving up on %d records: %w", len(recs), err)
			}}}
		app := NewApp("bulkstop", WithLogger(testLogger(t)))
		Handle[string, string](app, b, serde.String(), serde.String(), "b")
		cfg := bulkConfig(t, brokers, 10, time.Hour)
		err := startApp(t, app, cfg).wait(t, 30*time.Second)
		var be *BatchError
		if !errors.As(err, &be) || be.First != 10 || be.Last != 19 || be.Records != 10 || !errors.Is(err, boom) {
			t.Fatalf("Run = %v; want a BatchError of 10-19 wrapping boom", err)
		}
		if !errors.Is(gotErr, boom) {
			t.Fatalf("OnBulkError got %v", gotErr)
		}
		if c := committed(t, brokers, cfg.Group, "b")[0]; c != 10 {
			t.Fatalf("committed %d; want 10: the failed batch stays uncommitted", c)
		}
	})
	t.Run("a batch that always panics reaches OnBulkError", func(t *testing.T) {
		t.Parallel()
		_, brokers := testCluster(t, 1, "b")
		produce(t, brokers, records("b", 0, 0, 10)...)
		var attempts atomic.Int32
		errc := make(chan error, 1)
		b := bulkErrorBatcher{&batcher{j: &journal{},
			onBulk: func(*Context, []*Message[string, string]) error {
				attempts.Add(1)
				panic("poisoned batch")
			},
			onError: func(_ *Context, recs []*Record, err error) error {
				errc <- err
				return nil
			}}}
		app := NewApp("bulkpanic", WithLogger(testLogger(t)))
		Handle[string, string](app, b, serde.String(), serde.String(), "b")
		cfg := bulkConfig(t, brokers, 10, time.Hour)
		cfg.HandlerMaxAttempts = 3
		startApp(t, app, cfg)
		var err error
		select {
		case err = <-errc:
		case <-time.After(30 * time.Second):
			t.Fatal("OnBulkError was never called")
		}
		var pe *PanicError
		if !errors.As(err, &pe) || pe.Offset != 0 || pe.Attempts != 3 || attempts.Load() != 3 {
			t.Fatalf("OnBulkError got %v after %d attempts; want a PanicError at offset 0 after 3", err, attempts.Load())
		}
		eventually(t, 10*time.Second, "the skipped batch to be committed", func() bool {
			return committed(t, brokers, cfg.Group, "b")[0] == 10
		})
	})
}

// costly is a bulk handler whose every call costs the same, in single or
// bulk mode, like a store write per call.
type costly struct {
	cost    time.Duration
	handled atomic.Int64
	bulks   atomic.Int64
	singles atomic.Int64
}

func (c *costly) OnMessage(*Context, *Message[[]byte, []byte]) error {
	time.Sleep(c.cost)
	c.singles.Add(1)
	c.handled.Add(1)
	return nil
}

func (c *costly) OnBulk(_ *Context, msgs []*Message[[]byte, []byte]) error {
	time.Sleep(c.cost)
	c.bulks.Add(1)
	c.handled.Add(int64(len(msgs)))
	return nil
}

func TestAutoSwitchesToBulkUnderBacklogAndBack(t *testing.T) {
	t.Parallel()
	const backlog = 3037 // the last batch is partial, whatever single mode took first
	_, brokers := testCluster(t, 1, "a")
	recs := make([]*kgo.Record, backlog)
	for i := range recs {
		recs[i] = rec("a", 0, "", "x")
	}
	produce(t, brokers, recs...)
	h := &costly{cost: 2 * time.Millisecond}
	logs := &lockedBuffer{}
	app := NewApp("auto", WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	Handle[[]byte, []byte](app, h, serde.Bytes(), serde.Bytes(), "a")
	cfg := testConfig(t, brokers)
	cfg.Mode = modes.Auto
	cfg.AutoLagHigh, cfg.AutoLagLow, cfg.AutoMinDwell = 500, 10, 200*time.Millisecond
	// Caught up, a partial batch goes at once: it never waits max_wait.
	cfg.BulkMaxRecords, cfg.BulkMaxWait = 100, time.Hour
	startApp(t, app, cfg)
	// Single mode would take 6s over the backlog; the switch comes after
	// at most a few hundred records.
	eventually(t, 20*time.Second, "the partition to switch to bulk", func() bool {
		st, _ := app.Status()
		return len(st.Partitions) == 1 && st.Partitions[0].Mode == modes.Bulk
	})
	eventually(t, 20*time.Second, "the backlog to be handled and the partition back in single", func() bool {
		st, _ := app.Status()
		return h.handled.Load() == backlog && st.Partitions[0].Mode == modes.Single
	})
	st, _ := app.Status()
	if p := st.Partitions[0]; p.ModeSwitches != 2 || p.LastSwitch == nil || p.LastSwitch.To != modes.Single ||
		p.LastSwitch.Reason != "lag" || p.LastSwitch.Lag >= 10 {
		t.Fatalf("%d mode switches, last %+v; want 2 (to bulk and back), the last to single below lag 10", p.ModeSwitches, p.LastSwitch)
	}
	if h.bulks.Load() == 0 || h.singles.Load() >= backlog/2 {
		t.Fatalf("%d bulk calls, %d single calls; want most of the backlog in bulk", h.bulks.Load(), h.singles.Load())
	}
	out := logs.String()
	if !strings.Contains(out, `topic=a partition=0 from=single to=bulk reason=lag lag=`) ||
		!strings.Contains(out, "topic=a partition=0 from=bulk to=single reason=lag lag=") {
		t.Fatalf("the switches are not logged with their lag:\n%s", out)
	}
	// Now caught up, new records are handled one by one.
	singles := h.singles.Load()
	produce(t, brokers, rec("a", 0, "", "y"))
	eventually(t, 10*time.Second, "the new record to be handled", func() bool { return h.handled.Load() == backlog+1 })
	if h.singles.Load() != singles+1 {
		t.Fatal("a record after catch-up was not handled in single mode")
	}
}

// Lag swinging across both thresholds over and over switches at most once
// per dwell.
func TestAutoDoesNotFlap(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "a")
	h := &costly{cost: time.Millisecond}
	app := NewApp("flap", WithLogger(testLogger(t)))
	Handle[[]byte, []byte](app, h, serde.Bytes(), serde.Bytes(), "a")
	cfg := testConfig(t, brokers)
	cfg.AutoLagHigh, cfg.AutoLagLow = 100, 10
	const dwell, span = 500 * time.Millisecond, 2500 * time.Millisecond
	cfg.AutoMinDwell = dwell
	cfg.BulkMaxRecords, cfg.BulkMaxWait = 1000, 5*time.Millisecond
	began := time.Now()
	startApp(t, app, cfg)
	eventually(t, 10*time.Second, "the app to join", func() bool {
		st, _ := app.Status()
		return st.Ready && len(st.Partitions) == 1
	})
	// Bursts of 300 records, caught up between them within a few tens of
	// milliseconds: lag crosses both thresholds every burst.
	var sent int64
	for start := time.Now(); time.Since(start) < span; {
		burst := make([]*kgo.Record, 300)
		for i := range burst {
			burst[i] = rec("a", 0, "", "x")
		}
		produce(t, brokers, burst...)
		sent += int64(len(burst))
		eventually(t, 10*time.Second, "the burst to be handled", func() bool { return h.handled.Load() == sent })
	}
	st, _ := app.Status()
	// The first switch is immediate and each later one waits a dwell, so
	// in the app's whole life at most elapsed/dwell + 1 can happen: a
	// bound that a slow run only loosens.
	elapsed := time.Since(began)
	switches := st.Partitions[0].ModeSwitches
	if most := int(elapsed/dwell) + 1; switches > most {
		t.Fatalf("%d switches in %v with a %v dwell; want at most %d", switches, elapsed, dwell, most)
	}
	if switches == 0 {
		t.Fatal("no switch at all: the bursts never moved the partition to bulk")
	}
}

// stepJournal journals users and orders records as a worker handles them.
type stepJournal struct {
	j      *journal
	worker string
	delay  time.Duration
}

func (s *stepJournal) OnMessage(ctx *Context, msg *Message[string, string]) error {
	time.Sleep(s.delay)
	r := msg.Record
	s.j.add("%s %s %d %d", s.worker, r.Topic, r.Partition, r.Offset)
	return nil
}

// produceUsersOrders writes users and orders records spread evenly over
// the 4 partitions of topics "users" and "orders".
func produceUsersOrders(t *testing.T, brokers []string, users, orders int) {
	t.Helper()
	var recs []*kgo.Record
	for p := range int32(4) {
		recs = append(recs, records("users", p, int(p)*1000, users/4)...)
		recs = append(recs, records("orders", p, int(p)*1000, orders/4)...)
	}
	produce(t, brokers, recs...)
}

// startStepWorker runs a worker of the "steps" app whose handler journals
// users and orders records into j as name, taking delay per record.
func startStepWorker(t *testing.T, cfg Config, j *journal, name string, delay time.Duration, logger *slog.Logger) (*App, *running) {
	t.Helper()
	app := NewApp("steps", WithLogger(logger))
	Handle[string, string](app, &stepJournal{j: j, worker: name, delay: delay},
		serde.String(), serde.String(), "users", "orders")
	return app, startApp(t, app, cfg)
}

// awaitOrders waits until j holds n orders records.
func awaitOrders(t *testing.T, j *journal, n int) {
	t.Helper()
	eventually(t, 60*time.Second, "every orders record to be handled", func() bool {
		got := 0
		for _, e := range j.all() {
			if strings.Contains(e, " orders ") {
				got++
			}
		}
		return got >= n
	})
}

// checkStepOrder fails if a worker handled a users record after its first
// orders record: its step had to read every users record present at start
// first, and none was produced later.
func checkStepOrder(t *testing.T, entries []string) {
	t.Helper()
	ordersSeen := map[string]string{}
	for _, e := range entries {
		f := strings.Fields(e)
		switch f[1] {
		case "orders":
			if _, ok := ordersSeen[f[0]]; !ok {
				ordersSeen[f[0]] = e
			}
		case "users":
			if first, ok := ordersSeen[f[0]]; ok {
				t.Fatalf("worker %s handled %q after %q", f[0], e, first)
			}
		}
	}
}

func TestStepsLoadTopicsInOrder(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 4, "users", "orders", "empty")
	const users, orders = 800, 100
	produceUsersOrders(t, brokers, users, orders)
	j := &journal{}
	h := &stepJournal{j: j, worker: "w"}
	app := NewApp("steps", WithLogger(testLogger(t)))
	Handle[string, string](app, h, serde.String(), serde.String(), "users", "orders", "empty")
	cfg := testConfig(t, brokers)
	// The empty topic's step completes at once.
	cfg.Steps = [][]string{{"empty"}, {"users"}}
	// A step's last partial batch goes once it reaches the step's end.
	cfg.BulkMaxWait = time.Hour
	startApp(t, app, cfg)
	got := j.await(t, users+orders)
	checkStepOrder(t, got)
	if f := strings.Fields(got[0]); f[1] != "users" {
		t.Fatalf("first record handled %q; want a users record", got[0])
	}
	eventually(t, 10*time.Second, "the plan to be reported done", func() bool {
		st, _ := app.Status()
		return st.Steps != nil && st.Steps.Done && st.Steps.Step == 2
	})
	st, _ := app.Status()
	for _, p := range st.Partitions {
		if p.StepHeld {
			t.Fatalf("%s/%d still held after the plan finished", p.Topic, p.Partition)
		}
	}
}

func TestStepsRestartOnRebalance(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 4, "users", "orders")
	const users, orders = 400, 40
	produceUsersOrders(t, brokers, users, orders)
	j := &journal{}
	cfg := testConfig(t, brokers)
	cfg.Steps = [][]string{{"users"}}
	cfg.BulkMaxRecords = 10 // many small batches, each committed
	logs := &lockedBuffer{}
	a, _ := startStepWorker(t, cfg, j, "a", 5*time.Millisecond, slog.New(slog.NewTextHandler(logs, nil)))
	j.await(t, 20) // a is in its step, far from done (400 records at 5ms)
	b, _ := startStepWorker(t, cfg, j, "b", 5*time.Millisecond, testLogger(t))
	eventually(t, 30*time.Second, "both workers to share the partitions", func() bool {
		sa, _ := a.Status()
		sb, _ := b.Status()
		return len(sa.Partitions) > 0 && len(sb.Partitions) > 0 && len(sa.Partitions)+len(sb.Partitions) == 8
	})
	awaitOrders(t, j, orders)
	checkStepOrder(t, j.all())
	if !strings.Contains(logs.String(), "assignment changed during a step: restarting it") {
		t.Fatalf("worker a did not restart its step on the rebalance:\n%s", logs.String())
	}
}

func TestStepNamingUnknownTopicFailsAtStart(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "users", "orders")
	app := NewApp("steps", WithLogger(testLogger(t)))
	Handle[string, string](app, &stepJournal{j: &journal{}}, serde.String(), serde.String(), "users", "orders")
	cfg := testConfig(t, brokers)
	cfg.Steps = [][]string{{"user"}}
	err := startApp(t, app, cfg).wait(t, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), `step 1 names topic "user", which no handler consumes`) ||
		!strings.Contains(err.Error(), `did you mean "users"`) {
		t.Fatalf("Run = %v; want an error naming the unknown step topic", err)
	}
}

// A worker whose plan is done runs it again for partitions of step topics
// it gains later: here those of a worker that stopped mid-step.
func TestStepsRunAgainForPartitionsGainedLater(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 4, "users", "orders")
	const users, orders = 800, 40
	produceUsersOrders(t, brokers, users, orders)
	j := &journal{}
	cfg := testConfig(t, brokers)
	cfg.Steps = [][]string{{"users"}}
	cfg.BulkMaxRecords = 10
	logs := &lockedBuffer{}
	// b is slow: 800 users at 10ms would take 8s.
	b, rb := startStepWorker(t, cfg, j, "b", 10*time.Millisecond, testLogger(t))
	j.await(t, 10)
	a, _ := startStepWorker(t, cfg, j, "a", 0, slog.New(slog.NewTextHandler(logs, nil)))
	eventually(t, 30*time.Second, "a to finish its plan while b is still in its step", func() bool {
		sa, _ := a.Status()
		sb, _ := b.Status()
		if len(sa.Partitions) == 0 || len(sb.Partitions) == 0 || sa.Steps == nil || !sa.Steps.Done {
			return false
		}
		for _, p := range sa.Partitions { // and to handle its own orders
			if p.Topic == "orders" && p.Next < orders/4 {
				return false
			}
		}
		return true
	})
	if err := rb.stop(t); err != nil {
		t.Fatal(err)
	}
	gainAt := len(j.all())
	awaitOrders(t, j, orders)
	var afterGain []string
	for _, e := range j.all()[gainAt:] {
		if strings.HasPrefix(e, "a ") {
			afterGain = append(afterGain, e)
		}
	}
	checkStepOrder(t, afterGain)
	if !strings.Contains(logs.String(), "assigned after the step plan finished: running it again") {
		t.Fatalf("worker a did not run its plan again:\n%s", logs.String())
	}
}
