package main

// What the tests of enrich check with: the users and orders they produce,
// the profile each order must be joined with, and the enriched orders they
// read back. The in-process tests run the app with runtimetest, or, to
// have records on its topics before it starts, on an embedded broker of
// their own; the process tests run its binary with internal/proctest.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/proctest"
	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
)

// partitions is the partition count of every topic in the tests.
const partitions = 4

// bin is the enrich binary, built once for the process tests.
var bin = proctest.NewBinary(".")

func TestMain(m *testing.M) { os.Exit(bin.Run(m)) }

// world is what a test produced: each user's profile as of the last
// record produced to users, and each order with the profile it must be
// joined with.
type world struct {
	profiles map[string]Profile // by user id; absent: deleted, or never had one
	orders   map[string]Order   // by order id
	expect   map[string]*Profile
}

func newWorld() *world {
	return &world{profiles: map[string]Profile{}, orders: map[string]Order{}, expect: map[string]*Profile{}}
}

// user is user i's id.
func user(i int) string { return fmt.Sprintf("user-%d", i) }

// profile is version v of user i's profile.
func profile(i, v int) Profile {
	return Profile{Name: fmt.Sprintf("User %d", i), Email: fmt.Sprintf("%s@example.com", user(i)), Tier: fmt.Sprintf("tier-%d", v)}
}

// userRecord is a users record: a profile, or a tombstone if p is nil.
func userRecord(id string, p *Profile) *kgo.Record {
	r := &kgo.Record{Topic: usersTopic, Key: []byte(id)}
	if p != nil {
		r.Value, _ = json.Marshal(p)
	}
	return r
}

// profileRecords returns users records of version v of the profiles of
// users first to last-1, every every-th one.
func profileRecords(first, last, every, v int) []*kgo.Record {
	var recs []*kgo.Record
	for i := first; i < last; i += every {
		p := profile(i, v)
		recs = append(recs, userRecord(user(i), &p))
	}
	return recs
}

// tombstones returns users records deleting users first to last-1.
func tombstones(first, last int) []*kgo.Record {
	var recs []*kgo.Record
	for i := first; i < last; i++ {
		recs = append(recs, userRecord(user(i), nil))
	}
	return recs
}

// setUser notes id's profile as of the last users record: p, or none if
// p is nil.
func (w *world) setUser(id string, p *Profile) {
	if p == nil {
		delete(w.profiles, id)
		return
	}
	w.profiles[id] = *p
}

// produceUsers produces recs (from userRecord) and notes the profiles
// they leave.
func (w *world) produceUsers(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	testkit.ProduceKeyed(t, brokers, recs...)
	for _, r := range recs {
		var p *Profile
		if r.Value != nil {
			p = new(Profile)
			if err := json.Unmarshal(r.Value, p); err != nil {
				t.Fatal(err)
			}
		}
		w.setUser(string(r.Key), p)
	}
}

// newOrders returns orders first to first+n-1, order i of user userOf(i),
// and notes the profile each must be joined with: its user's as produced
// so far. The caller makes sure the worker stored that profile before it
// handles the order.
func (w *world) newOrders(first, n int, userOf func(i int) string) []Order {
	orders := make([]Order, 0, n)
	for i := first; i < first+n; i++ {
		o := Order{OrderID: fmt.Sprintf("order-%d", i), UserID: userOf(i), Amount: float64(i%500) / 4, Item: "item"}
		orders = append(orders, o)
		w.orders[o.OrderID] = o
		w.expect[o.OrderID] = nil
		if p, ok := w.profiles[o.UserID]; ok {
			w.expect[o.OrderID] = &p
		}
	}
	return orders
}

// orderRecords returns the records of newOrders, keyed by user id.
func (w *world) orderRecords(first, n int, userOf func(i int) string) []*kgo.Record {
	var recs []*kgo.Record
	for _, o := range w.newOrders(first, n, userOf) {
		v, _ := json.Marshal(o)
		recs = append(recs, &kgo.Record{Topic: ordersTopic, Key: []byte(o.UserID), Value: v})
	}
	return recs
}

// produceOrders produces orders as newOrders describes them.
func (w *world) produceOrders(t *testing.T, brokers []string, first, n int, userOf func(i int) string) {
	t.Helper()
	testkit.ProduceKeyed(t, brokers, w.orderRecords(first, n, userOf)...)
}

// sendUser sends id's profile p, or a tombstone if p is nil, with in (a
// runtimetest input of users) and notes it.
func (w *world) sendUser(in *runtimetest.Input[string, Profile], id string, p *Profile) {
	if p == nil {
		in.SendTombstone(id)
	} else {
		in.Send(id, *p)
	}
	w.setUser(id, p)
}

// missingExpected counts the orders that must come out with
// profile_missing.
func (w *world) missingExpected() int {
	n := 0
	for _, p := range w.expect {
		if p == nil {
			n++
		}
	}
	return n
}

// output is one record of enriched-orders.
type output struct {
	key   string
	value Enriched
	err   error // the value did not decode
}

// outputs reads enriched-orders from the start for as long as the test
// runs.
type outputs struct {
	c *testkit.Consumer
	// Under c's lock:
	recs    []output
	byOrder map[string]int // outputs by order id
}

func collectOutputs(t *testing.T, brokers []string) *outputs {
	t.Helper()
	o := &outputs{byOrder: map[string]int{}}
	o.c = testkit.StartConsumer(t, brokers, func(r *kgo.Record) {
		out := output{key: string(r.Key)}
		out.err = json.Unmarshal(r.Value, &out.value)
		o.recs = append(o.recs, out)
		o.byOrder[out.value.Order.OrderID]++
	}, enrichedTopic)
	return o
}

// await waits until cond, called with what was read so far, holds.
func (o *outputs) await(t *testing.T, timeout time.Duration, what string, cond func(o *outputs) (bool, string)) {
	t.Helper()
	o.c.Await(t, timeout, what, func() (bool, string) { return cond(o) })
}

// awaitOrders waits until every order of w has an output.
func (o *outputs) awaitOrders(t *testing.T, timeout time.Duration, w *world) {
	t.Helper()
	o.await(t, timeout, fmt.Sprintf("an enriched record of each of the %d orders", len(w.orders)), func(o *outputs) (bool, string) {
		ms := w.missing(o.byOrder)
		return len(ms) == 0, fmt.Sprintf("%d outputs; %d orders without one, the first: %v", len(o.recs), len(ms), ms[:min(len(ms), 10)])
	})
}

// check is checkOutputs of what was read so far.
func (o *outputs) check(t *testing.T, w *world) (duplicates int) {
	t.Helper()
	o.c.Read(func() { duplicates = checkOutputs(t, w, o.recs) })
	return duplicates
}

// missing lists the orders of w without an output in byOrder, sorted.
func (w *world) missing(byOrder map[string]int) []string {
	var ms []string
	for id := range w.orders {
		if byOrder[id] == 0 {
			ms = append(ms, id)
		}
	}
	slices.Sort(ms)
	return ms
}

// checkOutputs checks every output against the order it names: keyed by
// the user id, the order copied, joined with the profile w expects (none,
// and profile_missing, for an unknown user). Every order must have an
// output; repeats are at-least-once duplicates, and checkOutputs returns
// how many.
func checkOutputs(t *testing.T, w *world, recs []output) (duplicates int) {
	t.Helper()
	bad := 0
	byOrder := map[string]int{}
	for _, out := range recs {
		byOrder[out.value.Order.OrderID]++
		if problem := w.problem(out); problem != "" {
			if bad++; bad <= 10 {
				v, _ := json.Marshal(out.value)
				t.Errorf("output %s\t%s: %s", out.key, v, problem)
			}
		}
	}
	if bad > 10 {
		t.Errorf("... %d bad outputs in all", bad)
	}
	if ms := w.missing(byOrder); len(ms) > 0 {
		t.Errorf("%d of %d orders have no output, the first: %v", len(ms), len(w.orders), ms[:min(len(ms), 10)])
	}
	return len(recs) - len(byOrder)
}

// problem says what is wrong with out, or "".
func (w *world) problem(out output) string {
	v := out.value
	order, ok := w.orders[v.Order.OrderID]
	want := w.expect[v.Order.OrderID]
	switch {
	case out.err != nil:
		return fmt.Sprintf("value does not decode: %v", out.err)
	case !ok:
		return "names no order of this test"
	case v.Order != order:
		return fmt.Sprintf("order %+v, want the input's %+v", v.Order, order)
	case out.key != order.UserID:
		return fmt.Sprintf("key %q, want the user id %q", out.key, order.UserID)
	case want == nil && (!v.ProfileMissing || v.Profile != nil):
		return "want profile_missing and no profile: the user has none"
	case want != nil && v.ProfileMissing:
		return fmt.Sprintf("profile_missing, but the worker had the user's profile %+v before it handled the order", *want)
	case want != nil && !reflect.DeepEqual(v.Profile, want):
		return fmt.Sprintf("joined with %+v, want %+v", v.Profile, *want)
	}
	return ""
}

// startBroker starts an embedded broker with the app's topics, closed when
// the test ends, and returns its addresses. Only the test that needs
// records on the topics before the app starts uses it; the others run the
// app with runtimetest.
func startBroker(t *testing.T) []string {
	t.Helper()
	b, err := broker.Start(broker.Options{Topics: []string{usersTopic, ordersTopic, enrichedTopic}, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b.Addrs()
}

// testConfig is a worker of group with memory stores, the steps
// [[users]], frequent commits and no HTTP.
func testConfig(brokers []string, group string) runtime.Config {
	cfg := runtime.DefaultConfig("enrich")
	cfg.Brokers = brokers
	cfg.Group = group
	cfg.HTTP = "off"
	cfg.TableStore = "memory://"
	cfg.CommitInterval = 100 * time.Millisecond
	cfg.Steps = defaultSteps
	return cfg
}

// startApp runs a new enrich app with cfg until the test ends; its logs at
// warn level and above go to the test's log.
func startApp(t *testing.T, cfg runtime.Config) (*runtime.App, *joiner) {
	t.Helper()
	app, j := newApp(runtime.WithLogger(testkit.Logger(t, slog.LevelWarn)))
	r := testkit.Background(t, "the app", func(ctx context.Context) error { return app.Run(ctx, cfg) })
	t.Cleanup(func() {
		if err := r.Stop(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return app, j
}

// startDriver runs a new enrich app with runtimetest, with the app's
// partition count and the steps [[users]]: the users step finds users
// empty and is done at once, so what the test sends is handled in auto
// mode. Its logs at warn level and above go to the test's log.
func startDriver(t *testing.T) (*runtimetest.Driver, *joiner) {
	t.Helper()
	app, j := newApp(runtime.WithLogger(testkit.Logger(t, slog.LevelWarn)))
	d := runtimetest.Start(t, app, runtimetest.Partitions(partitions),
		runtimetest.Configure(func(c *runtime.Config) { c.Steps = defaultSteps }))
	return d, j
}

// readOutputs reads what the app wrote to enriched-orders so far: call
// d.Idle first.
func readOutputs(d *runtimetest.Driver) []output {
	var outs []output
	for _, m := range runtimetest.NewOutput(d, enrichedTopic, serde.String(), serde.JSON[Enriched]()).Read() {
		outs = append(outs, output{key: m.Key, value: m.Value})
	}
	return outs
}

// awaitStepsDone waits until app reports its step plan complete and every
// partition out of bulk: what is produced from then on is handled in auto
// mode, one record at a time while the worker keeps up.
func awaitStepsDone(t *testing.T, app *runtime.App) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, "the step plan to be complete and every partition in single mode", func() (bool, string) {
		st, ok := app.Status()
		if !ok || st.Steps == nil {
			return false, "not running yet"
		}
		modes := map[string]int{}
		for _, p := range st.Partitions {
			modes[p.Mode.String()]++
		}
		return st.Steps.Done && len(st.Partitions) == 2*partitions && modes["single"] == 2*partitions,
			fmt.Sprintf("step %d of %v, done %t; %d partitions by mode: %v", st.Steps.Step+1, st.Steps.Steps, st.Steps.Done, len(st.Partitions), modes)
	})
}
