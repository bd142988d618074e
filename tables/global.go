package tables

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/stores"
)

// Global holds every partition of a global table on this worker: it
// restores them from the topic the table follows and keeps applying what
// is written there. Handlers read it; only Run writes it.
type Global struct {
	def    *Def
	shards []*Shard
	ready  chan struct{}
	hasher kgo.TopicPartitioner
}

// OpenGlobal opens the stores of a global table whose topic has the given
// partition count.
func OpenGlobal(d *Def, backend stores.Backend, partitions int) (*Global, error) {
	if !d.global {
		return nil, fmt.Errorf("tables: %s is not a global table", d.name)
	}
	g := &Global{def: d, ready: make(chan struct{}), hasher: kgo.StickyKeyPartitioner(nil).ForTopic(d.changelog)}
	for p := range int32(partitions) {
		st, err := backend.Open(stores.Meta{Table: d.name, Partition: p, Schema: d.schema})
		if err != nil {
			_ = g.Close()
			return nil, fmt.Errorf("tables: global %s partition %d: %w", d.name, p, err)
		}
		g.shards = append(g.shards, newShard(d, p, st))
	}
	return g, nil
}

// Def returns the table's definition.
func (g *Global) Def() *Def { return g.def }

// Ready is closed once every partition caught up with the end the topic
// had when Run began.
func (g *Global) Ready() <-chan struct{} { return g.ready }

// Shards returns the shards a key may be in, most likely first: the
// partition Kafka's default partitioner gives the key, then the others,
// for topics written otherwise.
func (g *Global) Shards(key []byte) []*Shard {
	if len(g.shards) == 0 {
		return nil
	}
	first := g.hasher.Partition(&kgo.Record{Key: key}, len(g.shards))
	out := make([]*Shard, 0, len(g.shards))
	out = append(out, g.shards[first])
	for i, s := range g.shards {
		if i != first {
			out = append(out, s)
		}
	}
	return out
}

// All returns every shard, by partition.
func (g *Global) All() []*Shard { return g.shards }

// Run restores every partition from its store's checkpoint, closes Ready
// once all reached the end seen at the start, and goes on applying new
// records until ctx ends. Records go to the stores directly, each batch
// with its checkpoint.
func (g *Global) Run(ctx context.Context, opts []kgo.Opt, logger *slog.Logger, onRestored func(RestoreStats)) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	topic := g.def.changelog
	offsets := map[int32]kgo.Offset{}
	from := map[int32]int64{}
	for _, s := range g.shards {
		var cp int64
		err := s.useStore(func(st stores.Store) (err error) {
			cp, err = st.Checkpoint()
			return err
		})
		if err != nil {
			return fmt.Errorf("tables: global %s partition %d: reading the checkpoint: %w", g.def.name, s.partition, err)
		}
		from[s.partition] = cp
		offsets[s.partition] = kgo.NewOffset().AtStart()
		if cp >= 0 {
			offsets[s.partition] = kgo.NewOffset().At(cp)
		}
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))...)
	if err != nil {
		return fmt.Errorf("tables: global %s: client: %w", g.def.name, err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("tables: global %s: end offsets of %s: %w", g.def.name, topic, err)
	}
	behind := map[int32]int64{}
	records := map[int32]int64{}
	for _, s := range g.shards {
		end, _ := ends.Lookup(topic, s.partition)
		if from[s.partition] > end.Offset {
			return fmt.Errorf("tables: global %s partition %d: the store's checkpoint %d is past the end %d of %s: "+
				"the topic was deleted or recreated since; move the store away to rebuild it", g.def.name, s.partition, from[s.partition], end.Offset, topic)
		}
		if max(from[s.partition], 0) < end.Offset {
			behind[s.partition] = end.Offset
		}
	}
	caughtUp := func() {
		close(g.ready)
		for _, s := range g.shards {
			if onRestored != nil {
				end, _ := ends.Lookup(topic, s.partition)
				onRestored(RestoreStats{Table: g.def.name, Partition: s.partition, From: from[s.partition], To: end.Offset,
					Records: records[s.partition], Duration: time.Since(start)})
			}
		}
		logger.Info("restored global table", "table", g.def.name, "topic", topic, "partitions", len(g.shards),
			"seconds", time.Since(start).Seconds())
	}
	if len(behind) == 0 {
		caughtUp()
	}
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return nil
		}
		var errs []error
		fs.EachError(func(_ string, p int32, err error) {
			errs = append(errs, fmt.Errorf("tables: global %s: reading %s partition %d: %w", g.def.name, topic, p, err))
		})
		if len(errs) > 0 {
			return errors.Join(errs...)
		}
		var applyErr error
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 || applyErr != nil {
				return
			}
			var b stores.Batch
			for _, r := range fp.Records {
				// Clones: a store may keep what a batch holds.
				if r.Value == nil {
					b.Delete(bytes.Clone(r.Key))
				} else {
					b.Set(bytes.Clone(r.Key), bytes.Clone(r.Value))
				}
			}
			next := fp.Records[len(fp.Records)-1].Offset + 1
			b.SetCheckpoint(next)
			if err := g.shards[fp.Partition].useStore(func(st stores.Store) error { return st.Apply(&b) }); err != nil {
				applyErr = fmt.Errorf("tables: global %s partition %d: %w", g.def.name, fp.Partition, err)
				return
			}
			records[fp.Partition] += int64(len(fp.Records))
			if end, ok := behind[fp.Partition]; ok && next >= end {
				delete(behind, fp.Partition)
				if len(behind) == 0 {
					caughtUp()
				}
			}
		})
		if applyErr != nil {
			return applyErr
		}
	}
}

// Close closes the stores; Run must have returned.
func (g *Global) Close() error {
	var errs []error
	for _, s := range g.shards {
		if err := s.close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
