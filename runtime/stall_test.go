package runtime

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/serde"
)

// stuck blocks for ever (until the test ends) the first time it sees key
// "stuck", ignoring its context, as a handler caught in a call without a
// timeout would; later attempts go through.
type stuck struct {
	j        *journal
	attempts atomic.Int64
	release  chan struct{}
	returned atomic.Bool // the stuck call returned
}

func (s *stuck) OnMessage(ctx *Context, msg *Message[string, string]) error {
	if msg.Key == "stuck" && s.attempts.Add(1) == 1 {
		<-s.release
		s.returned.Store(true)
		return nil
	}
	s.j.add("%s", msg.Key)
	return nil
}

func TestStalledPartitionIsDetectedAndHealed(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "in")
	j := &journal{}
	h := &stuck{j: j, release: make(chan struct{})}
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(h.release) }) })

	app := NewApp("stall", WithLogger(testLogger(t)))
	Handle(app, h, serde.String(), serde.String(), "in")
	produce(t, brokers,
		rec("in", 0, "a", "1"), rec("in", 0, "stuck", "2"), rec("in", 0, "b", "3"),
		rec("in", 1, "x", "4"))
	cfg := testConfig(t, brokers)
	cfg.StallTimeout = 300 * time.Millisecond
	r := startApp(t, app, cfg)

	// Partition 1 is unaffected; partition 0 resumes after the stuck
	// record once it is restarted, and handles the stuck record again.
	got := j.await(t, 4)
	want := map[string]bool{"a": true, "stuck": true, "b": true, "x": true}
	for _, k := range got {
		if !want[k] {
			t.Fatalf("handled %q; want each of a, stuck, b, x once: %q", k, got)
		}
		delete(want, k)
	}
	if h.attempts.Load() != 2 {
		t.Fatalf("stuck record tried %d times, want 2 (stuck, then after the restart)", h.attempts.Load())
	}
	eventually(t, 30*time.Second, "partition 0 committed past the stuck record", func() bool {
		return committed(t, brokers, cfg.Group, "in")[0] == 3
	})
	st, _ := app.Status()
	for _, p := range st.Partitions {
		switch {
		case p.Partition == 0 && (p.Stalls != 1 || p.LastStall == nil):
			t.Fatalf("partition 0 status: stalls %d, last stall %v; want 1 and a time", p.Stalls, p.LastStall)
		case p.Partition == 1 && p.Stalls != 0:
			t.Fatalf("partition 1 status: %d stalls, want none", p.Stalls)
		}
	}
	// The abandoned handler is still stuck, and stays so until the test's
	// cleanup: shutdown must return without waiting for it.
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if h.returned.Load() {
		t.Fatal("the stuck call returned before shutdown: the test proves nothing")
	}
}

// slow takes longer per record than a stall timeout's tick but always
// makes progress: it must not be taken for stalled.
func TestSlowButProgressingPartitionIsNotStalled(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	var n atomic.Int64
	app := NewApp("slow", WithLogger(testLogger(t)))
	Handle(app, HandlerFunc[string, string](func(*Context, *Message[string, string]) error {
		time.Sleep(100 * time.Millisecond) // the work itself, not synchronisation
		n.Add(1)
		return nil
	}), serde.String(), serde.String(), "in")
	var recs []*Record
	for i := range 10 {
		recs = append(recs, rec("in", 0, "k", string(rune('a'+i))))
	}
	produce(t, brokers, recs...)
	cfg := testConfig(t, brokers)
	cfg.StallTimeout = 400 * time.Millisecond
	startApp(t, app, cfg)
	eventually(t, 30*time.Second, "all 10 committed", func() bool {
		return committed(t, brokers, cfg.Group, "in")[0] == 10
	})
	st, _ := app.Status()
	if len(st.Partitions) != 1 || st.Partitions[0].Stalls != 0 || n.Load() != 10 {
		t.Fatalf("status %+v, handled %d; want no stall and 10 handled once each", st.Partitions, n.Load())
	}
}

func TestStuckFetchIsDetectedAndRecovers(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 1, "in")
	j := &journal{}
	app := NewApp("stuckfetch", WithLogger(testLogger(t)))
	Handle(app, HandlerFunc[string, string](func(_ *Context, m *Message[string, string]) error {
		j.add("%s", m.Key)
		return nil
	}), serde.String(), serde.String(), "in")
	produce(t, brokers, rec("in", 0, "a", "1"))
	cfg := testConfig(t, brokers)
	cfg.StallTimeout = 400 * time.Millisecond
	startApp(t, app, cfg)
	j.await(t, 1)

	// From now on the broker holds every fetch request until release.
	release := make(chan struct{})
	parked := make(chan struct{}, 1)
	var once sync.Once
	unpark := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unpark)
	c.ControlKey(int16(kmsg.Fetch), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		select {
		case <-release:
			return nil, nil, false
		default:
		}
		select {
		case parked <- struct{}{}:
		default:
		}
		c.SleepControl(func() { <-release })
		return nil, nil, false
	})
	<-parked // a fetch is held: what is produced next cannot arrive
	produce(t, brokers, rec("in", 0, "b", "2"), rec("in", 0, "c", "3"))

	// Fetching shows no lag; the brokers' end offsets do.
	eventually(t, 30*time.Second, "the stuck fetch to be found stalled", func() bool {
		st, _ := app.Status()
		return len(st.Partitions) == 1 && st.Partitions[0].Stalls > 0
	})
	unpark()
	got := j.await(t, 3)
	if got[1] != "b" || got[2] != "c" {
		t.Fatalf("handled %q; want a, b, c", got)
	}
}
