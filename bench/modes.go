package main

import (
	"context"
	"fmt"

	"github.com/eddy-streams/eddy/modes"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
)

// bulkCounter counts records in cd, one OnBulk call per batch (and one
// OnMessage call per record in single mode).
type bulkCounter struct{ cd *countdown }

func (b bulkCounter) OnMessage(_ *runtime.Context, m *runtime.Message[[]byte, []byte]) error {
	b.cd.add(m.Record.Partition)
	return nil
}

func (b bulkCounter) OnBulk(_ *runtime.Context, msgs []*runtime.Message[[]byte, []byte]) error {
	b.cd.addN(msgs[0].Record.Partition, int64(len(msgs)))
	return nil
}

// storeWriter is a handler whose every call costs one RocksDB write: a
// batch of one record's key in single mode, of the whole batch's keys in
// bulk mode. It is issue 4's fixed per-call cost. A store takes one writer
// at a time, so each partition writes its own.
type storeWriter struct {
	cd     *countdown
	stores []stores.Store // by partition
}

func (w *storeWriter) OnMessage(_ *runtime.Context, m *runtime.Message[[]byte, []byte]) error {
	var b stores.Batch
	b.Set(m.Record.Key, m.Record.Value)
	if err := w.stores[m.Record.Partition].Apply(&b); err != nil {
		return err
	}
	w.cd.add(m.Record.Partition)
	return nil
}

func (w *storeWriter) OnBulk(_ *runtime.Context, msgs []*runtime.Message[[]byte, []byte]) error {
	var b stores.Batch
	for _, m := range msgs {
		b.Set(m.Record.Key, m.Record.Value)
	}
	if err := w.stores[msgs[0].Record.Partition].Apply(&b); err != nil {
		return err
	}
	w.cd.addN(msgs[0].Record.Partition, int64(len(msgs)))
	return nil
}

// catchupRun returns the run of a catch-up scenario in mode: the whole
// workload is a backlog, handled by a storeWriter into one RocksDB store,
// from the start of the app to the last record handled. Forced single is
// the baseline of auto.
func catchupRun(mode modes.Mode) func(context.Context, *harness, int) (measurement, error) {
	return func(ctx context.Context, h *harness, i int) (measurement, error) {
		topic, err := h.recordsTopic(ctx)
		if err != nil {
			return measurement{}, err
		}
		dir, err := h.tempDir("catchup")
		if err != nil {
			return measurement{}, err
		}
		backend, err := backends.Open("rocksdb://", dir, stores.Options{})
		if err != nil {
			return measurement{}, fmt.Errorf("opening the catch-up store: %w", err)
		}
		defer backend.Close()
		cd, err := h.countdown(ctx, topic)
		if err != nil {
			return measurement{}, err
		}
		w := &storeWriter{cd: cd, stores: make([]stores.Store, len(cd.ends))}
		for p := range w.stores {
			if w.stores[p], err = backend.Open(stores.Meta{Table: "catchup", Partition: int32(p), Schema: "bytes"}); err != nil {
				return measurement{}, fmt.Errorf("opening the catch-up store of partition %d: %w", p, err)
			}
			defer w.stores[p].Close()
		}
		app := runtime.NewApp(h.name(mode.String()+"-catchup", i))
		runtime.Handle(app, w, serde.Bytes(), serde.Bytes(), topic)
		cfg := appConfig(h.conn, app.Name(), "", "")
		cfg.Mode = mode
		handled, _, err := consume(ctx, app, cfg, cd)
		if err != nil {
			return measurement{}, err
		}
		return measurement{records: int64(h.cfg.records), elapsed: handled}, nil
	}
}
