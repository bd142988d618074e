package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/tables"
)

// countApp counts records per key in table "counts"; a tombstone deletes
// the key's count.
func countApp(t *testing.T, name string, opts ...Option) (*App, *tables.Table[string, int64]) {
	app := NewApp(name, append([]Option{WithLogger(testLogger(t))}, opts...)...)
	counts := NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{})
	Handle(app, &tableCounter{counts: counts}, serde.String(), serde.String(), "in")
	return app, counts
}

type tableCounter struct{ counts *tables.Table[string, int64] }

func (c *tableCounter) OnMessage(ctx *Context, msg *Message[string, string]) error {
	n, _, err := c.counts.Get(ctx, msg.Key)
	if err != nil {
		return err
	}
	return c.counts.Set(ctx, msg.Key, n+1)
}

func (c *tableCounter) OnTombstone(ctx *Context, msg *Message[string, string]) error {
	return c.counts.Delete(ctx, msg.Key)
}

// keyed returns n records spread over keys k0..k(keys-1), keyed so the
// default partitioner places them.
func keyed(topic string, n, keys int) []*kgo.Record {
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", i%keys), Value: []byte("v")}
	}
	return recs
}

// tableCounts reads every count the running app holds.
func tableCounts(t *testing.T, app *App, counts *tables.Table[string, int64]) map[string]int64 {
	t.Helper()
	m := map[string]int64{}
	if _, err := ScanTable(app, counts, func(k string, n int64) bool { m[k] = n; return true }); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return m
}

// changelogState returns the latest count of each key in a changelog; a
// tombstone removes the key.
func changelogState(t *testing.T, brokers []string, topic string) map[string]int64 {
	t.Helper()
	state := map[string]int64{}
	for k, v := range testkit.LastValues(t, brokers, topic) {
		n, err := serde.Int64().Decode(v)
		if err != nil {
			t.Errorf("changelog value %x: %v", v, err)
		}
		state[k] = n
	}
	return state
}

func TestTableCountsWithChangelogAndTombstones(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 4, "in")
	app, counts := countApp(t, "counting")
	cfg := testConfig(t, brokers)
	cfg.TableStore = "memory://"
	cfg.HTTP = freeAddr(t)
	produceKeyed(t, brokers, keyed("in", 1000, 10)...)
	produceKeyed(t, brokers, &kgo.Record{Topic: "in", Key: []byte("k3")}) // deletes k3
	startApp(t, app, cfg)

	want := map[string]int64{}
	for i := range 10 {
		if i != 3 {
			want[fmt.Sprint("k", i)] = 100
		}
	}
	eventually(t, 30*time.Second, "the counts", func() bool {
		return fmt.Sprint(tableCounts(t, app, counts)) == fmt.Sprint(want)
	})
	eventually(t, 30*time.Second, "the changelog to hold the counts", func() bool {
		return fmt.Sprint(changelogState(t, brokers, "counting-counts-changelog")) == fmt.Sprint(want)
	})

	// The changelog is compacted and has the source's partition count.
	adm := kadm.NewClient(testkit.NewClient(t, brokers))
	cfgs, err := adm.DescribeTopicConfigs(context.Background(), "counting-counts-changelog")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := cfgs.On("counting-counts-changelog", nil); err != nil || configValue(v, "cleanup.policy") != "compact" {
		t.Fatalf("changelog cleanup.policy = %q (%v); want compact", configValue(v, "cleanup.policy"), err)
	}

	// The HTTP look-up finds a key in its shard, and not a deleted one.
	var got map[string]any
	if code := getJSON(t, "http://"+cfg.HTTP+"/tables/counts/k1", &got); code != 200 || got["value"] != float64(100) || got["table"] != "counts" || got["key"] != "k1" {
		t.Fatalf("GET /tables/counts/k1 = %d %v", code, got)
	}
	if _, ok := got["partition"].(float64); !ok {
		t.Fatalf("GET /tables/counts/k1 has no partition: %v", got)
	}
	if code := getJSON(t, "http://"+cfg.HTTP+"/tables/counts/k3", &got); code != 404 {
		t.Fatalf("GET /tables/counts/k3 (deleted) = %d %v; want 404", code, got)
	}
	if code := getJSON(t, "http://"+cfg.HTTP+"/tables/nope/k1", &got); code != 404 {
		t.Fatalf("GET /tables/nope/k1 = %d %v; want 404", code, got)
	}
}

func configValue(rc kadm.ResourceConfig, key string) string {
	for _, c := range rc.Configs {
		if c.Key == key && c.Value != nil {
			return *c.Value
		}
	}
	return ""
}

// restoredRecords reads eddy.table.restored.records from a manual reader.
func restoredRecords(t *testing.T, r *sdkmetric.ManualReader) int64 {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != "eddy.table.restored.records" {
				continue
			}
			for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
				n += dp.Value
			}
		}
	}
	return n
}

func TestTableRestoresAfterRestart(t *testing.T) {
	t.Parallel()
	for _, store := range []string{"memory://", "rocksdb://"} {
		t.Run(strings.TrimSuffix(store, "://"), func(t *testing.T) {
			t.Parallel()
			_, brokers := testCluster(t, 2, "in")
			cfg := testConfig(t, brokers)
			cfg.TableStore = store
			cfg.StateDir = t.TempDir()
			produceKeyed(t, brokers, keyed("in", 400, 40)...)

			app, counts := countApp(t, "restart")
			r := startApp(t, app, cfg)
			eventually(t, 30*time.Second, "first counts", func() bool { return len(tableCounts(t, app, counts)) == 40 })
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}

			// Another worker writes to the changelog while this one is
			// down: the delta the restart must replay.
			const delta = 7
			var recs []*kgo.Record
			for i := range delta {
				recs = append(recs, &kgo.Record{Topic: "restart-counts-changelog", Partition: 0,
					Key: fmt.Appendf(nil, "extra%d", i), Value: mustEncode(t, int64(i))})
			}
			produce(t, brokers, recs...)

			reader := sdkmetric.NewManualReader()
			app2, counts2 := countApp(t, "restart", WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))))
			produceKeyed(t, brokers, keyed("in", 40, 40)...) // one more per key
			startApp(t, app2, cfg)
			var got map[string]int64
			eventually(t, 30*time.Second, "every key counted 11 times after the restart", func() bool {
				got = tableCounts(t, app2, counts2)
				for i := range 40 {
					if got[fmt.Sprint("k", i)] != 11 {
						return false
					}
				}
				return len(got) == 40+delta
			})
			restored := restoredRecords(t, reader)
			if store == "memory://" && restored < 40+delta {
				t.Fatalf("memory store restored %d records; want the whole changelog (at least %d)", restored, 40+delta)
			}
			if store == "rocksdb://" && restored != delta {
				t.Fatalf("rocksdb store restored %d records; want only the %d written since its checkpoint", restored, delta)
			}
		})
	}
}

func mustEncode(t *testing.T, n int64) []byte {
	b, err := serde.Int64().Encode(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestTablePartitionCountMismatchRefusesToStart(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 4, "in")
	adm := kadm.NewClient(testkit.NewClient(t, brokers))
	if _, err := adm.CreateTopic(context.Background(), 2, 1, nil, "mismatch-counts-changelog"); err != nil {
		t.Fatal(err)
	}
	_ = c
	app, _ := countApp(t, "mismatch")
	cfg := testConfig(t, brokers)
	cfg.TableStore = "memory://"
	err := app.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "in=4") || !strings.Contains(err.Error(), "mismatch-counts-changelog=2") {
		t.Fatalf("Run = %v; want an error naming in=4 and mismatch-counts-changelog=2", err)
	}
}

func TestTableLockedStoreIsAClearError(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	produceKeyed(t, brokers, keyed("in", 10, 2)...)
	dir := t.TempDir()
	a, counts := countApp(t, "locked")
	cfg := testConfig(t, brokers)
	cfg.TableStore = "rocksdb://"
	cfg.StateDir = dir
	startApp(t, a, cfg)
	eventually(t, 30*time.Second, "the first worker to count", func() bool { return len(tableCounts(t, a, counts)) == 2 })

	// A second worker of another group on the same state directory wants
	// the same shard, which the first holds open.
	b, _ := countApp(t, "locked")
	cfg2 := cfg
	cfg2.Group += "-other"
	err := startApp(t, b, cfg2).wait(t, 30*time.Second)
	var le *stores.LockedError
	if !errors.As(err, &le) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("second worker: %v; want a *stores.LockedError naming a path under %s", err, dir)
	}
}

func TestTableHTTPLookupOfIntKeys(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "in")
	app := NewApp("ints", WithLogger(testLogger(t)))
	sums := NewTable(app, "sums", serde.Int64(), serde.JSON[map[string]int](), tables.Options{})
	Handle(app, HandlerFunc[int64, string](func(ctx *Context, m *Message[int64, string]) error {
		v, _, err := sums.Get(ctx, m.Key)
		if err != nil {
			return err
		}
		if v == nil {
			v = map[string]int{}
		}
		v[m.Value]++
		return sums.Set(ctx, m.Key, v)
	}), serde.Int64(), serde.String(), "in")
	var recs []*kgo.Record
	for i := range 6 {
		recs = append(recs, &kgo.Record{Topic: "in", Key: mustEncode(t, int64(i%2)), Value: []byte([]string{"a", "b", "c"}[i%3])})
	}
	produceKeyed(t, brokers, recs...)
	cfg := testConfig(t, brokers)
	cfg.TableStore = "memory://"
	cfg.HTTP = freeAddr(t)
	startApp(t, app, cfg)
	var got map[string]any
	eventually(t, 30*time.Second, "key 1 to be counted", func() bool {
		resp, err := http.Get("http://" + cfg.HTTP + "/tables/sums/1")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		got = nil
		_ = json.NewDecoder(resp.Body).Decode(&got)
		v, _ := got["value"].(map[string]any)
		return resp.StatusCode == 200 && len(v) == 3
	})
	if code := getJSON(t, "http://"+cfg.HTTP+"/tables/sums/notanumber", &got); code != 400 {
		t.Fatalf("GET /tables/sums/notanumber = %d %v; want 400", code, got)
	}
}

func TestTableCacheBoundBringsCommitsForward(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	app, counts := countApp(t, "bounded")
	cfg := testConfig(t, brokers)
	cfg.TableStore = "memory://"
	cfg.CommitInterval = time.Hour // only the cache bound can commit in time
	cfg.TableCacheMaxEntries = 10
	produceKeyed(t, brokers, keyed("in", 200, 200)...)
	startApp(t, app, cfg)

	eventually(t, 30*time.Second, "commits driven by the cache bound", func() bool {
		return committed(t, brokers, cfg.Group, "in")[0] >= 190
	})
	// What was committed is durable: the changelog holds the counts.
	if got := len(changelogState(t, brokers, "bounded-counts-changelog")); got < 190 {
		t.Fatalf("changelog holds %d keys after the early commits; want at least 190", got)
	}
	if got := len(tableCounts(t, app, counts)); got != 200 {
		t.Fatalf("table holds %d keys, want 200", got)
	}
}
