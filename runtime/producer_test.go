package runtime

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/serde"
)

// producedBatch is one record batch of a produce request, as the broker
// received it.
type producedBatch struct {
	acks        int16
	at          time.Time // when the request reached the broker
	bytes       int       // the batch's size on the wire
	records     int32
	compression int8  // the attributes' codec: 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd
	producerID  int64 // -1 when not idempotent
}

// produceWatch records the batches produced to one topic.
type produceWatch struct {
	w       testkit.Watch
	batches []producedBatch // under w
}

// watchProduces records every batch produced to topic on c. It observes
// the requests and lets the broker handle them.
func watchProduces(t *testing.T, c *kfake.Cluster, brokers []string, topic string) *produceWatch {
	t.Helper()
	id := topicID(t, brokers, topic)
	pw := &produceWatch{}
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		now := time.Now()
		for _, rt := range pr.Topics {
			if rt.Topic != topic && rt.TopicID != id {
				continue
			}
			for _, p := range rt.Partitions {
				var b kmsg.RecordBatch
				if err := b.ReadFrom(p.Records); err != nil {
					t.Errorf("a produce request to %s carries a batch that does not parse: %v", topic, err)
					continue
				}
				pw.w.Change(func() {
					pw.batches = append(pw.batches, producedBatch{acks: pr.Acks, at: now, bytes: len(p.Records),
						records: b.NumRecords, compression: int8(b.Attributes & 0x07), producerID: b.ProducerID})
				})
			}
		}
		return nil, nil, false
	})
	return pw
}

// all returns the batches seen so far.
func (pw *produceWatch) all() []producedBatch {
	var out []producedBatch
	pw.w.Read(func() { out = append(out, pw.batches...) })
	return out
}

// awaitRecords waits until batches of n records in all reached the broker.
func (pw *produceWatch) awaitRecords(t *testing.T, n int32) []producedBatch {
	t.Helper()
	pw.w.Await(t, 30*time.Second, fmt.Sprintf("%d produced records", n), func() (bool, string) {
		var got int32
		for _, b := range pw.batches {
			got += b.records
		}
		return got >= n, fmt.Sprintf("%d records in %d batches", got, len(pw.batches))
	})
	return pw.all()
}

// topicID returns the id of topic, which newer produce requests name it by.
func topicID(t *testing.T, brokers []string, topic string) [16]byte {
	t.Helper()
	var id [16]byte
	testkit.Within(t, 30*time.Second, func(ctx context.Context) error {
		details, err := kadm.NewClient(testkit.NewClient(t, brokers)).ListTopics(ctx, topic)
		if err != nil {
			return err
		}
		d, ok := details[topic]
		if !ok || d.Err != nil {
			return fmt.Errorf("topic %s: %v", topic, d.Err)
		}
		id = d.ID
		return nil
	})
	return id
}

// forward returns an app named name whose handler produces each record of
// "in" to "out" n times, as keyN.
func forward(t *testing.T, name string, n int, j *journal) *App {
	app := NewApp(name, WithLogger(testLogger(t)))
	out := NewOutput(app, serde.String(), serde.String(), "out")
	Handle[string, string](app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		for i := range n {
			if err := out.Produce(ctx, "out", fmt.Sprintf("%s%d", m.Key, i), m.Value); err != nil {
				if j != nil {
					j.add("produce %s%d: %v", m.Key, i, err)
				}
				return err
			}
			if j != nil {
				j.add("produced %s%d", m.Key, i)
			}
		}
		return nil
	}), serde.String(), serde.String(), "in")
	return app
}

func TestProducerCompression(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		codec   int8 // the batch attribute
	}{{"", 2}, {"none", 0}, {"gzip", 1}, {"snappy", 2}, {"lz4", 3}, {"zstd", 4}} {
		t.Run("compression="+tc.setting, func(t *testing.T) {
			t.Parallel()
			c, brokers := testCluster(t, 1, "in", "out")
			produce(t, brokers, rec("in", 0, "k", strings.Repeat("compressible ", 50)))
			pw := watchProduces(t, c, brokers, "out")
			cfg := testConfig(t, brokers)
			cfg.ProducerCompression = tc.setting
			startApp(t, forward(t, "compression", 1, nil), cfg)

			for _, b := range pw.awaitRecords(t, 1) {
				if b.compression != tc.codec {
					t.Errorf("a batch to out has codec %d; want %d (%q)", b.compression, tc.codec, tc.setting)
				}
			}
			// What consumers see: the batch's codec on each record.
			for _, r := range consumeAll(t, brokers, "out", 1) {
				if got := int8(r.Attrs.CompressionType()); got != tc.codec {
					t.Errorf("record %s of out was stored with codec %d; want %d", r.Key, got, tc.codec)
				}
			}
		})
	}
}

func TestProducerAcks(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting    string
		acks       int16
		idempotent bool
	}{{"", -1, true}, {"all", -1, true}, {"leader", 1, false}, {"none", 0, false}} {
		t.Run("acks="+tc.setting, func(t *testing.T) {
			t.Parallel()
			c, brokers := testCluster(t, 1, "in", "out")
			produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 0, "b", "2"))
			pw := watchProduces(t, c, brokers, "out")
			cfg := testConfig(t, brokers)
			cfg.ProducerAcks = tc.setting
			startApp(t, forward(t, "acks", 1, nil), cfg)

			for _, b := range pw.awaitRecords(t, 2) {
				if b.acks != tc.acks {
					t.Errorf("a produce request to out asks for acks %d; want %d (%q)", b.acks, tc.acks, tc.setting)
				}
				if idem := b.producerID >= 0; idem != tc.idempotent {
					t.Errorf("a batch to out has producer id %d: idempotent %v; want %v", b.producerID, idem, tc.idempotent)
				}
			}
			if got := consumeAll(t, brokers, "out", 2); len(got) != 2 {
				t.Errorf("out has %d records; want 2", len(got))
			}
			// The source records are committed once their outputs count as
			// delivered, whatever that takes under the setting.
			eventually(t, 30*time.Second, "in committed to 2", func() bool {
				return committed(t, brokers, cfg.Group, "in")[0] == 2
			})
		})
	}
}

func TestProducerLingerBatches(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 1, "in", "out")
	produce(t, brokers, rec("in", 0, "k", "v"))
	pw := watchProduces(t, c, brokers, "out")
	const linger = 500 * time.Millisecond
	cfg := testConfig(t, brokers)
	cfg.ProducerLinger = linger
	j := &journal{}
	started := time.Now()
	startApp(t, forward(t, "linger", 20, j), cfg)

	batches := pw.awaitRecords(t, 20)
	// The handler produced its 20 records at once; they waited the linger
	// for one another and went out as one batch, not one by one.
	if len(batches) != 1 || batches[0].records != 20 {
		t.Fatalf("the 20 records went to the broker in batches %+v; want one batch of 20", batches)
	}
	if waited := batches[0].at.Sub(started); waited < linger {
		t.Errorf("the batch reached the broker %v after the app started; want at least the linger, %v", waited, linger)
	}
}

func TestProducerBatchMaxBytes(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 1, "in", "out")
	produce(t, brokers, rec("in", 0, "k", strings.Repeat("x", 200)))
	pw := watchProduces(t, c, brokers, "out")
	cfg := testConfig(t, brokers)
	cfg.ProducerBatchMaxBytes = 1024
	cfg.ProducerCompression = "none" // so that a batch's size on the wire is its size before compression
	cfg.ProducerLinger = 200 * time.Millisecond
	startApp(t, forward(t, "batchbytes", 20, nil), cfg)

	batches := pw.awaitRecords(t, 20)
	// 20 records of 200 bytes do not fit in one batch of 1 KiB.
	if len(batches) < 4 {
		t.Errorf("20 records of 200 bytes went out in %d batches; want at least 4 of at most 1KiB", len(batches))
	}
	for _, b := range batches {
		if b.bytes > 1024 {
			t.Errorf("a batch of %d records has %d bytes; want at most 1024", b.records, b.bytes)
		}
	}
	if got := consumeAll(t, brokers, "out", 20); len(got) != 20 {
		t.Errorf("out has %d records; want 20", len(got))
	}
}

func TestProducerDeliveryTimeoutStopsApp(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 1, "in", "out")
	produce(t, brokers, rec("in", 0, "k", "v"))
	// The broker keeps answering that it does not lead the partition: a
	// retriable error, so only the delivery timeout ends the retries.
	id := topicID(t, brokers, "out")
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		pr := req.(*kmsg.ProduceRequest)
		resp := pr.ResponseKind().(*kmsg.ProduceResponse)
		for _, t := range pr.Topics {
			if t.Topic != "out" && t.TopicID != id {
				return nil, nil, false
			}
			rt := kmsg.NewProduceResponseTopic()
			rt.Topic, rt.TopicID = t.Topic, t.TopicID
			for _, p := range t.Partitions {
				rp := kmsg.NewProduceResponseTopicPartition()
				rp.Partition = p.Partition
				rp.ErrorCode = kerr.NotLeaderForPartition.Code
				rt.Partitions = append(rt.Partitions, rp)
			}
			resp.Topics = append(resp.Topics, rt)
		}
		return resp, nil, true
	})
	cfg := testConfig(t, brokers)
	cfg.ProducerDeliveryTimeout = time.Second
	started := time.Now()
	// The default of 2 minutes would outlast the wait.
	err := startApp(t, forward(t, "delivery", 1, nil), cfg).wait(t, 30*time.Second)
	if !errors.Is(err, kgo.ErrRecordTimeout) || !strings.Contains(err.Error(), "in/0@0") {
		t.Fatalf("Run = %v; want the record timeout naming the source record in/0@0", err)
	}
	if took := time.Since(started); took < time.Second {
		t.Errorf("the app stopped %v after it started; the record may not fail before its delivery timeout, 1s", took)
	}
	if got, ok := committed(t, brokers, cfg.Group, "in")[0]; ok && got != 0 {
		t.Errorf("in committed to %d; want nothing past the record whose output failed", got)
	}
}

func TestConsumerStartFromLatest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		setting string
		from    int64 // the first offset the worker fetches
	}{{"", 0}, {"earliest", 0}, {"latest", 3}} {
		t.Run("start_from="+tc.setting, func(t *testing.T) {
			t.Parallel()
			c, brokers := testCluster(t, 1, "in")
			produce(t, brokers, rec("in", 0, "old", "0"), rec("in", 0, "old", "1"), rec("in", 0, "old", "2"))

			// The worker's first fetch says where it starts; the records
			// below are produced only after it, so "latest" cannot skip them.
			firstFetch := make(chan int64, 1)
			c.ControlKey(int16(kmsg.Fetch), func(req kmsg.Request) (kmsg.Response, error, bool) {
				c.KeepControl()
				for _, rt := range req.(*kmsg.FetchRequest).Topics {
					for _, p := range rt.Partitions {
						select {
						case firstFetch <- p.FetchOffset:
						default:
						}
						c.DropControl()
					}
				}
				return nil, nil, false
			})
			j := &journal{}
			app := NewApp("startfrom", WithLogger(testLogger(t)))
			Handle[string, string](app, HandlerFunc[string, string](func(_ *Context, m *Message[string, string]) error {
				j.add("%s@%d", m.Key, m.Record.Offset)
				return nil
			}), serde.String(), serde.String(), "in")
			cfg := testConfig(t, brokers)
			cfg.StartFrom = tc.setting
			startApp(t, app, cfg)

			var from int64
			select {
			case from = <-firstFetch:
			case <-time.After(30 * time.Second):
				t.Fatal("the worker did not fetch within 30s")
			}
			if from != tc.from {
				t.Errorf("the worker's first fetch starts at offset %d; want %d", from, tc.from)
			}
			produce(t, brokers, rec("in", 0, "new", "3"))
			want := []string{"old@0", "old@1", "old@2", "new@3"}
			if tc.setting == "latest" {
				want = []string{"new@3"}
			}
			if got := j.await(t, len(want)); strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("handled %q; want %q", got, want)
			}
		})
	}
}

// holdProduces holds every produce request to topic on c until release is
// closed: the broker neither writes nor acknowledges them meanwhile.
func holdProduces(t *testing.T, c *kfake.Cluster, brokers []string, topic string) (release func()) {
	t.Helper()
	id := topicID(t, brokers, topic)
	released := make(chan struct{})
	c.ControlKey(int16(kmsg.Produce), func(req kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		for _, rt := range req.(*kmsg.ProduceRequest).Topics {
			if rt.Topic == topic || rt.TopicID == id {
				c.SleepControl(func() { <-released })
				break
			}
		}
		return nil, nil, false
	})
	var once bool
	release = func() {
		if !once {
			once = true
			close(released)
		}
	}
	t.Cleanup(release)
	return release
}

// awaitProduceWait waits until a handler of app found the produce buffer
// full and waits in Produce.
func awaitProduceWait(t *testing.T, app *App) *worker {
	t.Helper()
	var w *worker
	eventually(t, 30*time.Second, "a handler waiting for room in the produce buffer", func() bool {
		w = app.current.Load()
		return w != nil && w.produceGate.Waits() > 0
	})
	return w
}

func TestProducerMaxBufferedRecordsBlocksHandler(t *testing.T) {
	t.Parallel()
	const n, limit = 20, 5
	c, brokers := testCluster(t, 1, "in", "out")
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, rec("in", 0, fmt.Sprintf("r%02d-", i), "v"))
	}
	produce(t, brokers, recs...)
	release := holdProduces(t, c, brokers, "out")
	j := &journal{}
	app := forward(t, "buffered", 1, j)
	cfg := testConfig(t, brokers)
	cfg.ProducerMaxBufferedRecords = limit
	cfg.HTTP = freeAddr(t)
	startApp(t, app, cfg)

	// No produce is acknowledged while the broker holds them: the handler
	// produces limit records, then blocks on the next rather than
	// buffering all n.
	w := awaitProduceWait(t, app)
	if got := w.produceGate.Held(); got != limit {
		t.Errorf("%d records in the produce buffer; want the limit, %d", got, limit)
	}
	if got := w.groupClient().BufferedProduceRecords(); got > limit {
		t.Errorf("the Kafka client buffers %d records; want at most %d", got, limit)
	}
	if got := j.all(); len(got) != limit {
		t.Errorf("the handler produced %d records while the broker held them (%q); want %d, then block", len(got), got, limit)
	}
	m := scrape(t, "http://"+cfg.HTTP+"/metrics")
	if v, _ := m.get("eddy_produce_buffered"); v != limit {
		t.Errorf("eddy_produce_buffered = %v; want %d", v, limit)
	}
	if v, _ := m.get("eddy_produce_waits_total"); v != 1 {
		t.Errorf("eddy_produce_waits_total = %v; want 1", v)
	}

	// Once the broker answers, the handler goes on, in order.
	release()
	out := consumeAll(t, brokers, "out", n)
	for i, r := range out {
		if want := fmt.Sprintf("r%02d-0", i); string(r.Key) != want {
			t.Fatalf("out[%d] has key %s; want %s", i, r.Key, want)
		}
	}
	eventually(t, 30*time.Second, "in committed to its end", func() bool {
		return committed(t, brokers, cfg.Group, "in")[0] == n
	})
}

func TestProducerBlockedHandlerStopsOnShutdown(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 1, "in", "out")
	produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 0, "b", "2"), rec("in", 0, "c", "3"))
	holdProduces(t, c, brokers, "out") // for good: only the shutdown can end the wait
	j := &journal{}
	app := forward(t, "blockedstop", 1, j)
	cfg := testConfig(t, brokers)
	cfg.ProducerMaxBufferedRecords = 1
	cfg.ShutdownTimeout = 500 * time.Millisecond
	r := startApp(t, app, cfg)
	awaitProduceWait(t, app)

	started := time.Now()
	err := r.stop(t)
	t.Logf("Run = %v, after %v", err, time.Since(started))
	// The drain deadline cancels the handler's context, which ends its
	// wait in Produce with an error, reported as an interruption, not as
	// a failure of the record.
	entries := j.await(t, 2)
	if entries[0] != "produced a0" || !strings.HasPrefix(entries[1], "produce b0: runtime: produce to out from in/0@1: gave up waiting for room in the produce buffer") ||
		!strings.Contains(entries[1], "context canceled") {
		t.Errorf("the handler saw %q; want a0 produced, then b0's Produce to fail with the cancelled context", entries)
	}
	if got, ok := committed(t, brokers, cfg.Group, "in")[0]; ok && got != 0 {
		t.Errorf("in committed to %d; want nothing, no output was acknowledged", got)
	}
}

func TestWithClientOptionsComeLast(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 1, "in", "out")
	produce(t, brokers, rec("in", 0, "k", strings.Repeat("compressible ", 50))) // franz-go sends a batch that would grow uncompressed
	pw := watchProduces(t, c, brokers, "out")
	app := NewApp("clientopts", WithLogger(testLogger(t)),
		WithClientOptions(kgo.ProducerBatchCompression(kgo.GzipCompression())),
		WithClientOptions(kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite()))
	out := NewOutput(app, serde.String(), serde.String(), "out")
	Handle[string, string](app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		return out.Produce(ctx, "out", m.Key, m.Value)
	}), serde.String(), serde.String(), "in")
	cfg := testConfig(t, brokers)
	cfg.ProducerCompression = "zstd" // the app's option overrides the setting
	startApp(t, app, cfg)

	for _, b := range pw.awaitRecords(t, 1) {
		if b.compression != 1 || b.acks != 1 {
			t.Errorf("a batch to out has codec %d and acks %d; want gzip (1) and leader (1), from both WithClientOptions", b.compression, b.acks)
		}
	}
}

func TestProducerBlockedHandlerStopsOnRevoke(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 2, "in", "out")
	// Two records per partition: with room for one record in the buffer,
	// a handler of each partition ends up waiting in Produce.
	produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 0, "b", "2"), rec("in", 1, "c", "3"), rec("in", 1, "d", "4"))
	holdProduces(t, c, brokers, "out")
	j := &journal{}
	first := forward(t, "blockedrevoke", 1, j)
	cfg := testConfig(t, brokers)
	cfg.ProducerMaxBufferedRecords = 1
	cfg.ShutdownTimeout = 500 * time.Millisecond // the revoke's drain deadline
	running := startApp(t, first, cfg)
	eventually(t, 30*time.Second, "both partitions' handlers waiting in Produce", func() bool {
		w := first.current.Load()
		return w != nil && w.produceGate.Waits() == 2
	})

	// A second worker joins: the first gives up one partition, whose
	// handler's wait ends with the revoke's drain deadline.
	second := forward(t, "blockedrevoke", 1, &journal{})
	startApp(t, second, cfg)
	entries := j.await(t, 2)
	if !slices.ContainsFunc(entries, func(e string) bool {
		return strings.Contains(e, "gave up waiting for room in the produce buffer") && strings.Contains(e, "context canceled")
	}) {
		t.Fatalf("the first worker's handlers saw %q; want a blocked Produce cancelled by the revoke", entries)
	}
	eventually(t, 30*time.Second, "each worker with one partition", func() bool {
		s1, ok1 := first.Status()
		s2, ok2 := second.Status()
		return ok1 && ok2 && len(s1.Partitions) == 1 && len(s2.Partitions) == 1
	})
	// The first worker goes on with the partition it kept.
	if first.current.Load() == nil {
		t.Fatalf("the first worker stopped: %v", running.stop(t))
	}
}
