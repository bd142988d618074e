package actors

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The commit lock serializes commits, and keeps them apart from what must
// not run during one: closing a partition's state, and resetting a
// stalled partition's fetch position. Every holder works under a deadline
// (a periodic commit: commitTimeout; a revoke's: the revoke's; the final
// one and a stalled partition's: stepTimeout), so that in a broker outage
// a commit gives up rather than holding the lock for as long as the
// outage lasts, and a wait for the lock is bounded by holdLimit.

// lockCommit takes the commit lock, or gives up when ctx ends.
func (e *Engine) lockCommit(ctx context.Context) error {
	select {
	case e.commitSem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// unlockCommit releases the commit lock.
func (e *Engine) unlockCommit() { <-e.commitSem }

// commitTimeout bounds one periodic commit, its flush included: a commit
// cut short is retried at the next interval. It is at most DrainTimeout,
// so that a revoke, which waits that long for its drain and commit, finds
// the lock free in time to commit too.
func (e *Engine) commitTimeout() time.Duration { return min(stepTimeout, e.cfg.DrainTimeout) }

// holdLimit is the longest any holder keeps the commit lock.
func (e *Engine) holdLimit() time.Duration { return max(stepTimeout, e.cfg.DrainTimeout) }

// commit commits the committable offsets of parts, synchronously, within
// ctx: waiting for a commit in progress included. It is the only place
// offsets are committed.
func (e *Engine) commit(ctx context.Context, cl *kgo.Client, parts []*partition) error {
	if err := e.lockCommit(ctx); err != nil {
		return fmt.Errorf("actors: commit: waiting for the commit in progress: %w", err)
	}
	defer e.unlockCommit()
	return e.commitLocked(ctx, cl, parts)
}

// commitLocked is commit with the commit lock held. Stateful partitions
// flush their state first; what they may commit is capped at what the
// flush made durable. Partitions whose state was closed meanwhile (revoked
// while this commit waited for the lock) are left out: they are no longer
// this worker's to commit.
func (e *Engine) commitLocked(ctx context.Context, cl *kgo.Client, parts []*partition) error {
	parts = slices.DeleteFunc(slices.Clone(parts), func(p *partition) bool { return p.closed.Load() })
	e.flushState(ctx, parts)
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	byTP := make(map[TopicPartition]*partition)
	for _, p := range parts {
		eo, ok := p.ledger.committable()
		if !ok {
			continue
		}
		if offsets[p.tp.Topic] == nil {
			offsets[p.tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		offsets[p.tp.Topic][p.tp.Partition] = eo
		byTP[p.tp] = p
	}
	if len(offsets) == 0 {
		return nil
	}
	var errs []error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, t := range resp.Topics {
			for _, rp := range t.Partitions {
				tp := TopicPartition{Topic: t.Topic, Partition: rp.Partition}
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", tp, err))
					continue
				}
				if p := byTP[tp]; p != nil {
					p.ledger.markCommitted(offsets[t.Topic][rp.Partition].Offset)
					if p.stateful != nil {
						if err := p.stateful.Committed(); err != nil {
							errs = append(errs, fmt.Errorf("%s: after commit: %w", tp, err))
						}
					}
				}
			}
		}
	})
	if len(errs) > 0 {
		err := fmt.Errorf("actors: commit: %w", errors.Join(errs...))
		e.cfg.Observer.Committed(len(byTP), err)
		return err
	}
	e.cfg.Observer.Committed(len(byTP), nil)
	return nil
}

// flushState flushes the state of stateful partitions that handled records
// since their last flush, and raises their commit limit to what is now
// durable. A failed flush stops the Engine: the partition's changes since
// its last flush may be lost, so nothing past it may be committed. Called
// with the commit lock held.
func (e *Engine) flushState(ctx context.Context, parts []*partition) {
	for _, p := range parts {
		if p.stateful == nil || !p.restored.Load() {
			continue
		}
		pos := p.ledger.nextOffset.Load()
		if pos < 0 || pos <= p.flushedPos {
			continue
		}
		if err := p.stateful.Flush(ctx); err != nil {
			if ctx.Err() == nil {
				e.fail(fmt.Errorf("actors: %s: flushing state: %w", p.tp, err))
			}
			continue
		}
		p.flushedPos = pos
		p.ledger.limit.Store(pos)
	}
}

// commitLoop commits every CommitInterval, and sooner for stateful
// partitions whose state holds more unflushed changes than it should
// (Stateful.Full): that bounds the memory of their write-back caches.
func (e *Engine) commitLoop(ctx context.Context, cl *kgo.Client) {
	t := time.NewTicker(e.cfg.CommitInterval)
	defer t.Stop()
	full := time.NewTicker(min(e.cfg.CommitInterval, fullCheckInterval))
	defer full.Stop()
	for {
		var all bool
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			all = true
		case <-full.C:
		}
		e.mu.Lock()
		parts := slices.Collect(maps.Values(e.mu.parts))
		e.mu.Unlock()
		if !all {
			parts = slices.DeleteFunc(parts, func(p *partition) bool {
				return p.stateful == nil || !p.restored.Load() || !p.stateful.Full()
			})
		}
		if len(parts) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, e.commitTimeout())
		if err := e.commit(cctx, cl, parts); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("periodic commit failed; retrying next interval", "err", err, "timeout", e.commitTimeout())
		}
		cancel()
	}
}

// fullCheckInterval is how often the committer asks stateful partitions
// whether their unflushed state is over its bound.
const fullCheckInterval = 100 * time.Millisecond
