package actors

import (
	"errors"
	"testing"
	"time"
)

// TestGroupWatchVerdicts walks the watch through sequences of looks: what
// counts as stable, what restarts the count, and when it wedges and
// rejoins. Rebalance timeout 60s, session timeout 45s.
func TestGroupWatchVerdicts(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	stable := func(s int, gen int32) groupLook {
		return groupLook{at: at(s), memberID: "m", generation: gen, state: "Stable", members: []string{"o", "m"}}
	}
	preparing := func(s int, gen int32) groupLook {
		return groupLook{at: at(s), memberID: "m", generation: gen, state: "PreparingRebalance", members: []string{"m"}}
	}
	without := func(s int) groupLook {
		return groupLook{at: at(s), memberID: "m", generation: 3, state: "Stable", members: []string{"o"}}
	}
	failed := func(s int) groupLook {
		return groupLook{at: at(s), memberID: "m", generation: 3, err: errors.New("coordinator not available")}
	}
	moved := func(s int) groupLook { l := stable(s, 4); l.moved = true; return l }
	type step struct {
		look groupLook
		want groupVerdict
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"stable throughout", []step{{stable(5, 3), groupFine}, {stable(200, 3), groupFine}}},
		{"a rebalance that completes", []step{{stable(5, 3), groupFine}, {preparing(10, 3), groupFine}, {preparing(69, 3), groupFine}, {stable(70, 4), groupFine}, {stable(300, 4), groupFine}}},
		{"wedged in a rebalance, then rejoins", []step{{stable(5, 3), groupFine}, {preparing(10, 3), groupFine}, {preparing(69, 3), groupFine},
			{preparing(70, 3), groupWedged}, {preparing(100, 3), groupFine}, {preparing(115, 3), groupRejoin}}},
		{"forgotten by a Stable group", []step{{stable(5, 3), groupFine}, {without(10), groupFine}, {without(70), groupWedged}, {without(115), groupRejoin}}},
		{"wedged, then stable again", []step{{stable(5, 3), groupFine}, {preparing(10, 3), groupFine}, {preparing(70, 3), groupWedged}, {stable(80, 3), groupRecovered}, {preparing(90, 3), groupFine}, {preparing(149, 3), groupFine}}},
		// Each completed join is progress: churn that keeps rebalancing
		// the group is not a wedge.
		{"churn: every join completes", []step{{stable(5, 3), groupFine}, {preparing(10, 3), groupFine}, {preparing(60, 4), groupFine}, {preparing(110, 5), groupFine}, {preparing(160, 6), groupFine}, {preparing(219, 6), groupFine}, {preparing(220, 6), groupWedged}}},
		// The coordinator cannot be asked: not ready, but a new member
		// would not fare better, so no rejoin.
		{"describes fail", []step{{stable(5, 3), groupFine}, {failed(10), groupFine}, {failed(70), groupWedged}, {failed(200), groupFine}, {without(201), groupRejoin}}},
		{"never joins", []step{{groupLook{at: at(5), generation: -1, state: "Stable", members: []string{"o"}}, groupFine},
			{groupLook{at: at(106), generation: -1, state: "Stable", members: []string{"o"}}, groupRejoin}}},
		{"a look across a generation change is not stable", []step{{stable(5, 3), groupFine}, {moved(10), groupFine}, {moved(11), groupFine}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := &groupWatch{wedgeAfter: 60 * time.Second, rejoinAfter: 105 * time.Second, since: t0, gen: -1}
			for i, s := range tc.steps {
				if got := w.update(s.look); got != s.want {
					t.Fatalf("look %d (%+v): verdict %d, want %d", i, s.look, got, s.want)
				}
			}
		})
	}
}
