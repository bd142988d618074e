package testkit

import (
	"sync"
	"testing"
	"time"
)

// Watch is state that goroutines change and a test awaits conditions on,
// without polling: Await checks its condition again after each Change.
// The state itself is the caller's; Watch's lock guards it. The zero value
// is ready to use; a Watch must not be copied once used.
type Watch struct {
	// mu is held while the functions given to Change, Read and Await
	// run, so the state they share needs no lock of its own.
	mu      sync.Mutex
	changed chan struct{} // closed and replaced by each Change; nil until needed
}

// Change runs fn, which changes the state, under the lock, and wakes the
// waiters. Any goroutine may call it.
func (w *Watch) Change(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn()
	if w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
}

// Read runs fn, which reads the state, under the lock. Any goroutine may
// call it.
func (w *Watch) Read(fn func()) {
	w.mu.Lock()
	defer w.mu.Unlock()
	fn()
}

// check runs cond under the lock and returns its result and a channel
// closed by the next Change.
func (w *Watch) check(cond func() (bool, string)) (bool, string, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ok, seen := cond()
	if w.changed == nil {
		w.changed = make(chan struct{})
	}
	return ok, seen, w.changed
}

// Await waits until cond, run under the lock, holds: it checks it now and
// after each Change. It fails the test after timeout with what was awaited
// and what cond last saw.
func (w *Watch) Await(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	w.AwaitUnless(t, nil, nil, timeout, what, cond)
}

// AwaitUnless is Await that also gives up when gone is closed while cond
// does not hold: when whatever changes the state has ended, such as a
// process that exited. It checks cond once more, then fails the test with
// goneWhy()'s account of the end.
func (w *Watch) AwaitUnless(t testing.TB, gone <-chan struct{}, goneWhy func() string, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		ok, seen, changed := w.check(cond)
		if ok {
			return
		}
		select {
		case <-changed:
		case <-gone:
			if ok, seen, _ = w.check(cond); ok {
				return
			}
			t.Fatalf("awaiting %s: %s first%s", what, goneWhy(), lastSeen(seen))
		case <-deadline.C:
			t.Fatalf("awaiting %s: not within %v%s", what, timeout, lastSeen(seen))
		}
	}
}
