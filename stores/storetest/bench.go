package storetest

import (
	"math/rand/v2"
	"testing"

	"github.com/eddy-streams/eddy/stores"
)

// Benchmark shape: what the tables code writes (16-byte keys, 100-byte
// values, 1000 writes per batch).
const (
	benchKeyLen   = 16
	benchValueLen = 100
	benchBatch    = 1000
	benchGetKeys  = 100_000
)

// randomBatch fills b with benchBatch random keys and values in fresh memory
// (the memory store keeps the slices it is given).
func randomBatch(r *rand.Rand, b *stores.Batch) {
	b.Reset()
	buf := make([]byte, benchBatch*(benchKeyLen+benchValueLen))
	for i := 0; i+8 <= len(buf); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			buf[i+j] = byte(v >> (8 * j))
		}
	}
	for i := range benchBatch {
		rec := buf[i*(benchKeyLen+benchValueLen):]
		b.Set(rec[:benchKeyLen:benchKeyLen], rec[benchKeyLen:benchKeyLen+benchValueLen:benchKeyLen+benchValueLen])
	}
}

func benchStore(b *testing.B, newBackend NewBackend) stores.Store {
	b.Helper()
	be := newBackend(b, b.TempDir())
	s, err := be.Open(stores.Meta{Table: "bench", Partition: 0, Schema: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
		if err := be.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

// BenchmarkApply measures Apply of batches of 1000 random 16-byte keys with
// 100-byte values and a checkpoint; it reports key writes per second (ops/s).
// Building each batch (allocating and filling 116 KB) is part of the cost,
// as it is for the tables code.
func BenchmarkApply(b *testing.B, newBackend NewBackend) {
	s := benchStore(b, newBackend)
	r := rand.New(rand.NewPCG(1, 2))
	var batch stores.Batch
	var n int64
	b.SetBytes(benchBatch * (benchKeyLen + benchValueLen))
	for b.Loop() {
		randomBatch(r, &batch)
		n++
		batch.SetCheckpoint(n)
		if err := s.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n*benchBatch)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkGet measures Get of random existing keys among 100,000 (16-byte
// keys, 100-byte values); it reports reads per second (ops/s).
func BenchmarkGet(b *testing.B, newBackend NewBackend) {
	s := benchStore(b, newBackend)
	r := rand.New(rand.NewPCG(3, 4))
	keys := make([][]byte, 0, benchGetKeys)
	var batch stores.Batch
	for len(keys) < benchGetKeys {
		randomBatch(r, &batch)
		for _, op := range batch.Ops() {
			keys = append(keys, op.Key)
		}
		if err := s.Apply(&batch); err != nil {
			b.Fatal(err)
		}
	}
	var n int
	for b.Loop() {
		if _, ok, err := s.Get(keys[r.IntN(len(keys))]); err != nil || !ok {
			b.Fatalf("Get = %v, %v", ok, err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ops/s")
}
