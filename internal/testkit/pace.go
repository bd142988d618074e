package testkit

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Paced produces records in batches at a steady rate, so that a worker
// consuming them is always mid-stream: it has records it handled since its
// last commit, and records still to come.
type Paced struct {
	produced atomic.Int64  // records acknowledged so far
	done     chan struct{} // closed when the stream ends
	err      error         // why the stream ended early; read after done
}

// ProducePaced calls produce for records first to first+n-1 of n in all,
// batch at a time, one batch per every, from a goroutine of its own; each
// call has 30s. The pace is load shaping, not synchronisation: what a test
// awaits is the end of the stream (Wait) and what the workers made of it.
// The stream stops when the test ends.
func ProducePaced(t testing.TB, n, batch int, every time.Duration, produce func(ctx context.Context, first, n int) error) *Paced {
	s := &Paced{done: make(chan struct{})}
	ctx := t.Context() // cancelled when the test ends, before the cleanup below
	go func() {
		defer close(s.done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for first := 0; first < n; first += batch {
			pctx, cancel := context.WithTimeout(ctx, opTimeout)
			err := produce(pctx, first, min(batch, n-first))
			cancel()
			if err != nil {
				s.err = err
				return
			}
			s.produced.Store(int64(min(first+batch, n)))
			select {
			case <-tick.C:
			case <-ctx.Done():
				s.err = ctx.Err()
				return
			}
		}
	}()
	t.Cleanup(func() { <-s.done })
	return s
}

// Produced returns how many records were acknowledged so far. Any
// goroutine may call it.
func (s *Paced) Produced() int64 { return s.produced.Load() }

// Wait waits for the stream to end and fails the test if it did not end
// within timeout or ended early; after it returns, what produce wrote is
// safe to read.
func (s *Paced) Wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(timeout):
		t.Fatalf("awaiting the end of the paced stream: not within %v; %d records produced", timeout, s.Produced())
	}
	if s.err != nil {
		t.Fatalf("paced stream: %v (after %d records)", s.err, s.Produced())
	}
}
