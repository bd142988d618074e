package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/linxGnu/grocksdb"
	"github.com/twmb/franz-go/pkg/kgo"
)

// runRawConsume is the raw-consume baseline: a franz-go group consumer
// (its defaults, from the start of the topic) that counts the workload's
// records in a PollFetches loop. The clock runs from the client's
// creation to the last record, joining the group included, as for the
// apps compared with it.
func runRawConsume(ctx context.Context, h *harness, i int) (measurement, error) {
	topic, err := h.recordsTopic(ctx)
	if err != nil {
		return measurement{}, err
	}
	n := h.cfg.records
	start := time.Now()
	cl, err := kgo.NewClient(h.options(kgo.ConsumerGroup(h.name("raw-consume", i)),
		kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
	if err != nil {
		return measurement{}, fmt.Errorf("consumer: %w", err)
	}
	defer cl.Close()
	for got := 0; got < n; {
		fs := cl.PollFetches(ctx)
		if errs := fs.Errors(); len(errs) > 0 {
			return measurement{}, fmt.Errorf("consume %s after %d of %d records: %w", topic, got, n, errs[0].Err)
		}
		got += fs.NumRecords()
	}
	return measurement{records: int64(n), elapsed: time.Since(start)}, nil
}

// runRawProduce is the raw-produce baseline: a franz-go producer (its
// defaults) writes the workload's records to a new topic; the clock runs
// from the client's creation to the last acknowledgement.
func runRawProduce(ctx context.Context, h *harness, i int) (measurement, error) {
	topic := h.name("raw-produce", i)
	if err := h.createTopic(ctx, topic, false); err != nil {
		return measurement{}, err
	}
	took, _, err := h.produce(ctx, topic, h.cfg.records, false)
	if err != nil {
		return measurement{}, err
	}
	return measurement{records: int64(h.cfg.records), elapsed: took}, h.deleteTopics(ctx, topic)
}

// runRawRocksDB is the raw-rocksdb baseline: the workload's records as
// grocksdb puts into one new database with RocksDB's default options (WAL
// on, no sync), in WriteBatches of 1000. The clock runs from the first
// batch to the last write, as the store's share of a table's work.
func runRawRocksDB(ctx context.Context, h *harness, _ int) (_ measurement, err error) {
	dir, err := h.tempDir("raw-rocksdb")
	if err != nil {
		return measurement{}, err
	}
	opts := grocksdb.NewDefaultOptions()
	defer opts.Destroy()
	opts.SetCreateIfMissing(true)
	db, err := grocksdb.OpenDb(opts, dir)
	if err != nil {
		return measurement{}, fmt.Errorf("open rocksdb in %s: %w", dir, err)
	}
	defer func() {
		db.Close()
		err = errors.Join(err, h.removeDir(dir))
	}()
	wo := grocksdb.NewDefaultWriteOptions()
	defer wo.Destroy()
	wb := grocksdb.NewWriteBatch()
	defer wb.Destroy()
	next, fill := h.work.picker(), h.work.values()
	v := make([]byte, valueLen) // the batch copies what it is given
	n := h.cfg.records
	start := time.Now()
	for i := 0; i < n; {
		if err := ctx.Err(); err != nil {
			return measurement{}, err
		}
		wb.Clear()
		for ; wb.Count() < rocksBatch && i < n; i++ {
			fill(v)
			wb.Put(h.work.keys[next()], v)
		}
		if err := db.Write(wo, wb); err != nil {
			return measurement{}, fmt.Errorf("rocksdb write: %w", err)
		}
	}
	return measurement{records: int64(n), elapsed: time.Since(start)}, nil
}
