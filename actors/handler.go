package actors

import (
	"context"
	"errors"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/modes"
)

// handlerActor runs the user's code for one partition. It keeps no state of
// its own across messages, so a restart after a panic loses nothing.
type handlerActor struct {
	part *partition
}

func (h *handlerActor) Receive(ctx actor.Context) {
	if msg, ok := ctx.Message().(*deliver); ok {
		ctx.Send(ctx.Parent(), h.run(msg))
	}
}

// run handles msg's records in order until one stops it. A handler panic
// is re-raised as a *recordPanic for the partition actor's supervision.
func (h *handlerActor) run(msg *deliver) *delivered {
	p := h.part
	call := Call{Ctx: p.ctx, ledger: p.ledger, onFail: p.fail}
	if msg.bulk {
		call.Batch = msg.records
		if bp, ok := p.proc.(BatchProcessor); ok {
			return h.runBatch(bp, &call, msg)
		}
	}
	for i, rec := range msg.records {
		if p.stopping.Load() {
			return &delivered{handled: i}
		}
		if !msg.bulk && i > 0 && (modes.Mode(p.mode.Load()) != modes.Single || p.held.Load()) {
			// The engine changed the partition's mode: the rest goes
			// back to the partition actor to be delivered the new way.
			return &delivered{handled: i, requeue: true}
		}
		call.Record = rec
		var err error
		if msg.abandon != nil && msg.abandon.Offset == rec.Offset {
			err = p.proc.Abandon(&call, msg.abandon)
		} else {
			err = h.process(i, rec, func() error { return p.proc.Process(&call) })
		}
		if d := h.result(err, i); d != nil {
			return d
		}
		if !msg.bulk {
			p.ledger.handled(rec)
		}
	}
	if msg.bulk {
		// A batch is done only once all of it is.
		p.ledger.handled(msg.records[len(msg.records)-1])
	}
	return &delivered{handled: len(msg.records)}
}

// runBatch hands a whole batch to a BatchProcessor.
func (h *handlerActor) runBatch(bp BatchProcessor, call *Call, msg *deliver) *delivered {
	p := h.part
	if p.stopping.Load() {
		return &delivered{}
	}
	first := msg.records[0]
	call.Record = first
	var err error
	if msg.abandon != nil && msg.abandon.Offset == first.Offset {
		err = bp.AbandonBatch(call, msg.abandon)
	} else {
		err = h.process(0, first, func() error { return bp.ProcessBatch(call) })
	}
	if d := h.result(err, 0); d != nil {
		return d
	}
	p.ledger.handled(msg.records[len(msg.records)-1])
	return &delivered{handled: len(msg.records)}
}

// result turns a Processor's error for the record at index into the
// delivery's end: nil to go on, else what to report.
func (h *handlerActor) result(err error, index int) *delivered {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrInterrupted) || errors.Is(err, context.Canceled) && h.part.ctx.Err() != nil:
		return &delivered{handled: index}
	default:
		return &delivered{handled: index, fatal: err}
	}
}

// process runs fn, the handling of the record at index (rec), re-raising a
// panic as a *recordPanic that names it.
func (h *handlerActor) process(index int, rec *kgo.Record, fn func() error) error {
	defer func() {
		if v := recover(); v != nil {
			panic(&recordPanic{index: index, err: &PanicError{
				Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
				Value: v, Stack: debug.Stack(),
			}})
		}
	}()
	return fn()
}
