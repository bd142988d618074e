package runtime

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/serde"
)

// The tests of the group guard: a worker that cannot get into a stable
// group generation says so and rejoins as a new member; one in ordinary
// rebalances does not; and a worker whose JoinGroup the broker holds still
// stops.

const guardTopic = "guarded"

// guardCluster starts a broker with guardTopic that accepts short session
// timeouts.
func guardCluster(t *testing.T, partitions int32) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, guardTopic),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// holdJoinsOf holds every JoinGroup of member id in the broker, unanswered,
// until release is called or the test ends: a coordinator wedged on that
// member. held is closed once the first one is held.
func holdJoinsOf(t *testing.T, c *kfake.Cluster, id string) (held <-chan struct{}, release func()) {
	t.Helper()
	heldCh, releaseCh := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = sync.OnceFunc(func() { close(releaseCh) })
	t.Cleanup(release)
	c.ControlKey(int16(kmsg.JoinGroup), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if req, ok := r.(*kmsg.JoinGroupRequest); ok && req.MemberID == id {
			once.Do(func() { close(heldCh) })
			c.SleepControl(func() { <-releaseCh })
		}
		return nil, nil, false // then, and for other members, answered as usual
	})
	return heldCh, release
}

// handledLog records which records were handled, by which workers.
type handledLog struct {
	mu sync.Mutex // guards the maps
	at map[int32]map[int64]bool
	by map[string]map[string]bool // value -> names of the workers
}

func newHandledLog() *handledLog {
	return &handledLog{at: map[int32]map[int64]bool{}, by: map[string]map[string]bool{}}
}

func (h *handledLog) handler(name string) Handler[string, string] {
	return HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		h.mu.Lock()
		defer h.mu.Unlock()
		r := ctx.Record()
		if h.at[r.Partition] == nil {
			h.at[r.Partition] = map[int64]bool{}
		}
		h.at[r.Partition][r.Offset] = true
		if h.by[m.Value] == nil {
			h.by[m.Value] = map[string]bool{}
		}
		h.by[m.Value][name] = true
		return nil
	})
}

// missing returns the values of prefix 0..n-1 not handled yet.
func (h *handledLog) missing(prefix string, n int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for i := range n {
		if v := prefix + strconv.Itoa(i); len(h.by[v]) == 0 {
			out = append(out, v)
		}
	}
	return out
}

// handledBy counts the values of prefix 0..n-1 that worker name handled.
func (h *handledLog) handledBy(name, prefix string, n int) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := 0
	for i := range n {
		if h.by[prefix+strconv.Itoa(i)][name] {
			k++
		}
	}
	return k
}

// requireCommittedHandled fails the test if the group committed an offset
// past a record nobody handled. The commits are read first: whatever they
// cover was handled before they were made, so before the log is read.
func (h *handledLog) requireCommittedHandled(t *testing.T, brokers []string, group string) map[int32]int64 {
	t.Helper()
	c := committed(t, brokers, group, guardTopic)
	h.mu.Lock()
	defer h.mu.Unlock()
	for p, off := range c {
		for o := range off {
			if !h.at[p][o] {
				t.Fatalf("partition %d committed at %d, but offset %d was never handled", p, off, o)
			}
		}
	}
	return c
}

// produceBatch writes n records with values prefix0..prefix(n-1), spread
// over the partitions.
func produceBatch(t *testing.T, brokers []string, partitions int32, prefix string, n int) {
	t.Helper()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, rec(guardTopic, int32(i)%partitions, "", prefix+strconv.Itoa(i)))
	}
	produce(t, brokers, recs...)
}

// get returns the status code and body of GET url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWorkerRejoinsAGroupThatWillNotTakeIt: a second worker joins, and the
// broker never answers the first worker's JoinGroup for the rebalance; the
// broker drops it from the group meanwhile. franz-go alone would retry the
// same member after its request timeout and be held again, for good. The
// worker must report itself unready with the reason, rejoin as a new member
// past the rebalance timeout plus the session timeout, and own partitions
// and handle records again; nothing produced before, during or after is
// lost, and no offset is committed past a record nobody handled.
func TestWorkerRejoinsAGroupThatWillNotTakeIt(t *testing.T) {
	t.Parallel()
	const parts = 4
	c, brokers := guardCluster(t, parts)
	h := newHandledLog()
	newApp := func(name string) *App {
		app := NewApp("guard", WithLogger(testLogger(t)))
		Handle(app, h.handler(name), serde.String(), serde.String(), guardTopic)
		return app
	}
	cfg := testConfig(t, brokers)
	cfg.SessionTimeout, cfg.RebalanceTimeout = 2*time.Second, 2*time.Second
	cfgA := cfg
	cfgA.HTTP = freeAddr(t)
	base := "http://" + cfgA.HTTP
	a, b := newApp("a"), newApp("b")
	ra := startApp(t, a, cfgA)

	var first Status
	eventually(t, 30*time.Second, "worker a in a stable generation with every partition", func() bool {
		first, _ = a.Status()
		return first.Membership.Stable && len(first.Partitions) == parts && first.Ready
	})
	produceBatch(t, brokers, parts, "before-", 100)
	eventually(t, 30*time.Second, "the records produced before", func() bool { return len(h.missing("before-", 100)) == 0 })

	// The broker holds a's JoinGroup once b makes the group rebalance.
	held, release := holdJoinsOf(t, c, first.Membership.MemberID)
	rb := startApp(t, b, cfg)
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("worker a did not rejoin for the rebalance within 30s")
	}

	var reason string
	eventually(t, 30*time.Second, "/readyz to answer 503 with the reason", func() bool {
		code, body := get(t, base+"/readyz")
		reason = body
		return code == http.StatusServiceUnavailable && strings.Contains(body, "not in a stable generation of group")
	})
	if !strings.Contains(reason, `"reason"`) {
		t.Errorf("/readyz while wedged: %s; want a JSON reason", reason)
	}
	produceBatch(t, brokers, parts, "during-", 100)

	var rejoined Status
	eventually(t, 30*time.Second, "worker a to rejoin as a new member, in a stable generation", func() bool {
		rejoined, _ = a.Status()
		return rejoined.Rejoins == 1 && rejoined.Membership.Stable && rejoined.Membership.MemberID != first.Membership.MemberID
	})
	release() // the broker answers again; a's new member never needed it
	h.requireCommittedHandled(t, brokers, cfg.Group)
	if _, metrics := get(t, base+"/metrics"); metricValue(metrics, "eddy_group_rejoins_total") != "1" ||
		metricValue(metrics, "eddy_group_unstable_seconds") == "" {
		t.Errorf("/metrics after the rejoin: want eddy_group_rejoins_total 1 and an eddy_group_unstable_seconds gauge; got\n%s", grepLines(metrics, "eddy_group"))
	}

	eventually(t, 30*time.Second, "both workers to hold partitions, a ready", func() bool {
		sa, _ := a.Status()
		sb, _ := b.Status()
		return sa.Ready && len(sa.Partitions) > 0 && len(sb.Partitions) > 0 && len(sa.Partitions)+len(sb.Partitions) == parts
	})
	produceBatch(t, brokers, parts, "after-", 100)
	eventually(t, 30*time.Second, "every record produced so far", func() bool {
		return len(h.missing("before-", 100))+len(h.missing("during-", 100))+len(h.missing("after-", 100)) == 0
	})
	if n := h.handledBy("a", "after-", 100); n == 0 {
		t.Error("worker a handled none of the records produced after it rejoined")
	}

	if err := rb.stop(t); err != nil {
		t.Fatalf("worker b: %v", err)
	}
	eventually(t, 30*time.Second, "worker a to take every partition", func() bool {
		sa, _ := a.Status()
		return len(sa.Partitions) == parts && sa.Ready
	})
	produceBatch(t, brokers, parts, "last-", 100)
	eventually(t, 30*time.Second, "the last records", func() bool { return len(h.missing("last-", 100)) == 0 })
	if n := h.handledBy("a", "last-", 100); n != 100 {
		t.Errorf("worker a, alone in the group, handled %d of the last 100 records", n)
	}
	if err := ra.stop(t); err != nil {
		t.Fatalf("worker a: %v", err)
	}
	got := h.requireCommittedHandled(t, brokers, cfg.Group)
	for p := range int32(parts) {
		if got[p] != 100 {
			t.Fatalf("committed offsets %v; want 100 on every partition", got)
		}
	}
}

// metricValue returns the value of the first series of metric name in a
// Prometheus text exposition, or "".
func metricValue(exposition, name string) string {
	for _, l := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(l, name+"{") || strings.HasPrefix(l, name+" ") {
			return l[strings.LastIndexByte(l, ' ')+1:]
		}
	}
	return ""
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestWorkerGuardQuietThroughRebalances: a second worker joining and
// leaving rebalances the group twice; the guard must not take that for a
// wedge, however long it watches afterwards.
func TestWorkerGuardQuietThroughRebalances(t *testing.T) {
	t.Parallel()
	const parts = 4
	_, brokers := guardCluster(t, parts)
	h := newHandledLog()
	newApp := func(name string) *App {
		app := NewApp("quiet", WithLogger(testLogger(t)))
		Handle(app, h.handler(name), serde.String(), serde.String(), guardTopic)
		return app
	}
	cfg := testConfig(t, brokers)
	cfg.SessionTimeout, cfg.RebalanceTimeout = time.Second, time.Second
	a, b := newApp("a"), newApp("b")
	startApp(t, a, cfg)
	var first Status
	eventually(t, 30*time.Second, "worker a in a stable generation", func() bool {
		first, _ = a.Status()
		return first.Membership.Stable && len(first.Partitions) == parts
	})
	rb := startApp(t, b, cfg)
	eventually(t, 30*time.Second, "both workers to hold partitions", func() bool {
		sa, _ := a.Status()
		sb, _ := b.Status()
		return len(sa.Partitions) > 0 && len(sb.Partitions) > 0 && len(sa.Partitions)+len(sb.Partitions) == parts
	})
	if err := rb.stop(t); err != nil {
		t.Fatalf("worker b: %v", err)
	}
	eventually(t, 30*time.Second, "worker a to take every partition back", func() bool {
		sa, _ := a.Status()
		return len(sa.Partitions) == parts && sa.Membership.Stable
	})
	// Watch on for longer than the guard needs to fire.
	after := time.Now().Add(cfg.RebalanceTimeout + cfg.SessionTimeout + time.Second)
	var last Status
	eventually(t, 30*time.Second, "the guard to look at the group past its threshold", func() bool {
		last, _ = a.Status()
		return last.Membership.CheckedAt != nil && last.Membership.CheckedAt.After(after)
	})
	if last.Rejoins != 0 || last.Membership.MemberID != first.Membership.MemberID || !last.Membership.Stable || !last.Ready {
		t.Fatalf("after two ordinary rebalances: rejoins %d, member %s (first %s), membership %+v, ready %v (%s)",
			last.Rejoins, last.Membership.MemberID, first.Membership.MemberID, last.Membership, last.Ready, last.Reason)
	}
}

// TestWorkerStopsWhileTheBrokerHoldsItsJoin: a worker stopped while the
// broker holds its JoinGroup must still stop. franz-go's Close waits for
// the JoinGroup's answer, for up to the rebalance timeout (ten minutes
// here) plus 10s, unless the worker cancels the client's context when
// leaving the group did not finish.
func TestWorkerStopsWhileTheBrokerHoldsItsJoin(t *testing.T) {
	t.Parallel()
	c, brokers := guardCluster(t, 2)
	app := NewApp("stopping", WithLogger(testLogger(t)))
	Handle(app, newHandledLog().handler("a"), serde.String(), serde.String(), guardTopic)
	cfg := testConfig(t, brokers)
	cfg.RebalanceTimeout = 10 * time.Minute
	cfg.SessionTimeout = 1500 * time.Millisecond // heartbeats every 500ms: the rebalance is seen soon
	r := startApp(t, app, cfg)
	var st Status
	eventually(t, 30*time.Second, "the worker in a stable generation", func() bool {
		st, _ = app.Status()
		return st.Membership.Stable
	})
	held, _ := holdJoinsOf(t, c, st.Membership.MemberID)
	// t.Context ends before the cleanups run: the other member's Close
	// does not wait for its own join, which the group answers only once
	// it dropped the stopped worker.
	other, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup(cfg.Group), kgo.ConsumeTopics(guardTopic),
		kgo.WithContext(t.Context()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	go func() { // polling makes it join, and the group rebalance
		for !other.PollFetches(t.Context()).IsClientClosed() && t.Context().Err() == nil {
		}
	}()
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not rejoin for the rebalance within 30s")
	}
	// stop fails the test unless Run returns within 30s.
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	t.Logf("stopped in %v", time.Since(start))
}
