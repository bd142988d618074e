package modes

import (
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Partition names one partition of one topic.
type Partition struct {
	Topic     string
	Partition int32
}

// Plan is a step plan: an ordered list of topic groups. While a step runs
// only its topics are consumed, until every partition of them reached the
// end offset captured when the step began; then the next step runs. After
// the last step the plan is done and every topic is consumed. A Plan is not
// safe for concurrent use.
type Plan struct {
	steps [][]string
	step  int
	// ends are the end offsets captured for the current step, by
	// partition; nil until Begin.
	ends map[Partition]int64
}

// NewPlan validates steps and returns a plan at its first step. Each step
// names at least one topic; no topic appears twice. An empty steps is a
// plan that is done from the start.
func NewPlan(steps [][]string) (*Plan, error) {
	seen := map[string]int{}
	var errs []error
	for i, st := range steps {
		if len(st) == 0 {
			errs = append(errs, fmt.Errorf("modes: step %d names no topic", i+1))
		}
		for _, t := range st {
			if t == "" {
				errs = append(errs, fmt.Errorf("modes: step %d names an empty topic", i+1))
				continue
			}
			if j, ok := seen[t]; ok {
				errs = append(errs, fmt.Errorf("modes: topic %q is in step %d and step %d", t, j+1, i+1))
				continue
			}
			seen[t] = i
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cp := make([][]string, len(steps))
	for i, st := range steps {
		cp[i] = slices.Clone(st)
	}
	return &Plan{steps: cp}, nil
}

// Steps returns the plan's steps.
func (p *Plan) Steps() [][]string {
	out := make([][]string, len(p.steps))
	for i, st := range p.steps {
		out[i] = slices.Clone(st)
	}
	return out
}

// Step is the index of the current step, len(Steps()) once done.
func (p *Plan) Step() int { return p.step }

// Done reports whether every step is complete.
func (p *Plan) Done() bool { return p.step >= len(p.steps) }

// Topics returns the current step's topics; none once done.
func (p *Plan) Topics() []string {
	if p.Done() {
		return nil
	}
	return slices.Clone(p.steps[p.step])
}

// InStep reports whether topic belongs to the current step.
func (p *Plan) InStep(topic string) bool {
	return !p.Done() && slices.Contains(p.steps[p.step], topic)
}

// Active reports whether topic may be consumed now: the plan is done, or
// topic is in the current step.
func (p *Plan) Active(topic string) bool { return p.Done() || p.InStep(topic) }

// Paused returns those of topics that must not be consumed now.
func (p *Plan) Paused(topics []string) []string {
	var out []string
	for _, t := range topics {
		if !p.Active(t) {
			out = append(out, t)
		}
	}
	return out
}

// Begin captures the end offsets of the current step: one entry per
// partition of its topics that this consumer must read to the end.
// Entries of other topics are ignored.
func (p *Plan) Begin(ends map[Partition]int64) {
	p.ends = make(map[Partition]int64, len(ends))
	for tp, end := range ends {
		if p.InStep(tp.Topic) {
			p.ends[tp] = end
		}
	}
}

// Begun reports whether the current step's end offsets are captured.
func (p *Plan) Begun() bool { return p.ends != nil }

// Ends returns the captured end offsets of the current step.
func (p *Plan) Ends() map[Partition]int64 { return maps.Clone(p.ends) }

// Restart forgets the captured end offsets, so the current step begins
// again: after the set of partitions to read changed.
func (p *Plan) Restart() { p.ends = nil }

// Reached reports whether the current step, once begun, is complete: each
// captured partition's position (the offset of the next record it would
// handle) is at or past its end. A step with no partitions to read is
// complete at once; a partition missing from positions is not.
func (p *Plan) Reached(positions map[Partition]int64) bool {
	if p.Done() || !p.Begun() {
		return false
	}
	for tp, end := range p.ends {
		pos, ok := positions[tp]
		if !ok || pos < end {
			return false
		}
	}
	return true
}

// Behind returns the captured partitions whose position has not reached
// their end, with how many records each still has to go; for progress
// reports.
func (p *Plan) Behind(positions map[Partition]int64) map[Partition]int64 {
	out := map[Partition]int64{}
	for tp, end := range p.ends {
		pos, ok := positions[tp]
		if !ok {
			out[tp] = -1
		} else if pos < end {
			out[tp] = end - pos
		}
	}
	return out
}

// Reset goes back to the first step, to run the plan again.
func (p *Plan) Reset() {
	p.step = 0
	p.ends = nil
}

// Advance completes the current step and moves to the next.
func (p *Plan) Advance() {
	if !p.Done() {
		p.step++
	}
	p.ends = nil
}
