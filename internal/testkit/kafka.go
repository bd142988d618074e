package testkit

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// opTimeout bounds each request the helpers below make of the broker, and
// Consume's whole read.
const opTimeout = 30 * time.Second

// NewClient returns a client of brokers with opts, closed when the test
// ends.
func NewClient(t testing.TB, brokers []string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafka client of %v: %v", brokers, err)
	}
	t.Cleanup(cl.Close)
	return cl
}

// withClient runs fn with a client of brokers that is closed when fn
// returns, and a context bounded by opTimeout.
func withClient(t testing.TB, brokers []string, opts []kgo.Opt, fn func(ctx context.Context, cl *kgo.Client)) {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, opts...)...)
	if err != nil {
		t.Fatalf("kafka client of %v: %v", brokers, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(t.Context(), opTimeout)
	defer cancel()
	fn(ctx, cl)
}

// Produce writes recs synchronously, each to the partition its Partition
// field names, and fails the test unless the broker acknowledged them all.
func Produce(t testing.TB, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	produce(t, brokers, kgo.ManualPartitioner(), recs)
}

// ProduceKeyed writes recs synchronously to the partitions their keys hash
// to, as Kafka's default partitioner does (murmur2; keyless records go to
// any partition), and fails the test unless the broker acknowledged them
// all. Their Partition fields are set to where they went.
func ProduceKeyed(t testing.TB, brokers []string, recs ...*kgo.Record) {
	t.Helper()
	produce(t, brokers, kgo.StickyKeyPartitioner(nil), recs)
}

func produce(t testing.TB, brokers []string, p kgo.Partitioner, recs []*kgo.Record) {
	t.Helper()
	withClient(t, brokers, []kgo.Opt{kgo.RecordPartitioner(p)}, func(ctx context.Context, cl *kgo.Client) {
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("producing %d records: %v", len(recs), err)
		}
	})
}

// Committed returns group's committed offsets of topic by partition: the
// next offset the group will read. A partition without a commit is absent,
// and so is every partition of a group that does not exist yet.
func Committed(t testing.TB, brokers []string, group, topic string) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	withClient(t, brokers, nil, func(ctx context.Context, cl *kgo.Client) {
		resps, err := kadm.NewClient(cl).FetchOffsets(ctx, group)
		if errors.Is(err, kerr.GroupIDNotFound) {
			return // nothing committed yet
		}
		if err == nil {
			err = resps.Error()
		}
		if err != nil {
			t.Fatalf("fetching the committed offsets of group %s: %v", group, err)
		}
		for p, r := range resps[topic] {
			if r.At >= 0 {
				out[p] = r.At
			}
		}
	})
	return out
}

// DescribeGroup returns group as its coordinator describes it: its state
// (Stable, PreparingRebalance, CompletingRebalance, Empty, Dead) and its
// members, those waiting in a rebalance included. A group that does not
// exist is Dead, without members.
func DescribeGroup(t testing.TB, brokers []string, group string) kadm.DescribedGroup {
	t.Helper()
	var out kadm.DescribedGroup
	withClient(t, brokers, nil, func(ctx context.Context, cl *kgo.Client) {
		described, err := kadm.NewClient(cl).DescribeGroups(ctx, group)
		if err == nil {
			err = described.Error()
		}
		switch {
		case errors.Is(err, kerr.GroupIDNotFound): // kfake's answer; Kafka's is Dead
			out = kadm.DescribedGroup{Group: group, State: "Dead"}
		case err != nil:
			t.Fatalf("describing group %s: %v", group, err)
		default:
			out = described[group]
		}
	})
	return out
}

// EndOffsets returns the end offset of each partition of topic: the offset
// the next record produced to it will have.
func EndOffsets(t testing.TB, brokers []string, topic string) map[int32]int64 {
	t.Helper()
	out := map[int32]int64{}
	withClient(t, brokers, nil, func(ctx context.Context, cl *kgo.Client) {
		listed, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
		if err == nil {
			err = listed.Error()
		}
		if err != nil {
			t.Fatalf("listing the end offsets of %s: %v", topic, err)
		}
		listed.Each(func(l kadm.ListedOffset) { out[l.Partition] = l.Offset })
	})
	return out
}

// Consume reads topic from its start until it has at least n records and
// returns every record it read, in offset order within a partition (a
// fetch can bring more than n). It fails the test if n records do not come
// within 30s, saying how many did and the last fetch error.
func Consume(t testing.TB, brokers []string, topic string, n int) []*kgo.Record {
	t.Helper()
	var out []*kgo.Record
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	withClient(t, brokers, opts, func(ctx context.Context, cl *kgo.Client) {
		var fetchErr error
		for len(out) < n {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d records of %s within %v (last fetch error: %v)", len(out), n, topic, opTimeout, fetchErr)
			}
			fs.EachError(func(_ string, _ int32, err error) { fetchErr = err })
			out = append(out, fs.Records()...)
		}
	})
	return out
}

// ReadToEnd reads topic from its start up to the end offsets it has when
// called, and returns its records partition by partition, in offset order.
// It stops reading a partition at the record before its end offset, not
// after a count of records, so it also reads a compacted topic (a table's
// changelog) whose compaction removed records; a partition must not end
// in a transaction marker. It fails the test if the records do not come
// within 30s.
func ReadToEnd(t testing.TB, brokers []string, topic string) []*kgo.Record {
	t.Helper()
	ends := EndOffsets(t, brokers, topic)
	reading := map[int32]kgo.Offset{} // the partitions not read to their end yet
	for p, end := range ends {
		if end > 0 {
			reading[p] = kgo.NewOffset().AtStart()
		}
	}
	if len(reading) == 0 {
		return nil
	}
	byPartition := map[int32][]*kgo.Record{}
	opts := []kgo.Opt{kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: maps.Clone(reading)})}
	withClient(t, brokers, opts, func(ctx context.Context, cl *kgo.Client) {
		var fetchErr error
		for len(reading) > 0 {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				t.Fatalf("reading %s to its end offsets %v: partitions %v not read to the end within %v (last fetch error: %v)",
					topic, ends, slices.Sorted(maps.Keys(reading)), opTimeout, fetchErr)
			}
			fs.EachError(func(_ string, _ int32, err error) { fetchErr = err })
			fs.EachRecord(func(r *kgo.Record) {
				if r.Offset >= ends[r.Partition] {
					return
				}
				byPartition[r.Partition] = append(byPartition[r.Partition], r)
				if r.Offset+1 == ends[r.Partition] {
					delete(reading, r.Partition)
				}
			})
		}
	})
	var out []*kgo.Record
	for _, p := range slices.Sorted(maps.Keys(byPartition)) {
		out = append(out, byPartition[p]...)
	}
	return out
}

// LastValues reads topic with ReadToEnd and returns the last value of
// each key, as compaction leaves a topic such as a table's changelog: a
// key whose last record is a tombstone is absent.
func LastValues(t testing.TB, brokers []string, topic string) map[string][]byte {
	t.Helper()
	last := map[string][]byte{}
	for _, r := range ReadToEnd(t, brokers, topic) {
		if r.Value == nil {
			delete(last, string(r.Key))
		} else {
			last[string(r.Key)] = r.Value
		}
	}
	return last
}

// Consumer reads topics from their start for as long as the test runs and
// hands each record to the function StartConsumer was given.
type Consumer struct {
	w        Watch
	fetchErr error // the last fetch error, for failure messages; under w
}

// StartConsumer starts reading topics from their start; add is called
// with each record, in offset order within a partition. add, and the
// functions given to Await and Read, run under one lock, so the state
// they share needs none of its own.
func StartConsumer(t testing.TB, brokers []string, add func(*kgo.Record), topics ...string) *Consumer {
	t.Helper()
	cl := NewClient(t, brokers, kgo.ConsumeTopics(topics...), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	c := &Consumer{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cl.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			c.w.Change(func() {
				fs.EachError(func(_ string, _ int32, err error) { c.fetchErr = err })
				fs.EachRecord(add)
			})
		}
	}()
	t.Cleanup(func() { cancel(); <-done }) // before NewClient's Close
	return c
}

// Await waits until cond holds, checking it after each fetch. On timeout it
// fails the test with what was awaited, cond's last report and the last
// fetch error.
func (c *Consumer) Await(t testing.TB, timeout time.Duration, what string, cond func() (ok bool, seen string)) {
	t.Helper()
	c.w.Await(t, timeout, what, func() (bool, string) {
		ok, seen := cond()
		if !ok && c.fetchErr != nil {
			seen += fmt.Sprintf("; last fetch error: %v", c.fetchErr)
		}
		return ok, seen
	})
}

// Read runs fn under the lock add runs under, to read what add gathered.
func (c *Consumer) Read(fn func()) { c.w.Read(fn) }
