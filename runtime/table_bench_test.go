package runtime

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
	"github.com/eddy-streams/eddy/tables"
)

// The table benchmarks' workload (issue 6): b.N records, 16-byte keys
// drawn uniformly from 100,000, 100-byte values, 8 partitions. Run them
// with -benchtime=Nx to set the record count, together with their
// baselines (BenchmarkRawConsume, BenchmarkTableBaselineRocksDBApply):
//
//	go test -run NONE -bench 'Table|RawConsume' -benchtime=1000000x ./runtime
const (
	tableBenchKeys       = 100_000
	tableBenchPartitions = 8
	tableBenchValueLen   = 100
	tableBenchBatch      = 1000 // records per store batch in the RocksDB baseline
)

// tableBenchWorkload returns the 100,000 16-byte keys, a 100-byte value,
// and a deterministic source of key indexes.
func tableBenchWorkload() (keys [][]byte, value []byte, next func() int) {
	keys = make([][]byte, tableBenchKeys)
	for i := range keys {
		keys[i] = fmt.Appendf(nil, "key-%012d", i)
	}
	value = make([]byte, tableBenchValueLen)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range value {
		value[i] = byte(r.Uint32())
	}
	return keys, value, func() int { return r.IntN(tableBenchKeys) }
}

// tableBenchLoad starts a broker with topic of 8 partitions and writes n
// records of the workload to it. With manual, key i goes to partition
// i%8 (a changelog); otherwise the default partitioner hashes the key.
func tableBenchLoad(b *testing.B, topic string, n int, manual bool) []string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(tableBenchPartitions, topic))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(5 * time.Millisecond)}
	if manual {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	keys, value, next := tableBenchWorkload()
	var failed atomic.Pointer[error]
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	for range n {
		k := next()
		cl.Produce(context.Background(), &kgo.Record{Topic: topic, Partition: int32(k % tableBenchPartitions), Key: keys[k], Value: value}, promise)
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := failed.Load(); err != nil {
		b.Fatalf("loading %s: %v", topic, *err)
	}
	return c.ListenAddrs()
}

// endOffsets returns the sum of topic's end offsets: the records written
// to it.
func endOffsets(b *testing.B, brokers []string, topic string) int64 {
	b.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return n
}

// BenchmarkTableCountMemory counts records per key in a memory table.
func BenchmarkTableCountMemory(b *testing.B) { benchmarkTableCount(b, "memory://") }

// BenchmarkTableCountRocksDB counts records per key in a RocksDB table.
func BenchmarkTableCountRocksDB(b *testing.B) { benchmarkTableCount(b, "rocksdb://") }

// benchmarkTableCount runs an app whose handler counts records per key
// (Get, then Set of the count plus one) over b.N records, default
// settings (commit_interval 5s). The clock runs from the start of App.Run
// until Run returned after the last record was handled, so it includes the
// final flush of the tables to the changelog, the commit and the closing
// of the stores: records/s is the rate at which counts became durable.
// handled-records/s stops the clock at the last record handled. The
// changelog records written per record handled show the write-back cache's
// folding; they depend on how many commits fall within the run.
func benchmarkTableCount(b *testing.B, store string) {
	brokers := tableBenchLoad(b, "bench", b.N, false)
	var handled atomic.Int64
	done := make(chan struct{})
	app := NewApp("bench")
	counts := NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{})
	Handle(app, HandlerFunc[string, []byte](func(ctx *Context, m *Message[string, []byte]) error {
		n, _, err := counts.Get(ctx, m.Key)
		if err != nil {
			return err
		}
		if err := counts.Set(ctx, m.Key, n+1); err != nil {
			return err
		}
		if handled.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	}), serde.String(), serde.Bytes(), "bench")
	cfg := Config{Brokers: brokers, HTTP: "off", LogLevel: 8, TableStore: store, StateDir: b.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	b.ResetTimer()
	go func() { errc <- app.Run(ctx, cfg) }()
	select {
	case <-done:
	case err := <-errc:
		b.Fatalf("Run returned before every record was handled: %v", err)
	}
	handledIn := b.Elapsed()
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/handledIn.Seconds(), "handled-records/s")
	written := endOffsets(b, brokers, "bench-counts-changelog")
	b.ReportMetric(float64(written)/float64(b.N), "changelog-records/record")
}

// BenchmarkTableRestoreMemory restores a changelog into memory stores.
func BenchmarkTableRestoreMemory(b *testing.B) { benchmarkTableRestore(b, "memory://") }

// BenchmarkTableRestoreRocksDB restores a changelog into RocksDB stores.
func BenchmarkTableRestoreRocksDB(b *testing.B) { benchmarkTableRestore(b, "rocksdb://") }

// benchmarkTableRestore loads a changelog of b.N records (keys among
// 100,000, key i in partition i%8) and times the Acquire and Restore of
// its 8 partitions into empty stores, concurrently, as a worker assigned
// all of them does. It reports records/s and, for memory stores, the heap
// the restored table holds.
func benchmarkTableRestore(b *testing.B, url string) {
	const changelog = "bench-counts-changelog"
	brokers := tableBenchLoad(b, changelog, b.N, true)
	t := tables.New("counts", serde.String(), serde.Bytes(), tables.Options{})
	t.Def().SetChangelog(changelog)
	backend, err := backends.Open(url, b.TempDir(), stores.Options{}) // the runtime's default memory limit
	if err != nil {
		b.Fatal(err)
	}
	var restored atomic.Int64
	reg := tables.NewRegistry(tables.RegistryConfig{
		Tables: map[*tables.Def]stores.Backend{t.Def(): backend},
		Produce: func(rec *kgo.Record, promise func(*kgo.Record, error)) {
			promise(rec, errors.New("benchmark: a restore does not produce"))
		},
		Restore:    []kgo.Opt{kgo.SeedBrokers(brokers...)},
		OnRestored: func(st tables.RestoreStats) { restored.Add(st.Records) },
	})
	heapBefore := heapInUse()
	b.ResetTimer()
	parts := make([]*tables.Partition, tableBenchPartitions)
	errs := make([]error, tableBenchPartitions)
	var wg sync.WaitGroup
	for i := range parts {
		wg.Go(func() {
			p, err := reg.Acquire(int32(i))
			if err != nil {
				errs[i] = err
				return
			}
			parts[i] = p
			errs[i] = p.Restore(context.Background())
		})
	}
	wg.Wait()
	b.StopTimer()
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	if n := restored.Load(); n != int64(b.N) {
		b.Fatalf("restored %d records; want %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if !backend.Persistent() { // RocksDB keeps its data outside the Go heap
		b.ReportMetric(float64(heapInUse()-heapBefore)/(1<<20), "heap-MiB")
	}
	for _, p := range parts {
		if err := reg.Release(p); err != nil {
			b.Error(err)
		}
	}
	if err := backend.Close(); err != nil {
		b.Error(err)
	}
}

// heapInUse returns the live Go heap after a collection.
func heapInUse() int64 {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// BenchmarkTableBaselineRocksDBApply is the RocksDB baseline of the table
// benchmarks, in their unit: b.N puts of the workload (16-byte keys drawn
// from 100,000, 100-byte values) in batches of 1000, each with a
// checkpoint, into one RocksDB store with the runtime's default memory
// limit. It is stores/storetest's BenchmarkApply counted in records rather
// than batches, so that -benchtime=Nx gives it as many records as the
// table benchmarks in the same run.
func BenchmarkTableBaselineRocksDBApply(b *testing.B) {
	backend, err := backends.Open("rocksdb://", b.TempDir(), stores.Options{})
	if err != nil {
		b.Fatal(err)
	}
	st, err := backend.Open(stores.Meta{Table: "bench", Partition: 0, Schema: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	keys, value, next := tableBenchWorkload()
	var batch stores.Batch
	b.ResetTimer()
	for i := 0; i < b.N; {
		batch.Reset()
		for ; batch.Len() < tableBenchBatch && i < b.N; i++ {
			batch.Set(keys[next()], value)
		}
		batch.SetCheckpoint(int64(i))
		if err := st.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if err := st.Close(); err != nil {
		b.Error(err)
	}
	if err := backend.Close(); err != nil {
		b.Error(err)
	}
}
