package main

// What the process tests of pageviews check with: the views they produce,
// the counts they read back over HTTP, the changelog, and the workers'
// restore reports. Processes, brokers and workers come from
// internal/proctest; producing, reading topics and offsets from
// internal/testkit. The handler tests (pageviews_test.go) use runtimetest.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/proctest"
	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/serde"
)

const (
	viewsTopic = "page-views"
	changelog  = "pageviews-page_views-changelog"
	pageCount  = 50 // views go to page-0 to page-49
)

// bin is the pageviews binary, built once for every test of the package.
var bin = proctest.NewBinary(".")

func TestMain(m *testing.M) { os.Exit(bin.Run(m)) }

// startWorker runs a worker of group whose RocksDB stores live in
// stateDir, committing every 200ms, and waits until it is ready.
func startWorker(t *testing.T, name, broker, group, stateDir string) *proctest.Worker {
	t.Helper()
	return bin.StartWorker(t, name, "--brokers", broker, "--group", group,
		"--state-dir", stateDir, "--table-store", "rocksdb://",
		"--commit-interval", "200ms", "--session-timeout", "6s")
}

// page names view i's page.
func page(i int) string { return fmt.Sprintf("page-%d", i%pageCount) }

// produceViews produces views first to first+n-1, view i of page(i), and
// adds them to truth, the views produced per page.
func produceViews(ctx context.Context, cl *kgo.Client, truth map[string]int64, first, n int) error {
	recs := make([]*kgo.Record, 0, n)
	for i := first; i < first+n; i++ {
		recs = append(recs, &kgo.Record{Topic: viewsTopic, Key: []byte(page(i)), Value: []byte(`{"user":"u","at":1}`)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing views %d to %d: %w", first, first+n-1, err)
	}
	for _, r := range recs {
		truth[string(r.Key)]++
	}
	return nil
}

// mustProduceViews is produceViews for the test's goroutine.
func mustProduceViews(t *testing.T, cl *kgo.Client, truth map[string]int64, first, n int) {
	t.Helper()
	testkit.Within(t, 30*time.Second, func(ctx context.Context) error { return produceViews(ctx, cl, truth, first, n) })
}

// awaitCommitted waits until group has committed every view produced so
// far: each view was handled, and its count flushed to the changelog,
// before its offset was committed.
func awaitCommitted(t *testing.T, brokers []string, group string, timeout time.Duration) {
	t.Helper()
	ends := testkit.EndOffsets(t, brokers, viewsTopic)
	testkit.Eventually(t, timeout, fmt.Sprintf("group %s to commit every view produced (end offsets %v)", group, ends), func() (bool, string) {
		committed := testkit.Committed(t, brokers, group, viewsTopic)
		var behind []string
		for _, p := range slices.Sorted(maps.Keys(ends)) {
			if ends[p] > 0 && committed[p] != ends[p] {
				behind = append(behind, fmt.Sprintf("%d: committed %d of %d", p, committed[p], ends[p]))
			}
		}
		return len(behind) == 0, fmt.Sprintf("partitions behind: %v", behind)
	})
}

// tableEntry is the answer of GET /tables/page_views/<page>.
type tableEntry struct {
	Table     string `json:"table"`
	Key       string `json:"key"`
	Value     int64  `json:"value"`
	Partition int32  `json:"partition"`
	Error     string `json:"error"` // with 404
}

// lookup asks w for page's count: found is false on a 404 with an error
// message, the answer for a key in no shard w holds.
func lookup(w *proctest.Worker, page string) (e tableEntry, found bool, err error) {
	code, err := w.GetJSON("/tables/page_views/"+url.PathEscape(page), &e)
	switch {
	case err != nil:
		return e, false, err
	case code == http.StatusNotFound && e.Error != "":
		return e, false, nil
	case code != http.StatusOK:
		return e, false, fmt.Errorf("GET /tables/page_views/%s: %d %+v, want 200, or 404 with an error", page, code, e)
	case e.Table != "page_views" || e.Key != page:
		return e, false, fmt.Errorf("GET /tables/page_views/%s: answered for table %q key %q", page, e.Table, e.Key)
	}
	return e, true, nil
}

// hit is a worker's answer for a page it holds.
type hit struct {
	worker string
	count  int64
}

// countsOn asks every worker for every page of truth and returns the
// answers of those that hold it, by page.
func countsOn(t *testing.T, truth map[string]int64, workers ...*proctest.Worker) map[string][]hit {
	t.Helper()
	hits := map[string][]hit{}
	for _, p := range slices.Sorted(maps.Keys(truth)) {
		for _, w := range workers {
			e, found, err := lookup(w, p)
			if err != nil {
				t.Fatalf("%s: %v", w.Name, err)
			}
			if found {
				hits[p] = append(hits[p], hit{w.Name, e.Value})
			}
		}
	}
	return hits
}

// checkExactCounts checks that every page of truth is found on exactly one
// of workers, with its true count.
func checkExactCounts(t *testing.T, truth map[string]int64, workers ...*proctest.Worker) {
	t.Helper()
	hits := countsOn(t, truth, workers...)
	for _, p := range slices.Sorted(maps.Keys(truth)) {
		if hs := hits[p]; len(hs) != 1 || hs[0].count != truth[p] {
			t.Errorf("%s: found as %+v, want a count of %d on exactly one worker", p, hs, truth[p])
		}
	}
}

// awaitSplit waits until the workers hold every one of the partitions of
// page-views between them, each exactly once, none restoring, each worker
// at least one, and returns what each holds.
func awaitSplit(t *testing.T, partitions int, workers ...*proctest.Worker) [][]int32 {
	t.Helper()
	var all []int32
	for p := range int32(partitions) {
		all = append(all, p)
	}
	var names []string
	for _, w := range workers {
		names = append(names, w.Name)
	}
	held := make([][]int32, len(workers))
	what := fmt.Sprintf("%s to hold partitions 0 to %d between them, each exactly once, all restored", strings.Join(names, " and "), partitions-1)
	testkit.Eventually(t, 45*time.Second, what, func() (bool, string) {
		var seen []string
		var union []int32
		restoring, idle := 0, false
		for i, w := range workers {
			if w.Exited() {
				t.Fatalf("%s exited (%s) while awaiting %s", w.Name, w.State(), what)
			}
			s, err := w.Status()
			if err != nil {
				return false, err.Error()
			}
			held[i] = s.Held(viewsTopic)
			for _, p := range s.Partitions {
				if p.Restoring {
					restoring++
				}
			}
			idle = idle || len(held[i]) == 0
			union = append(union, held[i]...)
			seen = append(seen, fmt.Sprintf("%s holds %v", w.Name, held[i]))
		}
		slices.Sort(union)
		ok := !idle && restoring == 0 && slices.Equal(union, all)
		return ok, fmt.Sprintf("%s; %d restoring", strings.Join(seen, ", "), restoring)
	})
	return held
}

// changelogView reads the changelog from its start for as long as the
// test runs.
type changelogView struct {
	c *testkit.Consumer
	// Under c's lock:
	latest     map[string]int64 // each page's last count
	tombstones map[string]int   // tombstones per page
	// rewritten holds the partitions where a page's count was written
	// again. A flush writes a page once, and a worker flushes, commits,
	// and checkpoints its stores before it flushes again: a second write
	// means the first flush's checkpoint is in the store.
	rewritten map[int32]bool
	err       error // a value that is no int64
}

func watchChangelog(t *testing.T, brokers []string) *changelogView {
	t.Helper()
	v := &changelogView{latest: map[string]int64{}, tombstones: map[string]int{}, rewritten: map[int32]bool{}}
	v.c = testkit.StartConsumer(t, brokers, func(r *kgo.Record) {
		if _, ok := v.latest[string(r.Key)]; ok {
			v.rewritten[r.Partition] = true
		}
		if r.Value == nil {
			delete(v.latest, string(r.Key))
			v.tombstones[string(r.Key)]++
			return
		}
		n, err := serde.Int64().Decode(r.Value)
		if err != nil {
			v.err = fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		v.latest[string(r.Key)] = n
	}, changelog)
	return v
}

// await waits until cond, called with what was read so far, holds.
func (v *changelogView) await(t *testing.T, timeout time.Duration, what string, cond func(v *changelogView) (bool, string)) {
	t.Helper()
	v.c.Await(t, timeout, what, func() (bool, string) {
		if v.err != nil {
			t.Fatalf("the changelog has a value that is no count: %v", v.err)
		}
		return cond(v)
	})
}

// lockErrorRE matches the errors of a RocksDB shard that another process,
// or this one, still holds.
var lockErrorRE = regexp.MustCompile(`is locked by another process|lock hold by current process|While lock file`)

// checkNoLockErrors fails the test if a worker logged a store lock error.
func checkNoLockErrors(t *testing.T, workers ...*proctest.Worker) {
	t.Helper()
	for _, w := range workers {
		if m := lockErrorRE.FindString(w.Stderr.String()); m != "" {
			t.Errorf("%s logged a store lock error (%q): a shard's RocksDB store was not released", w.Name, m)
		}
	}
}

// restoreSpan is where a worker began restoring a shard: from is the
// store's checkpoint (-1: none, the start of the changelog), to the
// changelog's end offset.
type restoreSpan struct{ from, to int64 }

// restoreStartRE is the log line of a shard restore that has records to
// replay; a shard whose checkpoint is at the changelog's end logs none.
var restoreStartRE = regexp.MustCompile(`msg="restoring table shard" .*table=page_views .*partition=(\d+) from=(-?\d+) to=(\d+)`)

// restoreStarts returns the first restore of each partition in a worker's
// log.
func restoreStarts(log string) map[int32]restoreSpan {
	spans := map[int32]restoreSpan{}
	for _, m := range restoreStartRE.FindAllStringSubmatch(log, -1) {
		p, _ := strconv.ParseInt(m[1], 10, 32)
		from, _ := strconv.ParseInt(m[2], 10, 64)
		to, _ := strconv.ParseInt(m[3], 10, 64)
		if _, ok := spans[int32(p)]; !ok {
			spans[int32(p)] = restoreSpan{from, to}
		}
	}
	return spans
}

// awaitRestoreStarts waits until w's log has the restore line of each of
// partitions (it is written before w reports the restore done, but read
// through a pipe) and returns them.
func awaitRestoreStarts(t *testing.T, w *proctest.Worker, partitions []int32) map[int32]restoreSpan {
	t.Helper()
	var spans map[int32]restoreSpan
	w.AwaitOutput(t, w.Stderr, 10*time.Second, fmt.Sprintf("the log lines of the restores of partitions %v", partitions),
		func(text string) (bool, string) {
			spans = restoreStarts(text)
			for _, p := range partitions {
				if _, ok := spans[p]; !ok {
					return false, fmt.Sprintf("restores logged: %v", spans)
				}
			}
			return true, ""
		})
	return spans
}

// restoredRE is a series of eddy_table_restored_records_total, the
// changelog records replayed into a shard.
var restoredRE = regexp.MustCompile(`(?m)^eddy_table_restored_records_total\{([^}]*)\} (\d+)$`)

var partitionLabelRE = regexp.MustCompile(`messaging_destination_partition_id="(\d+)"`)

// restoredRecords reads from w's /metrics the changelog records replayed
// into each shard of page_views it restored since it started, by
// partition: every restore finished adds to it, even one of 0 records.
func restoredRecords(t *testing.T, w *proctest.Worker) map[int32]int64 {
	t.Helper()
	code, body, err := w.Get("/metrics")
	if err == nil && code != http.StatusOK {
		err = fmt.Errorf("%d %s", code, body)
	}
	if err != nil {
		t.Fatalf("%s: GET /metrics: %v", w.Name, err)
	}
	restored := map[int32]int64{}
	var errs []error
	for _, m := range restoredRE.FindAllStringSubmatch(string(body), -1) {
		pm := partitionLabelRE.FindStringSubmatch(m[1])
		if !strings.Contains(m[1], `eddy_table="page_views"`) || pm == nil {
			errs = append(errs, fmt.Errorf("unexpected labels {%s}", m[1]))
			continue
		}
		p, _ := strconv.ParseInt(pm[1], 10, 32)
		n, _ := strconv.ParseInt(m[2], 10, 64)
		restored[int32(p)] = n
	}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("%s: eddy_table_restored_records_total: %v", w.Name, err)
	}
	return restored
}
