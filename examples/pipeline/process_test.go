package main

// End-to-end tests of the pipeline binary as users run it: a standalone
// `pipeline broker` process, `pipeline worker` processes killed with
// SIGKILL or stopped with SIGTERM, and the produce and consume tools. They
// check what users rely on: a crashed worker loses nothing (at-least-once),
// a group shares its partitions and survives losing a member, a graceful
// stop commits what it handled, and a record that cannot be decoded is
// skipped without stopping the stream.
//
// Every wait awaits an event (a line of output, a record on a topic, a
// process exit) except where the state has no event (a worker's /status),
// which is polled with a bound.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/proctest"
	"github.com/eddy-streams/eddy/internal/testkit"
)

// TestKillDashNineLosesNothing kills a worker mid-stream with SIGKILL and
// checks that a worker started after it handles every record the first
// did not commit: no input is without an output. Then a SIGTERM stops the
// second worker, which must exit 0 having committed every record.
//
// The input is a stream (5,000 events a second) rather than produced up
// front: a worker handles 20,000 waiting records, and commits them, in
// less time than the test takes to see 3,000 outputs, so it would be
// killed with nothing left to lose.
func TestKillDashNineLosesNothing(t *testing.T) {
	t.Parallel()
	const group, events = "kill-test", 20000
	k := bin.StartBroker(t, partitions)
	outs := collectOutputs(t, k.Brokers())

	a := startWorker(t, "worker-a", k.Addr, group, "200ms")
	ins := map[string]input{}
	stream := testkit.ProducePaced(t, events, 250, 50*time.Millisecond, func(ctx context.Context, first, n int) error {
		return produce(ctx, k.Client, ins, first, n)
	})
	outs.await(t, 60*time.Second, "3000 outputs of worker A (to kill it mid-stream)",
		func(recs []output, _ map[string]int) (bool, string) {
			return len(recs) >= 3000, fmt.Sprintf("%d outputs", len(recs))
		})
	a.Kill9(t)
	producedAtKill := stream.Produced()

	// What A committed before it died: where B starts.
	atDeath := testkit.Committed(t, k.Brokers(), group, "events")
	var committed int64
	for _, o := range atDeath {
		committed += o
	}
	// Until B starts, every output is A's: those of records past A's
	// commits are work B must do again.
	uncommitted := outs.awaitWritten(t, k.Brokers(), atDeath)
	t.Logf("worker A killed after %d of %d events were produced; it had committed %d and written the outputs of %d more: %v",
		producedAtKill, events, committed, uncommitted, atDeath)

	// B commits only on stopping (an hour is longer than the test), so
	// the offsets checked at the end are those of its graceful stop.
	b := startWorker(t, "worker-b", k.Addr, group, "1h")
	stream.Wait(t, 60*time.Second)
	ends := endOffsets(ins)
	if len(ends) != partitions {
		t.Fatalf("the events went to %d partitions, want all %d: %v", len(ends), partitions, ends)
	}
	outs.awaitEveryInput(t, 90*time.Second, ins)

	// The outputs of records A handled but did not commit can be there
	// before B handles those records again: wait until B has handled
	// every record A did not commit.
	testkit.Eventually(t, 60*time.Second, "worker B to handle every record worker A did not commit", func() (bool, string) {
		s, err := b.Status()
		if err != nil {
			return false, err.Error()
		}
		next := map[int32]int64{}
		for _, p := range s.Partitions {
			next[p.Partition] = p.Next
		}
		var behind []string
		for p, end := range ends {
			if atDeath[p] < end && next[p] != end {
				behind = append(behind, fmt.Sprintf("%d: next %d of %d", p, next[p], end))
			}
		}
		slices.Sort(behind)
		return len(behind) == 0, fmt.Sprintf("B holds %v; behind: %v", held(s), behind)
	})

	b.Stop(t, 30*time.Second)

	listed := testkit.EndOffsets(t, k.Brokers(), "events")
	final := testkit.Committed(t, k.Brokers(), group, "events")
	for p := range int32(partitions) {
		end := listed[p]
		if end != ends[p] {
			t.Errorf("events/%d: end offset %d, but %d records were produced to it", p, end, ends[p])
		}
		if c, ok := final[p]; !ok || c != end {
			t.Errorf("events/%d: committed offset %d (committed: %t) after worker B's graceful stop, want the end offset %d",
				p, c, ok, end)
		}
	}

	outs.awaitWritten(t, k.Brokers(), nil)
	dups := outs.check(t, ins)
	t.Logf("%d inputs, %d outputs: %d duplicates", events, events+dups, dups)
	// B starts where A's commits say, so it handles again every record A
	// wrote outputs for past them. (More is possible: a produce request
	// A sent as it died can land after the count above.)
	if dups < uncommitted {
		t.Errorf("%d duplicates, but worker A wrote the outputs of %d records past its commits: "+
			"worker B did not resume from the group's committed offsets %v", dups, uncommitted, atDeath)
	}
}

// TestTwoWorkerProcessesShareAndSurviveKill runs two workers of one group,
// checks that they split the partitions, kills one with SIGKILL and checks
// that the other takes over every partition and that no record is lost.
func TestTwoWorkerProcessesShareAndSurviveKill(t *testing.T) {
	t.Parallel()
	const group = "share-test"
	k := bin.StartBroker(t, partitions)
	outs := collectOutputs(t, k.Brokers())

	w1 := startWorker(t, "worker-1", k.Addr, group, "200ms")
	w2 := startWorker(t, "worker-2", k.Addr, group, "200ms")
	testkit.Eventually(t, 60*time.Second, "the two workers to hold every partition between them, each exactly once", func() (bool, string) {
		s1, err1 := w1.Status()
		s2, err2 := w2.Status()
		if err := errors.Join(err1, err2); err != nil {
			return false, err.Error()
		}
		h1, h2 := held(s1), held(s2)
		all := slices.Sorted(slices.Values(slices.Concat(h1, h2)))
		ok := len(h1) > 0 && len(h2) > 0 && slices.Equal(all, []int32{0, 1, 2, 3, 4, 5, 6, 7})
		return ok, fmt.Sprintf("worker-1 holds %v, worker-2 holds %v", h1, h2)
	})

	ins := map[string]input{}
	produceEvents(t, k.Client, ins, 0, 4000)
	// Both handle records: the work is shared, and the one killed is
	// killed while it works.
	testkit.Eventually(t, 60*time.Second, "both workers to handle records", func() (bool, string) {
		s1, err1 := w1.Status()
		s2, err2 := w2.Status()
		if err := errors.Join(err1, err2); err != nil {
			return false, err.Error()
		}
		return s1.Records.Handled > 0 && s2.Records.Handled > 0,
			fmt.Sprintf("handled: worker-1 %d, worker-2 %d", s1.Records.Handled, s2.Records.Handled)
	})
	w2.Kill9(t)
	produceEvents(t, k.Client, ins, 4000, 4000)

	// The group notices after the session timeout (6s).
	testkit.Eventually(t, 60*time.Second, "worker-1 to hold every partition after worker-2 was killed", func() (bool, string) {
		s, err := w1.Status()
		if err != nil {
			return false, err.Error()
		}
		return slices.Equal(held(s), []int32{0, 1, 2, 3, 4, 5, 6, 7}), fmt.Sprintf("worker-1 holds %v", held(s))
	})
	outs.awaitEveryInput(t, 90*time.Second, ins)
	dups := outs.check(t, ins)
	t.Logf("%d inputs: %d duplicates", len(ins), dups)
	if w1.Exited() {
		t.Errorf("worker-1 exited (%s); it should still be running", w1.State())
	}
}

// TestCLIRoundTrip feeds lines to `pipeline produce`, runs a worker and
// reads its outputs with `pipeline consume`, all as processes. A line
// whose value is not JSON is skipped; the lines after it still come out.
func TestCLIRoundTrip(t *testing.T) {
	t.Parallel()
	// One partition: the lines keep their order, so the ones after the
	// bad line are handled after it.
	k := bin.StartBroker(t, 1)
	lines := "user-1\t{\"kind\":\"view\",\"weight\":20}\n" +
		"user-2\t{\"kind\":\"click\",\"weight\":3}\n" +
		"user-9\tnot json\n" +
		"user-3\t{\"kind\":\"purchase\",\"weight\":12.5}\n" +
		"user-4\t{\"kind\":\"view\",\"weight\":9.99}\n"
	prod := bin.Start(t, "produce", strings.NewReader(lines), "produce", "--brokers", k.Addr, "--topic", "events")
	if st := prod.AwaitExit(t, 60*time.Second, "after producing its input"); !st.Success() {
		t.Fatalf("produce: %s, want exit status 0", st)
	}
	if got, want := prod.Stderr.String(), "produced 5 records to events\n"; got != want {
		t.Errorf("produce stderr = %q, want %q", got, want)
	}

	w := startWorker(t, "worker", k.Addr, "cli-test", "200ms")

	consume := func(topic string, n int) *proctest.Process {
		return bin.Start(t, "consume-"+topic, nil, "consume", "--brokers", k.Addr, "--topic", topic,
			"--from-beginning", "--max", fmt.Sprint(n), "--timeout", "30s")
	}
	heavy, light := consume("heavy", 2), consume("light", 2)
	type want struct {
		key, kind string
		weight    float64
		source    string
	}
	for _, tc := range []struct {
		p     *proctest.Process
		class string
		want  []want
	}{
		{heavy, "heavy", []want{{"user-1", "view", 20, "events/0@0"}, {"user-3", "purchase", 12.5, "events/0@3"}}},
		{light, "light", []want{{"user-2", "click", 3, "events/0@1"}, {"user-4", "view", 9.99, "events/0@4"}}},
	} {
		if st := tc.p.AwaitExit(t, 45*time.Second, "after --max or --timeout"); !st.Success() {
			t.Fatalf("%s: %s, want exit status 0", tc.p.Name, st)
		}
		got := strings.Split(strings.TrimSuffix(tc.p.Stdout.String(), "\n"), "\n")
		if len(got) != len(tc.want) || got[0] == "" {
			t.Errorf("%s printed %q, want %d lines (for %v)", tc.p.Name, got, len(tc.want), tc.want)
			continue
		}
		for i, line := range got {
			key, value, _ := strings.Cut(line, "\t")
			var e Enriched
			err := json.Unmarshal([]byte(value), &e)
			x := tc.want[i]
			if err != nil || key != x.key || e.Class != tc.class || e.Kind != x.kind || e.Weight != x.weight || e.Source != x.source {
				t.Errorf("%s line %d = %q (decode error: %v), want key %s, class %s, kind %s, weight %v, source %s",
					tc.p.Name, i+1, line, err, x.key, tc.class, x.kind, x.weight, x.source)
			}
		}
		if got, want := tc.p.Stderr.String(), fmt.Sprintf("consumed 2 records from %s\n", tc.class); got != want {
			t.Errorf("%s stderr = %q, want %q", tc.p.Name, got, want)
		}
	}

	// The bad line was counted and skipped, and wrote nothing.
	testkit.Eventually(t, 10*time.Second, "the worker's /status to count 4 handled and 1 skipped decode error", func() (bool, string) {
		s, err := w.Status()
		if err != nil {
			return false, err.Error()
		}
		r := s.Records
		return r.Handled == 4 && r.DecodeErrors == 1 && r.Skipped == 1,
			fmt.Sprintf("handled %d, decode errors %d, skipped %d", r.Handled, r.DecodeErrors, r.Skipped)
	})
	for _, topic := range []string{"heavy", "light"} {
		if end := testkit.EndOffsets(t, k.Brokers(), topic)[0]; end != 2 {
			t.Errorf("%s holds %d records, want 2", topic, end)
		}
	}
	if !strings.Contains(w.Stderr.String(), "events/0@2") {
		t.Errorf("the worker's log does not name the undecodable record events/0@2")
	}
}
