package main

// End-to-end tests of the pageviews binary as users run it: a standalone
// `pageviews broker` process and `pageviews worker` processes with RocksDB
// stores in state directories of their own, killed with SIGKILL, stopped
// with SIGTERM and restarted on the same directory. They check what users
// of tables rely on: a crash loses no count (at-least-once), a restart
// replays only the changelog past the store's checkpoint and finds its
// store unlocked, shards move between workers without double counting,
// and a tombstone deletes a count. churn_test.go has the churn test: a
// group whose workers are killed and stopped while it rebalances recovers.
//
// Every wait awaits an event (a line of output, a record on a topic, a
// process exit) except where the state has no event (a worker's /status,
// a group's committed offsets, a count over HTTP), which is polled with a
// bound.

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/proctest"
	"github.com/eddy-streams/eddy/internal/testkit"
)

// TestKillDashNineWithRocksDBLosesNoPage kills a worker mid-stream with
// SIGKILL and restarts it on the same state directory: the restart opens
// the RocksDB stores the dead process left (no lock error), replays only
// the changelog past their checkpoints, and once every view is handled
// every page has at least its true count.
func TestKillDashNineWithRocksDBLosesNoPage(t *testing.T) {
	t.Parallel()
	const group, views, partitions = "kill-test", 20000, 4
	k := bin.StartBroker(t, partitions)
	stateDir := t.TempDir()

	a := startWorker(t, "worker-a", k.Addr, group, stateDir)
	log := watchChangelog(t, k.Brokers()) // A created it
	truth := map[string]int64{}
	// 5,000 views a second: A is killed with views still to come.
	stream := testkit.ProducePaced(t, views, 250, 50*time.Millisecond, func(ctx context.Context, first, n int) error {
		return produceViews(ctx, k.Client, truth, first, n)
	})
	// Kill A once it has handled a part of the stream, and checkpointed
	// its stores of every partition at least once (else a restart has
	// nothing but the start of the changelog to restore from).
	var flushed int64
	log.await(t, 60*time.Second, "worker A's counts in the changelog to add up to 3000 views, "+
		"and to be written twice in every partition (to kill it mid-stream, after checkpoints)",
		func(v *changelogView) (bool, string) {
			flushed = 0
			for _, n := range v.latest {
				flushed += n
			}
			return flushed >= 3000 && len(v.rewritten) == partitions,
				fmt.Sprintf("%d views in %d pages; written twice in partitions %v", flushed, len(v.latest), v.rewritten)
		})
	a.Kill9(t)
	t.Logf("worker A killed after %d of %d views were produced; its changelog counted at least %d", stream.Produced(), views, flushed)

	b := startWorker(t, "worker-b", k.Addr, group, stateDir)
	// /readyz can answer 200 before every assigned partition is
	// registered (the engine counts itself joined first): await the
	// partitions and their restores in /status.
	awaitSplit(t, partitions, b)

	// What tells a delta from a full replay is where the restore starts.
	// The record count cannot: the broker compacts the changelog every
	// second, and every page changes in every flush, so a full replay and
	// a replay from the checkpoint read about the same records (the last
	// count of each page). A restore that starts at the store's
	// checkpoint (from >= 0) read only what came after it; one that
	// starts at -1 had no store or lost its checkpoint. A shard whose
	// checkpoint is at the changelog's end replays nothing and logs no
	// line; /metrics counts its restore with 0 records.
	restored := restoredRecords(t, b)
	var replayed []int32
	for p := range int32(partitions) {
		n, ok := restored[p]
		switch {
		case !ok:
			t.Errorf("worker B's /metrics has no restore of partition %d: %v", p, restored)
		case n > 0:
			replayed = append(replayed, p)
		}
	}
	spans := awaitRestoreStarts(t, b, replayed)
	for _, p := range replayed {
		s := spans[p]
		if s.from < 0 {
			t.Errorf("partition %d: worker B replayed the changelog from its start (to offset %d, %d records), "+
				"not from the checkpoint of the RocksDB store worker A left in %s", p, s.to, restored[p], stateDir)
		} else if restored[p] > s.to-s.from {
			t.Errorf("partition %d: worker B replayed %d records of the %d offsets from %d to %d", p, restored[p], s.to-s.from, s.from, s.to)
		}
		t.Logf("partition %d: worker B replayed %d records, offsets %d to %d of the changelog", p, restored[p], s.from, s.to)
	}
	t.Logf("worker B restored %v records by partition; partitions %v had records to replay", restored, replayed)

	stream.Wait(t, 60*time.Second)
	awaitCommitted(t, k.Brokers(), group, 60*time.Second)

	var over int64
	hits := countsOn(t, truth, b)
	for _, p := range slices.Sorted(maps.Keys(truth)) {
		hs := hits[p]
		if len(hs) != 1 || hs[0].count < truth[p] {
			t.Errorf("%s: found as %+v, want a count of at least its %d views on worker B", p, hs, truth[p])
			continue
		}
		over += hs[0].count - truth[p]
	}
	if len(truth) != pageCount {
		t.Errorf("the views went to %d pages, want %d", len(truth), pageCount)
	}
	t.Logf("%d views of %d pages: counted %d more than produced (handled again after the kill)", views, len(truth), over)
	checkNoLockErrors(t, a, b)
}

// TestTwoWorkersMoveShardsAndKeepCounts runs two workers, each with its
// state directory, stops one gracefully and restarts it: its shards move
// to the other and back, each move restoring from the changelog, and the
// counts stay exact, since every stop was graceful.
func TestTwoWorkersMoveShardsAndKeepCounts(t *testing.T) {
	t.Parallel()
	const group, partitions = "move-test", 4
	k := bin.StartBroker(t, partitions)
	dirB := t.TempDir()
	truth := map[string]int64{}

	a := startWorker(t, "worker-a", k.Addr, group, t.TempDir())
	b := startWorker(t, "worker-b", k.Addr, group, dirB)
	first := awaitSplit(t, partitions, a, b)
	mustProduceViews(t, k.Client, truth, 0, 2000)
	awaitCommitted(t, k.Brokers(), group, 30*time.Second)
	checkExactCounts(t, truth, a, b)

	b.Stop(t, 30*time.Second)
	// B committed and checkpointed everything on its way out, and no
	// view is produced until it is back: its checkpoints are these.
	atStop := testkit.EndOffsets(t, k.Brokers(), changelog)
	awaitSplit(t, partitions, a)
	mustProduceViews(t, k.Client, truth, 2000, 2000)
	awaitCommitted(t, k.Brokers(), group, 30*time.Second)
	checkExactCounts(t, truth, a)

	// A flushed everything it handled before committing it: nothing is
	// written to the changelog until the next views.
	beforeRestart := testkit.EndOffsets(t, k.Brokers(), changelog)
	b2 := startWorker(t, "worker-b-again", k.Addr, group, dirB)
	second := awaitSplit(t, partitions, a, b2)

	// B's RocksDB stores of the partitions it held replay from the
	// checkpoint it wrote when it stopped; a partition it never held has
	// no store and replays from the start. (The cooperative-sticky
	// balancer has so far given the returning worker the partitions it
	// held before, so the first case is the one seen.)
	restored := restoredRecords(t, b2)
	var replayed []int32
	for _, p := range second[1] {
		if beforeRestart[p] > 0 { // else its changelog is empty: nothing to restore, nothing logged
			replayed = append(replayed, p)
		}
	}
	spans := awaitRestoreStarts(t, b2, replayed)
	deltas := 0
	for _, p := range replayed {
		want := restoreSpan{from: -1, to: beforeRestart[p]}
		if slices.Contains(first[1], p) {
			want.from = atStop[p]
			deltas++
		}
		if got := spans[p]; got != want {
			t.Errorf("partition %d: worker B restarted restored changelog offsets %d to %d, want %d to %d (held it before: %t)",
				p, got.from, got.to, want.from, want.to, want.from >= 0)
		}
		if n := restored[p]; n > want.to-max(want.from, 0) {
			t.Errorf("partition %d: worker B restarted replayed %d records, more than the %d offsets from %d to %d",
				p, n, want.to-max(want.from, 0), want.from, want.to)
		}
	}
	t.Logf("worker B held %v, then %v: %d partitions restored from its checkpoints; records replayed by partition: %v",
		first[1], second[1], deltas, restored)

	mustProduceViews(t, k.Client, truth, 4000, 2000)
	awaitCommitted(t, k.Brokers(), group, 30*time.Second)
	checkExactCounts(t, truth, a, b2)
	checkNoLockErrors(t, a, b, b2)
}

// TestTombstoneDeletesAPageCount produces views, then a tombstone for one
// page: no worker has a count for it any more, the changelog has the
// tombstone, the other pages keep theirs, and a later view counts from 1.
func TestTombstoneDeletesAPageCount(t *testing.T) {
	t.Parallel()
	const group, partitions, deleted = "tombstone-test", 4, "page-7"
	k := bin.StartBroker(t, partitions)
	truth := map[string]int64{}

	a := startWorker(t, "worker-a", k.Addr, group, t.TempDir())
	log := watchChangelog(t, k.Brokers()) // A created it
	b := startWorker(t, "worker-b", k.Addr, group, t.TempDir())
	awaitSplit(t, partitions, a, b)
	mustProduceViews(t, k.Client, truth, 0, 500)
	awaitCommitted(t, k.Brokers(), group, 30*time.Second)
	checkExactCounts(t, truth, a, b) // the deleted page among them

	testkit.ProduceKeyed(t, k.Brokers(), &kgo.Record{Topic: viewsTopic, Key: []byte(deleted)})
	awaitCommitted(t, k.Brokers(), group, 30*time.Second)
	for _, w := range []*proctest.Worker{a, b} {
		if e, found, err := lookup(w, deleted); err != nil || found {
			t.Errorf("%s: %s after its tombstone: found %t (%+v, error %v), want 404", w.Name, deleted, found, e, err)
		}
	}
	log.await(t, 10*time.Second, "a tombstone for "+deleted+" in the changelog", func(v *changelogView) (bool, string) {
		return v.tombstones[deleted] >= 1, fmt.Sprintf("%d tombstones for it, last count %d", v.tombstones[deleted], v.latest[deleted])
	})
	delete(truth, deleted)
	checkExactCounts(t, truth, a, b)

	// Views after the tombstone count from nothing.
	after := map[string]int64{deleted: 3}
	view := func() *kgo.Record {
		return &kgo.Record{Topic: viewsTopic, Key: []byte(deleted), Value: []byte(`{"user":"u","at":2}`)}
	}
	testkit.ProduceKeyed(t, k.Brokers(), view(), view(), view())
	awaitCommitted(t, k.Brokers(), group, 30*time.Second)
	checkExactCounts(t, after, a, b)
}
