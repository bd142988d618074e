package actors

import (
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

func record(offset int64) *kgo.Record {
	return &kgo.Record{Topic: "t", Partition: 0, Offset: offset, LeaderEpoch: 3}
}

func wantCommittable(t *testing.T, l *ledger, offset int64, ok bool) {
	t.Helper()
	eo, got := l.committable()
	if got != ok || (ok && eo.Offset != offset) {
		t.Fatalf("committable() = %d, %v; want %d, %v", eo.Offset, got, offset, ok)
	}
}

func TestLedgerNothingCommittableBeforeFirstRecord(t *testing.T) {
	t.Parallel()
	wantCommittable(t, newLedger(false), 0, false)
}

func TestLedgerCommitWaitsForOutputs(t *testing.T) {
	t.Parallel()
	l := newLedger(false)
	l.handled(record(0))
	// Record 1 produces two outputs; records 2 and 3 produce none.
	ack1 := l.hold(record(1), func(error) { t.Error("no output failed") })
	ack2 := l.hold(record(1), func(error) { t.Error("no output failed") })
	l.handled(record(1))
	l.handled(record(2))
	l.handled(record(3))
	wantCommittable(t, l, 1, true) // record 1 is not done: commit up to it

	ack1(nil)
	wantCommittable(t, l, 1, true)
	ack2(nil)
	wantCommittable(t, l, 4, true)
	if eo, _ := l.committable(); eo.Epoch != 3 {
		t.Fatalf("epoch = %d, want the record's leader epoch 3", eo.Epoch)
	}

	l.markCommitted(4)
	wantCommittable(t, l, 4, false) // nothing new
}

func TestLedgerFailedOutputPinsCommitForever(t *testing.T) {
	t.Parallel()
	l := newLedger(false)
	var reported []error
	ack := l.hold(record(5), func(err error) { reported = append(reported, err) })
	l.handled(record(5))
	l.handled(record(6))
	ack(errors.New("broker said no"))
	ack(nil) // a second call is ignored
	wantCommittable(t, l, 5, true)
	l.markCommitted(5)
	wantCommittable(t, l, 5, false)
	if len(reported) != 1 {
		t.Fatalf("failure reported %d times, want once", len(reported))
	}
	if _, err := l.idle(); err == nil {
		t.Fatal("idle() reports no failure after a failed output")
	}
}

func TestLedgerIdleClosesWhenOutputsAcknowledged(t *testing.T) {
	t.Parallel()
	l := newLedger(false)
	idle, _ := l.idle()
	select {
	case <-idle:
	default:
		t.Fatal("a ledger without outputs is not idle")
	}
	ack := l.hold(record(0), func(error) {})
	idle, _ = l.idle()
	select {
	case <-idle:
		t.Fatal("idle with an output outstanding")
	default:
	}
	go ack(nil)
	select {
	case <-idle:
	case <-time.After(10 * time.Second):
		t.Fatal("idle not closed after the acknowledgement")
	}
}

func TestBackoffDoublesUpToMax(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		failures int
		want     time.Duration
	}{{1, 100 * time.Millisecond}, {2, 200 * time.Millisecond}, {3, 400 * time.Millisecond}, {10, time.Second}} {
		if got := backoff(100*time.Millisecond, time.Second, tt.failures); got != tt.want {
			t.Errorf("backoff after %d failures = %v, want %v", tt.failures, got, tt.want)
		}
	}
}

func TestLedgerStatefulCommitsOnlyWhatIsDurable(t *testing.T) {
	t.Parallel()
	l := newLedger(true)
	l.handled(record(0))
	l.handled(record(1))
	wantCommittable(t, l, 0, false) // nothing flushed yet
	l.limit.Store(1)                // a flush made records before offset 1 durable
	wantCommittable(t, l, 1, true)
	l.handled(record(2))
	wantCommittable(t, l, 1, true)
	l.limit.Store(3)
	wantCommittable(t, l, 3, true)
}
