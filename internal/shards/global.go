package shards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	r := &replay{name: "global " + g.def.name, topic: g.def.changelog, kind: "topic", shards: g.shards, opts: opts, logger: logger, follow: true,
		caughtUp: func(stats []RestoreStats) {
			close(g.ready)
			if onRestored != nil {
				for _, st := range stats {
					onRestored(st)
				}
			}
			logger.Info("restored global table", "table", g.def.name, "topic", g.def.changelog, "partitions", len(g.shards),
				"seconds", time.Since(start).Seconds())
		}}
	_, err := r.run(ctx)
	return err
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
