package acks

import (
	"context"
	"sync/atomic"
)

// Gate bounds the records handlers have produced that the brokers
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
type Gate struct {
	slots chan struct{} // one element per record in flight
	waits atomic.Int64  // Acquire calls that found the gate full
}

// NewGate returns a gate of n slots.
func NewGate(n int) *Gate {
	return &Gate{slots: make(chan struct{}, n)}
}

// Acquire takes a slot, waiting while none is free until ctx ends.
func (g *Gate) Acquire(ctx context.Context) error {
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

// Release frees a slot taken by Acquire.
func (g *Gate) Release() { <-g.slots }

// Held returns how many slots are taken.
func (g *Gate) Held() int { return len(g.slots) }

// Waits counts the Acquire calls that found the gate full.
func (g *Gate) Waits() int64 { return g.waits.Load() }
