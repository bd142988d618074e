package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The workload of every scenario that does not say otherwise (issue 6).
const (
	// partitions of every topic the harness creates.
	partitions = 8
	// distinctKeys are drawn uniformly, with a fixed seed.
	distinctKeys = 100_000
	// keyLen is the length of every key: "key-%012d".
	keyLen = 16
	// valueLen is the length of every value.
	valueLen = 100
	// rocksBatch is how many puts make one WriteBatch in the raw RocksDB
	// baseline, as the tables code batches its checkpoints.
	rocksBatch = 1000
)

// workload is the data the scenarios write: distinctKeys 16-byte keys,
// picked by picker, and pseudo-random 100-byte values from values. Values
// differ from record to record: a value repeated in every record would
// let the producer's compression make the data far smaller than real data
// (the broker held a 10M-record backlog in a fifth of the memory). It is
// read-only once built; its slices must not be modified.
type workload struct {
	keys [][]byte
}

// newWorkload builds the keys.
func newWorkload() *workload {
	w := &workload{keys: make([][]byte, distinctKeys)}
	for i := range w.keys {
		w.keys[i] = fmt.Appendf(nil, "key-%012d", i)
	}
	return w
}

// picker returns a deterministic sequence of key indexes, uniform over the
// keys: every call starts the same sequence, so every scenario sees the
// same keys in the same order.
func (w *workload) picker() func() int {
	r := rand.New(rand.NewPCG(1, 2))
	return func() int { return r.IntN(distinctKeys) }
}

// values returns a deterministic source of values: each call fills v with
// the next pseudo-random bytes. Every call of values starts the same
// sequence.
func (w *workload) values() func(v []byte) {
	r := rand.NewChaCha8([32]byte{'e', 'd', 'd', 'y'})
	return func(v []byte) { _, _ = r.Read(v) } // ChaCha8.Read never fails
}

// produce writes n records of the workload to topic with a franz-go
// producer with its default options and returns the time from the
// client's creation to the acknowledgement of the last record. With
// byIndex, key i goes to partition i%8, as a changelog keyed by source
// partition would have it; otherwise the default partitioner hashes the
// key. It also returns how many distinct keys were written.
func (h *harness) produce(ctx context.Context, topic string, n int, byIndex bool) (time.Duration, int, error) {
	start := time.Now()
	opts := h.options()
	if byIndex {
		opts = append(opts, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return 0, 0, fmt.Errorf("producer for %s: %w", topic, err)
	}
	defer cl.Close()
	var acks acks
	next, fill := h.work.picker(), h.work.values()
	seen := make([]bool, distinctKeys)
	distinct := 0
	for range n {
		k := next()
		if !seen[k] {
			seen[k], distinct = true, distinct+1
		}
		v := make([]byte, valueLen) // the client keeps it until acknowledged
		fill(v)
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(k % partitions), Key: h.work.keys[k], Value: v}, acks.promise)
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, 0, fmt.Errorf("produce to %s: %w", topic, err)
	}
	if err := acks.err(); err != nil {
		return 0, 0, fmt.Errorf("produce to %s: %w", topic, err)
	}
	return time.Since(start), distinct, nil
}
