package modes

import (
	"slices"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for s, want := range map[string]Mode{"auto": Auto, "single": Single, "bulk": Bulk} {
		got, err := Parse(s)
		if err != nil || got != want || got.String() != s {
			t.Errorf("Parse(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := Parse("batch"); err == nil {
		t.Error("Parse(batch) succeeded")
	}
}

func TestPolicyValidate(t *testing.T) {
	ok := Policy{Mode: Auto, LagHigh: 100, LagLow: 10, MinDwell: time.Second}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]Policy{
		"low above high": {Mode: Auto, LagHigh: 10, LagLow: 100},
		"equal":          {Mode: Auto, LagHigh: 10, LagLow: 10},
		"negative low":   {Mode: Auto, LagHigh: 10, LagLow: -1},
		"negative dwell": {Mode: Auto, LagHigh: 10, LagLow: 1, MinDwell: -time.Second},
		"unknown mode":   {Mode: Mode(9)},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%s: %+v validated", name, p)
		}
	}
	// Thresholds do not matter to a forced mode.
	if err := (Policy{Mode: Bulk}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestSwitchHysteresis(t *testing.T) {
	s := NewSwitch(Policy{Mode: Auto, LagHigh: 1000, LagLow: 100, MinDwell: time.Minute})
	t0 := time.Unix(0, 0)
	steps := []struct {
		at      time.Duration
		lag     int64
		want    Mode
		changed bool
	}{
		{0, -1, Single, false},          // unknown lag: stay
		{0, 1000, Single, false},        // at the threshold, not above it
		{0, 1001, Bulk, true},           // the first switch is not held back
		{time.Second, 10, Bulk, false},  // below low, but within the dwell
		{time.Minute, 100, Bulk, false}, // dwell passed, lag not below low
		{time.Minute, 99, Single, true},
		{time.Minute + time.Second, 5000, Single, false}, // dwell again
		{2 * time.Minute, 5000, Bulk, true},
	}
	for i, st := range steps {
		got, changed := s.Observe(st.lag, t0.Add(st.at))
		if got != st.want || changed != st.changed {
			t.Fatalf("step %d (lag %d at %v): got %v changed=%v, want %v changed=%v", i, st.lag, st.at, got, changed, st.want, st.changed)
		}
	}
	if s.Switches() != 3 {
		t.Fatalf("switches = %d, want 3", s.Switches())
	}
}

// Lag oscillating across both thresholds every 100ms for ten minutes
// switches at most once per dwell.
func TestSwitchDoesNotFlap(t *testing.T) {
	dwell := 10 * time.Second
	s := NewSwitch(Policy{Mode: Auto, LagHigh: 1000, LagLow: 100, MinDwell: dwell})
	t0 := time.Unix(0, 0)
	span := 10 * time.Minute
	for d := time.Duration(0); d < span; d += 100 * time.Millisecond {
		lag := int64(5000)
		if (d/(100*time.Millisecond))%2 == 1 {
			lag = 0
		}
		s.Observe(lag, t0.Add(d))
	}
	if max := int(span/dwell) + 1; s.Switches() > max {
		t.Fatalf("%d switches in %v with a %v dwell; want at most %d", s.Switches(), span, dwell, max)
	}
	if s.Switches() < 2 {
		t.Fatalf("%d switches: the switch never followed the lag", s.Switches())
	}
}

func TestForcedModesIgnoreLag(t *testing.T) {
	for _, m := range []Mode{Single, Bulk} {
		s := NewSwitch(Policy{Mode: m, LagHigh: 10, LagLow: 1})
		for _, lag := range []int64{0, 1e6, 0} {
			if got, changed := s.Observe(lag, time.Now()); got != m || changed {
				t.Fatalf("forced %v with lag %d: got %v changed=%v", m, lag, got, changed)
			}
		}
	}
}

func TestNewPlanValidates(t *testing.T) {
	for name, steps := range map[string][][]string{
		"empty step":  {{"a"}, {}},
		"empty topic": {{"a", ""}},
		"repeated":    {{"a", "b"}, {"b"}},
	} {
		if _, err := NewPlan(steps); err == nil {
			t.Errorf("%s: %v accepted", name, steps)
		}
	}
	p, err := NewPlan(nil)
	if err != nil || !p.Done() || !p.Active("anything") {
		t.Fatalf("an empty plan must be done: %v %v", p, err)
	}
}

func TestPlanSteps(t *testing.T) {
	p, err := NewPlan([][]string{{"users", "products"}, {"prices"}})
	if err != nil {
		t.Fatal(err)
	}
	all := []string{"users", "products", "prices", "orders"}
	if got := p.Paused(all); !slices.Equal(got, []string{"prices", "orders"}) {
		t.Fatalf("step 1 pauses %v", got)
	}
	u0, u1, pr0 := Partition{"users", 0}, Partition{"users", 1}, Partition{"products", 0}
	if p.Reached(map[Partition]int64{}) {
		t.Fatal("a step that has not begun is reached")
	}
	p.Begin(map[Partition]int64{u0: 10, u1: 0, pr0: 5, {"prices", 0}: 99})
	if _, ok := p.Ends()[Partition{"prices", 0}]; ok {
		t.Fatal("Begin kept the end of a topic outside the step")
	}
	pos := map[Partition]int64{u0: 9, u1: 0, pr0: 5}
	if p.Reached(pos) {
		t.Fatal("reached with users/0 one record short")
	}
	if b := p.Behind(pos); len(b) != 1 || b[u0] != 1 {
		t.Fatalf("Behind = %v", b)
	}
	pos[u0] = 10
	if !p.Reached(pos) {
		t.Fatal("not reached at the captured ends")
	}
	p.Advance()
	if p.Begun() || p.Step() != 1 || !slices.Equal(p.Paused(all), []string{"users", "products", "orders"}) {
		t.Fatalf("step 2: begun=%v step=%d paused=%v", p.Begun(), p.Step(), p.Paused(all))
	}
	p.Begin(nil) // no partition of prices assigned here
	if !p.Reached(nil) {
		t.Fatal("a step with nothing to read is not complete")
	}
	p.Advance()
	if !p.Done() || len(p.Paused(all)) != 0 || p.Topics() != nil {
		t.Fatal("after the last step the plan must be done and pause nothing")
	}
	p.Reset()
	if p.Done() || p.Step() != 0 || p.Begun() || !p.InStep("users") {
		t.Fatal("Reset must go back to an unbegun first step")
	}
}

func TestPlanRestart(t *testing.T) {
	p, _ := NewPlan([][]string{{"users"}})
	p.Begin(map[Partition]int64{{"users", 0}: 3})
	p.Restart()
	if p.Begun() || p.Reached(map[Partition]int64{{"users", 0}: 3}) {
		t.Fatal("a restarted step must be begun again")
	}
}
