package acks

import (
	"context"
	"sync"
)

// Tracker counts operations in flight whose outcome is reported later,
// from any goroutine: how many are pending, how many succeeded, and the
// first failure. Its zero value is ready to use. All methods are safe for
// concurrent use, and none blocks but Wait: Done may be called from a
// produce promise.
type Tracker struct {
	mu      sync.Mutex // guards all below
	pending int
	acked   int64
	err     error
	idle    chan struct{} // closed when pending drops to zero; nil while it is zero
}

// Add registers n more operations in flight. Each must be reported once,
// with Done.
func (t *Tracker) Add(n int) {
	if n <= 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.pending == 0 {
		t.idle = make(chan struct{})
	}
	t.pending += n
}

// Done reports the outcome of one operation registered with Add: nil for
// success, else its error. It returns true when err is the first failure,
// so that the caller reacts to a failure once (stops, reports); later
// failures are counted but not kept. A Done without a matching Add counts
// its outcome and leaves the pending count at zero.
func (t *Tracker) Done(err error) (first bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case err == nil:
		t.acked++
	case t.err == nil:
		t.err, first = err, true
	}
	if t.pending > 0 {
		if t.pending--; t.pending == 0 {
			close(t.idle)
			t.idle = nil
		}
	}
	return first
}

// Idle returns a channel closed once nothing is in flight: closed already
// if nothing is now. A later Add does not reopen it; call Idle again.
func (t *Tracker) Idle() <-chan struct{} {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.idle == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return t.idle
}

// Wait waits until nothing is in flight and returns nil, or returns ctx's
// error if ctx ends first. It does not report failures: see Err.
func (t *Tracker) Wait(ctx context.Context) error {
	idle := t.Idle()
	select {
	case <-idle:
		return nil
	default:
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Err returns the first failure reported to Done, or nil. Once set it
// stays.
func (t *Tracker) Err() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Pending returns how many operations are in flight.
func (t *Tracker) Pending() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.pending
}

// Acked returns how many operations succeeded.
func (t *Tracker) Acked() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.acked
}
