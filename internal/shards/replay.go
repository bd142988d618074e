package shards

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

// RestoreStats describes one finished shard restore.
type RestoreStats struct {
	Table     string
	Partition int32
	// From is the changelog offset restoring started at (the store's
	// checkpoint; -1: the start of the log), To the end it reached.
	From, To int64
	Records  int64
	Duration time.Duration
}

// restoreBatch is how many records go into one store batch while a shard
// catches up.
const restoreBatch = 10000

// replay reads partitions of one topic into their shards' stores, each
// from its store's checkpoint, applying records in batches whose
// checkpoint advances with them, so that a replay cut short resumes where
// it stopped. It is the package's one changelog reader: a partition's
// restore replays its changelog to the end seen when it starts; a global
// table replays its topic to that end, then follows it.
type replay struct {
	name   string // the table, as errors name it ("counts", "global countries")
	topic  string
	kind   string // what topic is to the table, for errors: "changelog" or "topic"
	shards []*Shard
	opts   []kgo.Opt // the client's, before the partitions to consume
	logger *slog.Logger
	// follow keeps applying records past the end seen at the start until
	// ctx ends, which is then no error. Without it, records written after
	// the start are left to the handlers that wrote them.
	follow bool
	// caughtUp, if set, is called once every shard reached the end seen
	// at the start, with their stats.
	caughtUp func([]RestoreStats)
}

// shardReplay is one shard's part in a replay.
type shardReplay struct {
	s        *Shard
	next     int64 // the next offset to apply
	end      int64 // the end seen at the start
	batch    stores.Batch
	caughtUp bool
	stats    RestoreStats
}

// run replays until every shard caught up or, with follow, until ctx ends.
func (r *replay) run(ctx context.Context) ([]RestoreStats, error) {
	start := time.Now()
	parts := make(map[int32]*shardReplay, len(r.shards))
	order := make([]*shardReplay, len(r.shards))
	offsets := make(map[int32]kgo.Offset, len(r.shards))
	for i, s := range r.shards {
		var from int64
		err := s.useStore(func(st stores.Store) (err error) {
			from, err = st.Checkpoint()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("tables: %s partition %d: reading the checkpoint: %w", r.name, s.partition, err)
		}
		sr := &shardReplay{s: s, next: max(from, 0), stats: RestoreStats{Table: s.def.name, Partition: s.partition, From: from}}
		parts[s.partition], order[i] = sr, sr
		offsets[s.partition] = kgo.NewOffset().AtStart()
		if from >= 0 {
			offsets[s.partition] = kgo.NewOffset().At(from)
		}
	}
	stats := func() []RestoreStats {
		out := make([]RestoreStats, len(order))
		for i, sr := range order {
			out[i] = sr.stats
		}
		return out
	}

	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), r.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{r.topic: offsets}),
		// A transaction's marker takes an offset; kept, it moves the
		// replay past it. A topic written by a transactional producer
		// ends in one, and without it a replay would wait for a record
		// at the end that never comes.
		kgo.KeepControlRecords())...)
	if err != nil {
		return nil, fmt.Errorf("tables: %s: client for %s: %w", r.name, r.topic, err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, r.topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("tables: %s: end offsets of %s: %w", r.name, r.topic, err)
	}
	behind := 0
	for _, sr := range order {
		end, ok := ends.Lookup(r.topic, sr.s.partition)
		if !ok {
			return nil, fmt.Errorf("tables: %s: %s has no partition %d", r.name, r.topic, sr.s.partition)
		}
		sr.end, sr.stats.To = end.Offset, end.Offset
		if sr.stats.From > end.Offset {
			return nil, fmt.Errorf("tables: %s partition %d: the store's checkpoint %d is past the end %d of %s %s: "+
				"the %[5]s was deleted or recreated since; move the store away to rebuild it from the %[5]s",
				r.name, sr.s.partition, sr.stats.From, end.Offset, r.kind, r.topic)
		}
		if sr.next >= sr.end {
			sr.caughtUp = true
			continue
		}
		behind++
		r.logger.Info("restoring table shard", "table", sr.s.def.name, "topic", r.topic, "partition", sr.s.partition,
			"from", sr.stats.From, "to", sr.end)
	}
	if behind == 0 {
		for _, sr := range order {
			sr.stats.Duration = time.Since(start)
		}
		if r.caughtUp != nil {
			r.caughtUp(stats())
		}
		if !r.follow {
			return stats(), nil
		}
	}

	lastLog := time.Now()
	for {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			if r.follow {
				return stats(), nil
			}
			sr := r.firstBehind(order)
			return stats(), fmt.Errorf("tables: %s partition %d: restore interrupted at offset %d of %d: %w",
				r.name, sr.s.partition, sr.next, sr.end, err)
		}
		var errs []error
		fs.EachError(func(_ string, p int32, err error) {
			errs = append(errs, fmt.Errorf("tables: %s partition %d: reading %s at offset %d: %w", r.name, p, r.topic, parts[p].next, err))
		})
		if len(errs) > 0 {
			return stats(), errors.Join(errs...)
		}
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			sr := parts[fp.Partition]
			if sr == nil {
				return
			}
			for _, rec := range fp.Records {
				if !r.follow && rec.Offset >= sr.end {
					continue // written after the restore began: the records after it handle it
				}
				if rec.Attrs.IsControl() {
					sr.next = rec.Offset + 1
					continue
				}
				// Clones: a store may keep what a batch holds, and these
				// are slices of the client's fetch buffers.
				if rec.Value == nil {
					sr.batch.Delete(bytes.Clone(rec.Key))
				} else {
					sr.batch.Set(bytes.Clone(rec.Key), bytes.Clone(rec.Value))
				}
				sr.next = rec.Offset + 1
				sr.stats.Records++
			}
		})
		wasBehind := behind
		for _, sr := range order {
			// Caught up, every poll's records go to the store at once;
			// before, they gather into batches of restoreBatch.
			if n := sr.batch.Len(); n > 0 && (n >= restoreBatch || sr.next >= sr.end) {
				sr.batch.SetCheckpoint(sr.next)
				if err := sr.s.useStore(func(st stores.Store) error { return st.Apply(&sr.batch) }); err != nil {
					return stats(), fmt.Errorf("tables: %s partition %d: applying %s at offset %d: %w", r.name, sr.s.partition, r.topic, sr.next, err)
				}
				sr.batch.Reset()
			}
			if !sr.caughtUp && sr.next >= sr.end {
				sr.caughtUp = true
				behind--
				sr.stats.Duration = time.Since(start)
				r.logger.Info("restored table shard", "table", sr.s.def.name, "partition", sr.s.partition,
					"records", sr.stats.Records, "seconds", sr.stats.Duration.Seconds())
			}
		}
		if wasBehind > 0 && behind == 0 {
			if r.caughtUp != nil {
				r.caughtUp(stats())
			}
			if !r.follow {
				return stats(), nil
			}
		}
		if behind > 0 && time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			for _, sr := range order {
				if !sr.caughtUp {
					r.logger.Info("restoring table shard", "table", sr.s.def.name, "partition", sr.s.partition,
						"offset", sr.next, "to", sr.end, "records", sr.stats.Records)
				}
			}
		}
	}
}

// firstBehind returns the first shard that has not caught up; one has.
func (r *replay) firstBehind(order []*shardReplay) *shardReplay {
	for _, sr := range order {
		if !sr.caughtUp {
			return sr
		}
	}
	return order[0]
}
