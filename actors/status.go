package actors

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/modes"
)

// Status describes the assigned partitions, sorted by topic and partition.
// Safe for concurrent use.
func (e *Engine) Status() []PartitionStatus {
	e.mu.Lock()
	parts := slices.Collect(maps.Values(e.mu.parts))
	cl := e.mu.client
	stalls := maps.Clone(e.mu.stalls)
	e.mu.Unlock()
	var groupOffsets map[string]map[int32]kgo.EpochOffset
	if cl != nil {
		// What the group had committed before this worker's first commit.
		groupOffsets = cl.CommittedOffsets()
	}
	out := make([]PartitionStatus, 0, len(parts))
	for _, p := range parts {
		next, committed := p.ledger.snapshot()
		if eo, ok := groupOffsets[p.tp.Topic][p.tp.Partition]; ok && committed < 0 {
			committed = eo.Offset
		}
		inflight, paused, _, hwm := p.flow.state()
		st := PartitionStatus{
			Topic: p.tp.Topic, Partition: p.tp.Partition,
			Next: next, Committed: committed, HighWatermark: hwm, Lag: p.lag(),
			InFlight: inflight, Paused: paused,
			Mode: modes.Mode(p.mode.Load()), ModeSwitches: int(p.switches.Load()),
			LastSwitch: p.lastSwitch.Load(),
			StepHeld:   p.held.Load(),
			Restoring:  !p.restored.Load(),
		}
		if rec, ok := stalls[p.tp]; ok {
			st.Stalls, st.LastStall = rec.count, &rec.last
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// Ready reports whether the member has joined its group, is not wedged out
// of a stable generation (see Group), and every assigned partition is ready
// to handle records (its state restored). Safe for concurrent use.
func (e *Engine) Ready() bool {
	ready, _ := e.Readiness()
	return ready
}

// Readiness is Ready with, when not ready, the reason in words. Safe for
// concurrent use.
func (e *Engine) Readiness() (ready bool, reason string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case errors.Is(e.mu.cause, ErrRejoin):
		return false, fmt.Sprintf("rejoining the group as a new member: %v", e.mu.cause)
	case e.mu.closing:
		return false, "shutting down"
	case e.mu.group.Wedged:
		g := e.mu.group
		return false, fmt.Sprintf("not in a stable generation of group %q since %s, more than the rebalance timeout (%gs): %s; rejoining as a new member after %gs",
			g.Group, g.UnstableSince.Format(time.RFC3339), g.WedgedAfterSeconds, g.Reason, g.RejoinAfterSeconds)
	case !e.mu.joined:
		return false, "waiting for the group's first assignment"
	case e.mu.starting > 0:
		return false, "starting the partitions just assigned"
	}
	var restoring []string
	for tp, p := range e.mu.parts {
		if !p.restored.Load() {
			restoring = append(restoring, tp.String())
		}
	}
	if len(restoring) > 0 {
		sort.Strings(restoring)
		return false, "restoring the state of " + strings.Join(restoring, ", ")
	}
	return true, ""
}
