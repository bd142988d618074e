package main

// In-process tests of the enrich app: the users step loads every profile
// before the first order is joined (on an embedded broker of the test's
// own, since the records must be there before the worker starts); and,
// with runtimetest, orders of unknown users come out marked, never
// dropped, changes to users reach later orders, and an order keyed by
// another user is refused.
//
// Every wait awaits an event (a record on enriched-orders, every record
// handled and committed) except where the state has no event (the
// worker's status), which is polled with a bound.

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
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
	brokers := startBroker(t)
	w := newWorld()
	// Every user, then a new tier for a third of them; the last hundred
	// leave.
	w.produceUsers(t, brokers, slices.Concat(profileRecords(0, users, 1, 1), profileRecords(0, users, 3, 2),
		tombstones(users-100, users))...)
	// Users 0 to 4199: the last 200 never existed.
	w.produceOrders(t, brokers, 0, orders, func(i int) string { return user(i * 7 % (users + 200)) })
	missing := w.missingExpected()
	if missing < 100 || missing > orders/4 {
		t.Fatalf("%d of %d orders are of users without a profile: the test wants some, but not most", missing, orders)
	}

	outs := collectOutputs(t, brokers)
	app, j := startApp(t, testConfig(brokers, "load-test"))
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
// earlier orders had no profile) and a deleted one. Once the worker has
// handled the change, the users table holds it and later orders are joined
// with it.
func TestUserChangesAfterTheStepReachLaterOrders(t *testing.T) {
	t.Parallel()
	const users = 200
	d, j := startDriver(t)
	usersIn := runtimetest.NewInput(d, usersTopic, serde.String(), serde.JSON[Profile]())
	w := newWorld()
	// In one produce each: an Input sends one record a round trip.
	w.produceUsers(t, d.Brokers(), profileRecords(0, users, 1, 1)...)
	d.Idle()
	// Users 0 to 209: 200 to 209 are not known yet.
	w.produceOrders(t, d.Brokers(), 0, 420, func(i int) string { return user(i % (users + 10)) })
	d.Idle()
	if dups := checkOutputs(t, w, readOutputs(d)); dups != 0 {
		t.Errorf("%d duplicate outputs; want none from one worker that never stopped", dups)
	}
	awaitStepsDone(t, d.App())

	updated, created := profile(1, 2), profile(users+3, 1)
	w.sendUser(usersIn, user(1), &updated)
	w.sendUser(usersIn, user(users+3), &created)
	w.sendUser(usersIn, user(2), nil)
	// users and orders are separate partitions, handled concurrently: an
	// order sent now could be handled before the change. Once the worker
	// is idle the table has it.
	d.Idle()
	for id, want := range map[string]*Profile{user(1): &updated, user(users + 3): &created, user(2): nil} {
		if got, ok := runtimetest.Get(d, j.users, id); ok != (want != nil) || ok && got != *want {
			t.Errorf("users table: %s is %+v (present: %t), want %+v", id, got, ok, want)
		}
	}
	later := []string{user(1), user(users + 3), user(2), user(users + 4), user(5)}
	w.produceOrders(t, d.Brokers(), 1000, 50, func(i int) string { return later[i%len(later)] })
	d.Idle()
	if dups := checkOutputs(t, w, readOutputs(d)); dups != 0 {
		t.Errorf("%d duplicate outputs; want none from one worker that never stopped", dups)
	}
	// What checkOutputs held the later orders to: the change, each time.
	for id, want := range map[string]*Profile{"order-1000": &updated, "order-1001": &created, "order-1002": nil} {
		if got := w.expect[id]; (got == nil) != (want == nil) || got != nil && *got != *want {
			t.Errorf("the test expected %s to be joined with %+v, not the change %+v", id, got, want)
		}
	}
}

// TestOrderNotKeyedByItsUserIsRefused sends an order keyed by another user
// than its own: joined in that user's partition it could miss its
// profile, so the worker refuses it (logs, counts and skips it) rather
// than writing a wrong profile_missing, and goes on with the next order.
func TestOrderNotKeyedByItsUserIsRefused(t *testing.T) {
	t.Parallel()
	d, _ := startDriver(t)
	usersIn := runtimetest.NewInput(d, usersTopic, serde.String(), serde.JSON[Profile]())
	ordersIn := runtimetest.NewInput(d, ordersTopic, serde.String(), serde.JSON[Order]())
	w := newWorld()
	p := profile(7, 1)
	w.sendUser(usersIn, user(7), &p)
	d.Idle()
	ordersIn.Send(user(8), Order{OrderID: "order-0", UserID: user(7), Amount: 1})
	// Keyed like the bad one, so in its partition, after it.
	for _, o := range w.newOrders(1, 1, func(int) string { return user(8) }) {
		ordersIn.Send(o.UserID, o)
	}
	d.Idle()

	outs := readOutputs(d)
	checkOutputs(t, w, outs)
	for _, o := range outs {
		if o.value.Order.OrderID == "order-0" {
			t.Errorf("order-0, keyed by another user than its own, has an output %+v; want none", o.value)
		}
	}
	// The bad order was handled before the good one, in its partition:
	// skipped for its key, the good one handled.
	var got []string
	for _, o := range d.Outcomes() {
		if o.Topic == ordersTopic {
			got = append(got, o.Outcome.String())
			if o.Outcome == runtime.Skipped && (o.Err == nil || !strings.Contains(o.Err.Error(), "key orders by their user id")) {
				t.Errorf("order at offset %d skipped with %v; want the error to say to key orders by their user id", o.Offset, o.Err)
			}
		}
	}
	if want := []string{"skipped", "handled"}; !slices.Equal(got, want) {
		t.Errorf("outcomes of the orders %v, want %v", got, want)
	}
	if st, _ := d.App().Status(); st.Records.HandlerErrors != 1 || st.Records.Skipped != 1 {
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
