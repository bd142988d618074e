package actors

import (
	"context"
	"errors"

	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchLoop polls and hands each partition's records to its actor. With
// kgo.BlockRebalanceOnPoll, rebalance callbacks run only between a poll's
// dispatch and the next poll, so no record polled before a revoke is
// dispatched after it.
//
// Stalled partitions are restarted here too, after a poll's dispatch and
// before rebalances are allowed again: no polled record is then waiting to
// be dispatched, no rebalance can run, and no commit is in progress, which
// is what resetting a partition's fetch position needs.
func (e *Engine) fetchLoop(ctx context.Context, cl *kgo.Client) {
	for {
		pollCtx, cancel := context.WithCancel(ctx)
		e.mu.Lock()
		e.mu.pollCancel = cancel
		heal := len(e.mu.heals) > 0
		e.mu.Unlock()
		if heal {
			cancel() // heals are waiting: take the poll's turn at once
		}
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			cl.AllowRebalance()
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
				e.cfg.Logger.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
			}
		})
		e.mu.Lock()
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			p := e.mu.parts[TopicPartition{Topic: fp.Topic, Partition: fp.Partition}]
			if p == nil {
				return
			}
			if len(fp.Records) == 0 {
				p.flow.observe(fp.HighWatermark)
				return
			}
			p.flow.add(len(fp.Records), fp.Records[0].Offset, fp.HighWatermark)
			e.system.Root.Send(p.pid, &fetched{records: fp.Records})
		})
		heals := e.mu.heals
		e.mu.heals = nil
		e.mu.Unlock()
		for _, tp := range heals {
			e.heal(cl, tp)
		}
		cl.AllowRebalance()
	}
}
