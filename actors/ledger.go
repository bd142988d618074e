package actors

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/acks"
)

// ledger decides what of one partition may be committed. The handler actor
// marks records handled, output acknowledgements arrive on franz-go's
// goroutines, and the committer reads the committable offset, so its state
// sits behind a mutex rather than inside an actor.
type ledger struct {
	// nextOffset is the offset after the last handled record (-1 until a
	// record is handled) and nextEpoch that record's leader epoch. The
	// handler actor is their only writer, once per record, so they are
	// atomics rather than under mu. A reader may pair a new offset with
	// the previous epoch: the epoch only lets the broker fence stale
	// leaders, and an older one is still valid.
	nextOffset atomic.Int64
	nextEpoch  atomic.Int32
	// limit caps what may be committed for a stateful partition: the
	// position up to which its state changes are durable (see
	// Stateful.Flush). noLimit for stateless partitions.
	limit atomic.Int64

	mu struct {
		sync.Mutex
		// pending holds handled records whose outputs are not all
		// acknowledged yet, in offset order.
		pending []*pendingRecord
		// committed is the offset last committed for this partition.
		committed int64
	}
	// outputs counts unacknowledged outputs across pending, and keeps
	// the first that failed (whose record, held pending forever, keeps
	// every later offset uncommittable).
	outputs acks.Tracker
}

// pendingRecord is a handled record waiting for its outputs.
type pendingRecord struct {
	offset      int64
	epoch       int32
	outstanding int
}

// noLimit is the ledger limit of a stateless partition.
const noLimit = -2

func newLedger(stateful bool) *ledger {
	l := &ledger{}
	l.limit.Store(noLimit)
	if stateful {
		l.limit.Store(-1) // nothing is durable before the first flush
	}
	l.nextOffset.Store(-1)
	l.nextEpoch.Store(-1)
	l.mu.committed = -1
	return l
}

// hold registers one output of the record at offset; the record must be the
// one being handled now, or one already handled. The returned func
// acknowledges the output and must be called exactly once.
func (l *ledger) hold(rec *kgo.Record, onFail func(error)) func(error) {
	l.mu.Lock()
	var p *pendingRecord
	if n := len(l.mu.pending); n > 0 && l.mu.pending[n-1].offset == rec.Offset {
		p = l.mu.pending[n-1]
	} else {
		p = &pendingRecord{offset: rec.Offset, epoch: rec.LeaderEpoch}
		l.mu.pending = append(l.mu.pending, p)
	}
	p.outstanding++
	l.outputs.Add(1)
	l.mu.Unlock()

	var once sync.Once
	return func(err error) {
		once.Do(func() { l.release(p, rec, err, onFail) })
	}
}

func (l *ledger) release(p *pendingRecord, rec *kgo.Record, err error, onFail func(error)) {
	if err != nil {
		// The output is lost to us: keep the record pending forever so no
		// commit passes it, and report once.
		err = fmt.Errorf("actors: output of %s/%d@%d failed: %w", rec.Topic, rec.Partition, rec.Offset, err)
	} else {
		// Before Done: whoever waits for the outputs then finds the
		// record done.
		l.mu.Lock()
		p.outstanding--
		l.mu.Unlock()
	}
	if l.outputs.Done(err) {
		onFail(err)
	}
}

// handled marks rec done by its handler. Records must be marked in order.
func (l *ledger) handled(rec *kgo.Record) {
	l.nextEpoch.Store(rec.LeaderEpoch)
	l.nextOffset.Store(rec.Offset + 1)
}

// committable returns the offset to commit: the first handled record still
// waiting for outputs, else the offset after the last handled record. ok is
// false when nothing new may be committed.
func (l *ledger) committable() (eo kgo.EpochOffset, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	drop := 0
	for _, p := range l.mu.pending {
		if p.outstanding > 0 {
			break
		}
		drop++
	}
	if drop > 0 {
		l.mu.pending = append(l.mu.pending[:0], l.mu.pending[drop:]...)
	}
	eo = kgo.EpochOffset{Offset: l.nextOffset.Load(), Epoch: l.nextEpoch.Load()}
	if len(l.mu.pending) > 0 {
		eo = kgo.EpochOffset{Epoch: l.mu.pending[0].epoch, Offset: l.mu.pending[0].offset}
	}
	if limit := l.limit.Load(); limit != noLimit && limit < eo.Offset {
		eo = kgo.EpochOffset{Epoch: -1, Offset: limit}
	}
	return eo, eo.Offset >= 0 && eo.Offset > l.mu.committed
}

// markCommitted records a successful commit of offset.
func (l *ledger) markCommitted(offset int64) {
	l.mu.Lock()
	if offset > l.mu.committed {
		l.mu.committed = offset
	}
	l.mu.Unlock()
}

// snapshot returns the next offset to handle (-1 before the first record)
// and the last committed offset (-1 before the first commit).
func (l *ledger) snapshot() (next, committed int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nextOffset.Load(), l.mu.committed
}

// idle returns a channel closed once no output is outstanding, and the
// first output failure, if any.
func (l *ledger) idle() (<-chan struct{}, error) {
	return l.outputs.Idle(), l.outputs.Err()
}
