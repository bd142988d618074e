package acks_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/acks"
)

func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func TestZeroTrackerIsIdle(t *testing.T) {
	t.Parallel()
	var tr acks.Tracker
	if !isClosed(tr.Idle()) {
		t.Fatal("Idle of a zero Tracker is not closed")
	}
	if err := tr.Wait(context.Background()); err != nil {
		t.Fatalf("Wait = %v; want nil", err)
	}
	if tr.Pending() != 0 || tr.Acked() != 0 || tr.Err() != nil {
		t.Fatalf("zero Tracker: pending %d, acked %d, err %v", tr.Pending(), tr.Acked(), tr.Err())
	}
}

func TestIdleClosesWhenTheLastIsDone(t *testing.T) {
	t.Parallel()
	var tr acks.Tracker
	tr.Add(2)
	idle := tr.Idle()
	tr.Done(nil)
	if isClosed(idle) {
		t.Fatal("idle with one of two in flight")
	}
	tr.Done(nil)
	if !isClosed(idle) {
		t.Fatal("not idle after both were done")
	}
	tr.Add(1)
	if isClosed(tr.Idle()) {
		t.Fatal("idle right after Add")
	}
	if !isClosed(idle) {
		t.Fatal("a later Add reopened an Idle channel already closed")
	}
	tr.Done(nil)
	if tr.Acked() != 3 || tr.Pending() != 0 {
		t.Fatalf("acked %d, pending %d; want 3, 0", tr.Acked(), tr.Pending())
	}
}

func TestFirstFailureIsKeptAndReportedOnce(t *testing.T) {
	t.Parallel()
	var tr acks.Tracker
	tr.Add(3)
	first, second := errors.New("first"), errors.New("second")
	if tr.Done(nil) {
		t.Fatal("a success reported as the first failure")
	}
	if !tr.Done(first) {
		t.Fatal("the first failure not reported as first")
	}
	if tr.Done(second) {
		t.Fatal("a second failure reported as first")
	}
	if !errors.Is(tr.Err(), first) || errors.Is(tr.Err(), second) {
		t.Fatalf("Err = %v; want the first failure", tr.Err())
	}
	if tr.Acked() != 1 || tr.Pending() != 0 || !isClosed(tr.Idle()) {
		t.Fatalf("acked %d, pending %d; want 1, 0, idle", tr.Acked(), tr.Pending())
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	t.Parallel()
	var tr acks.Tracker
	tr.Add(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tr.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait with one in flight and a cancelled context = %v; want context.Canceled", err)
	}
	tr.Done(nil)
	if err := tr.Wait(ctx); err != nil {
		t.Fatalf("Wait with nothing in flight = %v; want nil, even with a cancelled context", err)
	}
}

func TestDoneFromManyGoroutines(t *testing.T) {
	t.Parallel()
	var tr acks.Tracker
	const n = 1000
	tr.Add(n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			if i%100 == 0 {
				err = errors.New("failed")
			}
			tr.Done(err)
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	wg.Wait()
	if tr.Acked() != n-10 || tr.Err() == nil {
		t.Fatalf("acked %d, err %v; want %d and a failure", tr.Acked(), tr.Err(), n-10)
	}
}

// A producer's promises report to a Tracker; the sender then waits, within
// a deadline, for all of them.
func ExampleTracker() {
	var tr acks.Tracker
	promise := func(err error) {
		if tr.Done(err) {
			fmt.Println("first failure:", err) // react once: stop sending
		}
	}
	for range 3 {
		tr.Add(1)
		go promise(nil) // as a client would, from its own goroutine
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tr.Wait(ctx); err != nil {
		fmt.Println("gave up waiting:", err)
		return
	}
	fmt.Println("acknowledged:", tr.Acked(), "failed:", tr.Err())
	// Output: acknowledged: 3 failed: <nil>
}
