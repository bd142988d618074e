package main

// What the process tests of the pipeline check with: the events they
// produce and the outputs they read back. Processes, brokers and workers
// come from internal/proctest; producing, reading topics and offsets from
// internal/testkit. The handler tests (pipeline_test.go) use runtimetest.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/proctest"
	"github.com/eddy-streams/eddy/internal/testkit"
)

// partitions is the partition count of the app's topics in the crash and
// rebalance tests.
const partitions = 8

// heavyThreshold is the pipeline's default heavy_threshold.
const heavyThreshold = 10

// bin is the pipeline binary, built once for every test of the package.
var bin = proctest.NewBinary(".")

func TestMain(m *testing.M) { os.Exit(bin.Run(m)) }

// startWorker runs a worker of group and waits until /readyz says it
// joined the group. commitInterval is its --commit-interval.
func startWorker(t *testing.T, name, broker, group, commitInterval string) *proctest.Worker {
	t.Helper()
	return bin.StartWorker(t, name, "--brokers", broker, "--group", group,
		"--commit-interval", commitInterval, "--session-timeout", "6s")
}

// held returns the "events" partitions in s, in order.
func held(s proctest.Status) []int32 { return s.Held("events") }

// input is one event the test produced, by its source ("events/p@o").
type input struct {
	key    string
	kind   string
	weight float64
}

// produceEvents produces n events numbered from first and adds them to
// ins by source.
func produceEvents(t *testing.T, cl *kgo.Client, ins map[string]input, first, n int) {
	t.Helper()
	testkit.Within(t, 60*time.Second, func(ctx context.Context) error { return produce(ctx, cl, ins, first, n) })
}

// produce produces n events numbered from first, keyed user-0 to user-999
// so that they spread over the partitions, and adds them to ins by source.
func produce(ctx context.Context, cl *kgo.Client, ins map[string]input, first, n int) error {
	kinds := []string{"click", "view", "purchase"}
	recs := make([]*kgo.Record, 0, n)
	byRec := make(map[*kgo.Record]input, n)
	for i := first; i < first+n; i++ {
		// Weights 0.0 to 19.5: half heavy, half light.
		in := input{key: fmt.Sprintf("user-%d", i%1000), kind: kinds[i%len(kinds)], weight: float64(i%40) / 2}
		v, err := json.Marshal(Event{Kind: in.kind, Weight: in.weight})
		if err != nil {
			return err
		}
		r := &kgo.Record{Topic: "events", Key: []byte(in.key), Value: v}
		recs = append(recs, r)
		byRec[r] = in
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("producing events %d to %d: %w", first, first+n-1, err)
	}
	for _, r := range recs {
		ins[source(r.Topic, r.Partition, r.Offset)] = byRec[r]
	}
	return nil
}

func source(topic string, partition int32, offset int64) string {
	return fmt.Sprintf("%s/%d@%d", topic, partition, offset)
}

// parseSource splits an "events/p@o" source.
func parseSource(src string) (partition int32, offset int64, ok bool) {
	n, err := fmt.Sscanf(src, "events/%d@%d", &partition, &offset)
	return partition, offset, err == nil && n == 2
}

// endOffsets returns the end offset of each input partition, from what
// was produced.
func endOffsets(ins map[string]input) map[int32]int64 {
	ends := map[int32]int64{}
	for src := range ins {
		p, o, _ := parseSource(src)
		ends[p] = max(ends[p], o+1)
	}
	return ends
}

// output is one record the pipeline wrote.
type output struct {
	topic, key string
	value      Enriched
	err        error // the value did not decode
}

// outputs reads "heavy" and "light" from the start for as long as the test
// runs.
type outputs struct {
	c *testkit.Consumer
	// Under c's lock:
	recs     []output
	bySource map[string]int // how many outputs name each source
}

func collectOutputs(t *testing.T, brokers []string) *outputs {
	t.Helper()
	o := &outputs{bySource: map[string]int{}}
	o.c = testkit.StartConsumer(t, brokers, func(r *kgo.Record) {
		out := output{topic: r.Topic, key: string(r.Key)}
		out.err = json.Unmarshal(r.Value, &out.value)
		o.recs = append(o.recs, out)
		o.bySource[out.value.Source]++
	}, "heavy", "light")
	return o
}

// await waits until cond, called with the records read so far, holds. On
// timeout it fails the test with what was awaited and cond's last report.
func (o *outputs) await(t *testing.T, timeout time.Duration, what string, cond func(recs []output, bySource map[string]int) (bool, string)) {
	t.Helper()
	o.c.Await(t, timeout, what, func() (bool, string) { return cond(o.recs, o.bySource) })
}

// missing lists the sources of ins that no output names, sorted.
func missing(ins map[string]input, bySource map[string]int) []string {
	var ms []string
	for src := range ins {
		if bySource[src] == 0 {
			ms = append(ms, src)
		}
	}
	slices.Sort(ms)
	return ms
}

// awaitEveryInput waits until every input has at least one output.
func (o *outputs) awaitEveryInput(t *testing.T, timeout time.Duration, ins map[string]input) {
	t.Helper()
	o.await(t, timeout, fmt.Sprintf("an output naming each of the %d inputs as its source", len(ins)),
		func(recs []output, bySource map[string]int) (bool, string) {
			ms := missing(ins, bySource)
			return len(ms) == 0, fmt.Sprintf("%d outputs; %d inputs without one, the first: %v", len(recs), len(ms), ms[:min(len(ms), 10)])
		})
}

// check checks every output against its input: the key is the input's, the
// class follows the weight and names the topic, kind and weight are
// copied. It returns how many outputs repeat a source (at-least-once
// duplicates).
func (o *outputs) check(t *testing.T, ins map[string]input) (duplicates int) {
	t.Helper()
	o.c.Read(func() { duplicates = o.checkLocked(t, ins) })
	return duplicates
}

func (o *outputs) checkLocked(t *testing.T, ins map[string]input) (duplicates int) {
	t.Helper()
	bad := 0
	for _, out := range o.recs {
		in, ok := ins[out.value.Source]
		want := "light"
		if in.weight >= heavyThreshold {
			want = "heavy"
		}
		var problem string
		switch v := out.value; {
		case out.err != nil:
			problem = fmt.Sprintf("value does not decode: %v", out.err)
		case !ok:
			problem = "its source is no input of this test"
		case out.key != in.key:
			problem = fmt.Sprintf("key %q, want the input's %q", out.key, in.key)
		case v.Class != want || out.topic != want:
			problem = fmt.Sprintf("class %q on topic %q for weight %v, want %q on %q", v.Class, out.topic, in.weight, want, want)
		case v.Kind != in.kind || v.Weight != in.weight:
			problem = fmt.Sprintf("kind %q weight %v, want the input's %q %v", v.Kind, v.Weight, in.kind, in.weight)
		case v.Processed.IsZero():
			problem = "no processed time"
		}
		if problem != "" {
			if bad++; bad <= 10 {
				t.Errorf("output %s %q (source %q): %s", out.topic, out.key, out.value.Source, problem)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d bad outputs in all", bad)
	}
	if ms := missing(ins, o.bySource); len(ms) > 0 {
		t.Errorf("%d of %d inputs have no output, the first: %v", len(ms), len(ins), ms[:min(len(ms), 10)])
	}
	return len(o.recs) - len(o.bySource)
}

// awaitWritten waits until the test has read every output written so far
// and returns how many outputs name a source at or past from's offset on
// its partition (absent: 0).
func (o *outputs) awaitWritten(t *testing.T, brokers []string, from map[int32]int64) (past int) {
	t.Helper()
	var written int64
	for _, topic := range []string{"heavy", "light"} {
		for _, end := range testkit.EndOffsets(t, brokers, topic) {
			written += end
		}
	}
	o.await(t, 30*time.Second, fmt.Sprintf("the %d outputs written so far", written),
		func(recs []output, _ map[string]int) (bool, string) {
			return int64(len(recs)) >= written, fmt.Sprintf("%d outputs", len(recs))
		})
	o.c.Read(func() {
		for _, r := range o.recs {
			if p, off, ok := parseSource(r.value.Source); ok && off >= from[p] {
				past++
			}
		}
	})
	return past
}
