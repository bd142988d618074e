package main

// In-process tests of the enrich app on an embedded broker with memory
// stores: the users step loads every profile before the first order is
// joined, orders of unknown users come out marked, never dropped, and
// changes to users after the step reach later orders.
//
// Every wait awaits an event (a record on enriched-orders) except where
// the state has no event (the worker's status, the users table), which is
// polled with a bound.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/runtime"
)

// TestOrdersAreJoinedOnlyAfterEveryUserIsLoaded produces users and orders
// before the worker starts: thousands of profile records, some users
// updated or deleted, and orders of known, deleted and never-seen users.
// Every order must come out once, joined with its user's last profile, or
// with profile_missing when the user has none. No order of a known user
// may come out missing its profile: that would be an order joined before
// the users step stored every profile present at start.
func TestOrdersAreJoinedOnlyAfterEveryUserIsLoaded(t *testing.T) {
	t.Parallel()
	const users, orders = 4000, 3000
	b := startBroker(t)
	w := newWorld()
	// Every user, then a new tier for a third of them; the last hundred
	// leave.
	w.produceUsers(t, b.Addrs(), slices.Concat(profileRecords(0, users, 1, 1), profileRecords(0, users, 3, 2),
		tombstones(users-100, users))...)
	// Users 0 to 4199: the last 200 never existed.
	w.produceOrders(t, b.Addrs(), 0, orders, func(i int) string { return user(i * 7 % (users + 200)) })
	missing := w.missingExpected()
	if missing < 100 || missing > orders/4 {
		t.Fatalf("%d of %d orders are of users without a profile: the test wants some, but not most", missing, orders)
	}

	outs := collectOutputs(t, b.Addrs())
	app, j := startApp(t, testConfig(b, "load-test"))
	outs.awaitOrders(t, 60*time.Second, w)
	if dups := outs.check(t, w); dups != 0 {
		t.Errorf("%d duplicate outputs; want none from one worker that never stopped", dups)
	}
	if n := j.missing.Load(); n != int64(missing) {
		t.Errorf("the joiner counted %d orders with profile_missing, want %d", n, missing)
	}
	awaitStepsDone(t, app)
	t.Logf("%d users, %d orders: %d joined, %d with profile_missing", users, orders, orders-missing, missing)
}

// TestUserChangesAfterTheStepReachLaterOrders changes users while the
// worker runs, after its users step: an updated profile, a new user (whose
// earlier orders had no profile) and a deleted one. Orders produced once
// the table holds the change are joined with it.
func TestUserChangesAfterTheStepReachLaterOrders(t *testing.T) {
	t.Parallel()
	const users = 200
	b := startBroker(t)
	w := newWorld()
	w.produceUsers(t, b.Addrs(), profileRecords(0, users, 1, 1)...)
	// Users 0 to 209: 200 to 209 are not known yet.
	w.produceOrders(t, b.Addrs(), 0, 420, func(i int) string { return user(i % (users + 10)) })

	outs := collectOutputs(t, b.Addrs())
	app, j := startApp(t, testConfig(b, "change-test"))
	outs.awaitOrders(t, 30*time.Second, w)
	awaitStepsDone(t, app)

	updated, created := profile(1, 2), profile(users+3, 1)
	w.produceUsers(t, b.Addrs(),
		userRecord(user(1), &updated),
		userRecord(user(users+3), &created),
		userRecord(user(2), nil))
	// users and orders are separate partitions, handled concurrently: an
	// order produced now could be handled before the change. Wait until
	// the table has it, then produce the orders that must see it.
	awaitProfiles(t, app, j, map[string]*Profile{user(1): &updated, user(users + 3): &created, user(2): nil})
	later := []string{user(1), user(users + 3), user(2), user(users + 4), user(5)}
	w.produceOrders(t, b.Addrs(), 1000, 50, func(i int) string { return later[i%len(later)] })
	outs.awaitOrders(t, 30*time.Second, w)
	if dups := outs.check(t, w); dups != 0 {
		t.Errorf("%d duplicate outputs; want none from one worker that never stopped", dups)
	}
	// What check held the later orders to: the change, each time.
	for id, want := range map[string]*Profile{"order-1000": &updated, "order-1001": &created, "order-1002": nil} {
		if got := w.expect[id]; (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Errorf("the test expected %s to be joined with %+v, not the change %+v", id, got, want)
		}
	}
}

// TestOrderNotKeyedByItsUserIsRefused produces an order keyed by another
// user than its own: joined in that user's partition it could miss its
// profile, so the worker refuses it (logs, counts and skips it) rather
// than writing a wrong profile_missing, and goes on with the next order.
func TestOrderNotKeyedByItsUserIsRefused(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	w := newWorld()
	p := profile(7, 1)
	w.produceUsers(t, b.Addrs(), userRecord(user(7), &p))
	v, _ := json.Marshal(Order{OrderID: "order-0", UserID: user(7), Amount: 1})
	bad := &kgo.Record{Topic: ordersTopic, Key: []byte(user(8)), Value: v}
	testkit.ProduceKeyed(t, b.Addrs(), bad)
	// Keyed like the bad one, so in its partition, after it.
	w.produceOrders(t, b.Addrs(), 1, 1, func(int) string { return user(8) })

	outs := collectOutputs(t, b.Addrs())
	app, _ := startApp(t, testConfig(b, "key-test"))
	outs.awaitOrders(t, 30*time.Second, w)
	outs.check(t, w)
	outs.c.Read(func() {
		if n := len(outs.byOrder["order-0"]); n != 0 {
			t.Errorf("order-0, keyed by another user than its own, has %d outputs; want none", n)
		}
	})
	// The bad order was handled before the good one, in its partition.
	if st, _ := app.Status(); st.Records.HandlerErrors != 1 || st.Records.Skipped != 1 {
		t.Errorf("records %+v; want 1 handler error, skipped", st.Records)
	}
}

// TestWorkerNeedsUsersLoadedFirst checks which step plans the worker
// accepts: those that load users before orders. Any other is refused at
// start, saying how to run it.
func TestWorkerNeedsUsersLoadedFirst(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		steps [][]string
		ok    bool
	}{
		{nil, false},
		{[][]string{{ordersTopic}}, false},
		{[][]string{{usersTopic, ordersTopic}}, false},
		{[][]string{{ordersTopic}, {usersTopic}}, false},
		{[][]string{{usersTopic}}, true},
		{[][]string{{usersTopic}, {ordersTopic}}, true},
	} {
		_, j := newApp()
		err := j.OnStart(context.Background(), runtime.Config{Steps: tc.steps})
		if (err == nil) != tc.ok {
			t.Errorf("steps %v: OnStart returned %v; want it accepted: %t", tc.steps, err, tc.ok)
		}
	}

	// As a user sees it.
	app, _ := newApp()
	cfg := runtime.DefaultConfig(app.Name())
	cfg.Brokers = []string{"127.0.0.1:1"} // never dialled: the check comes first
	cfg.HTTP = "off"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), "run it with --steps users") {
		t.Errorf("Run without steps: %v; want it refused, naming --steps users", err)
	}
}
