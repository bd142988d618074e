package testkit

import (
	"context"
	"testing"
	"time"
)

// Polling intervals of Eventually: the first check is immediate, the next
// ones firstPoll apart, doubling up to maxPoll, so that a condition that
// holds soon is seen soon and a long wait does not load a busy machine.
const (
	firstPoll = 10 * time.Millisecond
	maxPoll   = 50 * time.Millisecond
)

// Eventually polls cond until it holds, failing the test after timeout
// with what was awaited and what cond last saw. It is only for state that
// has no event to await, such as offsets committed by a worker or a
// worker's status; cond may fail the test itself.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for wait := firstPoll; ; wait = min(2*wait, maxPoll) {
		ok, seen := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("awaiting %s: not within %v%s", what, timeout, lastSeen(seen))
		}
		time.Sleep(wait)
	}
}

// lastSeen is the end of a failure message: what a condition last saw, if
// it said.
func lastSeen(seen string) string {
	if seen == "" {
		return ""
	}
	return "; last seen: " + seen
}

// Within calls fn with a context that ends after timeout, or with the
// test, and fails the test if fn returns an error.
func Within(t testing.TB, timeout time.Duration, fn func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	if err := fn(ctx); err != nil {
		t.Fatal(err)
	}
}
