package actors

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/modes"
)

// modeInterval is how often the engine actor reviews partition modes and
// the step plan.
const modeInterval = 100 * time.Millisecond

// modeState is the engine actor's part in choosing modes: one Switch per
// assigned partition and the step plan. Only the engine actor touches it.
type modeState struct {
	switches map[TopicPartition]*modes.Switch
	plan     *modes.Plan // nil without steps
	// stepParts are the partitions whose end offsets the current step
	// captured; starts their log start offsets then.
	stepParts map[TopicPartition]bool
	starts    map[TopicPartition]int64
	// paused are the topics paused at the fetch level for the plan.
	paused []string
	// covered are the assigned partitions a completed step read. One of a
	// step topic assigned later, once the plan is done, runs it again.
	covered map[TopicPartition]bool
	// gen counts changes of the plan's position (a step restarted,
	// completed, or the plan run again); a listing started at an older
	// one is stale. listing is set while a listing of the current step's
	// offsets is in flight; listed is the answer, until the step begins
	// with it.
	gen     int
	listing bool
	listed  *stepListed
}

func newModeState(cfg *Config) (*modeState, error) {
	ms := &modeState{switches: map[TopicPartition]*modes.Switch{}, covered: map[TopicPartition]bool{}}
	if len(cfg.Steps) == 0 {
		return ms, nil
	}
	plan, err := modes.NewPlan(cfg.Steps)
	if err != nil {
		return nil, fmt.Errorf("actors: steps: %w", err)
	}
	for i, st := range cfg.Steps {
		for _, t := range st {
			if !slices.Contains(cfg.Topics, t) {
				return nil, fmt.Errorf("actors: step %d names topic %q, which is not consumed (topics: %v)", i+1, t, cfg.Topics)
			}
		}
	}
	ms.plan = plan
	return ms, nil
}

// planActive reports whether a step plan holds some topics back.
func (ms *modeState) planActive() bool { return ms.plan != nil && !ms.plan.Done() }

// initial sets the mode of a partition about to start.
func (a *engineActor) initial(p *partition) {
	ms := a.modes
	sw := modes.NewSwitch(a.e.cfg.Modes)
	ms.switches[p.tp] = sw
	mode, held := sw.Mode(), false
	if ms.planActive() {
		if ms.plan.InStep(p.tp.Topic) {
			mode = modes.Bulk
		} else {
			held = true
		}
	}
	p.mode.Store(int32(mode))
	p.held.Store(held)
}

// evaluate reviews the step plan and every partition's mode.
func (a *engineActor) evaluate() {
	e := a.e
	e.mu.Lock()
	cl := e.mu.client
	settled := e.mu.joined && e.mu.starting == 0 && !e.mu.closing
	parts := slices.Collect(maps.Values(e.mu.parts))
	e.mu.Unlock()
	if cl == nil {
		return
	}
	ms := a.modes
	if ms.plan != nil {
		a.replan(parts)
		// A member holding nothing yet (cooperative rebalances assign
		// empty sets first) must not count its step as read.
		if settled && len(parts) > 0 {
			a.runSteps(cl, parts)
		}
		a.pauseForPlan(cl)
		a.publishSteps(cl, parts)
	}
	now := time.Now()
	live := make(map[TopicPartition]bool, len(parts))
	for _, p := range parts {
		live[p.tp] = true
		a.decide(p, now)
	}
	maps.DeleteFunc(ms.switches, func(tp TopicPartition, _ *modes.Switch) bool { return !live[tp] })
}

// decide chooses p's mode: bulk or held back while a step plan runs, else
// what its Switch makes of its lag.
func (a *engineActor) decide(p *partition, now time.Time) {
	ms := a.modes
	sw := ms.switches[p.tp]
	if sw == nil {
		sw = modes.NewSwitch(a.e.cfg.Modes)
		ms.switches[p.tp] = sw
	}
	lag := p.lag()
	mode, held, reason := sw.Mode(), false, "lag"
	if ms.planActive() {
		reason = fmt.Sprintf("step %d", ms.plan.Step()+1)
		if ms.plan.InStep(p.tp.Topic) {
			mode = modes.Bulk
		} else {
			held = true
		}
	} else {
		mode, _ = sw.Observe(lag, now)
	}
	old := modes.Mode(p.mode.Load())
	if old == mode && p.held.Load() == held {
		return
	}
	p.mode.Store(int32(mode))
	p.held.Store(held)
	a.e.system.Root.Send(p.pid, &setMode{mode: mode, held: held})
	if old == mode {
		return
	}
	p.switches.Add(1)
	p.lastSwitch.Store(&ModeSwitch{At: now, From: old, To: mode, Reason: reason, Lag: lag})
	a.e.cfg.Observer.ModeSwitched(p.tp, mode)
	pol := a.e.cfg.Modes
	p.logger.Info("mode switched", "from", old.String(), "to", mode.String(), "reason", reason,
		"lag", lag, "lag_high", pol.LagHigh, "lag_low", pol.LagLow)
}

// review has the engine actor run its mode and step decisions, and waits
// for them (or ctx).
func (e *Engine) review(ctx context.Context) {
	done := make(chan struct{})
	e.system.Root.Send(e.root, &evaluate{done: done})
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// modeLoop reviews modes every modeInterval.
func (e *Engine) modeLoop(ctx context.Context) {
	t := time.NewTicker(modeInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.review(ctx)
		}
	}
}
