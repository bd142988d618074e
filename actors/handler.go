package actors

import (
	"context"
	"errors"
	"runtime/debug"

	"github.com/asynkron/protoactor-go/actor"
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
	for i, rec := range msg.records {
		if p.stopping.Load() {
			return &delivered{handled: i}
		}
		call.Record = rec
		var err error
		if msg.abandon != nil && msg.abandon.Offset == rec.Offset {
			err = p.proc.Abandon(&call, msg.abandon)
		} else {
			err = h.process(&call, i)
		}
		switch {
		case err == nil:
			p.ledger.handled(rec)
		case errors.Is(err, ErrInterrupted) || errors.Is(err, context.Canceled) && p.ctx.Err() != nil:
			return &delivered{handled: i}
		default:
			return &delivered{handled: i, fatal: err}
		}
	}
	return &delivered{handled: len(msg.records)}
}

func (h *handlerActor) process(call *Call, index int) error {
	defer func() {
		if v := recover(); v != nil {
			rec := call.Record
			panic(&recordPanic{index: index, err: &PanicError{
				Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
				Value: v, Stack: debug.Stack(),
			}})
		}
	}()
	return h.part.proc.Process(call)
}
