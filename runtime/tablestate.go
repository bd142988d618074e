package runtime

import (
	"cmp"
	"context"
	"fmt"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
)

// tableState is a worker's tables: backends, registry and global tables.
type tableState struct {
	backends map[string]stores.Backend
	registry *shards.Registry // nil without local tables
	cacheMax int              // tables.cache_max_entries
	globals  []*shards.Global
	// followers run the globals' Run; stopFollowers ends them.
	followers     sync.WaitGroup
	stopFollowers context.CancelFunc
	followErr     chan error
}

// shards returns the shards of d this worker holds now.
func (ts *tableState) shards(d *shards.Def) []*shards.Shard {
	if g := ts.global(d); g != nil {
		return g.All()
	}
	if ts.registry == nil {
		return nil
	}
	return ts.registry.Shards(d)
}

// global returns the global table of d, or nil.
func (ts *tableState) global(d *shards.Def) *shards.Global {
	for _, g := range ts.globals {
		if g.Def() == d {
			return g
		}
	}
	return nil
}

// globalsReady is closed once every global table caught up.
func (ts *tableState) globalsReady(ctx context.Context) error {
	for _, g := range ts.globals {
		select {
		case <-g.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// setupTables opens the stores' backends, checks or creates the changelog
// topics, and checks that every table's partition count matches the
// source topics'. It runs before the worker joins its group.
func (w *worker) setupTables(ctx context.Context) error {
	a := w.app
	ts := &tableState{backends: map[string]stores.Backend{}, followErr: make(chan error, len(a.tables)), cacheMax: w.cfg.TableCacheMaxEntries}
	w.tables = ts
	if len(a.tables) == 0 {
		return nil
	}
	byDef := map[*shards.Def]stores.Backend{}
	globals := map[*shards.Def]stores.Backend{}
	var local []*shards.Def
	for _, t := range a.tables {
		loc, err := backends.ParseURL(cmp.Or(t.def.Options().Store, w.cfg.TableStore), w.cfg.StateDir)
		if err != nil {
			return fmt.Errorf("runtime: table %q: %w", t.def.Name(), err)
		}
		// Keyed by the canonical URL: rocksdb:// and rocksdb:///<state
		// dir> are one backend with one memory budget.
		b, ok := ts.backends[loc.String()]
		if !ok {
			b, err = backends.OpenLocation(loc, stores.Options{MemoryLimit: w.cfg.RocksDBMemoryLimit, Logger: w.logger})
			if err != nil {
				return fmt.Errorf("runtime: table %q: %w", t.def.Name(), err)
			}
			ts.backends[loc.String()] = b
		}
		if t.def.Global() {
			globals[t.def] = b
		} else {
			byDef[t.def] = b
			local = append(local, t.def)
		}
	}
	if err := w.startGlobals(ctx, globals); err != nil {
		return err
	}
	if len(byDef) > 0 {
		cctx, cancel := context.WithTimeout(ctx, w.cfg.ConnectTimeout)
		defer cancel()
		if err := shards.EnsureChangelogs(cctx, kadm.NewClient(w.client), local, a.SourceTopics(), w.cfg.TopicReplication, w.logger); err != nil {
			return fmt.Errorf("runtime: %w", err)
		}
		ts.registry = shards.NewRegistry(shards.RegistryConfig{
			Tables: byDef,
			Produce: func(rec *kgo.Record, promise func(*kgo.Record, error)) {
				w.client.Produce(w.produceCtx, rec, promise)
			},
			Restore:    []kgo.Opt{kgo.SeedBrokers(w.brokers...), kgo.ClientID(w.cfg.ClientID + "-restore")},
			Logger:     w.logger,
			OnRestored: w.restored,
		})
	}
	return w.observeTables()
}

func (w *worker) observeTables() error {
	shardsOf := func(report func(table string, partition int32, keys int64)) {
		for _, t := range w.app.tables {
			for _, sh := range w.tables.shards(t.def) {
				if n, err := sh.Len(); err == nil {
					report(t.def.Name(), sh.Partition(), n)
				}
			}
		}
	}
	if err := w.tel.ObserveTables(shardsOf); err != nil {
		return fmt.Errorf("runtime: table metrics: %w", err)
	}
	return nil
}

// restored reports a finished restore to telemetry.
func (w *worker) restored(st shards.RestoreStats) {
	w.tel.Restored(st.Table, st.Partition, st.Records, st.Duration)
}

// startGlobals opens the global tables' stores and starts following their
// topics. Handlers start only once they caught up (statefulProcessor).
func (w *worker) startGlobals(ctx context.Context, globals map[*shards.Def]stores.Backend) error {
	if len(globals) == 0 {
		return nil
	}
	ts := w.tables
	var topics []string
	for d := range globals {
		topics = append(topics, d.Changelog())
	}
	details, err := kadm.NewClient(w.client).ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("runtime: global tables: listing topics: %w", err)
	}
	for d, b := range globals {
		g, err := shards.OpenGlobal(d, b, len(details[d.Changelog()].Partitions))
		if err != nil {
			return err
		}
		ts.globals = append(ts.globals, g)
	}
	fctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ts.stopFollowers = cancel
	opts := []kgo.Opt{kgo.SeedBrokers(w.brokers...), kgo.ClientID(w.cfg.ClientID + "-global")}
	for _, g := range ts.globals {
		ts.followers.Go(func() {
			if err := g.Run(fctx, opts, w.logger, w.restored); err != nil {
				ts.followErr <- err
			}
		})
	}
	return nil
}

// close stops the global tables' followers, closes their stores, then the
// backends; the engine has closed every other store by then.
func (ts *tableState) close() {
	if ts.stopFollowers != nil {
		ts.stopFollowers()
		ts.followers.Wait()
	}
	for _, g := range ts.globals {
		_ = g.Close()
	}
	for _, b := range ts.backends {
		_ = b.Close()
	}
}

// callScope is what the table calls of a handler call address: the
// shards of the partition being handled (part; nil without local tables)
// and the global tables.
type callScope struct {
	part *shards.Partition
	ts   *tableState
}

func (s callScope) Write(d *shards.Def, _ []byte) (*shards.Shard, error) {
	if s.part != nil {
		if sh := s.part.Shard(d); sh != nil {
			return sh, nil
		}
	}
	return nil, fmt.Errorf("%w: table %q", shards.ErrNoShard, d.Name())
}

func (s callScope) Read(d *shards.Def, key []byte) ([]*shards.Shard, error) {
	if d.Global() {
		if g := s.ts.global(d); g != nil {
			return g.Shards(key), nil
		}
		return nil, fmt.Errorf("%w: global table %q", shards.ErrNoShard, d.Name())
	}
	sh, err := s.Write(d, key)
	if err != nil {
		return nil, err
	}
	return sh.Alone(), nil
}

func (s callScope) Scan(d *shards.Def) ([]*shards.Shard, error) {
	if d.Global() {
		if g := s.ts.global(d); g != nil {
			return g.All(), nil
		}
	}
	return s.Read(d, nil)
}

// workerScope addresses every shard the worker holds, read-only: the
// scope of ScanTable.
type workerScope struct{ ts *tableState }

func (s workerScope) Write(d *shards.Def, _ []byte) (*shards.Shard, error) {
	return nil, fmt.Errorf("%w: table %q is written only in handler calls", shards.ErrNoShard, d.Name())
}

func (s workerScope) Read(d *shards.Def, _ []byte) ([]*shards.Shard, error) {
	return s.ts.shards(d), nil
}

func (s workerScope) Scan(d *shards.Def) ([]*shards.Shard, error) { return s.ts.shards(d), nil }

// fixedScope reads one shard: a look-up that reports where it found a key.
type fixedScope struct{ sh *shards.Shard }

func (s fixedScope) Write(d *shards.Def, _ []byte) (*shards.Shard, error) {
	return nil, fmt.Errorf("%w: table %q is written only in handler calls", shards.ErrNoShard, d.Name())
}

func (s fixedScope) Read(*shards.Def, []byte) ([]*shards.Shard, error) { return s.sh.Alone(), nil }

func (s fixedScope) Scan(*shards.Def) ([]*shards.Shard, error) { return s.sh.Alone(), nil }

// statefulProcessor is a processor of an app with tables: its partition's
// shards of the local tables (part is nil without any), and the global
// tables it must not start before.
type statefulProcessor struct {
	actors.Processor
	ts   *tableState
	part *shards.Partition
}

// statefulBulkProcessor is a statefulProcessor whose handler has OnBulk.
type statefulBulkProcessor struct {
	*statefulProcessor
	bulk actors.BatchProcessor
}

func (s *statefulBulkProcessor) ProcessBatch(call *actors.Call) error {
	return s.bulk.ProcessBatch(call)
}

func (s *statefulBulkProcessor) AbandonBatch(call *actors.Call, err error) error {
	return s.bulk.AbandonBatch(call, err)
}

// Restore waits for the global tables to catch up, then restores the
// partition's shards.
func (s *statefulProcessor) Restore(ctx context.Context) error {
	if err := s.ts.globalsReady(ctx); err != nil {
		return err
	}
	if s.part == nil {
		return nil
	}
	return s.part.Restore(ctx)
}

func (s *statefulProcessor) Flush(ctx context.Context) error {
	if s.part == nil {
		return nil
	}
	return s.part.Flush(ctx)
}

func (s *statefulProcessor) Committed() error {
	if s.part == nil {
		return nil
	}
	return s.part.Committed()
}

// Full reports whether the partition's write-back caches hold more
// changed keys than tables.cache_max_entries allows; the committer then
// flushes and commits early.
func (s *statefulProcessor) Full() bool {
	return s.part != nil && s.part.Dirty() > s.ts.cacheMax
}

func (s *statefulProcessor) Close() error {
	if s.part == nil {
		return nil
	}
	return s.ts.registry.Release(s.part)
}

var _ actors.Stateful = (*statefulProcessor)(nil)
