package actors

import (
	"context"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/modes"
)

// StepStatus describes a step plan's progress on this worker.
type StepStatus struct {
	// Steps is the plan; Step the index of the current step, len(Steps)
	// once every step is complete.
	Steps [][]string `json:"steps"`
	Step  int        `json:"step"`
	Done  bool       `json:"done"`
	// Ends are the end offsets captured when the current step began, by
	// "topic/partition"; Behind how many records each partition still has
	// to go (-1: not known yet).
	Ends   map[string]int64 `json:"ends,omitempty"`
	Behind map[string]int64 `json:"behind,omitempty"`
}

// runSteps begins the current step (capturing its end offsets) when it has
// not begun or the assignment changed under it, and moves on for as long as
// steps are complete.
func (a *engineActor) runSteps(cl *kgo.Client, parts []*partition) {
	ms := a.modes
	for ms.planActive() {
		step := map[TopicPartition]*partition{}
		for _, p := range parts {
			if ms.plan.InStep(p.tp.Topic) {
				step[p.tp] = p
			}
		}
		if ms.plan.Begun() && !sameKeys(step, ms.stepParts) {
			a.e.cfg.Logger.Info("assignment changed during a step: restarting it", "step", ms.plan.Step()+1)
			ms.plan.Restart()
			ms.gen++
		}
		if !ms.plan.Begun() && !a.beginStep(cl, step) {
			return
		}
		if !ms.plan.Reached(a.positions(cl, step)) {
			return
		}
		a.e.cfg.Logger.Info("step complete", "step", ms.plan.Step()+1, "of", len(a.e.cfg.Steps),
			"topics", ms.plan.Topics(), "partitions", len(step))
		a.e.cfg.Observer.StepCompleted(ms.plan.Step())
		for tp, p := range step {
			ms.covered[tp] = true
			p.stepEnd.Store(-1)
		}
		ms.plan.Advance()
		ms.gen++
		ms.stepParts, ms.starts = nil, nil
		if ms.plan.Done() {
			a.e.cfg.Logger.Info("every step complete: consuming every topic", "mode", a.e.cfg.Modes.Mode.String())
		}
	}
}

// replan forgets covered partitions no longer assigned and, once the plan
// is done, runs it again when a partition of a step topic arrived that no
// step read here: a worker that died mid-step leaves its partitions'
// backlog to whoever gets them, and their later steps' records must still
// wait for it.
func (a *engineActor) replan(parts []*partition) {
	ms := a.modes
	assigned := make(map[TopicPartition]bool, len(parts))
	tps := make([]TopicPartition, len(parts))
	for i, p := range parts {
		assigned[p.tp] = true
		tps[i] = p.tp
	}
	maps.DeleteFunc(ms.covered, func(tp TopicPartition, _ bool) bool { return !assigned[tp] })
	a.replanFor(tps)
}

// replanFor runs a finished plan again if tps, partitions assigned now or
// about to start, include one of a step topic that no step read here. The
// Engine asks before it starts newly assigned partitions, so that none of
// them handles a record before the plan holds it back.
func (a *engineActor) replanFor(tps []TopicPartition) {
	ms := a.modes
	if ms.plan == nil || !ms.plan.Done() {
		return
	}
	var gained []string
	for _, tp := range tps {
		if a.stepTopic(tp.Topic) && !ms.covered[tp] {
			gained = append(gained, tp.String())
		}
	}
	if len(gained) == 0 {
		return
	}
	slices.Sort(gained)
	a.e.cfg.Logger.Info("partitions of step topics assigned after the step plan finished: running it again", "partitions", gained)
	ms.plan.Reset()
	ms.gen++
}

// stepTopic reports whether a step of the plan names topic.
func (a *engineActor) stepTopic(topic string) bool {
	for _, st := range a.e.cfg.Steps {
		if slices.Contains(st, topic) {
			return true
		}
	}
	return false
}

// beginStep begins the current step with the end and start offsets of
// its partitions, once a listing of them has come back: the first call
// starts the listing (on a goroutine, see listStep) and reports false, as
// do the calls until its answer arrives; a failed listing is tried again
// at the next review.
func (a *engineActor) beginStep(cl *kgo.Client, step map[TopicPartition]*partition) bool {
	ms := a.modes
	ends := map[modes.Partition]int64{}
	starts := map[TopicPartition]int64{}
	if len(step) > 0 {
		l := ms.listed
		if l == nil || l.gen != ms.gen || !sameKeys(step, l.parts) {
			a.listStep(cl, step)
			return false
		}
		ms.listed = nil
		for tp := range step {
			end, ok1 := l.ends[tp]
			start, ok2 := l.starts[tp]
			if !ok1 || !ok2 {
				a.e.cfg.Logger.Warn("a step's partition is missing from the listed offsets; retrying", "partition", tp.String())
				return false
			}
			ends[modes.Partition(tp)] = end
			starts[tp] = start
		}
	}
	ms.plan.Begin(ends)
	ms.stepParts = make(map[TopicPartition]bool, len(step))
	for tp, p := range step {
		ms.stepParts[tp] = true
		p.stepEnd.Store(ends[modes.Partition(tp)])
		// A partial batch already queued may now be complete.
		a.e.system.Root.Send(p.pid, &batchDue{})
	}
	ms.starts = starts
	var total int64
	positions := a.positions(cl, step)
	for tp, end := range ends {
		total += max(0, end-positions[tp])
	}
	a.e.cfg.Logger.Info("step began", "step", ms.plan.Step()+1, "of", len(a.e.cfg.Steps),
		"topics", ms.plan.Topics(), "partitions", len(step), "records_to_read", total)
	return true
}

// listStep lists the end and log start offsets of the step's partitions
// on a goroutine the Engine owns, unless a listing is in flight already;
// the answer comes back to the engine actor as a stepListed. The engine
// actor never waits on the broker itself: rebalance callbacks wait for it.
func (a *engineActor) listStep(cl *kgo.Client, step map[TopicPartition]*partition) {
	ms := a.modes
	if ms.listing {
		return
	}
	msg := &stepListed{gen: ms.gen, parts: make(map[TopicPartition]bool, len(step))}
	topics := map[string]bool{}
	for tp := range step {
		msg.parts[tp] = true
		topics[tp.Topic] = true
	}
	msg.topics = slices.Sorted(maps.Keys(topics))
	e := a.e
	ms.listing = e.goIO(func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, stepTimeout)
		defer cancel()
		msg.ends, msg.starts, msg.err = listOffsets(ctx, cl, msg.topics)
		if ctx.Err() != nil && e.io.ctx.Err() != nil {
			return // shutting down
		}
		e.system.Root.Send(e.root, msg)
	})
}

// onListed takes a listing's answer: a stale one (the plan moved on, or
// the shutdown began) is dropped; a current one begins the step at once.
func (a *engineActor) onListed(msg *stepListed) {
	ms := a.modes
	ms.listing = false
	if msg.gen != ms.gen || !ms.planActive() {
		return
	}
	if msg.err != nil {
		a.e.cfg.Logger.Warn("listing the offsets of a step's topics; retrying", "step", ms.plan.Step()+1, "topics", msg.topics, "err", msg.err)
		return
	}
	ms.listed = msg
	a.evaluate()
}

// listOffsets lists the end and log start offsets of every partition of
// topics.
func listOffsets(ctx context.Context, cl *kgo.Client, topics []string) (ends, starts map[TopicPartition]int64, err error) {
	adm := kadm.NewClient(cl)
	endList, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = endList.Error()
	}
	var startList kadm.ListedOffsets
	if err == nil {
		startList, err = adm.ListStartOffsets(ctx, topics...)
	}
	if err == nil {
		err = startList.Error()
	}
	if err != nil {
		return nil, nil, err
	}
	ends, starts = map[TopicPartition]int64{}, map[TopicPartition]int64{}
	endList.Each(func(o kadm.ListedOffset) { ends[TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset })
	startList.Each(func(o kadm.ListedOffset) { starts[TopicPartition{Topic: o.Topic, Partition: o.Partition}] = o.Offset })
	return ends, starts, nil
}

// positions returns where each of parts stands for a step: the next
// record it would handle, at least the group's commit and the log start
// captured when the step began.
func (a *engineActor) positions(cl *kgo.Client, parts map[TopicPartition]*partition) map[modes.Partition]int64 {
	group := cl.CommittedOffsets() // a copy: once per call, not per partition
	out := make(map[modes.Partition]int64, len(parts))
	for tp, p := range parts {
		next, committed := p.ledger.snapshot()
		pos := max(next, committed, a.modes.starts[tp])
		if eo, ok := group[tp.Topic][tp.Partition]; ok {
			pos = max(pos, eo.Offset)
		}
		out[modes.Partition(tp)] = pos
	}
	return out
}

// pauseForPlan pauses fetching of the topics the plan holds back and
// resumes the ones it no longer does.
func (a *engineActor) pauseForPlan(cl *kgo.Client) {
	ms := a.modes
	want := ms.plan.Paused(a.e.cfg.Topics)
	var resume []string
	for _, t := range ms.paused {
		if !slices.Contains(want, t) {
			resume = append(resume, t)
		}
	}
	var pause []string
	for _, t := range want {
		if !slices.Contains(ms.paused, t) {
			pause = append(pause, t)
		}
	}
	if len(resume) > 0 {
		cl.ResumeFetchTopics(resume...)
	}
	if len(pause) > 0 {
		cl.PauseFetchTopics(pause...)
	}
	ms.paused = want
}

// publishSteps makes the plan's progress readable by Engine.Steps.
func (a *engineActor) publishSteps(cl *kgo.Client, parts []*partition) {
	ms := a.modes
	st := &StepStatus{Steps: ms.plan.Steps(), Step: ms.plan.Step(), Done: ms.plan.Done()}
	if ms.plan.Begun() {
		st.Ends, st.Behind = map[string]int64{}, map[string]int64{}
		step := map[TopicPartition]*partition{}
		for _, p := range parts {
			if ms.stepParts[p.tp] {
				step[p.tp] = p
			}
		}
		positions := a.positions(cl, step)
		for tp, end := range ms.plan.Ends() {
			st.Ends[TopicPartition(tp).String()] = end
		}
		for tp, n := range ms.plan.Behind(positions) {
			st.Behind[TopicPartition(tp).String()] = n
		}
	}
	a.e.mu.Lock()
	a.e.mu.steps = st
	a.e.mu.Unlock()
}

// Steps describes the step plan's progress; nil without one. Safe for
// concurrent use.
func (e *Engine) Steps() *StepStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.steps == nil {
		return nil
	}
	st := *e.mu.steps
	return &st
}

func sameKeys[V any](a map[TopicPartition]V, b map[TopicPartition]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}
