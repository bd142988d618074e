package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/testkit"
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

// testLogger routes an app's warnings and errors to the test log.
func testLogger(t *testing.T) *slog.Logger { return testkit.Logger(t, slog.LevelWarn) }

// running is an App.Run in the background.
type running struct{ r *testkit.Running }

// startApp runs app until the test ends or stop is called.
func startApp(t *testing.T, app *App, cfg Config) *running {
	t.Helper()
	return &running{testkit.Background(t, "the app", func(ctx context.Context) error { return app.Run(ctx, cfg) })}
}

// stop cancels the app and returns Run's result.
func (r *running) stop(t *testing.T) error {
	t.Helper()
	return r.r.Stop(t)
}

// wait returns Run's result once the app stops by itself.
func (r *running) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	return r.r.Wait(t, within)
}

// The broker helpers of the runtime's tests are testkit's, under the
// names the tests use.

// produce writes records synchronously to the partitions they name.
func produce(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	testkit.Produce(t, brokers, recs...)
}

// produceKeyed writes records synchronously where their keys hash to, as
// Kafka's default partitioner does.
func produceKeyed(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	testkit.ProduceKeyed(t, brokers, recs...)
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
	return testkit.Committed(t, brokers, group, topic)
}

// consumeAll reads at least n records of topic from the start, failing
// after 30s.
func consumeAll(t *testing.T, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	return testkit.Consume(t, brokers, topic, n)
}

// eventually polls cond until it holds, failing after within. It is for
// state that has no event to await, such as offsets committed by a worker.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.Eventually(t, within, what, func() (bool, string) { return cond(), "" })
}

// journal records strings from concurrent handlers.
type journal struct {
	w       testkit.Watch
	entries []string // under w
}

func (j *journal) add(format string, args ...any) {
	e := fmt.Sprintf(format, args...)
	j.w.Change(func() { j.entries = append(j.entries, e) })
}

func (j *journal) all() []string {
	var all []string
	j.w.Read(func() { all = slices.Clone(j.entries) })
	return all
}

// await blocks until the journal holds n entries, failing after 30s.
func (j *journal) await(t *testing.T, n int) []string {
	t.Helper()
	j.w.Await(t, 30*time.Second, fmt.Sprintf("%d journal entries", n), func() (bool, string) {
		return len(j.entries) >= n, fmt.Sprintf("%d entries: %q", len(j.entries), j.entries)
	})
	return j.all()
}
