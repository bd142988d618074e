package actors

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// stallRecord counts a partition's stalls over the Engine's life.
type stallRecord struct {
	count int
	last  time.Time
}

// progress is what the watch loop last saw of a partition. Only the watch
// loop touches it.
type progress struct {
	next  int64
	since time.Time
}

// watchLoop finds stalled partitions: records wait (the high watermark is
// past the next offset to handle) and none was handled for StallTimeout,
// whether the handler is stuck or fetching is. It hands them to the fetch
// loop, which restarts them. Fetch responses report high watermarks, but a
// stuck fetch reports none, so every half StallTimeout it also asks the
// brokers for the partitions' end offsets.
func (e *Engine) watchLoop(ctx context.Context, cl *kgo.Client) {
	every := max(min(e.cfg.StallTimeout/4, 5*time.Second), 10*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	var listed time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		e.mu.Lock()
		parts := slices.Collect(maps.Values(e.mu.parts))
		e.mu.Unlock()
		if now.Sub(listed) >= e.cfg.StallTimeout/2 {
			listed = now
			e.observeEndOffsets(ctx, cl, parts)
		}
		var stalled []TopicPartition
		for _, p := range parts {
			next, _ := p.ledger.snapshot()
			_, _, first, hwm := p.flow.state()
			pos := next
			if pos < 0 {
				pos = first
			}
			// Records a step plan holds back are not stalled.
			waiting := hwm >= 0 && pos >= 0 && hwm > pos && !p.held.Load()
			if !waiting || next != p.watch.next || p.watch.since.IsZero() {
				p.watch = progress{next: next, since: now}
				continue
			}
			if now.Sub(p.watch.since) >= e.cfg.StallTimeout {
				stalled = append(stalled, p.tp)
				p.watch.since = now
			}
		}
		if len(stalled) == 0 {
			continue
		}
		e.mu.Lock()
		e.mu.heals = append(e.mu.heals, stalled...)
		cancelPoll := e.mu.pollCancel
		e.mu.Unlock()
		if cancelPoll != nil {
			cancelPoll()
		}
	}
}

// observeEndOffsets updates the partitions' high watermarks from the
// brokers. A failure is logged at debug level: the next round tries again,
// and fetch responses report high watermarks as well.
func (e *Engine) observeEndOffsets(ctx context.Context, cl *kgo.Client, parts []*partition) {
	if len(parts) == 0 {
		return
	}
	topics := map[string]bool{}
	for _, p := range parts {
		topics[p.tp.Topic] = true
	}
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, slices.Collect(maps.Keys(topics))...)
	if err != nil {
		e.cfg.Logger.Debug("listing end offsets for the stall watch", "err", err)
		return
	}
	for _, p := range parts {
		if o, ok := listed.Lookup(p.tp.Topic, p.tp.Partition); ok && o.Err == nil {
			p.flow.observe(o.Offset)
		}
	}
}

// heal restarts a stalled partition from what it handled: it commits that,
// abandons the stuck actors (a handler stuck in user code cannot be
// interrupted; its context is cancelled in case it listens), points the
// partition's fetching back at the first unhandled record, and starts new
// actors. It runs on the fetch loop between dispatch and AllowRebalance,
// with commits held off, as kgo's SetOffsets requires.
func (e *Engine) heal(cl *kgo.Client, tp TopicPartition) {
	e.mu.Lock()
	p := e.mu.parts[tp]
	if p == nil || e.mu.closing {
		e.mu.Unlock()
		return // revoked or shutting down meanwhile
	}
	delete(e.mu.parts, tp)
	rec := e.mu.stalls[tp]
	rec.count++
	rec.last = time.Now()
	e.mu.stalls[tp] = rec
	e.mu.Unlock()

	p.stopping.Store(true)
	p.cancel()
	e.system.Root.Stop(p.pid)
	p.flow.close()

	// Every holder of the commit lock gives it up within holdLimit; the
	// commit itself gets stepTimeout, as the final one does.
	lctx, lcancel := context.WithTimeout(context.Background(), e.holdLimit())
	locked := e.lockCommit(lctx) == nil
	lcancel()
	if locked {
		ctx, cancel := context.WithTimeout(context.Background(), stepTimeout)
		if err := e.commitLocked(ctx, cl, []*partition{p}); err != nil {
			p.logger.Warn("commit before restarting a stalled partition failed", "err", err)
		}
		cancel()
	} else {
		p.logger.Error("a commit held the commit lock past its deadline; restarting the stalled partition without committing", "timeout", e.holdLimit())
	}
	resume := e.resumeOffset(cl, p)
	if resume.Offset >= 0 {
		cl.SetOffsets(map[string]map[int32]kgo.EpochOffset{tp.Topic: {tp.Partition: resume}})
	}
	if locked {
		e.unlockCommit()
	}

	e.closeState([]*partition{p})
	e.cfg.Observer.Stalled(tp)
	_, _, _, hwm := p.flow.state()
	p.logger.Error("partition stalled: no record handled with records waiting; restarting it",
		"stall_timeout", e.cfg.StallTimeout, "resume_offset", resume.Offset, "high_watermark", hwm, "stalls", rec.count)
	if err := e.start(tp, cl); err != nil {
		e.fail(err)
	}
}

// resumeOffset is where a restarted partition starts: after what it
// handled, else the group's commit, else its first fetched record; -1 when
// none is known.
func (e *Engine) resumeOffset(cl *kgo.Client, p *partition) kgo.EpochOffset {
	if eo, _ := p.ledger.committable(); eo.Offset >= 0 {
		return eo
	}
	if eo, ok := cl.CommittedOffsets()[p.tp.Topic][p.tp.Partition]; ok {
		return eo
	}
	_, _, first, _ := p.flow.state()
	return kgo.EpochOffset{Epoch: -1, Offset: first}
}
