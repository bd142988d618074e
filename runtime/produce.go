package runtime

import (
	"context"
	"sync/atomic"
)

// produceGate bounds the records handlers have produced that the brokers
// have not acknowledged yet (producer.max_buffered_records): a handler
// that produces past the bound waits in Produce for an acknowledgement to
// make room, with its own context, which ends when its partition is
// revoked or lost or the worker stops.
//
// The Kafka client has a bound of its own (kgo.MaxBufferedRecords, the
// same size), but it waits with the context it keeps on the record, whose
// cancellation would also fail the record once buffered: produced records
// must finish even while their partition is being revoked. The gate
// waits with the handler's context instead, and lets a record through
// only when the client has room for it, so the client's own wait is only
// reached when table changelog writes fill its buffer. Safe for concurrent
// use.
type produceGate struct {
	slots chan struct{} // one element per record in flight
	waits atomic.Int64  // Produce calls that found the buffer full
}

func newProduceGate(n int) *produceGate {
	return &produceGate{slots: make(chan struct{}, n)}
}

// acquire takes a slot, waiting while none is free until ctx ends.
func (g *produceGate) acquire(ctx context.Context) error {
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	g.waits.Add(1)
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// release frees a slot taken by acquire.
func (g *produceGate) release() { <-g.slots }

// buffered returns how many records hold a slot.
func (g *produceGate) buffered() int { return len(g.slots) }
