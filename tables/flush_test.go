package tables

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/internal/faults"
	"github.com/eddy-streams/eddy/stores"
)

func TestGetSeesOwnWritesBeforeAndAcrossFlush(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, url string) {
		f := newFixture(t, url, 1)
		reg, _ := f.registry()
		p := f.acquire(reg, 0)

		f.wantGet(p, "a", -1)
		f.set(p, "a", 1)
		f.wantGet(p, "a", 1)
		f.set(p, "a", 2)
		f.wantGet(p, "a", 2)
		f.del(p, "a")
		f.wantGet(p, "a", -1)
		f.set(p, "a", 3)
		f.wantGet(p, "a", 3)
		if got := f.endOffset(0); got != 0 {
			t.Fatalf("changelog end %d before any flush; want 0 (writes stay in the cache)", got)
		}

		// Flushed but not yet in the store.
		if err := p.Flush(f.ctx()); err != nil {
			t.Fatal(err)
		}
		f.wantGet(p, "a", 3)
		f.set(p, "a", 4) // newer than the flushed write
		f.wantGet(p, "a", 4)
		if err := p.Committed(); err != nil {
			t.Fatal(err)
		}
		if got := f.stored(p, "a"); got != 3 {
			t.Fatalf("store holds a=%d after the first commit; want 3", got)
		}
		f.wantGet(p, "a", 4) // the cache wins over the store

		// A delete in the cache hides the value in the store.
		f.del(p, "a")
		f.wantGet(p, "a", -1)
		f.flushCommit(p)
		f.wantGet(p, "a", -1)
		if got := f.stored(p, "a"); got != -1 {
			t.Fatalf("store holds a=%d after its delete was committed", got)
		}
		f.release(reg, p)
	})
}

func TestFlushProducesOneRecordPerChangedKey(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, url string) {
		f := newFixture(t, url, 2)
		reg, _ := f.registry()
		p := f.acquire(reg, 1)

		for i := range int64(100) {
			f.set(p, "hot", i+1)
		}
		f.set(p, "cold", 7)
		f.set(p, "gone", 1)
		f.del(p, "gone")
		if err := p.Flush(f.ctx()); err != nil {
			t.Fatal(err)
		}

		// Flush returned: the changes are in the changelog, folded.
		recs := f.changelogRecords(1)
		got := map[string][]byte{}
		for _, r := range recs {
			got[string(r.Key)] = r.Value
		}
		if len(recs) != 3 || len(got) != 3 {
			t.Fatalf("changelog has %d records for keys %v; want exactly 3 (one per changed key)", len(recs), got)
		}
		if v := got["hot"]; v == nil || decode(t, v) != 100 {
			t.Errorf("hot = %x; want the last of 100 writes, 100", v)
		}
		if v := got["cold"]; v == nil || decode(t, v) != 7 {
			t.Errorf("cold = %x; want 7", v)
		}
		if v, ok := got["gone"]; !ok || v != nil {
			t.Errorf("gone = %x (present %v); want a tombstone (nil value)", v, ok)
		}
		if n := f.endOffset(0); n != 0 {
			t.Errorf("changelog partition 0 has %d records; shard 1 writes only to partition 1", n)
		}

		// Nothing changed: nothing is produced.
		if err := p.Flush(f.ctx()); err != nil {
			t.Fatal(err)
		}
		if end := f.endOffset(1); end != 3 {
			t.Fatalf("changelog end %d after an empty flush; want 3", end)
		}

		for i := range int64(50) {
			f.set(p, "hot", 101+i)
		}
		f.flushCommit(p)
		recs = f.changelogRecords(1)
		if len(recs) != 4 || string(recs[3].Key) != "hot" || decode(t, recs[3].Value) != 150 {
			t.Fatalf("after 50 more writes of hot: %d records, last %q; want one more record, hot=150", len(recs), recs[len(recs)-1].Key)
		}
		f.release(reg, p)
	})
}

func TestCommittedWritesStoreWithCheckpoint(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, url string) {
		f := newFixture(t, url, 1)
		reg, _ := f.registry()
		p := f.acquire(reg, 0)

		for i := range int64(10) {
			f.set(p, fmt.Sprint("k", i), i)
		}
		f.del(p, "k9")
		if err := p.Flush(f.ctx()); err != nil {
			t.Fatal(err)
		}
		// Acknowledged but not committed: the store is untouched, so
		// it still holds exactly its changelog up to its checkpoint.
		if cp := f.checkpoint(p); cp != stores.NoCheckpoint {
			t.Fatalf("store checkpoint %d before Committed; want none", cp)
		}
		if got := f.stored(p, "k1"); got != -1 {
			t.Fatalf("store holds k1=%d before Committed", got)
		}
		if err := p.Committed(); err != nil {
			t.Fatal(err)
		}
		if cp, end := f.checkpoint(p), f.endOffset(0); cp != end || end != 10 {
			t.Fatalf("store checkpoint %d, changelog end %d; want both 10", cp, end)
		}
		for i := range int64(9) {
			if got := f.stored(p, fmt.Sprint("k", i)); got != i {
				t.Fatalf("store holds k%d=%d; want %d", i, got, i)
			}
		}
		if got := f.stored(p, "k9"); got != -1 {
			t.Fatalf("store holds deleted k9=%d", got)
		}

		// A second commit cycle moves the checkpoint to the new end;
		// Committed with nothing new flushed changes nothing.
		f.set(p, "k0", 100)
		f.flushCommit(p)
		if err := p.Committed(); err != nil {
			t.Fatal(err)
		}
		if cp, end := f.checkpoint(p), f.endOffset(0); cp != end || end != 11 {
			t.Fatalf("store checkpoint %d, changelog end %d; want both 11", cp, end)
		}
		if got := f.stored(p, "k0"); got != 100 {
			t.Fatalf("store holds k0=%d; want 100", got)
		}
		f.release(reg, p)
	})
}

// TestReadsNeverGoBackDuringFlushAndCommit runs a handler counting keys, a
// committer flushing and committing in a loop, and outside readers (HTTP
// look-ups), concurrently: the handler must always read its last write,
// and readers must never see a count go back or vanish while changes move
// from the cache to the changelog and the store.
func TestReadsNeverGoBackDuringFlushAndCommit(t *testing.T) {
	t.Parallel()
	const keys, minCycles, minRounds = 64, 50, 100
	eachStore(t, func(t *testing.T, url string) {
		f := newFixture(t, url, 1)
		var cycles atomic.Int64 // commits that wrote to the store
		reg, _ := f.registryWith(func(b stores.Backend) stores.Backend { return slowBackend{b, &cycles} })
		p := f.acquire(reg, 0)
		sh := p.Shard(f.counts.Def())
		key := func(i int) string { return fmt.Sprint("k", i) }

		var failed atomic.Bool // set by a goroutine that sent its error
		done := make(chan struct{})
		var wg sync.WaitGroup
		errc := make(chan error, 8)
		var rounds int64
		wg.Go(func() { // the handler
			defer close(done)
			for rounds = 0; (rounds < minRounds || cycles.Load() < minCycles) && !failed.Load(); rounds++ {
				for i := range keys {
					n, ok, err := f.counts.Get(in(p), key(i))
					if err != nil || ok != (rounds > 0) || n != rounds {
						errc <- fmt.Errorf("handler: round %d: Get(%s) = %d, %v, %v; want its last write %d", rounds, key(i), n, ok, err, rounds)
						return
					}
					if err := f.counts.Set(in(p), key(i), n+1); err != nil {
						errc <- err
						return
					}
				}
				runtime.Gosched() // a handler waits for records now and then
			}
		})
		wg.Go(func() { // the committer
			for {
				select {
				case <-done:
					return
				default:
				}
				if err := p.Flush(context.Background()); err != nil {
					failed.Store(true)
					errc <- err
					return
				}
				if err := p.Committed(); err != nil {
					failed.Store(true)
					errc <- err
					return
				}
			}
		})
		for range 2 { // look-ups from outside the handler
			wg.Go(func() {
				last := make([]int64, keys)
				for {
					select {
					case <-done:
						return
					default:
					}
					for i := range keys {
						n, ok, err := f.counts.Get(onShard(sh), key(i))
						if err != nil {
							failed.Store(true)
							errc <- err
							return
						}
						if !ok && last[i] > 0 || n < last[i] {
							failed.Store(true)
							errc <- fmt.Errorf("reader: %s went from %d to %d (present %v)", key(i), last[i], n, ok)
							return
						}
						last[i] = n
					}
					runtime.Gosched()
				}
			})
		}
		wg.Wait()
		close(errc)
		for err := range errc {
			t.Fatal(err)
		}

		t.Logf("%d rounds of %d keys, %d commits written to the store", rounds, keys, cycles.Load())
		f.flushCommit(p)
		got := f.scan(p)
		for i := range keys {
			if got[key(i)] != rounds || f.stored(p, key(i)) != rounds {
				t.Fatalf("after %d rounds and %d commit cycles: scan %s=%d, store %d; want %d",
					rounds, cycles.Load(), key(i), got[key(i)], f.stored(p, key(i)), rounds)
			}
		}
		if cp, end := f.checkpoint(p), f.endOffset(0); cp != end {
			t.Fatalf("store checkpoint %d; want the changelog end %d", cp, end)
		}
		f.release(reg, p)
	})
}

// TestFlushErrorIsSticky: a failed changelog write fails Flush, and every
// later Flush, even once the broker accepts writes again: the partition's
// changes since its last good flush are lost, so nothing after it may be
// committed.
func TestFlushErrorIsSticky(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "memory://", 1)
	reg, _ := f.registry()
	p := f.acquire(reg, 0)
	f.set(p, "ok", 1)
	f.flushCommit(p)

	var failing atomic.Bool
	failing.Store(true)
	faults.FailProduces(f.cluster, failing.Load)
	f.set(p, "a", 1)
	err := p.Flush(f.ctx())
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.Contains(err.Error(), "counts partition 0") {
		t.Fatalf("Flush = %v; want the produce error, naming table counts partition 0", err)
	}

	failing.Store(false)
	f.set(p, "b", 2)
	if err := p.Flush(f.ctx()); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Flush after a failed one = %v; want the first failure again", err)
	}
	if end := f.endOffset(0); end != 2 {
		t.Fatalf("changelog end %d; want 2 (ok, then b once the broker accepted writes)", end)
	}
	if cp := f.checkpoint(p); cp != 1 {
		t.Fatalf("store checkpoint %d; want 1, from the last good flush", cp)
	}
	f.release(reg, p)
}

// TestFlushCutShortIsWaitedForByTheNext: a Flush whose context ends before
// its writes are acknowledged fails and leaves the store alone; the next
// Flush waits for those writes, and the commit after it stores them.
func TestFlushCutShortIsWaitedForByTheNext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "memory://", 1)
	reg, _ := f.registry()
	p := f.acquire(reg, 0)

	release := make(chan struct{})
	var once sync.Once
	unblock := func() { once.Do(func() { close(release) }) }
	t.Cleanup(unblock)
	var held atomic.Bool
	f.cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
		if held.CompareAndSwap(false, true) {
			f.cluster.SleepControl(func() { <-release })
		}
		return nil, nil, false
	})

	f.set(p, "a", 1)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := p.Flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Flush with its write held = %v; want context.DeadlineExceeded", err)
	}
	if err := p.Committed(); err != nil {
		t.Fatal(err)
	}
	if got, cp := f.stored(p, "a"), f.checkpoint(p); got != -1 || cp != stores.NoCheckpoint {
		t.Fatalf("store holds a=%d at checkpoint %d before the write was acknowledged; want nothing", got, cp)
	}
	f.wantGet(p, "a", 1)

	unblock()
	f.flushCommit(p)
	if got, cp := f.stored(p, "a"), f.checkpoint(p); got != 1 || cp != 1 {
		t.Fatalf("store holds a=%d at checkpoint %d; want a=1 at 1", got, cp)
	}
	f.release(reg, p)
}

// The tests below reproduced bugs found while writing this suite; they
// guard the fixes.

// TestCommittedAfterAFailedFlushStoresNothingUnacknowledged: Committed
// after a Flush that failed must not write the changes that Flush could
// not make durable: the store would then hold values its changelog does
// not, at a checkpoint that claims it holds exactly its changelog. The
// engine calls Committed in that case when the commit before the failed
// flush had failed (its offsets, already flushed, are committed now).
func TestCommittedAfterAFailedFlushStoresNothingUnacknowledged(t *testing.T) {
	t.Parallel()
	for _, cut := range []string{"produce fails", "flush cut short"} {
		t.Run(cut, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, "memory://", 1)
			reg, _ := f.registry()
			p := f.acquire(reg, 0)
			f.set(p, "ok", 1)
			f.flushCommit(p) // checkpoint 1

			ctx := f.ctx()
			if cut == "produce fails" {
				var failing atomic.Bool
				failing.Store(true)
				faults.FailProduces(f.cluster, failing.Load)
			} else {
				release := make(chan struct{})
				t.Cleanup(func() { close(release) })
				f.cluster.ControlKey(int16(kmsg.Produce), func(kmsg.Request) (kmsg.Response, error, bool) {
					f.cluster.SleepControl(func() { <-release })
					return nil, nil, false
				})
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
				defer cancel()
			}
			f.set(p, "a", 1)
			if err := p.Flush(ctx); err == nil {
				t.Fatal("Flush succeeded; the test needs it to fail")
			}
			if err := p.Committed(); err != nil {
				t.Logf("Committed: %v", err)
			}
			if got := f.stored(p, "a"); got != -1 {
				t.Fatalf("the store holds a=%d at checkpoint %d, but the changelog (end %d) has no record of a",
					got, f.checkpoint(p), f.endOffset(0))
			}
			f.release(reg, p)
		})
	}
}
