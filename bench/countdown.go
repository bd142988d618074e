package main

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kadm"
)

// countdown tells when every record of a topic was handled: it counts the
// records of each partition separately, so that handlers of different
// partitions do not contend for one counter (on 2 cores a shared atomic
// cost a tenth of the single scenario's CPU), and closes done when the
// last partition reaches its end. add is safe for concurrent use; calls
// for one partition must be serialized (the runtime's are).
type countdown struct {
	parts []paddedCount
	ends  []int64
	left  atomic.Int64 // partitions not at their end yet
	done  chan struct{}
}

// paddedCount is a counter on a cache line of its own.
type paddedCount struct {
	n atomic.Int64
	_ [56]byte
}

// newCountdown returns a countdown of ends[p] records in partition p.
func newCountdown(ends []int64) *countdown {
	c := &countdown{parts: make([]paddedCount, len(ends)), ends: ends, done: make(chan struct{})}
	for _, e := range ends {
		if e > 0 {
			c.left.Add(1)
		}
	}
	if c.left.Load() == 0 {
		close(c.done)
	}
	return c
}

// add counts one record of partition p. Records beyond a partition's end
// (a redelivery) are not counted twice towards done.
func (c *countdown) add(p int32) {
	if c.parts[p].n.Add(1) == c.ends[p] && c.left.Add(-1) == 0 {
		close(c.done)
	}
}

// addN counts n records of partition p, as add does.
func (c *countdown) addN(p int32, n int64) {
	now := c.parts[p].n.Add(n)
	if now >= c.ends[p] && now-n < c.ends[p] && c.left.Add(-1) == 0 {
		close(c.done)
	}
}

// total is the number of records the countdown waits for.
func (c *countdown) total() int64 {
	var n int64
	for _, e := range c.ends {
		n += e
	}
	return n
}

// partitionEnds returns the end offset of each partition of topic,
// indexed by partition: the records of a topic that was never trimmed.
func partitionEnds(ctx context.Context, admin *kadm.Client, topic string) ([]int64, error) {
	listed, err := admin.ListEndOffsets(ctx, topic)
	if err == nil {
		err = listed.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("bench: end offsets of %s: %w", topic, err)
	}
	var ends []int64
	listed.Each(func(o kadm.ListedOffset) {
		for int(o.Partition) >= len(ends) {
			ends = append(ends, 0)
		}
		ends[o.Partition] = o.Offset
	})
	return ends, nil
}

// countdown returns a countdown of the records of topic.
func (h *harness) countdown(ctx context.Context, topic string) (*countdown, error) {
	ends, err := partitionEnds(ctx, h.admin, topic)
	if err != nil {
		return nil, err
	}
	return newCountdown(ends), nil
}
