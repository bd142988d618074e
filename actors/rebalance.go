package actors

import (
	"context"
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
)

// OnAssigned starts the actors of newly assigned partitions. It is a
// kgo.OnPartitionsAssigned callback.
func (e *Engine) OnAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	e.cfg.Observer.Rebalanced("assigned", countPartitions(assigned))
	tps := sortedPartitions(assigned)
	e.mu.Lock()
	e.mu.joined = true
	e.mu.starting += len(tps)
	closing := e.mu.closing
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.mu.starting -= len(tps)
		e.mu.Unlock()
	}()
	if closing {
		return
	}
	if len(e.cfg.Steps) > 0 {
		done := make(chan struct{})
		e.system.Root.Send(e.root, &assigning{tps: tps, done: done})
		// The engine actor answers at once (it does no I/O in Receive)
		// unless Run has stopped it, which closes stopped.
		select {
		case <-done:
		case <-e.stopped:
			return
		}
	}
	for _, tp := range tps {
		if err := e.start(tp, cl); err != nil {
			e.fail(err)
			return
		}
	}
}

// start builds a partition's processor and starts its actors and, for a
// stateful one, its restore. It runs in OnAssigned and, for a stalled
// partition, on the fetch loop; Run's shutdown may begin meanwhile (the
// fetch loop lets rebalances through on its way out), so whether the
// partition joins the assignment or is stopped at once is decided under
// the lock the shutdown takes the assignment over with.
func (e *Engine) start(tp TopicPartition, cl *kgo.Client) error {
	e.mu.Lock()
	_, running := e.mu.parts[tp]
	closing := e.mu.closing
	e.mu.Unlock()
	if running || closing {
		return nil
	}
	proc, err := e.cfg.NewProcessor(tp)
	if err != nil {
		return fmt.Errorf("actors: starting %s: %w", tp, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stateful, _ := proc.(Stateful)
	p := &partition{
		tp:          tp,
		proc:        proc,
		stateful:    stateful,
		restoreDone: make(chan struct{}),
		flushedPos:  -1,
		ledger:      newLedger(stateful != nil),
		flow:        newFlow(tp, cl, e.cfg.MaxInFlight),
		ctx:         ctx,
		cancel:      cancel,
		fail:        e.fail,
		logger:      e.cfg.Logger.With("topic", tp.Topic, "partition", tp.Partition),
	}
	p.stepEnd.Store(-1)
	if stateful == nil {
		p.restored.Store(true)
		close(p.restoreDone)
	}
	if !e.spawn(p) {
		// Run has shut down and stopped the engine actor: the partition
		// never ran. Give its state back.
		cancel()
		if stateful != nil {
			close(p.restoreDone)
			e.closeState([]*partition{p})
		}
		return nil
	}
	e.startRestore(p)
	e.mu.Lock()
	if e.mu.closing {
		e.mu.Unlock()
		// The shutdown took the assignment over while the processor was
		// being built; it does not know this partition, so stop it here,
		// as it would have.
		p.logger.Info("partition assigned as the worker shuts down: stopping it")
		p.stopping.Store(true)
		e.stopActors([]*partition{p})
		e.closeState([]*partition{p})
		p.flow.close()
		return nil
	}
	e.mu.parts[tp] = p
	e.mu.Unlock()
	p.logger.Info("partition assigned")
	return nil
}

// spawn has the engine actor spawn p's partition actor, and reports
// whether it did. The engine actor answers at once unless Run has stopped
// it, which closes stopped.
func (e *Engine) spawn(p *partition) bool {
	reply := make(chan struct{}, 1)
	e.system.Root.Send(e.root, &startPartition{part: p, reply: reply})
	select {
	case <-reply:
		return true
	case <-e.stopped:
		select {
		case <-reply:
			return true
		default:
			return false
		}
	}
}

// startRestore runs a stateful partition's Restore on a goroutine the
// partition owns: it ends with the partition's context, and closeState
// waits for restoreDone before closing the state. The partition actor
// delivers nothing before it hears the outcome.
func (e *Engine) startRestore(p *partition) {
	if p.stateful == nil {
		return
	}
	go func() {
		defer close(p.restoreDone)
		err := p.stateful.Restore(p.ctx)
		e.system.Root.Send(p.pid, &restored{err: err})
	}()
}

// OnRevoked drains the revoked partitions, commits what they handled and
// stops their actors. It is a kgo.OnPartitionsRevoked callback.
func (e *Engine) OnRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	e.cfg.Observer.Rebalanced("revoked", countPartitions(revoked))
	parts, closing := e.take(revoked)
	if closing {
		// Run is draining every partition; let the group move on only
		// once that commit is done, so the next owner starts after it.
		select {
		case <-e.stopped:
		case <-ctx.Done():
		}
		return
	}
	e.stop(ctx, cl, parts, true)
}

// OnLost stops the lost partitions' actors without committing: another
// member may own them already. It is a kgo.OnPartitionsLost callback.
func (e *Engine) OnLost(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	e.cfg.Observer.Rebalanced("lost", countPartitions(lost))
	parts, _ := e.take(lost)
	e.stop(ctx, cl, parts, false)
}

// take removes the named partitions from the assignment.
func (e *Engine) take(m map[string][]int32) (parts []*partition, closing bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, tp := range sortedPartitions(m) {
		if p, ok := e.mu.parts[tp]; ok {
			parts = append(parts, p)
			delete(e.mu.parts, tp)
		}
	}
	return parts, e.mu.closing
}

// stop takes partitions out of service. With commit, in this order: stop
// delivering and let the record in progress finish, wait for the outputs of
// handled records, commit, stop the actors. Without commit (lost
// partitions), the handlers' context is cancelled at once.
func (e *Engine) stop(ctx context.Context, cl *kgo.Client, parts []*partition, commit bool) {
	if len(parts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.DrainTimeout)
	defer cancel()
	for _, p := range parts {
		p.stopping.Store(true)
		if !commit {
			p.cancel()
		}
	}
	if commit {
		e.drain(ctx, parts)
		if err := e.commit(ctx, cl, parts); err != nil {
			e.cfg.Logger.Warn("commit on revoke failed; the next owner re-handles from the last commit", "err", err)
		}
	}
	e.stopActors(parts)
	e.closeState(parts)
	for _, p := range parts {
		p.flow.close()
		next, committed := p.ledger.snapshot()
		p.logger.Info("partition released", "next_offset", next, "committed_offset", committed, "committed", commit)
	}
}

func countPartitions(m map[string][]int32) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

func sortedPartitions(m map[string][]int32) []TopicPartition {
	var tps []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			tps = append(tps, TopicPartition{Topic: t, Partition: p})
		}
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	return tps
}
