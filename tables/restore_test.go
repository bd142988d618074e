package tables

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
)

// TestRestoreReplaysFromTheCheckpoint restarts a worker: a fresh memory
// store replays the whole changelog; a RocksDB store reopened from disk
// replays only what was written to the changelog after its checkpoint.
func TestRestoreReplaysFromTheCheckpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url string
		// wantFrom and wantRecords: where the second restore starts and
		// how many records it replays, of a changelog of 30 records
		// followed by a delta of 3.
		wantFrom, wantRecords int64
	}{
		{url: "memory://", wantFrom: -1, wantRecords: 33},
		{url: "rocksdb://", wantFrom: 30, wantRecords: 3},
	} {
		t.Run(storeName(tc.url), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, tc.url, 1)
			reg, backend := f.registry()
			p := f.acquire(reg, 0)
			if rs := f.takeRestores(); len(rs) != 1 || rs[0].Records != 0 || rs[0].From != -1 || rs[0].To != 0 {
				t.Fatalf("first restore: %+v; want one, of 0 records, from -1 to 0", rs)
			}
			for round := range int64(3) {
				for i := range int64(10) {
					f.set(p, fmt.Sprint("k", i), 10*round+i)
				}
				if round == 2 {
					f.del(p, "k9")
				}
				f.flushCommit(p)
			}
			f.release(reg, p)
			if err := backend.Close(); err != nil {
				t.Fatal(err)
			}

			// Another worker wrote to the changelog meanwhile.
			f.produce(changeRec(t, 0, "k0", 1000), changeRec(t, 0, "k1", -1), changeRec(t, 0, "new", 5))

			reg2, _ := f.registry()
			p2 := f.acquire(reg2, 0)
			rs := f.takeRestores()
			if len(rs) != 1 || rs[0].From != tc.wantFrom || rs[0].To != 33 || rs[0].Records != tc.wantRecords ||
				rs[0].Table != "counts" || rs[0].Partition != 0 {
				t.Fatalf("restore: %+v; want table counts partition 0, %d records from %d to 33", rs, tc.wantRecords, tc.wantFrom)
			}
			want := map[string]int64{"k0": 1000, "new": 5}
			for i := 2; i < 9; i++ {
				want[fmt.Sprint("k", i)] = int64(20 + i)
			}
			if got := f.scan(p2); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("restored state %v; want %v", got, want)
			}
			f.wantGet(p2, "k1", -1)
			f.wantGet(p2, "k9", -1)
			if cp := f.checkpoint(p2); cp != 33 {
				t.Fatalf("checkpoint after restore %d; want 33", cp)
			}

			// A partition restores once, however often it is asked.
			if err := p2.Restore(f.ctx()); err != nil {
				t.Fatal(err)
			}
			if rs := f.takeRestores(); len(rs) != 0 {
				t.Fatalf("second Restore of a restored partition restored again: %+v", rs)
			}
			f.release(reg2, p2)
		})
	}
}

// TestRestoreOfALongChangelog replays more records than fit in one store
// batch, from a plain and from a compacted changelog (whose offsets have
// gaps), and ends at the changelog's end either way.
func TestRestoreOfALongChangelog(t *testing.T) {
	t.Parallel()
	const keys, writes, deleted = 1000, 25_000, 100
	for _, url := range storeURLs {
		for _, compacted := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compacted=%v", storeName(url), compacted), func(t *testing.T) {
				t.Parallel()
				f := newFixture(t, url, 1)
				recs := make([]*kgo.Record, 0, writes+deleted)
				for i := range writes {
					recs = append(recs, changeRec(t, 0, fmt.Sprint("k", i%keys), int64(i)))
				}
				for i := range deleted {
					recs = append(recs, changeRec(t, 0, fmt.Sprint("k", i), -1))
				}
				if compacted {
					// A compacted changelog, as the runtime creates it.
					adm := kadm.NewClient(f.client)
					if _, err := adm.DeleteTopic(f.ctx(), changelog); err != nil {
						t.Fatal(err)
					}
					if _, err := adm.CreateTopic(f.ctx(), 1, 1, f.counts.Def().TopicConfigs(), changelog); err != nil {
						t.Fatal(err)
					}
				}
				f.produce(recs...)
				if compacted {
					f.cluster.Compact()
				}
				end := f.endOffset(0)
				if end != writes+deleted {
					t.Fatalf("changelog end %d; want %d", end, writes+deleted)
				}

				reg, _ := f.registry()
				p := f.acquire(reg, 0)
				rs := f.takeRestores()
				if len(rs) != 1 || rs[0].To != end {
					t.Fatalf("restore: %+v; want one to %d", rs, end)
				}
				if compacted && rs[0].Records >= end || !compacted && rs[0].Records != end {
					t.Fatalf("restored %d records of a changelog ending at %d (compacted %v)", rs[0].Records, end, compacted)
				}
				if cp := f.checkpoint(p); cp != end {
					t.Fatalf("checkpoint after restore %d; want %d", cp, end)
				}
				got := f.scan(p)
				if len(got) != keys-deleted {
					t.Fatalf("restored %d keys; want %d", len(got), keys-deleted)
				}
				for i := deleted; i < keys; i++ {
					if n := got[fmt.Sprint("k", i)]; n != int64(writes-keys+i) {
						t.Fatalf("k%d = %d; want its last write %d", i, n, writes-keys+i)
					}
				}
				f.release(reg, p)
			})
		}
	}
}

func TestRestoreInterruptedIsResumed(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "memory://", 1)
	f.produce(changeRec(t, 0, "a", 1), changeRec(t, 0, "b", 2))
	reg, _ := f.registry()
	p, err := reg.Acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Restore(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Restore with a cancelled context = %v; want context.Canceled", err)
	}
	if err := p.Restore(f.ctx()); err != nil {
		t.Fatal(err)
	}
	f.wantGet(p, "a", 1)
	f.wantGet(p, "b", 2)
	f.release(reg, p)
}

// TestRestoreWaitingForAnotherEndsWithItsContext: source partitions a/0
// and b/0 share shard 0, and so its restore: the second to restore waits
// for the first. When the second is revoked meanwhile, its wait ends with
// its context; the revoke would otherwise wait for the other partition's
// whole replay.
func TestRestoreWaitingForAnotherEndsWithItsContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "memory://", 1)
	f.produce(changeRec(t, 0, "a", 1), changeRec(t, 0, "b", 2))
	g := newGate()
	t.Cleanup(g.open)
	reg, _ := f.registryWith(g.wrap)
	pa, err := reg.Acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := reg.Acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- pa.Restore(f.ctx()) }()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first restore did not apply anything within 10s")
	}

	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() { second <- pb.Restore(ctx) }()
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the waiting Restore = %v; want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a Restore whose context ended still waited for the other restore (10s)")
	}

	g.open()
	if err := <-first; err != nil {
		t.Fatalf("the first Restore: %v", err)
	}
	if err := pb.Restore(f.ctx()); err != nil {
		t.Fatalf("Restore after the first finished: %v", err)
	}
	f.wantGet(pb, "a", 1)
	f.wantGet(pb, "b", 2)
	if err := reg.Release(pa); err != nil {
		t.Fatal(err)
	}
	if err := reg.Release(pb); err != nil {
		t.Fatal(err)
	}
}

// TestRestorePastTheChangelogEndIsAnError: a store checkpointed past the
// end of its changelog (the topic was deleted and recreated) is refused,
// and kept, not silently wiped.
func TestRestorePastTheChangelogEndIsAnError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// behind makes the store of partition 0 hold k=1 with a
		// checkpoint past the changelog's end, and returns the
		// partition to restore, with its registry.
		behind func(f *fixture) (*shards.Registry, *shards.Partition)
	}{
		{"rocksdb/changelog recreated", func(f *fixture) (*shards.Registry, *shards.Partition) {
			reg, backend := f.registry()
			p := f.acquire(reg, 0)
			for i := range int64(5) {
				f.set(p, "k", i+1) // ends at 5, one record
				f.set(p, fmt.Sprint("other", i), i)
			}
			f.flushCommit(p)
			f.set(p, "k", 1)
			f.flushCommit(p) // checkpoint 7
			f.release(reg, p)
			if err := backend.Close(); err != nil {
				f.t.Fatal(err)
			}
			adm := kadm.NewClient(f.client)
			if _, err := adm.DeleteTopic(f.ctx(), changelog); err != nil {
				f.t.Fatal(err)
			}
			if _, err := adm.CreateTopic(f.ctx(), 1, 1, nil, changelog); err != nil {
				f.t.Fatal(err)
			}
			// A new client: the old one knows the old topic's ID.
			cl, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				f.t.Fatal(err)
			}
			f.t.Cleanup(cl.Close)
			f.client = cl
			f.produce(changeRec(f.t, 0, "x", 1)) // end 1 < 7
			reg2, _ := f.registry()
			p2, err := reg2.Acquire(0)
			if err != nil {
				f.t.Fatal(err)
			}
			return reg2, p2
		}},
		{"memory/checkpoint set directly", func(f *fixture) (*shards.Registry, *shards.Partition) {
			reg, _ := f.registry()
			p, err := reg.Acquire(0)
			if err != nil {
				f.t.Fatal(err)
			}
			var b stores.Batch
			b.Set([]byte("k"), encode(f.t, 1))
			b.SetCheckpoint(7)
			if err := f.store(p).Apply(&b); err != nil {
				f.t.Fatal(err)
			}
			f.produce(changeRec(f.t, 0, "x", 1))
			return reg, p
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, strings.Split(tc.name, "/")[0]+"://", 1)
			reg, p := tc.behind(f)
			err := p.Restore(f.ctx())
			if err == nil || !strings.Contains(err.Error(), "past the end") || !strings.Contains(err.Error(), changelog) ||
				!strings.Contains(err.Error(), "checkpoint 7") {
				t.Fatalf("Restore = %v; want an error saying checkpoint 7 is past the end of %s", err, changelog)
			}
			if got := f.stored(p, "k"); got != 1 {
				t.Fatalf("after the refused restore the store holds k=%d; want 1 (kept, not wiped)", got)
			}
			if got := f.stored(p, "x"); got != -1 {
				t.Fatalf("the refused restore applied x=%d from the new changelog", got)
			}
			if cp := f.checkpoint(p); cp != 7 {
				t.Fatalf("checkpoint %d after the refused restore; want 7", cp)
			}
			// Still refused: the partition is not marked restored.
			if err := p.Restore(f.ctx()); err == nil {
				t.Fatal("second Restore succeeded; want the same refusal")
			}
			if err := reg.Release(p); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestGlobalTableFollowsItsTopicReadOnly: a global table restores every
// partition of the topic it follows, keeps applying what is written there,
// and refuses writes from handlers before addressing any shard.
func TestGlobalTableFollowsItsTopicReadOnly(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, url string) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "countries"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...)) // the default, key-hash partitioner
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(cl.Close)
		produce := func(kv ...string) {
			t.Helper()
			var recs []*kgo.Record
			for i := 0; i < len(kv); i += 2 {
				r := &kgo.Record{Topic: "countries", Key: []byte(kv[i])}
				if kv[i+1] != "" {
					r.Value = []byte(kv[i+1])
				}
				recs = append(recs, r)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		produce("nl", "Netherlands", "de", "Germany", "fr", "France", "be", "Belgium")

		g := NewGlobal("countries", "countries", serde.String(), serde.String(), Options{})
		if !g.Def().Global() || g.Def().Changelog() != "countries" {
			t.Fatalf("shards.Global %v, Changelog %q; want true, countries", g.Def().Global(), g.Def().Changelog())
		}
		b, err := backends.Open(url, t.TempDir(), stores.Options{MemoryLimit: 32 << 20})
		if err != nil {
			t.Fatal(err)
		}
		gl, err := shards.OpenGlobal(g.Def(), b, 3)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var restored atomic.Int64
		runErr := make(chan error, 1)
		go func() {
			runErr <- gl.Run(ctx, []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...)}, nil,
				func(st shards.RestoreStats) { restored.Add(st.Records) })
		}()
		t.Cleanup(func() {
			cancel()
			if err := <-runErr; err != nil {
				t.Errorf("Run: %v", err)
			}
			if err := gl.Close(); err != nil {
				t.Error(err)
			}
			if err := b.Close(); err != nil {
				t.Error(err)
			}
		})
		select {
		case <-gl.Ready():
		case <-time.After(30 * time.Second):
			t.Fatal("the global table was not ready within 30s")
		}
		if n := restored.Load(); n != 4 {
			t.Fatalf("restored %d records; want the topic's 4", n)
		}

		sc := shards.WithScope(context.Background(), globalScope{t, gl})
		get := func(k string) string {
			v, ok, err := g.Get(sc, k)
			if err != nil {
				t.Fatalf("Get(%q): %v", k, err)
			}
			if !ok {
				return "<none>"
			}
			return v
		}
		for k, want := range map[string]string{"nl": "Netherlands", "be": "Belgium", "xx": "<none>"} {
			if got := get(k); got != want {
				t.Fatalf("Get(%q) = %q; want %q", k, got, want)
			}
		}
		if err := g.Set(sc, "nl", "Holland"); !errors.Is(err, ErrReadOnly) {
			t.Errorf("Set = %v; want ErrReadOnly", err)
		}
		if err := g.Delete(sc, "nl"); !errors.Is(err, ErrReadOnly) {
			t.Errorf("Delete = %v; want ErrReadOnly", err)
		}

		// It keeps following the topic.
		produce("nl", "Nederland", "fr", "")
		deadline := time.Now().Add(30 * time.Second)
		for get("nl") != "Nederland" || get("fr") != "<none>" {
			if time.Now().After(deadline) {
				t.Fatalf("after an update and a tombstone: nl=%q fr=%q; want Nederland, <none>", get("nl"), get("fr"))
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// TestRestoreOfATopicEndingInATransactionMarker: a topic written by a
// transactional producer ends in a commit marker, an offset no record
// has. A restore must reach that end rather than wait for a record at it.
func TestRestoreOfATopicEndingInATransactionMarker(t *testing.T) {
	t.Parallel()
	f := newFixture(t, "memory://", 1)
	txn, err := kgo.NewClient(kgo.SeedBrokers(f.brokers...), kgo.TransactionalID("writer"),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(txn.Close)
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := txn.ProduceSync(f.ctx(), changeRec(t, 0, "a", 1)).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(f.ctx(), kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if end := f.endOffset(0); end != 2 {
		t.Fatalf("changelog end %d; want 2 (a record and a commit marker)", end)
	}
	reg, _ := f.registry()
	p, err := reg.Acquire(0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Restore(ctx); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	f.wantGet(p, "a", 1)
	f.release(reg, p)
}
