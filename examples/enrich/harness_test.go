package main

// What the tests of enrich check with: the users and orders they produce,
// the profile each order must be joined with, and the enriched orders they
// read back. The in-process tests run the app on an embedded broker with
// memory stores; the process tests run its binary with internal/proctest.

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
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

// produceUsers produces recs (from userRecord) and notes the profiles
// they leave.
func (w *world) produceUsers(t *testing.T, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	testkit.ProduceKeyed(t, brokers, recs...)
	for _, r := range recs {
		id := string(r.Key)
		if r.Value == nil {
			delete(w.profiles, id)
			continue
		}
		var p Profile
		if err := json.Unmarshal(r.Value, &p); err != nil {
			t.Fatal(err)
		}
		w.profiles[id] = p
	}
}

// orderRecords returns orders first to first+n-1, order i of user
// userOf(i), and notes the profile each must be joined with: its user's
// as produced so far. The caller makes sure the worker stored that
// profile before it handles the order.
func (w *world) orderRecords(first, n int, userOf func(i int) string) []*kgo.Record {
	recs := make([]*kgo.Record, 0, n)
	for i := first; i < first+n; i++ {
		o := Order{OrderID: fmt.Sprintf("order-%d", i), UserID: userOf(i), Amount: float64(i%500) / 4, Item: "item"}
		v, _ := json.Marshal(o)
		recs = append(recs, &kgo.Record{Topic: ordersTopic, Key: []byte(o.UserID), Value: v})
		w.orders[o.OrderID] = o
		w.expect[o.OrderID] = nil
		if p, ok := w.profiles[o.UserID]; ok {
			w.expect[o.OrderID] = &p
		}
	}
	return recs
}

// produceOrders produces orders as orderRecords describes them.
func (w *world) produceOrders(t *testing.T, brokers []string, first, n int, userOf func(i int) string) {
	t.Helper()
	testkit.ProduceKeyed(t, brokers, w.orderRecords(first, n, userOf)...)
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
	byOrder map[string][]output
}

func collectOutputs(t *testing.T, brokers []string) *outputs {
	t.Helper()
	o := &outputs{byOrder: map[string][]output{}}
	o.c = testkit.StartConsumer(t, brokers, func(r *kgo.Record) {
		out := output{key: string(r.Key)}
		out.err = json.Unmarshal(r.Value, &out.value)
		o.recs = append(o.recs, out)
		o.byOrder[out.value.Order.OrderID] = append(o.byOrder[out.value.Order.OrderID], out)
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
		ms := o.missingLocked(w)
		return len(ms) == 0, fmt.Sprintf("%d outputs; %d orders without one, the first: %v", len(o.recs), len(ms), ms[:min(len(ms), 10)])
	})
}

// missingLocked lists the orders of w without an output, sorted.
func (o *outputs) missingLocked(w *world) []string {
	var ms []string
	for id := range w.orders {
		if len(o.byOrder[id]) == 0 {
			ms = append(ms, id)
		}
	}
	slices.Sort(ms)
	return ms
}

// check checks every output against the order it names: keyed by the
// user id, the order copied, joined with the profile w expects (none, and
// profile_missing, for an unknown user). Every order must have an output;
// repeats are at-least-once duplicates, and check returns how many.
func (o *outputs) check(t *testing.T, w *world) (duplicates int) {
	t.Helper()
	o.c.Read(func() {
		bad := 0
		for _, out := range o.recs {
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
		if ms := o.missingLocked(w); len(ms) > 0 {
			t.Errorf("%d of %d orders have no output, the first: %v", len(ms), len(w.orders), ms[:min(len(ms), 10)])
		}
		duplicates = len(o.recs) - len(o.byOrder)
	})
	return duplicates
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
// the test ends.
func startBroker(t *testing.T) *broker.Broker {
	t.Helper()
	b, err := broker.Start(broker.Options{Topics: []string{usersTopic, ordersTopic, enrichedTopic}, Partitions: partitions})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

// testConfig is a worker of group with memory stores, the steps
// [[users]], frequent commits and no HTTP.
func testConfig(b *broker.Broker, group string) runtime.Config {
	cfg := runtime.DefaultConfig("enrich")
	cfg.Brokers = b.Addrs()
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("the app did not stop within 30s of its context's end")
		}
	})
	return app, j
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
			modes[p.Mode]++
		}
		return st.Steps.Done && len(st.Partitions) == 2*partitions && modes["single"] == 2*partitions,
			fmt.Sprintf("step %d of %v, done %t; %d partitions by mode: %v", st.Steps.Step+1, st.Steps.Steps, st.Steps.Done, len(st.Partitions), modes)
	})
}

// awaitProfiles waits until the users table of app holds exactly want
// for each of its keys (absent: no profile).
func awaitProfiles(t *testing.T, app *runtime.App, j *joiner, want map[string]*Profile) {
	t.Helper()
	testkit.Eventually(t, 30*time.Second, fmt.Sprintf("the users table to hold the profiles of %v", slices.Sorted(maps.Keys(want))), func() (bool, string) {
		got := map[string]*Profile{}
		if ok, err := runtime.ScanTable(app, j.users, func(id string, p Profile) bool {
			if _, ok := want[id]; ok {
				got[id] = &p
			}
			return true
		}); !ok || err != nil {
			return false, fmt.Sprintf("scan: running %t, error %v", ok, err)
		}
		for id, p := range want {
			if g := got[id]; (g == nil) != (p == nil) || g != nil && *g != *p {
				return false, fmt.Sprintf("%s is %+v, want %+v", id, g, p)
			}
		}
		return true, ""
	})
}
