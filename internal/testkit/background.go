package testkit

import (
	"context"
	"testing"
	"time"
)

// stopTimeout bounds the wait for a Running to return once cancelled.
const stopTimeout = 30 * time.Second

// Running is a function that runs in the background for a test, such as
// an app's Run.
type Running struct {
	what   string
	cancel context.CancelFunc
	done   chan struct{} // closed when fn returned
	err    error         // fn's result; read after done
}

// Background runs fn on a goroutine of its own with a context that Stop,
// or the end of the test, cancels; what names it in failure messages ("the
// app"). The test's cleanup cancels it and waits for it to return, failing
// the test if it does not within 30s; it does not look at fn's result,
// which Stop and Wait return.
func Background(t testing.TB, what string, fn func(ctx context.Context) error) *Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &Running{what: what, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = fn(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(stopTimeout):
			t.Errorf("%s did not stop within %v of its cancel", what, stopTimeout)
		}
	})
	return r
}

// Stop cancels the function's context and returns its result, failing the
// test if it does not return within 30s. It may be called more than once.
func (r *Running) Stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(stopTimeout):
		t.Fatalf("%s did not stop within %v of its cancel", r.what, stopTimeout)
		return nil
	}
}

// Wait returns the function's result once it returns by itself, failing
// the test if it does not within timeout.
func (r *Running) Wait(t testing.TB, timeout time.Duration) error {
	t.Helper()
	select {
	case <-r.done:
		return r.err
	case <-time.After(timeout):
		t.Fatalf("%s did not stop by itself within %v", r.what, timeout)
		return nil
	}
}
