package runtimetest_test

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/modes"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// echo copies its records to "out", tagged with the test's name.
func echoApp(tag string) *runtime.App {
	app := runtime.NewApp("echo")
	out := runtime.NewOutput(app, serde.String(), serde.String(), "out")
	runtime.Handle(app, runtime.HandlerFunc[string, string](func(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
		return out.Produce(ctx, "out", msg.Key, tag+":"+msg.Value)
	}), serde.String(), serde.String(), "in")
	return app
}

// TestParallelDriversDoNotCollide runs apps of the same name on the same
// topics at once: each sees its own records only.
func TestParallelDriversDoNotCollide(t *testing.T) {
	t.Parallel()
	for i := range 4 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			tag := fmt.Sprint(i)
			d := runtimetest.Start(t, echoApp(tag), runtimetest.Partitions(3))
			in := runtimetest.NewInput(d, "in", serde.String(), serde.String())
			for k := range 5 {
				in.Send(fmt.Sprint("k", k), fmt.Sprint(k))
			}
			d.Idle()
			got := runtimetest.NewOutput(d, "out", serde.String(), serde.String()).Read()
			if len(got) != 5 {
				t.Fatalf("read %d records, want the 5 sent", len(got))
			}
			for _, m := range got {
				if m.Value[:len(tag)+1] != tag+":" {
					t.Fatalf("record %q came from another test's app", m.Value)
				}
			}
		})
	}
}

func TestStoppedReturnsTheAppsError(t *testing.T) {
	t.Parallel()
	app := runtime.NewApp("strict", runtime.WithErrorPolicy(runtime.StopOnError))
	runtime.Handle(app, runtime.HandlerFunc[string, int64](func(_ *runtime.Context, msg *runtime.Message[string, int64]) error {
		if msg.Value < 0 {
			return errors.New("negative")
		}
		return nil
	}), serde.String(), serde.Int64(), "in")
	d := runtimetest.Start(t, app)
	in := runtimetest.NewInput(d, "in", serde.String(), serde.Int64())
	in.Send("a", 1)
	in.Send("b", -1)
	var re *runtime.RecordError
	if err := d.Stopped(); !errors.As(err, &re) || re.Offset != 1 {
		t.Fatalf("Stopped() = %v; want a *runtime.RecordError for offset 1", err)
	}
	if c := d.Committed("in")[0]; c > 1 {
		t.Fatalf("committed offset %d is past the record that stopped the app", c)
	}
}

// TestBulkModeRunsTheSamePath forces bulk mode through Configure: the
// handler's OnBulk gets the records.
func TestBulkModeRunsTheSamePath(t *testing.T) {
	t.Parallel()
	app := runtime.NewApp("bulky")
	h := &bulkCounter{}
	runtime.Handle(app, h, serde.String(), serde.String(), "in")
	d := runtimetest.Start(t, app, runtimetest.Configure(func(c *runtime.Config) {
		c.Mode = modes.Bulk
		c.BulkMaxWait = 5 * time.Millisecond
	}))
	in := runtimetest.NewInput(d, "in", serde.String(), serde.String())
	for i := range 10 {
		in.Send("k", fmt.Sprint(i))
	}
	d.Idle()
	if h.records.Load() != 10 || h.calls.Load() == 0 {
		t.Fatalf("OnBulk saw %d records in %d calls; want 10", h.records.Load(), h.calls.Load())
	}
}

// bulkCounter counts what reaches OnBulk.
type bulkCounter struct{ calls, records atomic.Int64 }

func (*bulkCounter) OnMessage(*runtime.Context, *runtime.Message[string, string]) error { return nil }

func (b *bulkCounter) OnBulk(_ *runtime.Context, msgs []*runtime.Message[string, string]) error {
	b.calls.Add(1)
	b.records.Add(int64(len(msgs)))
	return nil
}

// TestReadAndSeed: records put on a topic before the app starts (Before)
// are handled like any other; SendAll batches; Output.Read reads a table's
// changelog as compaction left it.
func TestReadAndSeed(t *testing.T) {
	t.Parallel()
	app := runtime.NewApp("seeded")
	last := runtime.NewTable(app, "last", serde.String(), serde.String(), tables.Options{})
	runtime.Handle(app, runtime.HandlerFunc[string, string](func(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
		return last.Set(ctx, msg.Key, msg.Value)
	}), serde.String(), serde.String(), "in")
	d := runtimetest.Start(t, app, runtimetest.Before(func(d *runtimetest.Driver) {
		runtimetest.NewInput(d, "in", serde.String(), serde.String()).Send("a", "seeded")
	}))
	in := runtimetest.NewInput(d, "in", serde.String(), serde.String())
	var kvs []runtimetest.KV[string, string]
	for i := range 50 {
		kvs = append(kvs, runtimetest.KV[string, string]{Key: fmt.Sprint("k", i%5), Value: fmt.Sprint(i)})
	}
	in.SendAll(kvs...)
	d.Idle()
	if v, ok := runtimetest.Get(d, last, "a"); !ok || v != "seeded" {
		t.Fatalf("a = %q, %v; want the record sent before the start", v, ok)
	}
	// The changelog of "last": k0 flushed in several commits, then
	// compacted.
	for _, v := range []string{"once", "twice", "again"} {
		in.Send("k0", v)
		d.Idle()
	}
	d.Broker().Cluster().Compact()
	read := runtimetest.NewOutput(d, "seeded-last-changelog", serde.String(), serde.String()).Read()
	got := map[string]string{}
	for _, m := range read {
		got[m.Key] = m.Value
	}
	if end := read[len(read)-1].Record.Offset + 1; int64(len(read)) >= end {
		t.Fatalf("read %d records of a changelog ending at %d: compaction removed none, the test proves nothing", len(read), end)
	}
	if len(got) != 6 || got["k0"] != "again" || got["k4"] != "49" || got["a"] != "seeded" {
		t.Fatalf("changelog as read: %v; want a, k0..k4 with their last values", got)
	}
}

// TestIdleWaitsForPatternTopics: Idle covers the topics a pattern matches,
// those created by Topics and those the app's outputs create.
func TestIdleWaitsForPatternTopics(t *testing.T) {
	t.Parallel()
	app := runtime.NewApp("fanin")
	out := runtime.NewOutput(app, serde.String(), serde.String(), "events-derived")
	runtime.HandlePattern(app, runtime.HandlerFunc[string, string](func(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
		if msg.Record.Topic == "events-derived" {
			return nil
		}
		return out.Produce(ctx, "events-derived", msg.Key, msg.Value)
	}), serde.String(), serde.String(), "events-.*")
	d := runtimetest.Start(t, app, runtimetest.Topics("events-a", "events-b"))
	runtimetest.NewInput(d, "events-a", serde.String(), serde.String()).Send("a", "1")
	runtimetest.NewInput(d, "events-b", serde.String(), serde.String()).Send("b", "2")
	d.Idle()
	// The pattern matches the app's own output too: its records are
	// handled, and Idle waited for them.
	handled := map[string]int{}
	for _, o := range d.Outcomes() {
		handled[o.Topic]++
	}
	if want := map[string]int{"events-a": 1, "events-b": 1, "events-derived": 2}; fmt.Sprint(handled) != fmt.Sprint(want) {
		t.Errorf("handled records per topic %v; want %v", handled, want)
	}
}
