package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// testCluster starts an in-process kfake broker with topics of n
// partitions and returns its addresses.
func testCluster(t *testing.T, partitions int, topics ...string) (*kfake.Cluster, []string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(partitions), topics...))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	t.Cleanup(c.Close)
	return c, c.ListenAddrs()
}

// testConfig is a worker config for tests: short intervals, no HTTP.
func testConfig(t *testing.T, brokers []string) Config {
	return Config{
		Brokers:           brokers,
		Group:             "g-" + strings.ReplaceAll(t.Name(), "/", "-"),
		HTTP:              "off",
		CommitInterval:    50 * time.Millisecond,
		ShutdownTimeout:   10 * time.Second,
		HandlerBackoff:    time.Millisecond,
		HandlerMaxBackoff: 10 * time.Millisecond,
		LogLevel:          slog.LevelWarn,
	}
}

// testLogger routes an app's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// running is an App.Run in the background.
type running struct {
	cancel context.CancelFunc
	done   chan error
}

// startApp runs app until the test ends or stop is called.
func startApp(t *testing.T, app *App, cfg Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- app.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(30 * time.Second):
			t.Error("app did not stop within 30s of cancel")
		}
	})
	return r
}

// stop cancels the app and returns Run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("app did not stop within 30s of cancel")
		return nil
	}
}

// wait returns Run's result once the app stops by itself.
func (r *running) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-r.done:
		r.done <- err
		return err
	case <-time.After(within):
		t.Fatalf("app did not stop by itself within %v", within)
		return nil
	}
}

// produce writes records synchronously to the partitions they name.
func produce(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	produceWith(t, brokers, kgo.RecordPartitioner(kgo.ManualPartitioner()), recs...)
}

// produceKeyed writes records synchronously where their keys hash to, as
// Kafka's default partitioner does.
func produceKeyed(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	produceWith(t, brokers, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)), recs...)
}

func produceWith(t *testing.T, brokers []string, partitioner kgo.Opt, recs ...*kgo.Record) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), partitioner)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func rec(topic string, partition int32, key, value string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: partition, Value: []byte(value)}
	if key != "" {
		r.Key = []byte(key)
	}
	return r
}

// committed returns the group's committed offsets of topic by partition.
func committed(t *testing.T, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := map[int32]int64{}
	resp, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out // nothing committed yet
	}
	if err != nil {
		t.Fatalf("fetch offsets: %v", err)
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}

// consumeAll reads n records of topic from the start, failing after 30s.
func consumeAll(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("consumed %d of %d records of %s before the deadline", len(out), n, topic)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

// eventually polls cond until it holds, failing after within. It is for
// state that has no event to await, such as offsets committed by a worker.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// journal records strings from concurrent handlers.
type journal struct {
	mu      sync.Mutex // guards entries and waiters
	entries []string
	waiters []journalWaiter
}

type journalWaiter struct {
	n  int
	ch chan struct{}
}

func (j *journal) add(format string, args ...any) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries = append(j.entries, fmt.Sprintf(format, args...))
	kept := j.waiters[:0]
	for _, w := range j.waiters {
		if len(j.entries) >= w.n {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	j.waiters = kept
}

func (j *journal) all() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.entries...)
}

// await blocks until the journal holds n entries, failing after 30s.
func (j *journal) await(t *testing.T, n int) []string {
	t.Helper()
	j.mu.Lock()
	ch := make(chan struct{})
	if len(j.entries) >= n {
		close(ch)
	} else {
		j.waiters = append(j.waiters, journalWaiter{n: n, ch: ch})
	}
	j.mu.Unlock()
	select {
	case <-ch:
	case <-time.After(30 * time.Second):
		t.Fatalf("journal has %d of %d entries after 30s: %q", len(j.all()), n, j.all())
	}
	return j.all()
}
