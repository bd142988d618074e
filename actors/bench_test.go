package actors_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/modes"
)

// dispatchPartitions is the partition count of the dispatch benchmark's
// topic, as in the bench/ harness's workload.
const dispatchPartitions = 8

// processorFunc is a Processor that runs a function; Abandon gives up on
// the record with the panic's error.
type processorFunc func(*actors.Call) error

func (f processorFunc) Process(c *actors.Call) error            { return f(c) }
func (f processorFunc) Abandon(_ *actors.Call, err error) error { return err }

// BenchmarkDispatch measures the record path of the actor engine with a
// trivial Processor, in single and in bulk mode (forced): b.N records
// (16-byte keys, 100-byte values) spread over 8 partitions of an
// in-process kfake broker, fetched by one client and handed, partition by
// partition, through the partition actors to their handler actors and the
// ledger. Joining the group is not timed: the first record of each
// partition holds its handler until all 8 partitions are assigned and
// their first records delivered, and the clock starts when they are
// released.
//
// Waits that are not CPU are kept out: MaxInFlight is above b.N, so
// backpressure never pauses a partition (one resumed near the end of a
// backlog can wait for the fetch already at the broker, FetchMaxWait), and
// a partial bulk batch waits 1ms, not BulkMaxWait's default 500ms, for
// more records. The bench/ harness's scenarios include both effects.
//
//	go test -run NONE -bench Dispatch -benchtime 1000000x -count 10 ./actors
func BenchmarkDispatch(b *testing.B) {
	for _, mode := range []modes.Mode{modes.Single, modes.Bulk} {
		b.Run(mode.String(), func(b *testing.B) { benchmarkDispatch(b, mode) })
	}
}

func benchmarkDispatch(b *testing.B, mode modes.Mode) {
	const topic = "dispatch"
	brokers := loadDispatch(b, topic, b.N)

	gate := make(chan struct{})
	arrived := make(chan struct{}, dispatchPartitions)
	done := make(chan struct{})
	var handled atomic.Int64
	total := int64(b.N)
	eng, err := actors.New(testSettings(actors.Config{
		MaxInFlight: b.N + 1000, // at least BulkMaxRecords
		Modes:       modes.Policy{Mode: mode},
		BulkMaxWait: time.Millisecond,
		NewProcessor: func(actors.TopicPartition) (actors.Processor, error) {
			return processorFunc(func(c *actors.Call) error {
				if c.Record.Offset == 0 { // each partition's gate record
					arrived <- struct{}{}
					<-gate
					return nil
				}
				if handled.Add(1) == total {
					close(done)
				}
				return nil
			}), nil
		},
	}))
	if err != nil {
		b.Fatal(err)
	}
	// Wired as the Engine's doc says, with the runtime's fetch wait.
	cl, err := kgo.NewClient(
		kgo.SeedBrokers(brokers...),
		kgo.ConsumerGroup("bench"),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(eng.OnAssigned),
		kgo.OnPartitionsRevoked(eng.OnRevoked),
		kgo.OnPartitionsLost(eng.OnLost),
		kgo.FetchMaxWait(500*time.Millisecond),
	)
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- eng.Run(ctx, cl) }()
	for range dispatchPartitions {
		select {
		case <-arrived:
		case err := <-errc:
			b.Fatalf("engine stopped before the first records: %v", err)
		}
	}

	b.ResetTimer()
	close(gate)
	select {
	case <-done:
	case err := <-errc:
		b.Fatalf("engine stopped after %d of %d records: %v", handled.Load(), b.N, err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// loadDispatch starts a broker with topic and writes, to each partition,
// a gate record at offset 0, then n records spread evenly over the
// partitions. It returns the broker's addresses.
func loadDispatch(b *testing.B, topic string, n int) []string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(dispatchPartitions, topic))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.NoCompression())) // the fetch path without decompression: the engine is what is measured
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	value := make([]byte, 100)
	for i := range value {
		value[i] = byte(i * 7)
	}
	var failed atomic.Pointer[error]
	promise := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	ctx := context.Background()
	for p := range int32(dispatchPartitions) {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: p, Key: []byte("gate"), Value: value}, promise)
	}
	for i := range n {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Partition: int32(i % dispatchPartitions),
			Key: fmt.Appendf(nil, "key-%012d", i%100_000), Value: value}, promise)
	}
	if err := cl.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	return c.ListenAddrs()
}
