package tables

import (
	"bytes"
	"context"
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

// restoreBatch is how many changelog records go into one store batch.
const restoreBatch = 10000

// restore replays s's changelog partition from the store's checkpoint to
// the end offset seen when it starts, applying it to the store in batches
// whose checkpoint advances with them, so a restore cut short resumes
// where it stopped.
func restore(ctx context.Context, s *Shard, opts []kgo.Opt, logger *slog.Logger) (RestoreStats, error) {
	start := time.Now()
	st := RestoreStats{Table: s.def.name, Partition: s.partition}
	var from int64
	err := s.useStore(func(st stores.Store) (err error) {
		from, err = st.Checkpoint()
		return err
	})
	if err != nil {
		return st, fmt.Errorf("tables: %s partition %d: reading the checkpoint: %w", s.def.name, s.partition, err)
	}
	st.From = from
	topic := s.def.changelog
	offset := kgo.NewOffset().AtStart()
	if from >= 0 {
		offset = kgo.NewOffset().At(from)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {s.partition: offset}}))...)
	if err != nil {
		return st, fmt.Errorf("tables: %s: restore client: %w", s.def.name, err)
	}
	defer cl.Close()

	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return st, fmt.Errorf("tables: %s: end offsets of %s: %w", s.def.name, topic, err)
	}
	end, ok := ends.Lookup(topic, s.partition)
	if !ok {
		return st, fmt.Errorf("tables: %s: changelog %s has no partition %d", s.def.name, topic, s.partition)
	}
	st.To = end.Offset
	if from > end.Offset {
		return st, fmt.Errorf("tables: %s partition %d: the store's checkpoint %d is past the end %d of changelog %s: "+
			"the changelog was deleted or recreated since; move the store away to rebuild it from the changelog",
			s.def.name, s.partition, from, end.Offset, topic)
	}
	next := max(from, 0)
	if next >= end.Offset {
		st.Duration = time.Since(start)
		return st, nil
	}
	logger.Info("restoring table shard", "table", s.def.name, "topic", topic, "partition", s.partition,
		"from", from, "to", end.Offset)

	var b stores.Batch
	lastLog := time.Now()
	for next < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return st, fmt.Errorf("tables: %s partition %d: restore interrupted at offset %d of %d: %w", s.def.name, s.partition, next, end.Offset, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return st, fmt.Errorf("tables: %s partition %d: reading %s at offset %d: %w", s.def.name, s.partition, topic, next, ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset >= end.Offset {
				return // written after the restore began: the records after it handle it
			}
			// Clones: a store may keep what a batch holds, and these are
			// slices of the client's fetch buffers.
			if r.Value == nil {
				b.Delete(bytes.Clone(r.Key))
			} else {
				b.Set(bytes.Clone(r.Key), bytes.Clone(r.Value))
			}
			next = r.Offset + 1
			st.Records++
		})
		if b.Len() >= restoreBatch || next >= end.Offset {
			b.SetCheckpoint(next)
			if err := s.useStore(func(st stores.Store) error { return st.Apply(&b) }); err != nil {
				return st, fmt.Errorf("tables: %s partition %d: applying the changelog at offset %d: %w", s.def.name, s.partition, next, err)
			}
			b.Reset()
		}
		if time.Since(lastLog) > 5*time.Second {
			lastLog = time.Now()
			logger.Info("restoring table shard", "table", s.def.name, "partition", s.partition,
				"offset", next, "to", end.Offset, "records", st.Records)
		}
	}
	st.Duration = time.Since(start)
	logger.Info("restored table shard", "table", s.def.name, "partition", s.partition,
		"records", st.Records, "seconds", st.Duration.Seconds())
	return st, nil
}
