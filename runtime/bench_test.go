package runtime

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
)

// benchTopic loads n records (16-byte keys, 100-byte values) into 8
// partitions of a fresh in-process broker.
func benchTopic(b *testing.B, n int) []string {
	b.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(8, "bench"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	val := make([]byte, 100)
	_, _ = rand.Read(val)
	for i := range n {
		cl.Produce(context.Background(), &kgo.Record{Topic: "bench", Key: fmt.Appendf(nil, "key-%011d", i%100000), Value: val}, nil)
	}
	if err := cl.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	return c.ListenAddrs()
}

// BenchmarkRawConsume is the baseline: a franz-go group consumer that
// counts records. Run with -benchtime=Nx to set the record count.
func BenchmarkRawConsume(b *testing.B) {
	brokers := benchTopic(b, b.N)
	b.ResetTimer()
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumerGroup("raw"), kgo.ConsumeTopics("bench"),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	for n := 0; n < b.N; {
		n += cl.PollFetches(context.Background()).NumRecords()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkSingleMode runs a stateless counting handler (bytes codecs) in
// single mode through the whole runtime.
func BenchmarkSingleMode(b *testing.B) {
	brokers := benchTopic(b, b.N)
	var handled atomic.Int64
	done := make(chan struct{})
	app := NewApp("bench")
	Handle(app, HandlerFunc[[]byte, []byte](func(*Context, *Message[[]byte, []byte]) error {
		if handled.Add(1) == int64(b.N) {
			close(done)
		}
		return nil
	}), serde.Bytes(), serde.Bytes(), "bench")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	b.ResetTimer()
	go func() { errc <- app.Run(ctx, Config{Brokers: brokers, HTTP: "off", LogLevel: 8}) }()
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	cancel()
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}
