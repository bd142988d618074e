package main

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// changelogData is the restore scenarios' data, loaded once and shared by
// both: the changelog of table "counts" of an app, config.restoreRecords
// records of the workload with key i in partition i%8, and the app's
// empty source topic.
type changelogData struct {
	app    string // the app's name; empty until loaded
	source string
	keys   int // distinct keys in the changelog
}

// prepare loads the changelog unless it is loaded already.
func (c *changelogData) prepare(ctx context.Context, h *harness) error {
	if c.app != "" {
		return nil
	}
	app := h.name("restore")
	source := app + "-source"
	if err := h.createTopic(ctx, source, false); err != nil {
		return err
	}
	keys, err := h.load(ctx, app+"-counts-changelog", h.cfg.restoreRecords, true, true)
	if err != nil {
		return err
	}
	c.app, c.source, c.keys = app, source, keys
	return nil
}

// finish deletes the changelog and the source topic.
func (c *changelogData) finish(ctx context.Context, h *harness) error {
	if c.app == "" {
		return nil
	}
	err := h.deleteTopics(ctx, c.source, c.app+"-counts-changelog")
	*c = changelogData{}
	return err
}

// run returns the run of a restore scenario into store: a worker with the
// table and fresh (empty) stores starts, and the clock runs until the
// worker holds all 8 partitions, restored and ready (joining the group
// included). Each run restores the whole changelog. The figures are the
// keys the table holds afterwards (checked against the changelog) and,
// for memory stores, the Go heap they take.
func (c *changelogData) run(store string) func(context.Context, *harness, int) (measurement, error) {
	return func(ctx context.Context, h *harness, i int) (measurement, error) {
		dir, err := h.tempDir("state")
		if err != nil {
			return measurement{}, err
		}
		app := runtime.NewApp(c.app)
		counts := runtime.NewTable(app, "counts", serde.String(), serde.Bytes(), tables.Options{})
		runtime.Handle(app, runtime.HandlerFunc[[]byte, []byte](func(*runtime.Context, *runtime.Message[[]byte, []byte]) error {
			return nil // the source topic is empty
		}), serde.Bytes(), serde.Bytes(), c.source)
		heapBefore := heapInUse()
		start := time.Now()
		r := startApp(ctx, app, appConfig(h.conn, h.name("restore", storeName(store), i), store, dir))
		err = r.waitReady(ctx, partitions)
		elapsed := time.Since(start)
		figures := make(map[string]float64)
		if err == nil {
			err = c.check(app, counts, figures)
		}
		if err == nil && store == "memory://" { // RocksDB keeps its data outside the Go heap
			figures["heap_mib"] = float64(heapInUse()-heapBefore) / (1 << 20)
		}
		if err = errors.Join(err, r.stop()); err != nil {
			return measurement{}, err
		}
		return measurement{records: int64(h.cfg.restoreRecords), elapsed: elapsed, figures: figures}, h.removeDir(dir)
	}
}

// check counts the keys the running app's table holds into figures and
// compares them with the changelog's.
func (c *changelogData) check(app *runtime.App, counts *tables.Table[string, []byte], figures map[string]float64) error {
	n := 0
	running, err := runtime.ScanTable(app, counts, func(string, []byte) bool { n++; return true })
	if err != nil {
		return fmt.Errorf("scan the restored table: %w", err)
	}
	if !running {
		return errors.New("scan the restored table: the app is not running")
	}
	if n != c.keys {
		return fmt.Errorf("the restored table holds %d keys; its changelog has %d", n, c.keys)
	}
	figures["restored_keys"] = float64(n)
	return nil
}

// heapInUse returns the live Go heap after a collection.
func heapInUse() int64 {
	goruntime.GC()
	var ms goruntime.MemStats
	goruntime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
