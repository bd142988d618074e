package runtime

import (
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
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

// Tables shard by partition number, so an app with tables and several
// source topics must get partition p of every topic on one worker.
func TestTablesKeepPartitionNumbersTogether(t *testing.T) {
	t.Parallel()
	const parts = 6
	_, brokers := testCluster(t, parts, "x", "y")
	cfg := testConfig(t, brokers)
	cfg.TableStore = "memory://"
	newApp := func() *App {
		app := NewApp("colocate", WithLogger(testLogger(t)))
		NewTable(app, "t", serde.String(), serde.String(), tables.Options{})
		Handle(app, HandlerFunc[string, string](func(*Context, *Message[string, string]) error { return nil }),
			serde.String(), serde.String(), "x", "y")
		return app
	}
	check := func(apps []*App, what string) {
		t.Helper()
		eventually(t, 30*time.Second, what, func() bool {
			n := 0
			for _, app := range apps {
				st, _ := app.Status()
				if len(st.Partitions) == 0 {
					return false
				}
				n += len(st.Partitions)
			}
			return n == 2*parts
		})
		for i, app := range apps {
			st, _ := app.Status()
			byTopic := map[string][]int32{}
			for _, p := range st.Partitions {
				byTopic[p.Topic] = append(byTopic[p.Topic], p.Partition)
			}
			if !slices.Equal(byTopic["x"], byTopic["y"]) {
				t.Fatalf("%s: worker %d holds x %v and y %v; want the same partition numbers", what, i, byTopic["x"], byTopic["y"])
			}
		}
	}
	apps := []*App{newApp(), newApp(), newApp()}
	runs := make([]*running, len(apps))
	for i, app := range apps {
		runs[i] = startApp(t, app, cfg)
	}
	check(apps, "three workers to hold every partition")
	// A worker leaves and another joins: partitions move one by one.
	if err := runs[1].stop(t); err != nil {
		t.Fatal(err)
	}
	check([]*App{apps[0], apps[2]}, "two workers to hold every partition")
	d := newApp()
	startApp(t, d, cfg)
	check([]*App{apps[0], apps[2], d}, "three workers again")

	cfg.Balancer = "sticky"
	err := startApp(t, newApp(), cfg).wait(t, 30*time.Second)
	if err == nil || !strings.Contains(err.Error(), `balancer "sticky" would split the partitions of x, y`) {
		t.Fatalf("Run with the sticky balancer = %v; want an error", err)
	}
}
