package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
)

type ctxKey struct{}

// hooked implements every optional hook and journals each call.
type hooked struct{ j *journal }

func (h *hooked) DefineContext(parent context.Context, rec *Record) (context.Context, error) {
	h.j.add("define %s", rec.Key)
	return context.WithValue(parent, ctxKey{}, "v-"+string(rec.Key)), nil
}

func (h *hooked) DidReceive(ctx *Context, msg *Message[string, string]) (*Message[string, string], error) {
	h.j.add("receive %s", msg.Key)
	if msg.Key == "drop" {
		return nil, nil
	}
	msg.Value += "+seen"
	return msg, nil
}

func (h *hooked) OnMessage(ctx *Context, msg *Message[string, string]) error {
	h.j.add("message %s %s %v", msg.Key, msg.Value, ctx.Value(ctxKey{}))
	return nil
}

func (h *hooked) OnTombstone(ctx *Context, msg *Message[string, string]) error {
	h.j.add("tombstone %s", msg.Key)
	return nil
}

func (h *hooked) OnFinished(ctx *Context, rec *Record, o Outcome) {
	h.j.add("finished %s %s", rec.Key, o)
}

func TestHooksRunInOrder(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	j := &journal{}
	app := NewApp("hooks", WithLogger(testLogger(t)))
	Handle[string, string](app, &hooked{j: j}, serde.String(), serde.String(), "in")
	produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 0, "drop", "2"), &kgo.Record{Topic: "in", Key: []byte("gone")})
	startApp(t, app, testConfig(t, brokers))

	got := j.await(t, 11)
	want := []string{
		"define a", "receive a", "message a 1+seen v-a", "finished a handled",
		"define drop", "receive drop", "finished drop dropped",
		"define gone", "receive gone", "tombstone gone", "finished gone handled",
	}
	for i, w := range want {
		if got[i] != w {
			t.Fatalf("call %d = %q, want %q\nall: %q", i, got[i], w, got)
		}
	}
}

type countOnly struct{ n atomic.Int64 }

func (c *countOnly) OnMessage(*Context, *Message[string, string]) error {
	c.n.Add(1)
	return nil
}

func TestTombstoneWithoutHookIsSkippedAndCounted(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	h := &countOnly{}
	app := NewApp("tomb", WithLogger(testLogger(t)))
	Handle[string, string](app, h, serde.String(), serde.String(), "in")
	produce(t, brokers, &kgo.Record{Topic: "in", Key: []byte("k")}, rec("in", 0, "k", "v"))
	cfg := testConfig(t, brokers)
	startApp(t, app, cfg)
	eventually(t, 30*time.Second, "both records committed", func() bool {
		return committed(t, brokers, cfg.Group, "in")[0] == 2
	})
	st, _ := app.Status()
	if h.n.Load() != 1 || st.Records.TombstonesSkipped != 1 {
		t.Fatalf("OnMessage calls = %d, tombstones skipped = %d; want 1 and 1", h.n.Load(), st.Records.TombstonesSkipped)
	}
}

type order struct {
	ID    string `json:"id"`
	Total int    `json:"total"`
}

// failing fails on keys listed in bad and journals OnError calls; stop
// makes OnError return the error.
type failing struct {
	j    *journal
	stop bool
}

func (f *failing) OnMessage(ctx *Context, msg *Message[string, order]) error {
	if msg.Value.Total < 0 {
		return fmt.Errorf("negative total %d", msg.Value.Total)
	}
	f.j.add("ok %s", msg.Key)
	return nil
}

func (f *failing) OnError(ctx *Context, rec *Record, err error) error {
	var de *DecodeError
	kind := "handler"
	if errors.As(err, &de) {
		kind = fmt.Sprintf("decode %s %s/%d@%d", de.Part, de.Topic, de.Partition, de.Offset)
	}
	f.j.add("error %s %s", rec.Key, kind)
	if f.stop {
		return err
	}
	return nil
}

func TestOnErrorContinueSkipsAndCommitsPast(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "orders")
	j := &journal{}
	app := NewApp("cont", WithLogger(testLogger(t)))
	Handle[string, order](app, &failing{j: j}, serde.String(), serde.JSON[order](), "orders")
	produce(t, brokers,
		rec("orders", 0, "a", `{"id":"a","total":1}`),
		rec("orders", 0, "b", `{"id":"b","total":-1}`),
		rec("orders", 0, "c", `not json`),
		rec("orders", 0, "d", `{"id":"d","total":4}`))
	cfg := testConfig(t, brokers)
	startApp(t, app, cfg)
	got := j.await(t, 4)
	want := []string{"ok a", "error b handler", "error c decode value orders/0@2", "ok d"}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("calls = %q, want %q", got, want)
		}
	}
	eventually(t, 30*time.Second, "offset 4 committed", func() bool {
		return committed(t, brokers, cfg.Group, "orders")[0] == 4
	})
}

func TestOnErrorStopStopsAppAndHoldsCommit(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "orders")
	j := &journal{}
	app := NewApp("stop", WithLogger(testLogger(t)))
	Handle[string, order](app, &failing{j: j, stop: true}, serde.String(), serde.JSON[order](), "orders")
	produce(t, brokers,
		rec("orders", 0, "a", `{"id":"a","total":1}`),
		rec("orders", 0, "b", `{"id":"b","total":2}`),
		rec("orders", 0, "c", `{"id":"c","total":-3}`),
		rec("orders", 0, "d", `{"id":"d","total":4}`))
	cfg := testConfig(t, brokers)
	err := startApp(t, app, cfg).wait(t, 30*time.Second)
	var re *RecordError
	if !errors.As(err, &re) || re.Topic != "orders" || re.Partition != 0 || re.Offset != 2 {
		t.Fatalf("Run = %v, want a *RecordError for orders/0@2", err)
	}
	if got := committed(t, brokers, cfg.Group, "orders")[0]; got != 2 {
		t.Fatalf("committed offset = %d, want 2: the failed record must be handled again", got)
	}
	for _, e := range j.all() {
		if e == "ok d" {
			t.Fatalf("record after the failed one was handled: %q", j.all())
		}
	}
}

func TestDecodeErrorsSkippedAndCountedByDefault(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "orders")
	var handled atomic.Int64
	app := NewApp("decode", WithLogger(testLogger(t)))
	Handle[string, order](app, HandlerFunc[string, order](func(*Context, *Message[string, order]) error {
		handled.Add(1)
		return nil
	}), serde.String(), serde.JSON[order](), "orders")
	produce(t, brokers,
		rec("orders", 0, "a", `{"id":"a"}`),
		rec("orders", 0, "b", `{broken`),
		rec("orders", 0, "\xff", `{"id":"c"}`),
		rec("orders", 0, "d", `{"id":"d"}`))
	cfg := testConfig(t, brokers)
	startApp(t, app, cfg)
	eventually(t, 30*time.Second, "all 4 committed", func() bool {
		return committed(t, brokers, cfg.Group, "orders")[0] == 4
	})
	st, _ := app.Status()
	if handled.Load() != 2 || st.Records.DecodeErrors != 2 || st.Records.Skipped != 2 {
		t.Fatalf("handled %d, decode errors %d, skipped %d; want 2, 2, 2", handled.Load(), st.Records.DecodeErrors, st.Records.Skipped)
	}
}

// flaky panics on its first panics calls for key "boom".
type flaky struct {
	j      *journal
	panics int
	calls  atomic.Int64
}

func (f *flaky) OnMessage(ctx *Context, msg *Message[string, string]) error {
	if msg.Key == "boom" {
		if n := f.calls.Add(1); int(n) <= f.panics {
			panic(fmt.Sprintf("boom %d", n))
		}
	}
	f.j.add("ok %s", msg.Key)
	return nil
}

func (f *flaky) OnError(ctx *Context, rec *Record, err error) error {
	var pe *PanicError
	if errors.As(err, &pe) {
		f.j.add("panic-error %s attempts=%d", rec.Key, pe.Attempts)
	}
	return nil
}

func TestPanicRestartsHandlerAndRetriesRecord(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	j := &journal{}
	h := &flaky{j: j, panics: 2}
	app := NewApp("panic", WithLogger(testLogger(t)))
	Handle[string, string](app, h, serde.String(), serde.String(), "in")
	produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 0, "boom", "2"), rec("in", 0, "c", "3"))
	cfg := testConfig(t, brokers)
	cfg.HandlerMaxAttempts = 3
	startApp(t, app, cfg)
	got := j.await(t, 3)
	if want := []string{"ok a", "ok boom", "ok c"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	if h.calls.Load() != 3 {
		t.Fatalf("boom handled %d times, want 3 (two panics, then success)", h.calls.Load())
	}
}

func TestPanicEveryAttemptGoesToErrorPath(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	j := &journal{}
	h := &flaky{j: j, panics: 1 << 30}
	app := NewApp("poison", WithLogger(testLogger(t)))
	Handle[string, string](app, h, serde.String(), serde.String(), "in")
	produce(t, brokers, rec("in", 0, "boom", "1"), rec("in", 0, "after", "2"))
	cfg := testConfig(t, brokers)
	cfg.HandlerMaxAttempts = 4
	startApp(t, app, cfg)
	got := j.await(t, 2)
	if want := []string{"panic-error boom attempts=4", "ok after"}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("calls = %q, want %q", got, want)
	}
	if h.calls.Load() != 4 {
		t.Fatalf("boom tried %d times, want 4", h.calls.Load())
	}
	eventually(t, 30*time.Second, "both committed", func() bool {
		return committed(t, brokers, cfg.Group, "in")[0] == 2
	})
}

// sequencer checks each partition's values arrive in order, and holds the
// first record of partitions 0 and 1 until both are in a handler at once.
type sequencer struct {
	mu        sync.Mutex // guards last
	last      map[int32]int
	both      sync.WaitGroup
	overlap   atomic.Bool
	disorder  atomic.Value
	remaining atomic.Int64
	done      chan struct{}
}

func (s *sequencer) OnMessage(ctx *Context, msg *Message[string, string]) error {
	p := msg.Record.Partition
	n, _ := strconv.Atoi(msg.Value)
	if n == 0 && p < 2 {
		s.both.Done()
		waited := make(chan struct{})
		go func() { s.both.Wait(); close(waited) }()
		select {
		case <-waited:
			s.overlap.Store(true)
		case <-time.After(10 * time.Second):
		}
	}
	s.mu.Lock()
	if prev, ok := s.last[p]; ok && n != prev+1 {
		s.disorder.Store(fmt.Sprintf("partition %d: %d after %d", p, n, prev))
	}
	s.last[p] = n
	s.mu.Unlock()
	if s.remaining.Add(-1) == 0 {
		close(s.done)
	}
	return nil
}

func TestPartitionsInOrderAndInParallel(t *testing.T) {
	t.Parallel()
	const parts, per = 4, 500
	_, brokers := testCluster(t, parts, "seq")
	var recs []*kgo.Record
	for i := range per {
		for p := range int32(parts) {
			recs = append(recs, rec("seq", p, "k", strconv.Itoa(i)))
		}
	}
	produce(t, brokers, recs...)
	s := &sequencer{last: map[int32]int{}, done: make(chan struct{})}
	s.both.Add(2)
	s.remaining.Store(parts * per)
	app := NewApp("seq", WithLogger(testLogger(t)))
	Handle[string, string](app, s, serde.String(), serde.String(), "seq")
	cfg := testConfig(t, brokers)
	cfg.MaxInFlight = 50 // many small deliveries, pauses and resumes
	startApp(t, app, cfg)
	select {
	case <-s.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("%d records left unhandled", s.remaining.Load())
	}
	if d := s.disorder.Load(); d != nil {
		t.Fatalf("out of order: %v", d)
	}
	if !s.overlap.Load() {
		t.Fatal("partitions 0 and 1 were never in their handlers at the same time")
	}
}

// blocker holds every record until release is closed.
type blocker struct {
	started chan struct{}
	once    sync.Once
	release chan struct{}
}

func (b *blocker) OnMessage(ctx *Context, msg *Message[[]byte, []byte]) error {
	b.once.Do(func() { close(b.started) })
	<-b.release
	return nil
}

func TestBackpressurePausesAndBoundsInFlight(t *testing.T) {
	t.Parallel()
	// 1 KiB random (incompressible) values: a fetch returns at most 1 MiB
	// of a partition, so the backlog takes several fetches.
	const total, bound = 5000, 100
	_, brokers := testCluster(t, 1, "flood")
	recs := make([]*kgo.Record, total)
	for i := range recs {
		v := make([]byte, 512)
		_, _ = rand.Read(v)
		recs[i] = rec("flood", 0, "", hex.EncodeToString(v))
	}
	produce(t, brokers, recs...)
	b := &blocker{started: make(chan struct{}), release: make(chan struct{})}
	app := NewApp("flood", WithLogger(testLogger(t)))
	Handle[[]byte, []byte](app, b, serde.Bytes(), serde.Bytes(), "flood")
	cfg := testConfig(t, brokers)
	cfg.MaxInFlight = bound
	r := startApp(t, app, cfg)
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(b.release) }) }
	t.Cleanup(release) // runs before the app's cleanup: a failed test still stops
	<-b.started
	var st Status
	eventually(t, 30*time.Second, "the partition to pause", func() bool {
		st, _ = app.Status()
		return len(st.Partitions) == 1 && st.Partitions[0].Paused
	})
	// One fetch may land after the bound is reached, so in flight stays
	// within the bound plus one fetch: at most 1 MiB of a partition,
	// franz-go's default, of these records.
	perFetch := (1 << 20) / len(recs[0].Value)
	if p := st.Partitions[0]; p.InFlight > bound+perFetch || p.Lag != total {
		t.Fatalf("paused with %d in flight and lag %d; want at most %d (the bound %d and one fetch) in flight, lag %d",
			p.InFlight, p.Lag, bound+perFetch, bound, total)
	}
	release()
	eventually(t, 60*time.Second, "the backlog to be handled", func() bool {
		st, _ = app.Status()
		return st.Records.Handled == total
	})
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := committed(t, brokers, cfg.Group, "flood")[0]; got != total {
		t.Fatalf("committed %d after shutdown, want %d", got, total)
	}
}

type enriched struct {
	ID     string `json:"id"`
	Double int    `json:"double"`
}

func TestProducedRecordsReachOutputAndCommitFollows(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "orders", "out")
	app := NewApp("pipe", WithLogger(testLogger(t)))
	out := NewOutput[string, enriched](app, serde.String(), serde.JSON[enriched](), "out")
	Handle[string, order](app, HandlerFunc[string, order](func(ctx *Context, m *Message[string, order]) error {
		return out.Produce(ctx, "out", m.Key, enriched{ID: m.Value.ID, Double: 2 * m.Value.Total})
	}), serde.String(), serde.JSON[order](), "orders")
	var recs []*kgo.Record
	for i := range 20 {
		recs = append(recs, rec("orders", int32(i%2), fmt.Sprint("k", i), fmt.Sprintf(`{"id":"o%d","total":%d}`, i, i)))
	}
	produce(t, brokers, recs...)
	cfg := testConfig(t, brokers)
	startApp(t, app, cfg)
	got := consumeAll(t, brokers, "out", 20)
	seen := map[string]enriched{}
	for _, r := range got {
		var e enriched
		if err := json.Unmarshal(r.Value, &e); err != nil {
			t.Fatalf("output %q: %v", r.Value, err)
		}
		seen[string(r.Key)] = e
	}
	for i := range 20 {
		if e := seen[fmt.Sprint("k", i)]; e.ID != fmt.Sprint("o", i) || e.Double != 2*i {
			t.Fatalf("output for k%d = %+v", i, e)
		}
	}
	eventually(t, 30*time.Second, "both partitions committed", func() bool {
		c := committed(t, brokers, cfg.Group, "orders")
		return c[0] == 10 && c[1] == 10
	})
}

func TestUndeclaredOutputTopicIsAnError(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in", "out")
	j := &journal{}
	app := NewApp("undeclared", WithLogger(testLogger(t)))
	out := NewOutput[string, string](app, serde.String(), serde.String(), "out")
	Handle[string, string](app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		err := out.Produce(ctx, "typo", m.Key, m.Value)
		j.add("%v", errors.Is(err, ErrUndeclaredOutput))
		return nil
	}), serde.String(), serde.String(), "in")
	produce(t, brokers, rec("in", 0, "k", "v"))
	startApp(t, app, testConfig(t, brokers))
	if got := j.await(t, 1); got[0] != "true" {
		t.Fatalf("Produce to an undeclared topic: errors.Is(ErrUndeclaredOutput) = %s", got[0])
	}
}
