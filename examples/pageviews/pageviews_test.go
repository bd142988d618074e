package main

// Handler tests of pageviews with runtimetest: the counter's counts in its
// table and in the table's changelog, and what a tombstone does to them.
// They run the app in-process on an embedded broker of its own, with 4
// partitions so that pages fall in several table shards, and wait with
// Idle until every record sent is handled and committed (a count is
// written to the changelog before its view's offset is committed).

import (
	"maps"
	"slices"
	"testing"

	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// startCounter runs pageviews and returns its driver, its table and an
// input of views.
func startCounter(t *testing.T) (*runtimetest.Driver, *tables.Table[string, int64], *runtimetest.Input[string, View]) {
	t.Helper()
	app, views := newApp()
	d := runtimetest.Start(t, app, runtimetest.Partitions(4))
	return d, views, runtimetest.NewInput(d, viewsTopic, serde.String(), serde.JSON[View]())
}

// checkCounts checks that the table, and the changelog that makes it
// durable, hold want: each page's count, no count for any other page.
func checkCounts(t *testing.T, d *runtimetest.Driver, views *tables.Table[string, int64], want map[string]int64) {
	t.Helper()
	for _, page := range slices.Sorted(maps.Keys(want)) {
		if n, ok := runtimetest.Get(d, views, page); !ok || n != want[page] {
			t.Errorf("table: %s counted %d (present: %t), want %d", page, n, ok, want[page])
		}
	}
	logged := map[string]int64{} // each page's last count in the changelog
	for page, v := range testkit.LastValues(t, d.Brokers(), changelog) {
		n, err := serde.Int64().Decode(v)
		if err != nil {
			t.Fatalf("changelog value %x of %s: %v", v, page, err)
		}
		logged[page] = n
	}
	if !maps.Equal(logged, want) {
		t.Errorf("the changelog's last counts %v, want %v", logged, want)
	}
}

// TestHandlerCountsViewsPerPage sends views of three pages, interleaved: each
// page's count is its number of views, in the table and in the changelog;
// a page never viewed has no count; every view's offset is committed.
func TestHandlerCountsViewsPerPage(t *testing.T) {
	t.Parallel()
	d, views, in := startCounter(t)
	for _, page := range []string{"home", "docs", "home", "about", "docs", "home"} {
		in.Send(page, View{User: "u", At: 1})
	}
	d.Idle()

	checkCounts(t, d, views, map[string]int64{"home": 3, "docs": 2, "about": 1})
	if n, ok := runtimetest.Get(d, views, "nowhere"); ok {
		t.Errorf("table: a page never viewed has the count %d, want none", n)
	}
	var committed int64
	for _, o := range d.Committed(viewsTopic) {
		committed += o
	}
	if committed != 6 {
		t.Errorf("committed offsets of %s %v add up to %d, want the 6 views", viewsTopic, d.Committed(viewsTopic), committed)
	}
}

// TestHandlerDeletesCountOnTombstone sends a tombstone for a viewed page: its
// count leaves the table and the changelog (whose last record for it is a
// tombstone, so compaction drops it), other pages keep theirs, and the
// page's next views count from one.
func TestHandlerDeletesCountOnTombstone(t *testing.T) {
	t.Parallel()
	d, views, in := startCounter(t)
	for _, page := range []string{"home", "docs", "home"} {
		in.Send(page, View{User: "u", At: 1})
	}
	d.Idle()
	in.SendTombstone("home")
	d.Idle()

	checkCounts(t, d, views, map[string]int64{"docs": 1})
	if n, ok := runtimetest.Get(d, views, "home"); ok {
		t.Errorf("table: home counted %d after its tombstone, want no count", n)
	}
	last := map[string]bool{} // by page: is its last changelog record a tombstone
	for _, r := range testkit.ReadToEnd(t, d.Brokers(), changelog) {
		last[string(r.Key)] = r.Value == nil
	}
	if tomb, ok := last["home"]; !ok || !tomb {
		t.Errorf("the changelog's last record for home is a tombstone: %t (has one: %t), want a tombstone", tomb, ok)
	}

	in.Send("home", View{User: "u", At: 2})
	in.Send("home", View{User: "v", At: 3})
	d.Idle()
	checkCounts(t, d, views, map[string]int64{"home": 2, "docs": 1})
}
