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
	keys := fill(b, s, r)
	benchGets(b, s, r, keys, true)
}

// BenchmarkGetMissing measures Get of random keys that are not in a store
// holding 100,000 others: what a per-key count's first read of a key
// costs when the write-back cache does not have it either. It reports
// reads per second (ops/s).
func BenchmarkGetMissing(b *testing.B, newBackend NewBackend) {
	s := benchStore(b, newBackend)
	r := rand.New(rand.NewPCG(3, 4))
	fill(b, s, r)
	missing, _ := randomKeys(r, benchGetKeys, nil) // drawn after the stored ones; no error without apply
	benchGets(b, s, r, missing, false)
}

// BenchmarkSet measures Apply of batches of one write (a random key among
// 100,000, a 100-byte value) without a checkpoint: the fixed cost of a
// write that BenchmarkApply's batches of 1000 share. It reports writes
// per second (ops/s).
func BenchmarkSet(b *testing.B, newBackend NewBackend) {
	s := benchStore(b, newBackend)
	r := rand.New(rand.NewPCG(5, 6))
	keys, _ := randomKeys(r, benchGetKeys, nil) // no error without apply
	// value is never modified: the memory store may keep it.
	value := make([]byte, benchValueLen)
	var batch stores.Batch
	var n int
	for b.Loop() {
		batch.Reset()
		batch.Set(keys[r.IntN(len(keys))], value)
		if err := s.Apply(&batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ops/s")
}

// randomKeys returns n random 16-byte keys (16 random bytes never
// repeat), made in batches of 1000 with 100-byte values; apply, when not
// nil, is given each batch.
func randomKeys(r *rand.Rand, n int, apply func(*stores.Batch) error) ([][]byte, error) {
	keys := make([][]byte, 0, n)
	var batch stores.Batch
	for len(keys) < n {
		randomBatch(r, &batch)
		for _, op := range batch.Ops() {
			keys = append(keys, op.Key)
		}
		if apply != nil {
			if err := apply(&batch); err != nil {
				return nil, err
			}
		}
	}
	return keys[:n], nil
}

// fill writes 100,000 random keys with 100-byte values to s, in batches
// of 1000, and returns the keys.
func fill(b *testing.B, s stores.Store, r *rand.Rand) [][]byte {
	b.Helper()
	keys, err := randomKeys(r, benchGetKeys, s.Apply)
	if err != nil {
		b.Fatal(err)
	}
	return keys
}

// benchGets reads random keys of keys from s b.N times, failing unless
// each one's presence is found, and reports reads per second (ops/s).
func benchGets(b *testing.B, s stores.Store, r *rand.Rand, keys [][]byte, found bool) {
	b.Helper()
	var n int
	for b.Loop() {
		if _, ok, err := s.Get(keys[r.IntN(len(keys))]); err != nil || ok != found {
			b.Fatalf("Get = %v, %v; want found %v", ok, err, found)
		}
		n++
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "ops/s")
}
