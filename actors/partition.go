package actors

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/modes"
)

// partition is what the Engine, the partition actor and the handler actor
// share about one assigned partition. Its fields are set before the actors
// start and not reassigned after; the pointed-to ledger and flow carry their
// own locks.
type partition struct {
	tp       TopicPartition
	proc     Processor
	ledger   *ledger
	flow     *flow
	ctx      context.Context // handler calls; cancelled when stopped without draining
	cancel   context.CancelFunc
	stopping atomic.Bool // set by the Engine; the handler actor checks it between records
	fail     func(error) // stops the Engine with an error
	logger   *slog.Logger
	pid      *actor.PID // the partition actor, once spawned
	watch    progress   // the stall watch's view; only watchLoop touches it

	// stateful is proc as a Stateful, or nil. restored is set once its
	// Restore succeeded; restoreDone is closed when the restore goroutine
	// has returned (at once for stateless partitions).
	stateful    Stateful
	restored    atomic.Bool
	restoreDone chan struct{}
	// flushedPos is the ledger position of the last Flush; only the
	// committer touches it, under the commit lock. closed is set under
	// that lock when the state closes: no commit touches the partition
	// after that.
	flushedPos int64
	closed     atomic.Bool

	// What the engine actor last decided for the partition, for status:
	// its mode (a modes.Mode), whether a step plan holds it back, and how
	// often its mode changed. The partition actor learns of changes by
	// setMode messages.
	mode       atomic.Int32
	held       atomic.Bool
	switches   atomic.Int32
	lastSwitch atomic.Pointer[ModeSwitch]
	// stepEnd is the end offset a running step must read the partition
	// to, -1 when none: a bulk batch that reaches it goes at once rather
	// than waiting for BulkMaxWait.
	stepEnd atomic.Int64
}

// lag is how many records the partition is behind its high watermark, -1
// while unknown.
func (p *partition) lag() int64 {
	next, _ := p.ledger.snapshot()
	_, _, first, hwm := p.flow.state()
	switch {
	case hwm < 0:
		return -1
	case next >= 0:
		return hwm - next
	case first >= 0:
		return hwm - first
	}
	return -1
}

// partitionActor orders one partition's records: it queues what the fetch
// loop sends, keeps one delivery outstanding at its handler actor, and
// supervises that actor, re-delivering from the record that panicked.
type partitionActor struct {
	part *partition
	cfg  *Config

	self     *actor.PID
	handler  *actor.PID
	queue    []*kgo.Record // fetched, not yet delivered
	inFlight []*kgo.Record // the outstanding delivery, if busy
	busy     bool
	halted   bool // a Processor asked to stop: deliver nothing more
	drained  []chan struct{}

	failOffset int64 // the record that last panicked
	failCount  int   // its consecutive panics
	lastPanic  *PanicError
	// A handler actor that panicked waits, suspended, for its restart:
	// restarting is that actor (nil when none waits), sup the actor's own
	// context to restart it with, restart the backoff timer, which sends
	// restartDue for restartGen.
	restarting *actor.PID
	sup        actor.Supervisor
	restart    *time.Timer
	restartGen int

	mode     modes.Mode  // Single or Bulk
	held     bool        // a step plan holds the records back
	queuedAt time.Time   // when the queue's oldest record arrived (bulk timing)
	due      *time.Timer // sends batchDue while a partial batch waits
}

func (a *partitionActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.failOffset = -1
		a.self = ctx.Self()
		a.mode, a.held = modes.Mode(a.part.mode.Load()), a.part.held.Load()
		a.handler = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor {
			return &handlerActor{part: a.part}
		}))
	case *restored:
		if msg.err != nil {
			if a.part.ctx.Err() == nil {
				a.halted = true
				a.dropQueue()
				a.part.fail(fmt.Errorf("actors: restoring %s: %w", a.part.tp, msg.err))
			}
			a.notifyDrained()
			return
		}
		a.part.restored.Store(true)
		a.deliverNext(ctx.ActorSystem())
	case *fetched:
		if a.halted || a.part.stopping.Load() {
			a.part.flow.release(len(msg.records))
			return
		}
		if len(a.queue) == 0 {
			a.queuedAt = time.Now()
		}
		a.queue = append(a.queue, msg.records...)
		a.deliverNext(ctx.ActorSystem())
	case *setMode:
		a.mode, a.held = msg.mode, msg.held
		a.deliverNext(ctx.ActorSystem())
	case *batchDue:
		a.due = nil
		a.deliverNext(ctx.ActorSystem())
	case *delivered:
		a.onDelivered(ctx.ActorSystem(), msg)
	case *restartDue:
		if msg.gen == a.restartGen {
			a.restartHandler()
		}
	case *drain:
		a.dropQueue()
		// A handler waiting out its backoff holds the delivery that
		// panicked: restart it now, and it returns that unhandled, as
		// the partition is stopping.
		a.restartHandler()
		if a.busy {
			a.drained = append(a.drained, msg.done)
		} else {
			close(msg.done)
		}
	case *actor.Stopping:
		if a.restart != nil {
			a.restart.Stop()
		}
		if a.due != nil {
			a.due.Stop()
		}
	}
}

func (a *partitionActor) onDelivered(system *actor.ActorSystem, msg *delivered) {
	a.busy = false
	a.part.flow.release(msg.handled)
	if a.failCount > 0 && msg.handled > 0 && a.inFlight[msg.handled-1].Offset >= a.failOffset {
		a.failCount = 0 // the record that panicked is behind us
	}
	rest := a.inFlight[msg.handled:]
	a.inFlight = nil
	if msg.requeue && msg.fatal == nil && !a.part.stopping.Load() {
		a.queue = slices.Concat(rest, a.queue)
		rest = nil
	}
	if msg.fatal != nil {
		a.halted = true
		a.part.flow.release(len(rest))
		a.dropQueue()
		a.part.fail(msg.fatal)
	} else if len(rest) > 0 {
		// Cut short because the partition is stopping.
		a.part.flow.release(len(rest))
	}
	if a.part.stopping.Load() || a.halted {
		a.notifyDrained()
		return
	}
	a.deliverNext(system)
}

// deliverNext hands the handler actor its next delivery, if it is idle:
// in single mode every queued record; in bulk mode one batch of up to
// BulkMaxRecords, once it is full or its oldest record has waited
// BulkMaxWait.
func (a *partitionActor) deliverNext(system *actor.ActorSystem) {
	if a.busy || a.halted || a.held || len(a.queue) == 0 || !a.part.restored.Load() {
		return
	}
	msg := &deliver{records: a.queue}
	if a.mode == modes.Bulk {
		n := min(len(a.queue), a.cfg.BulkMaxRecords)
		if n < a.cfg.BulkMaxRecords && !a.batchDueEarly() {
			if wait := a.cfg.BulkMaxWait - time.Since(a.queuedAt); wait > 0 {
				if a.due == nil {
					a.due = time.AfterFunc(wait, func() { system.Root.Send(a.self, &batchDue{}) })
				}
				return
			}
		}
		msg = &deliver{records: a.queue[:n:n], bulk: true}
		a.queue = a.queue[n:]
		if len(a.queue) > 0 {
			a.queuedAt = time.Now()
		}
	} else {
		a.queue = nil
	}
	if a.failCount >= a.cfg.MaxAttempts && msg.records[0].Offset == a.failOffset {
		msg.abandon = a.lastPanic
	}
	a.inFlight, a.busy = msg.records, true
	system.Root.Send(a.handler, msg)
}

// batchDueEarly reports whether a partial bulk batch need not wait for
// BulkMaxWait: the queue reaches the end offset a step must read to, or,
// in auto mode, the partition's high watermark (bulk is there to catch up;
// caught up, waiting only adds latency). Forced bulk waits, to fill its
// batches.
func (a *partitionActor) batchDueEarly() bool {
	next := a.queue[len(a.queue)-1].Offset + 1
	if end := a.part.stepEnd.Load(); end >= 0 && next >= end {
		return true
	}
	if a.cfg.Modes.Mode != modes.Auto {
		return false
	}
	_, _, _, hwm := a.part.flow.state()
	return hwm >= 0 && next >= hwm
}

func (a *partitionActor) dropQueue() {
	a.part.flow.release(len(a.queue))
	a.queue = nil
}

func (a *partitionActor) notifyDrained() {
	for _, done := range a.drained {
		close(done)
	}
	a.drained = nil
}

// HandleFailure makes the partition actor its handler actor's supervisor
// (protoactor calls it on this actor's own mailbox goroutine). A handler
// panic restarts the handler actor after an exponential backoff and
// re-delivers from the record that panicked; that record goes to
// Processor.Abandon once it has panicked Config.MaxAttempts times.
func (a *partitionActor) HandleFailure(system *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason, message any) {
	rp, ok := reason.(*recordPanic)
	d, isDeliver := message.(*deliver)
	if !ok || !isDeliver {
		// Not a handler panic: a defect of ours. Stop rather than guess.
		a.halted, a.busy = true, false
		a.part.fail(fmt.Errorf("actors: handler actor of %s failed: %v", a.part.tp, reason))
		sup.StopChildren(child)
		a.notifyDrained()
		return
	}
	a.busy = false
	a.part.flow.release(rp.index)
	a.inFlight = nil
	rest := d.records[rp.index:]
	if rp.err.Offset == a.failOffset {
		a.failCount++
	} else {
		a.failOffset, a.failCount = rp.err.Offset, 1
	}
	rp.err.Attempts = a.failCount
	a.lastPanic = rp.err
	a.cfg.Observer.HandlerRestarted(a.part.tp)
	a.part.logger.Warn("handler panicked; restarting it", "offset", rp.err.Offset,
		"attempt", a.failCount, "max_attempts", a.cfg.MaxAttempts, "panic", fmt.Sprint(rp.err.Value))

	if a.part.stopping.Load() {
		a.part.flow.release(len(rest))
		sup.RestartChildren(child)
		a.notifyDrained()
		return
	}
	a.queue = slices.Concat(rest, a.queue)
	delay := backoff(a.cfg.Backoff, a.cfg.MaxBackoff, a.failCount)
	if a.restart != nil {
		a.restart.Stop()
	}
	// The timer only sends a message: the restart itself is the actor's
	// to make, on its own goroutine, and a drain may make it sooner.
	a.restarting, a.sup = child, sup
	a.restartGen++
	gen, self := a.restartGen, a.self
	a.restart = time.AfterFunc(delay, func() { system.Root.Send(self, &restartDue{gen: gen}) })
	// The handler's mailbox stays suspended until the restart, so this
	// delivery waits there for it.
	a.deliverNext(system)
}

// restartHandler restarts the handler actor waiting for its restart, if
// one is.
func (a *partitionActor) restartHandler() {
	if a.restarting == nil {
		return
	}
	if a.restart != nil {
		a.restart.Stop()
	}
	a.sup.RestartChildren(a.restarting)
	a.restarting = nil
}

// backoff is base doubled per failure after the first, capped at max.
func backoff(base, max time.Duration, failures int) time.Duration {
	d := base
	for i := 1; i < failures && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}
