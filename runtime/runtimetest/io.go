package runtimetest

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// Input sends typed records to one topic, encoded with the codecs the
// app's handler decodes them with.
type Input[K, V any] struct {
	d      *Driver
	topic  string
	keys   serde.Codec[K]
	values serde.Codec[V]
}

// NewInput returns an Input to topic.
func NewInput[K, V any](d *Driver, topic string, keys serde.Codec[K], values serde.Codec[V]) *Input[K, V] {
	return &Input[K, V]{d: d, topic: topic, keys: keys, values: values}
}

// Send produces key and value, to the partition the key hashes to (as
// Kafka's default partitioner does), and returns once the broker has it.
func (in *Input[K, V]) Send(key K, value V, headers ...runtime.Header) {
	in.d.send(in.d.keyed, in.record(-1, key, &value, headers))
}

// SendTo produces key and value to partition.
func (in *Input[K, V]) SendTo(partition int32, key K, value V, headers ...runtime.Header) {
	in.d.send(in.d.manual, in.record(partition, key, &value, headers))
}

// KV is a key and a value to send.
type KV[K, V any] struct {
	Key   K
	Value V
}

// SendAll produces every pair, each to the partition its key hashes to,
// in one batch: faster than Send per record for a large input. It returns
// once the broker has them all.
func (in *Input[K, V]) SendAll(kvs ...KV[K, V]) {
	recs := make([]*kgo.Record, len(kvs))
	for i := range kvs {
		recs[i] = in.record(-1, kvs[i].Key, &kvs[i].Value, nil)
	}
	in.d.send(in.d.keyed, recs...)
}

// SendTombstone produces a record with key and a null value.
func (in *Input[K, V]) SendTombstone(key K, headers ...runtime.Header) {
	in.d.send(in.d.keyed, in.record(-1, key, nil, headers))
}

func (in *Input[K, V]) record(partition int32, key K, value *V, headers []runtime.Header) *kgo.Record {
	k, err := in.keys.Encode(key)
	if err != nil {
		in.d.fatalf("encoding a key for %s: %v", in.topic, err)
	}
	rec := &kgo.Record{Topic: in.topic, Key: k, Headers: headers, Partition: partition}
	if value != nil {
		if rec.Value, err = in.values.Encode(*value); err != nil {
			in.d.fatalf("encoding a value for %s: %v", in.topic, err)
		}
	}
	return rec
}

func (d *Driver) send(cl *kgo.Client, recs ...*kgo.Record) {
	if len(recs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		d.fatalf("producing to %s: %v", recs[0].Topic, err)
	}
}

// Output reads what the app produced to one topic, decoded.
type Output[K, V any] struct {
	d      *Driver
	topic  string
	keys   serde.Codec[K]
	values serde.Codec[V]
}

// NewOutput returns an Output of topic.
func NewOutput[K, V any](d *Driver, topic string, keys serde.Codec[K], values serde.Codec[V]) *Output[K, V] {
	return &Output[K, V]{d: d, topic: topic, keys: keys, values: values}
}

// Read returns every record of the topic so far, in offset order within
// each partition (partitions one after another): call Driver.Idle first
// to read all the app produced for the records sent. A tombstone has the
// zero Value and a nil Record.Value; a null key, the zero Key. Compacted
// topics (table changelogs) read as compaction left them.
func (o *Output[K, V]) Read() []*runtime.Message[K, V] {
	recs, err := o.d.readToEnd(o.topic)
	if err != nil {
		o.d.fatalf("reading %s: %v", o.topic, err)
		return nil
	}
	out := make([]*runtime.Message[K, V], 0, len(recs))
	for _, r := range recs {
		m, err := o.decode(r)
		if err != nil {
			o.d.fatalf("%v", err)
			return nil
		}
		out = append(out, m)
	}
	return out
}

// readToEnd reads topic from its start to the end offsets it has now. A
// partition is done at the record before its end offset, or at a
// transaction marker there: compaction may have removed records before
// it, never the last.
func (d *Driver) readToEnd(topic string) ([]*kgo.Record, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	ends, err := kadm.NewClient(d.keyed).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	end := map[int32]int64{}
	reading := map[int32]kgo.Offset{}
	ends.Each(func(l kadm.ListedOffset) {
		end[l.Partition] = l.Offset
		if l.Offset > 0 {
			reading[l.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(reading) == 0 {
		return nil, nil
	}
	cl, err := kgo.NewClient(d.options(kgo.KeepControlRecords(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: reading}))...)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	byPartition := map[int32][]*kgo.Record{}
	done := map[int32]bool{}
	for len(done) < len(reading) {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("partitions %d of %d not read to their end offsets %v within %v", len(reading)-len(done), len(reading), end, d.timeout)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end[r.Partition] {
				return
			}
			if !r.Attrs.IsControl() {
				byPartition[r.Partition] = append(byPartition[r.Partition], r)
			}
			if r.Offset+1 == end[r.Partition] {
				done[r.Partition] = true
			}
		})
	}
	var out []*kgo.Record
	for p := range int32(len(end)) {
		out = append(out, byPartition[p]...)
	}
	return out, nil
}

func (o *Output[K, V]) decode(r *kgo.Record) (*runtime.Message[K, V], error) {
	m := &runtime.Message[K, V]{Record: r}
	var err error
	if r.Key != nil {
		if m.Key, err = o.keys.Decode(r.Key); err != nil {
			return nil, fmt.Errorf("decoding the key of %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
	}
	if r.Value != nil {
		if m.Value, err = o.values.Decode(r.Value); err != nil {
			return nil, fmt.Errorf("decoding the value of %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
	}
	return m, nil
}

// Get returns the value of key in table t and whether it has one, as the
// app's handlers would read it now.
func Get[K, V any](d *Driver, t *tables.Table[K, V], key K) (V, bool) {
	v, ok, err := runtime.ReadTable(d.app, t, key)
	if err != nil {
		d.fatalf("reading %v from table %s: %v", key, t.Def().Name(), err)
	}
	return v, ok
}
