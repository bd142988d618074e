package main

// Handler tests of the pipeline with runtimetest: what the router does to
// each event (its class, topic, key and fields), what its settings change
// (heavy_threshold, allowed_keys), and what happens to records it cannot
// route. They run the app in-process on an embedded broker of its own and
// wait with Idle until every record sent is handled and committed.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
)

// routed is what the pipeline wrote to heavy or light for one event, as
// the test compares it.
type routed struct {
	topic, key, kind string
	weight           float64
	source           string
}

// startPipeline runs the pipeline with settings (nil: the defaults) and
// returns its driver and an input of events.
func startPipeline(t *testing.T, settings map[string]string) (*runtimetest.Driver, *runtimetest.Input[string, Event]) {
	t.Helper()
	d := runtimetest.Start(t, newApp(), runtimetest.Configure(func(c *runtime.Config) { c.Settings = settings }))
	return d, runtimetest.NewInput(d, "events", serde.String(), serde.JSON[Event]())
}

// readRouted reads heavy and light, checking what every output must have
// whatever its event: the class names its topic, and the processed time
// is that of the test run (since is when the test began sending).
func readRouted(t *testing.T, d *runtimetest.Driver, since time.Time) []routed {
	t.Helper()
	var got []routed
	for _, topic := range []string{"heavy", "light"} {
		for _, m := range runtimetest.NewOutput(d, topic, serde.String(), serde.JSON[Enriched]()).Read() {
			e := m.Value
			if e.Class != topic {
				t.Errorf("output on %s %q has class %q, want the topic's name", topic, m.Key, e.Class)
			}
			if e.Processed.Before(since) || e.Processed.After(time.Now()) {
				t.Errorf("output on %s %q processed at %v, want a time since %v", topic, m.Key, e.Processed, since)
			}
			got = append(got, routed{topic, m.Key, e.Kind, e.Weight, e.Source})
		}
	}
	return got
}

// TestRoutesEventsByWeight checks the default routing: an event of weight
// 10 or more is heavy, any other light; each output is keyed like its
// event, copies its kind and weight, and names it as its source.
func TestRoutesEventsByWeight(t *testing.T) {
	t.Parallel()
	d, events := startPipeline(t, nil)
	since := time.Now()
	for _, e := range []struct {
		key    string
		weight float64
	}{{"a", 0}, {"b", 9.99}, {"c", heavyThreshold}, {"d", 10.01}, {"e", 1e6}, {"f", -3}} {
		events.Send(e.key, Event{Kind: "kind-" + e.key, Weight: e.weight})
	}
	d.Idle()

	got := readRouted(t, d, since)
	want := []routed{
		{"heavy", "c", "kind-c", heavyThreshold, "events/0@2"},
		{"heavy", "d", "kind-d", 10.01, "events/0@3"},
		{"heavy", "e", "kind-e", 1e6, "events/0@4"},
		{"light", "a", "kind-a", 0, "events/0@0"},
		{"light", "b", "kind-b", 9.99, "events/0@1"},
		{"light", "f", "kind-f", -3, "events/0@5"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outputs\n%v\nwant\n%v", got, want)
	}
	if c := d.Committed("events"); c[0] != 6 {
		t.Errorf("committed offsets of events %v, want 6 on partition 0", c)
	}
}

// TestSettingsChangeTheRouting checks the pipeline's two settings:
// heavy_threshold moves the line between heavy and light, and
// allowed_keys keeps only the keys it lists, dropping the others: they
// write nothing, and their offsets are committed all the same.
func TestSettingsChangeTheRouting(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		settings map[string]string
		want     []routed
		dropped  []string // keys
	}{{
		name:     "heavy_threshold",
		settings: map[string]string{"heavy_threshold": "2.5"},
		want: []routed{
			{"heavy", "k2", "view", 2.5, "events/0@1"},
			{"heavy", "k3", "view", 3, "events/0@2"},
			{"light", "k1", "view", 2, "events/0@0"},
		},
	}, {
		name:     "allowed_keys",
		settings: map[string]string{"allowed_keys": "k3, k1"},
		want: []routed{
			{"light", "k1", "view", 2, "events/0@0"},
			{"light", "k3", "view", 3, "events/0@2"},
		},
		dropped: []string{"k2"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, events := startPipeline(t, tc.settings)
			since := time.Now()
			events.Send("k1", Event{Kind: "view", Weight: 2})
			events.Send("k2", Event{Kind: "view", Weight: 2.5})
			events.Send("k3", Event{Kind: "view", Weight: 3})
			d.Idle()

			if got := readRouted(t, d, since); fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("outputs\n%v\nwant\n%v", got, tc.want)
			}
			var dropped []string
			for _, o := range d.Outcomes() {
				if o.Outcome == runtime.Dropped {
					dropped = append(dropped, string(o.Key))
				}
			}
			if fmt.Sprint(dropped) != fmt.Sprint(tc.dropped) {
				t.Errorf("dropped keys %q, want %q", dropped, tc.dropped)
			}
			if c := d.Committed("events"); c[0] != 3 {
				t.Errorf("committed offsets of events %v, want 3 on partition 0", c)
			}
		})
	}
}

// TestUnroutableRecordsAreSkipped sends what the router cannot route, a
// value that is not JSON and a tombstone, between two events: both are
// skipped without an output, and the stream goes on.
func TestUnroutableRecordsAreSkipped(t *testing.T) {
	t.Parallel()
	d, events := startPipeline(t, nil)
	raw := runtimetest.NewInput(d, "events", serde.String(), serde.String())
	since := time.Now()
	events.Send("before", Event{Kind: "view", Weight: 12})
	raw.Send("garbled", "not json")
	events.SendTombstone("gone")
	events.Send("after", Event{Kind: "click", Weight: 1})
	d.Idle()

	want := []routed{{"heavy", "before", "view", 12, "events/0@0"}, {"light", "after", "click", 1, "events/0@3"}}
	if got := readRouted(t, d, since); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("outputs\n%v\nwant\n%v", got, want)
	}
	var outcomes []string
	for _, o := range d.Outcomes() {
		outcomes = append(outcomes, fmt.Sprintf("%s@%d %s", o.Key, o.Offset, o.Outcome))
	}
	if got, want := strings.Join(outcomes, ", "), "before@0 handled, garbled@1 skipped, gone@2 skipped-tombstone, after@3 handled"; got != want {
		t.Errorf("outcomes %s, want %s", got, want)
	}
	var de *runtime.DecodeError
	if outs := d.Outcomes(); len(outs) != 4 || !errors.As(outs[1].Err, &de) || de.Part != "value" || de.Offset != 1 {
		t.Errorf("outcomes %+v; want the garbled record skipped for a DecodeError of its value at offset 1", outs)
	}
	if c := d.Committed("events"); c[0] != 4 {
		t.Errorf("committed offsets of events %v, want 4 on partition 0", c)
	}
}

// TestHeavyThresholdThatIsNoNumberStopsTheStart checks that a worker with
// a heavy_threshold it cannot read refuses to start, naming the setting,
// rather than routing with a threshold the user did not set.
func TestHeavyThresholdThatIsNoNumberStopsTheStart(t *testing.T) {
	t.Parallel()
	d, err := runtimetest.New(newApp(), runtimetest.Configure(func(c *runtime.Config) {
		c.Settings = map[string]string{"heavy_threshold": "ten"}
	}))
	if err == nil {
		d.Close()
		t.Fatal("the pipeline started with heavy_threshold \"ten\"; want it refused")
	}
	if want := `setting heavy_threshold: "ten" is not a number`; !strings.Contains(err.Error(), want) {
		t.Errorf("start with heavy_threshold \"ten\": %v; want it to say %s", err, want)
	}
}
