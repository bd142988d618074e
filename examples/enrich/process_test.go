package main

// End-to-end tests of the enrich binary as users run it: a standalone
// `enrich broker` process and `enrich worker --steps users` processes, one
// killed with SIGKILL mid-stream. They check what users of the join rely
// on: a crash loses no order (at-least-once), and the worker that takes
// over joins every order with its profile, from a users table restored
// from its changelog and a users step run again.
//
// Every wait awaits an event (a line of output, a record on a topic, a
// process exit) except where the state has no event (a worker's
// readiness), which is polled with a bound.

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/proctest"
	"github.com/eddy-streams/eddy/internal/testkit"
)

// startWorker runs a worker of group with the steps [[users]] and memory
// stores (a restart restores the users table from its changelog),
// committing every 200ms, and waits until it is ready.
func startWorker(t *testing.T, name, broker, group string) *proctest.Worker {
	t.Helper()
	return bin.StartWorker(t, name, "--brokers", broker, "--group", group, "--steps", "users",
		"--table-store", "memory://", "--state-dir", t.TempDir(),
		"--commit-interval", "200ms", "--session-timeout", "6s")
}

// TestKillDashNineLosesNoOrder loads users, streams orders, kills the
// worker with SIGKILL once it has enriched some of them, and starts
// another: every order comes out, at least once, joined with its user's
// profile (or marked missing for users without one), including those the
// second worker handled with the table it restored.
func TestKillDashNineLosesNoOrder(t *testing.T) {
	t.Parallel()
	const group, users, strangers, orders = "kill-test", 1000, 50, 20000
	k := bin.StartBroker(t, partitions)
	outs := collectOutputs(t, k.Brokers())

	w := newWorld()
	w.produceUsers(t, k.Brokers(), slices.Concat(profileRecords(0, users, 1, 1), tombstones(users-20, users))...)

	a := startWorker(t, "worker-a", k.Addr, group)
	// 5,000 orders a second: A is killed with orders still to come.
	stream := testkit.ProducePaced(t, orders, 250, 50*time.Millisecond, func(ctx context.Context, first, n int) error {
		return k.Client.ProduceSync(ctx, w.orderRecords(first, n, func(i int) string { return user(i * 7 % (users + strangers)) })...).FirstErr()
	})
	outs.await(t, 60*time.Second, "3000 enriched orders of worker A (to kill it mid-stream)", func(o *outputs) (bool, string) {
		return len(o.recs) >= 3000, fmt.Sprintf("%d outputs", len(o.recs))
	})
	a.Kill9(t)
	t.Logf("worker A killed after %d of %d orders were produced", stream.Produced(), orders)

	startWorker(t, "worker-b", k.Addr, group)
	stream.Wait(t, 60*time.Second)
	outs.awaitOrders(t, 90*time.Second, w)
	dups := outs.check(t, w)
	t.Logf("%d orders (%d of users without a profile): %d duplicates, handled again after the kill", orders, w.missingExpected(), dups)
}
