package actors

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"
)

// shutdown runs the shutdown order. Each step is bounded by DrainTimeout.
func (e *Engine) shutdown(ctx context.Context, cl *kgo.Client) error {
	// 1. Stop fetching: the fetch loop has returned before this runs.
	e.mu.Lock()
	e.mu.closing = true
	parts := slices.Collect(maps.Values(e.mu.parts))
	clear(e.mu.parts)
	e.mu.Unlock()
	// No broker call of the engine actor starts after closing is set.
	e.io.cancel()
	e.io.wg.Wait()

	// The caller's ctx is cancelled by now on a requested shutdown; each
	// step below gets its own deadline, so one stuck step cannot starve
	// the ones after it.
	base := context.WithoutCancel(ctx)
	e.cfg.Logger.Info("shutting down", "partitions", len(parts))

	// 2. Drain partition actors: the record in progress finishes, nothing
	//    new starts. 3. Wait for produced records to be acknowledged.
	for _, p := range parts {
		p.stopping.Store(true)
	}
	dctx, dcancel := context.WithTimeout(base, e.cfg.DrainTimeout)
	e.drain(dctx, parts)
	dcancel()
	// 4. Commit what is done. Not when stopping to rejoin a group that
	//    no longer lists this member: the coordinator refuses its commit
	//    and its leave, and franz-go holds both back behind the join in
	//    flight until their deadlines.
	rejoin, listed := e.rejoining()
	outside := rejoin && !listed
	if outside {
		e.cfg.Logger.Info("rejoining a group that no longer lists this member: not committing nor leaving it; the partitions' next owners handle from the last commit")
	} else {
		cctx, ccancel := context.WithTimeout(base, stepTimeout)
		if err := e.commit(cctx, cl, parts); err != nil {
			e.cfg.Logger.Warn("final commit failed; records since the last commit will be handled again", "err", err)
		}
		ccancel()
	}
	// 5. Stores were checkpointed by that commit (Stateful.Committed).
	// 6. Stop the actors, bottom-up, then the actor system.
	e.stopActors(parts)
	//    Then close the partitions' state (stores are checkpointed after
	//    each commit; closing flushes them to disk).
	e.closeState(parts)
	// Every live partition is stopped by now; what may remain under the
	// engine actor are partitions abandoned while stalled, whose handler
	// is stuck in user code. Do not wait for those.
	e.system.Root.Stop(e.root)
	e.system.Shutdown()
	close(e.stopped)
	// 7. Leave the group so the partitions move at once; the caller then
	//    closes the client (see LeftGroup).
	if !outside {
		lctx, lcancel := context.WithTimeout(base, stepTimeout)
		err := cl.LeaveGroupContext(lctx)
		lcancel()
		if err != nil {
			e.cfg.Logger.Warn("leaving the group did not finish; the client is closed without waiting for it", "err", err, "timeout", stepTimeout)
		}
		e.mu.Lock()
		e.mu.left = err == nil
		e.mu.Unlock()
	}

	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.cause
}

// LeftGroup reports whether Run's shutdown finished leaving the group. When
// it did not (the leave timed out, or the member was rejoining a group that
// no longer listed it), a JoinGroup or SyncGroup may still be in flight, and
// franz-go's Close waits for it: it sends them with the client's context,
// bounded only by the request timeout (rebalance timeout plus 10s). Cancel
// that context (kgo.WithContext) before closing the client then. Safe for
// concurrent use.
func (e *Engine) LeftGroup() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.left
}

// stepTimeout bounds one step that talks to the broker: a shutdown step,
// a stalled partition's commit, a listing of offsets, and (with
// DrainTimeout) a periodic commit.
const stepTimeout = 10 * time.Second

// stopActors stops partition actors (and their handler actors) in
// parallel. A handler stuck in user code past the drain deadline cannot be
// interrupted; protoactor's stop future gives up on it after 10s and the
// shutdown goes on without it.
func (e *Engine) stopActors(parts []*partition) {
	futures := make([]*actor.Future, len(parts))
	for i, p := range parts {
		p.cancel()
		futures[i] = e.system.Root.StopFuture(p.pid)
	}
	for i, f := range futures {
		if err := f.Wait(); err != nil {
			parts[i].logger.Error("partition actors did not stop; a handler is still running", "err", err)
		}
	}
}

// drain waits, bounded by ctx, for the partitions' handler actors to go
// idle and for their handled records' outputs to be acknowledged.
func (e *Engine) drain(ctx context.Context, parts []*partition) {
	dones := make([]chan struct{}, len(parts))
	for i, p := range parts {
		dones[i] = make(chan struct{})
		e.system.Root.Send(p.pid, &drain{done: dones[i]})
	}
	for i, p := range parts {
		select {
		case <-dones[i]:
		case <-ctx.Done():
			p.logger.Warn("drain deadline passed with a record still in its handler", "timeout", e.cfg.DrainTimeout)
			p.cancel()
			continue
		}
		if p.ledger.outputs.Wait(ctx) != nil {
			p.logger.Warn("drain deadline passed with produced records unacknowledged", "timeout", e.cfg.DrainTimeout)
		}
	}
}

// closeState closes the state of stopped partitions, once their restore
// goroutine has returned and no commit uses it: a commit that took the
// partitions before they were stopped may still be flushing them. Marking
// them closed under the commit lock waits for such a commit to end, and
// keeps every later one off them. The wait is bounded by holdLimit; past
// it (a Flush that ignores its context) the state is closed anyway.
func (e *Engine) closeState(parts []*partition) {
	var stateful []*partition
	for _, p := range parts {
		if p.stateful == nil {
			continue
		}
		p.cancel()
		<-p.restoreDone
		stateful = append(stateful, p)
	}
	if len(stateful) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), e.holdLimit())
	locked := e.lockCommit(ctx) == nil
	cancel()
	if !locked {
		e.cfg.Logger.Error("a commit held the partitions' state past its deadline; closing it anyway", "timeout", e.holdLimit())
	}
	for _, p := range stateful {
		p.closed.Store(true)
	}
	if locked {
		e.unlockCommit()
	}
	for _, p := range stateful {
		if err := p.stateful.Close(); err != nil {
			p.logger.Warn("closing partition state", "err", err)
		}
	}
}
