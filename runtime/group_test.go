package runtime

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
)

// seenSet records which values were handled, by which worker.
type seenSet struct {
	mu sync.Mutex // guards by
	by map[string]string
}

func (s *seenSet) handler(name string) Handler[string, string] {
	return HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		s.mu.Lock()
		s.by[m.Value] = name
		s.mu.Unlock()
		return nil
	})
}

func (s *seenSet) count() (total int, byWorker map[string]int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	byWorker = map[string]int{}
	for _, w := range s.by {
		byWorker[w]++
	}
	return len(s.by), byWorker
}

func TestTwoWorkersShareAndOneTakesOverWhenTheOtherLeaves(t *testing.T) {
	t.Parallel()
	const parts = 4
	_, brokers := testCluster(t, parts, "shared")
	seen := &seenSet{by: map[string]string{}}
	cfg := testConfig(t, brokers)

	newApp := func(name string) *App {
		app := NewApp("shared", WithLogger(testLogger(t)))
		Handle(app, seen.handler(name), serde.String(), serde.String(), "shared")
		return app
	}
	a, b := newApp("a"), newApp("b")
	ra := startApp(t, a, cfg)
	rb := startApp(t, b, cfg)
	eventually(t, 30*time.Second, "both workers to hold partitions", func() bool {
		sa, _ := a.Status()
		sb, _ := b.Status()
		return len(sa.Partitions) > 0 && len(sb.Partitions) > 0 && len(sa.Partitions)+len(sb.Partitions) == parts
	})

	batch := func(from, n int) {
		var recs []*kgo.Record
		for i := from; i < from+n; i++ {
			recs = append(recs, rec("shared", int32(i%parts), "", strconv.Itoa(i)))
		}
		produce(t, brokers, recs...)
	}
	batch(0, 400)
	eventually(t, 30*time.Second, "the first 400 records", func() bool { n, _ := seen.count(); return n == 400 })
	if _, by := seen.count(); by["a"] == 0 || by["b"] == 0 {
		t.Fatalf("records by worker = %v; want both to have handled some", by)
	}

	if err := rb.stop(t); err != nil {
		t.Fatalf("worker b: %v", err)
	}
	eventually(t, 30*time.Second, "worker a to take every partition", func() bool {
		sa, _ := a.Status()
		return len(sa.Partitions) == parts
	})
	batch(400, 400)
	eventually(t, 30*time.Second, "all 800 records", func() bool { n, _ := seen.count(); return n == 800 })
	if err := ra.stop(t); err != nil {
		t.Fatalf("worker a: %v", err)
	}
	c := committed(t, brokers, cfg.Group, "shared")
	for p := range int32(parts) {
		if c[p] != 200 {
			t.Fatalf("committed offsets = %v; want 200 on every partition", c)
		}
	}
}
