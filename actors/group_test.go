package actors_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/modes"
)

// Group timings of these tests: the broker drops a silent member after a
// second, and waits as long for members to rejoin in a rebalance, so the
// watch wedges after 1s and rejoins after 2s out of a stable generation.
const (
	groupSession   = time.Second
	groupRebalance = time.Second
	groupHeartbeat = 100 * time.Millisecond
)

// groupCluster starts a broker that accepts the short session timeouts
// above.
func groupCluster(t *testing.T, partitions int32, topics ...string) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, topics...),
		kfake.GroupMinSessionTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// groupOpts are the group timings as client options.
func groupOpts() []kgo.Opt {
	return []kgo.Opt{kgo.SessionTimeout(groupSession), kgo.RebalanceTimeout(groupRebalance), kgo.HeartbeatInterval(groupHeartbeat)}
}

// eventuallyGroup polls e.Group until ok holds; the group's state has no
// event to wait on.
func eventuallyGroup(t *testing.T, e *actors.Engine, what string, ok func(actors.GroupStatus) bool) actors.GroupStatus {
	t.Helper()
	deadline := time.Now().Add(patience)
	for {
		st := e.Group()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v; group status %+v", what, patience, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// holdJoins holds every JoinGroup of member id in the broker, unanswered,
// until the test ends: a coordinator wedged on that member. held is closed
// once the first one is held.
func holdJoins(t *testing.T, c *kfake.Cluster, id string) (held <-chan struct{}) {
	t.Helper()
	ch := make(chan struct{})
	var once sync.Once
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	c.ControlKey(int16(kmsg.JoinGroup), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		if req, ok := r.(*kmsg.JoinGroupRequest); ok && req.MemberID == id {
			once.Do(func() { close(ch) })
			c.SleepControl(func() { <-release })
		}
		return nil, nil, false // then (or for any other member) answered as usual
	})
	return ch
}

// rejoins is an Observer that reports GroupRejoin on a channel.
type rejoins struct {
	ch chan actors.GroupStatus
}

func (r rejoins) GroupRejoin(st actors.GroupStatus)            { r.ch <- st }
func (rejoins) Rebalanced(string, int)                         {}
func (rejoins) HandlerRestarted(actors.TopicPartition)         {}
func (rejoins) Committed(int, error)                           {}
func (rejoins) Stalled(actors.TopicPartition)                  {}
func (rejoins) ModeSwitched(actors.TopicPartition, modes.Mode) {}
func (rejoins) StepCompleted(int)                              {}

// member starts a plain group member of group consuming topic: another
// worker, as far as the group is concerned.
func member(t *testing.T, c *kfake.Cluster, group, topic string) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{
		kgo.SeedBrokers(c.ListenAddrs()...),
		kgo.ClientID("other"),
		kgo.ConsumerGroup(group),
		kgo.ConsumeTopics(topic),
	}, groupOpts()...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	// Polling makes the client join.
	go func() {
		for !cl.PollFetches(context.Background()).IsClientClosed() {
		}
	}()
	return cl
}

// TestGroupWatchRejoinsAWedgedMember: the coordinator never answers the
// Engine's member when it rejoins for a rebalance (a second member joined).
// franz-go alone would wait for its request timeout, then retry as the
// same member, wedged again. The watch must say so (not Ready, with the
// reason), tell the Observer, and make Run return ErrRejoin without
// committing or leaving for a member the group no longer lists; and the
// client, its context cancelled as LeftGroup asks, must close while the
// broker still holds the JoinGroup.
func TestGroupWatchRejoinsAWedgedMember(t *testing.T) {
	t.Parallel()
	c := groupCluster(t, 2, "in")
	logs := newLogEvents(t)
	obs := rejoins{ch: make(chan actors.GroupStatus, 1)}
	e, err := actors.New(testSettings(actors.Config{
		Logger:       slog.New(logs),
		Observer:     obs,
		DrainTimeout: 5 * time.Second,
		NewProcessor: func(actors.TopicPartition) (actors.Processor, error) { return newState(), nil },
	}))
	if err != nil {
		t.Fatal(err)
	}
	clientCtx, cancelClient := context.WithCancel(context.Background())
	defer cancelClient()
	// franz-go gives a JoinGroup the rebalance timeout plus this overhead
	// before it gives up on the answer; 15 minutes (its most) makes sure that only the
	// cancelled context can end the Close below.
	cl := engineClient(t, c, e, "g", []string{"in"}, append(groupOpts(), kgo.WithContext(clientCtx), kgo.RequestTimeoutOverhead(15*time.Minute))...)
	runErr := make(chan error, 1)
	go func() { runErr <- e.Run(context.Background(), cl) }()

	st := eventuallyGroup(t, e, "the member in a stable generation", func(st actors.GroupStatus) bool { return st.Stable && st.Watched })
	held := holdJoins(t, c, st.MemberID)
	member(t, c, "g", "in")
	await(t, held, "the member's JoinGroup held by the broker")

	wedged := eventuallyGroup(t, e, "the member reported wedged", func(st actors.GroupStatus) bool { return st.Wedged })
	if ready, reason := e.Readiness(); ready || !strings.Contains(reason, "not in a stable generation of group \"g\"") {
		t.Errorf("Readiness while wedged = %v, %q; want not ready, saying why", ready, reason)
	}
	if wedged.Stable || wedged.UnstableSince == nil || wedged.Reason == "" {
		t.Errorf("wedged group status %+v; want unstable since a time, with a reason", wedged)
	}

	select {
	case err := <-runErr:
		if !errors.Is(err, actors.ErrRejoin) {
			t.Fatalf("Run = %v; want ErrRejoin", err)
		}
	case <-time.After(patience):
		t.Fatalf("Run did not return within %v of the member wedging", patience)
	}
	select {
	case st := <-obs.ch:
		if st.MemberID != wedged.MemberID || st.UnstableSeconds < groupRebalance.Seconds()+groupSession.Seconds() {
			t.Errorf("GroupRejoin(%+v); want member %s out for at least the rebalance plus session timeouts", st, wedged.MemberID)
		}
	default:
		t.Error("Run returned ErrRejoin without telling the Observer")
	}
	if e.LeftGroup() {
		t.Error("LeftGroup = true for a member the group no longer listed")
	}
	if ready, reason := e.Readiness(); ready || !strings.Contains(reason, "rejoining") {
		t.Errorf("Readiness after the rejoin = %v, %q; want not ready, rejoining", ready, reason)
	}

	// As LeftGroup asks: cancel the client's context, then Close, which
	// must not wait for the JoinGroup the broker holds.
	cancelClient()
	closed := make(chan struct{})
	go func() { cl.Close(); close(closed) }()
	await(t, closed, "the client closing with its JoinGroup held")
}

// TestGroupWatchQuietThroughRebalances: a second member joining and then
// leaving rebalances the group twice; the watch must not count that as a
// wedge, however long it watches afterwards.
func TestGroupWatchQuietThroughRebalances(t *testing.T) {
	t.Parallel()
	c := groupCluster(t, 2, "in")
	obs := rejoins{ch: make(chan actors.GroupStatus, 1)}
	var mu sync.Mutex
	assigned := map[actors.TopicPartition]int{}
	e, err := actors.New(testSettings(actors.Config{
		Logger:   slog.New(newLogEvents(t)),
		Observer: obs,
		NewProcessor: func(tp actors.TopicPartition) (actors.Processor, error) {
			mu.Lock()
			assigned[tp]++
			mu.Unlock()
			return newState(), nil
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	cl := engineClient(t, c, e, "g", []string{"in"}, groupOpts()...)
	stop := run(t, e, cl)
	first := eventuallyGroup(t, e, "the member in a stable generation", func(st actors.GroupStatus) bool { return st.Stable && st.Watched })

	other := member(t, c, "g", "in")
	eventuallyGroup(t, e, "a stable generation with both members", func(st actors.GroupStatus) bool {
		return st.Stable && st.Generation > first.Generation && len(st.Members) == 2
	})
	other.Close() // leaves the group
	joined := eventuallyGroup(t, e, "a stable generation without the other member", func(st actors.GroupStatus) bool {
		return st.Stable && len(st.Members) == 1
	})
	// Watch on for longer than the guard would need to fire.
	after := time.Now().Add(groupRebalance + groupSession + time.Second)
	last := eventuallyGroup(t, e, "the watch looking past the guard's threshold", func(st actors.GroupStatus) bool {
		return st.CheckedAt != nil && st.CheckedAt.After(after)
	})
	if !last.Stable || last.MemberID != first.MemberID || last.Generation != joined.Generation {
		t.Errorf("after the rebalances: %+v; want still stable, member %s, generation %d", last, first.MemberID, joined.Generation)
	}
	select {
	case st := <-obs.ch:
		t.Fatalf("GroupRejoin(%+v) in ordinary rebalances", st)
	default:
	}
	if err := stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !e.LeftGroup() {
		t.Error("LeftGroup = false after a clean shutdown")
	}
}
