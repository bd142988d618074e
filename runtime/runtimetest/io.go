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

func (d *Driver) send(cl *kgo.Client, rec *kgo.Record) {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	if err := cl.ProduceSync(ctx, rec).FirstErr(); err != nil {
		d.fatalf("producing to %s: %v", rec.Topic, err)
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
// zero Value and a nil Record.Value; a null key, the zero Key.
func (o *Output[K, V]) Read() []*runtime.Message[K, V] {
	d := o.d
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	ends, err := kadm.NewClient(d.keyed).ListEndOffsets(ctx, o.topic)
	if err != nil || ends.Error() != nil {
		d.fatalf("end offsets of %s: %v", o.topic, firstErr(err, ends.Error()))
		return nil
	}
	want := map[int32]int64{}
	total := int64(0)
	ends.Each(func(l kadm.ListedOffset) {
		if l.Offset > 0 {
			want[l.Partition] = l.Offset
			total += l.Offset
		}
	})
	if total == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.Brokers()...), kgo.ConsumeTopics(o.topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		d.fatalf("reading %s: %v", o.topic, err)
		return nil
	}
	defer cl.Close()
	byPartition := map[int32][]*kgo.Record{}
	for got := int64(0); got < total; {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			d.fatalf("reading %s: %d of %d records after %v", o.topic, got, total, d.timeout)
			return nil
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < want[r.Partition] {
				byPartition[r.Partition] = append(byPartition[r.Partition], r)
				got++
			}
		})
	}
	var out []*runtime.Message[K, V]
	for p := range int32(len(ends[o.topic])) {
		for _, r := range byPartition[p] {
			m, err := o.decode(r)
			if err != nil {
				d.fatalf("%v", err)
				return nil
			}
			out = append(out, m)
		}
	}
	return out
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

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
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
