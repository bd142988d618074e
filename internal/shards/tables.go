package shards

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
)

// TablesConfig configures OpenTables.
type TablesConfig struct {
	// Defs are the app's tables, global ones included.
	Defs []*Def
	// Store is the store URL of tables that name none; StateDir is where
	// rocksdb:// keeps them; MemoryLimit bounds RocksDB for the process.
	Store       string
	StateDir    string
	MemoryLimit int64
	// CacheMaxEntries bounds a partition's changed keys between commits.
	CacheMaxEntries int
	// Sources are the topics the app's handlers read; Replication the
	// replication factor of changelogs created.
	Sources     []string
	Replication int
	// Admin lists and creates topics; each call gets ConnectTimeout.
	Admin          *kadm.Client
	ConnectTimeout time.Duration
	// Produce writes changelog records (see RegistryConfig).
	Produce Producer
	// Consume are the options of the clients that restore partitions and
	// follow global tables: seed brokers, TLS, SASL. ClientID is suffixed
	// per use.
	Consume  []kgo.Opt
	ClientID string
	Logger   *slog.Logger
	// OnRestored, if set, is told of each finished shard restore.
	OnRestored func(RestoreStats)
}

// Tables is one worker's tables: the stores' backends, the registry of the
// partitions it holds, and the global tables it follows. Safe for
// concurrent use.
type Tables struct {
	backends map[string]stores.Backend
	registry *Registry // nil without local tables
	cacheMax int
	globals  []*Global
	// followers run the globals' Run; stopFollowers ends them.
	followers     sync.WaitGroup
	stopFollowers context.CancelFunc
	followErr     chan error
}

// OpenTables opens the stores' backends, starts following the global
// tables, creates the changelogs that are missing and checks that every
// changelog has the source topics' partition count. On error it closes
// what it opened.
func OpenTables(ctx context.Context, cfg TablesConfig) (*Tables, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t := &Tables{backends: map[string]stores.Backend{}, cacheMax: cfg.CacheMaxEntries, followErr: make(chan error, len(cfg.Defs))}
	if err := t.open(ctx, cfg); err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

func (t *Tables) open(ctx context.Context, cfg TablesConfig) error {
	local := map[*Def]stores.Backend{}
	globals := map[*Def]stores.Backend{}
	var localDefs []*Def
	for _, d := range cfg.Defs {
		loc, err := backends.ParseURL(cmp.Or(d.opts.Store, cfg.Store), cfg.StateDir)
		if err != nil {
			return fmt.Errorf("tables: table %q: %w", d.name, err)
		}
		// Keyed by the canonical URL: rocksdb:// and rocksdb:///<state
		// dir> are one backend with one memory budget.
		b, ok := t.backends[loc.String()]
		if !ok {
			b, err = backends.OpenLocation(loc, stores.Options{MemoryLimit: cfg.MemoryLimit, Logger: cfg.Logger})
			if err != nil {
				return fmt.Errorf("tables: table %q: %w", d.name, err)
			}
			t.backends[loc.String()] = b
		}
		if d.global {
			globals[d] = b
		} else {
			local[d] = b
			localDefs = append(localDefs, d)
		}
	}
	if err := t.follow(ctx, cfg, globals); err != nil {
		return err
	}
	if len(local) == 0 {
		return nil
	}
	cctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	if err := EnsureChangelogs(cctx, cfg.Admin, localDefs, cfg.Sources, cfg.Replication, cfg.Logger); err != nil {
		return err
	}
	t.registry = NewRegistry(RegistryConfig{
		Tables:     local,
		Produce:    cfg.Produce,
		Restore:    append(cfg.Consume[:len(cfg.Consume):len(cfg.Consume)], kgo.ClientID(cfg.ClientID+"-restore")),
		Logger:     cfg.Logger,
		OnRestored: cfg.OnRestored,
	})
	return nil
}

// follow opens the global tables' stores and starts following their
// topics. Handlers start only once they caught up (Stateful.Restore).
func (t *Tables) follow(ctx context.Context, cfg TablesConfig, globals map[*Def]stores.Backend) error {
	if len(globals) == 0 {
		return nil
	}
	var topics []string
	for d := range globals {
		topics = append(topics, d.changelog)
	}
	lctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()
	details, err := cfg.Admin.ListTopics(lctx, topics...)
	if err != nil {
		return fmt.Errorf("tables: global tables: listing topics: %w", err)
	}
	for d, b := range globals {
		g, err := OpenGlobal(d, b, len(details[d.changelog].Partitions))
		if err != nil {
			return err
		}
		t.globals = append(t.globals, g)
	}
	fctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	t.stopFollowers = stop
	opts := append(cfg.Consume[:len(cfg.Consume):len(cfg.Consume)], kgo.ClientID(cfg.ClientID+"-global"))
	for _, g := range t.globals {
		t.followers.Go(func() {
			if err := g.Run(fctx, opts, cfg.Logger, cfg.OnRestored); err != nil {
				t.followErr <- err
			}
		})
	}
	return nil
}

// Failed delivers the error of a global table that stopped following its
// topic: handlers would read stale reference data, so the worker stops.
func (t *Tables) Failed() <-chan error { return t.followErr }

// Shards returns the shards of d this worker holds now.
func (t *Tables) Shards(d *Def) []*Shard {
	if g := t.global(d); g != nil {
		return g.All()
	}
	if t.registry == nil {
		return nil
	}
	return t.registry.Shards(d)
}

// global returns the global table of d, or nil.
func (t *Tables) global(d *Def) *Global {
	for _, g := range t.globals {
		if g.def == d {
			return g
		}
	}
	return nil
}

// Close stops following the global tables and closes their stores, then
// the backends; the engine has released every partition by then.
func (t *Tables) Close() {
	if t.stopFollowers != nil {
		t.stopFollowers()
		t.followers.Wait()
	}
	for _, g := range t.globals {
		_ = g.Close()
	}
	for _, b := range t.backends {
		_ = b.Close()
	}
}

// Processor builds the processor of source partition number with build,
// given the Scope its handler calls address, and makes it actors.Stateful:
// it restores the partition's shards (after the global tables caught up)
// before its first record, flushes them before each commit, and releases
// them when it closes.
func (t *Tables) Processor(number int32, build func(Scope) actors.Processor) (actors.Processor, error) {
	var part *Partition
	if t.registry != nil {
		var err error
		if part, err = t.registry.Acquire(number); err != nil {
			return nil, err
		}
	}
	sp := &stateful{Processor: build(callScope{part: part, t: t}), t: t, part: part}
	if bp, ok := sp.Processor.(actors.BatchProcessor); ok {
		return &statefulBatch{stateful: sp, bulk: bp}, nil
	}
	return sp, nil
}

// Reads returns the read-only Scope of tools: every shard this worker
// holds.
func (t *Tables) Reads() Scope { return workerScope{t} }

// OneShard returns the read-only Scope of one shard: a look-up that
// reports where it found a key.
func OneShard(sh *Shard) Scope { return fixedScope{sh} }

// errWriteOutsideCall is the error of a write through a tool's scope.
var errWriteOutsideCall = errors.New("tables are written only in handler calls")

// callScope is what the table calls of a handler call address: the
// shards of the partition being handled (part; nil without local tables)
// and the global tables.
type callScope struct {
	part *Partition
	t    *Tables
}

func (s callScope) Write(d *Def, _ []byte) (*Shard, error) {
	if s.part != nil {
		if sh := s.part.Shard(d); sh != nil {
			return sh, nil
		}
	}
	return nil, fmt.Errorf("%w: table %q", ErrNoShard, d.name)
}

func (s callScope) Read(d *Def, key []byte) ([]*Shard, error) {
	if d.global {
		if g := s.t.global(d); g != nil {
			return g.Shards(key), nil
		}
		return nil, fmt.Errorf("%w: global table %q", ErrNoShard, d.name)
	}
	sh, err := s.Write(d, key)
	if err != nil {
		return nil, err
	}
	return sh.alone, nil
}

func (s callScope) Scan(d *Def) ([]*Shard, error) {
	if g := s.t.global(d); g != nil {
		return g.All(), nil
	}
	return s.Read(d, nil)
}

// workerScope reads every shard the worker holds.
type workerScope struct{ t *Tables }

func (s workerScope) Write(d *Def, _ []byte) (*Shard, error) {
	return nil, fmt.Errorf("%w: table %q: %w", ErrNoShard, d.name, errWriteOutsideCall)
}

func (s workerScope) Read(d *Def, _ []byte) ([]*Shard, error) { return s.t.Shards(d), nil }

func (s workerScope) Scan(d *Def) ([]*Shard, error) { return s.t.Shards(d), nil }

// fixedScope reads one shard.
type fixedScope struct{ sh *Shard }

func (s fixedScope) Write(d *Def, _ []byte) (*Shard, error) {
	return nil, fmt.Errorf("%w: table %q: %w", ErrNoShard, d.name, errWriteOutsideCall)
}

func (s fixedScope) Read(*Def, []byte) ([]*Shard, error) { return s.sh.alone, nil }

func (s fixedScope) Scan(*Def) ([]*Shard, error) { return s.sh.alone, nil }

// stateful is the processor of a partition of an app with tables.
type stateful struct {
	actors.Processor
	t    *Tables
	part *Partition // nil without local tables
}

// statefulBatch is a stateful processor whose handler has OnBulk.
type statefulBatch struct {
	*stateful
	bulk actors.BatchProcessor
}

func (s *statefulBatch) ProcessBatch(call *actors.Call) error { return s.bulk.ProcessBatch(call) }

func (s *statefulBatch) AbandonBatch(call *actors.Call, err error) error {
	return s.bulk.AbandonBatch(call, err)
}

// Restore waits for the global tables to catch up, then restores the
// partition's shards.
func (s *stateful) Restore(ctx context.Context) error {
	for _, g := range s.t.globals {
		select {
		case <-g.Ready():
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.part == nil {
		return nil
	}
	return s.part.Restore(ctx)
}

func (s *stateful) Flush(ctx context.Context) error {
	if s.part == nil {
		return nil
	}
	return s.part.Flush(ctx)
}

func (s *stateful) Committed() error {
	if s.part == nil {
		return nil
	}
	return s.part.Committed()
}

// Full reports whether the partition's write-back caches hold more
// changed keys than TablesConfig.CacheMaxEntries allows; the committer
// then flushes and commits early.
func (s *stateful) Full() bool {
	return s.part != nil && s.part.Dirty() > s.t.cacheMax
}

func (s *stateful) Close() error {
	if s.part == nil {
		return nil
	}
	return s.t.registry.Release(s.part)
}

var _ actors.Stateful = (*stateful)(nil)
