package runtime

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
	"github.com/eddy-streams/eddy/tables"
)

// appTable is a registered table: its definition and a typed lookup for
// GET /tables/{table}/{key}.
type appTable struct {
	def *tables.Def
	// lookup finds the string form of a key in the shards this worker
	// holds: its value as JSON-ready data, and its partition.
	lookup func(w *worker, key string) (value any, partition int32, found bool, err error)
}

// NewTable creates a table named name and registers it with app. Its
// changelog is "<app>-<name>-changelog", created when the app starts if
// missing. Handlers use it with their ctx: table.Get(ctx, k),
// table.Set(ctx, k, v), table.Delete(ctx, k). Problems (an empty or
// repeated name, nil codecs) are reported by App.Run.
func NewTable[K, V any](app *App, name string, keys serde.Codec[K], values serde.Codec[V], opts tables.Options) *tables.Table[K, V] {
	t := tables.New(name, keys, values, opts)
	t.Def().SetChangelog(app.name + "-" + name + "-changelog")
	addTable(app, t, keys != nil && values != nil)
	return t
}

// NewGlobalTable creates a global table named name that follows topic and
// registers it with app: every worker restores every partition of topic
// before its handlers start, and keeps applying what is written there.
// Handlers read it with Get; Set and Delete return tables.ErrReadOnly. For
// reference data and look-ups; produce to topic keyed with the same codec.
func NewGlobalTable[K, V any](app *App, name, topic string, keys serde.Codec[K], values serde.Codec[V], opts tables.Options) *tables.Table[K, V] {
	t := tables.NewGlobal(name, topic, keys, values, opts)
	if topic == "" {
		app.errorf("runtime: global table %q: no topic to follow", name)
	}
	addTable(app, t, keys != nil && values != nil)
	return t
}

func addTable[K, V any](a *App, t *tables.Table[K, V], codecs bool) {
	d := t.Def()
	switch {
	case d.Name() == "" || strings.ContainsAny(d.Name(), "/ "):
		a.errorf("runtime: table name %q: want a non-empty name without '/' or spaces", d.Name())
		return
	case !codecs:
		a.errorf("runtime: table %q: key and value codecs are required", d.Name())
		return
	}
	for _, o := range a.tables {
		if o.def.Name() == d.Name() {
			a.errorf("runtime: two tables named %q", d.Name())
			return
		}
	}
	a.tables = append(a.tables, &appTable{def: d, lookup: func(w *worker, key string) (any, int32, bool, error) {
		k, err := t.ParseKey(key)
		if err != nil {
			return nil, -1, false, err
		}
		return readShards(w, t, k)
	}})
}

// ReadTable returns the value of key in t from the shards the running
// worker holds. found is false when none of them has the key: it is not in
// the table, another worker holds its partition, or the app is not running.
// For tools and tests, outside handler calls; it sees writes not yet
// committed. Safe for concurrent use.
func ReadTable[K, V any](app *App, t *tables.Table[K, V], key K) (value V, found bool, err error) {
	w := app.current.Load()
	if w == nil {
		return value, false, nil
	}
	v, _, found, err := readShards(w, t, key)
	if found {
		value = v
	}
	return value, found, err
}

// readShards looks key up in the shards of t that w holds, returning its
// value and partition.
func readShards[K, V any](w *worker, t *tables.Table[K, V], key K) (V, int32, bool, error) {
	var zero V
	if w.tables == nil {
		return zero, -1, false, nil
	}
	for _, sh := range w.tables.shards(t.Def()) {
		v, ok, err := t.GetFrom(sh, key)
		if err != nil || ok {
			return v, sh.Partition(), ok, err
		}
	}
	return zero, -1, false, nil
}

// changelogs returns the app's changelog topics (not the topics global
// tables follow, which it only reads).
func (a *App) changelogs() map[string]bool {
	m := map[string]bool{}
	for _, t := range a.tables {
		if !t.def.Global() {
			m[t.def.Changelog()] = true
		}
	}
	return m
}

// globalTopics returns the topics the app's global tables follow.
func (a *App) globalTopics() []string {
	var ts []string
	for _, t := range a.tables {
		if t.def.Global() && !slices.Contains(ts, t.def.Changelog()) {
			ts = append(ts, t.def.Changelog())
		}
	}
	return ts
}

// tableState is a worker's tables: backends, registry and topics.
type tableState struct {
	backends map[string]stores.Backend
	registry *tables.Registry // nil without local tables
	cacheMax int              // tables.cache_max_entries
	globals  []*tables.Global
	// followers run the globals' Run; stopFollowers ends them.
	followers     sync.WaitGroup
	stopFollowers context.CancelFunc
	followErr     chan error
}

// shards returns the shards of d this worker holds now.
func (ts *tableState) shards(d *tables.Def) []*tables.Shard {
	for _, g := range ts.globals {
		if g.Def() == d {
			return g.All()
		}
	}
	if ts.registry == nil {
		return nil
	}
	return ts.registry.Shards(d)
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
	byDef := map[*tables.Def]stores.Backend{}
	globals := map[*tables.Def]stores.Backend{}
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
		}
	}
	if err := w.startGlobals(ctx, globals); err != nil {
		return err
	}
	if len(byDef) == 0 {
		return w.observeTables()
	}
	if err := w.checkTablePartitions(ctx); err != nil {
		return err
	}
	ts.registry = tables.NewRegistry(tables.RegistryConfig{
		Tables: byDef,
		Produce: func(rec *kgo.Record, promise func(*kgo.Record, error)) {
			w.groupClient().Produce(w.produceCtx, rec, promise)
		},
		Restore:    []kgo.Opt{kgo.SeedBrokers(w.brokers...), kgo.ClientID(w.cfg.ClientID + "-restore")},
		Logger:     w.logger,
		OnRestored: w.restored,
	})
	return w.observeTables()
}

func (w *worker) observeTables() error {
	defs := make([]*tables.Def, len(w.app.tables))
	for i, t := range w.app.tables {
		defs[i] = t.def
	}
	shards := func(report func(table string, partition int32, keys int64)) {
		for _, d := range defs {
			for _, sh := range w.tables.shards(d) {
				if n, err := sh.Len(); err == nil {
					report(d.Name(), sh.Partition(), n)
				}
			}
		}
	}
	if err := w.tel.ObserveTables(shards); err != nil {
		return fmt.Errorf("runtime: table metrics: %w", err)
	}
	return nil
}

// restored reports a finished restore to telemetry.
func (w *worker) restored(st tables.RestoreStats) {
	w.tel.Restored(st.Table, st.Partition, st.Records, st.Duration)
}

// startGlobals opens the global tables' stores and starts following their
// topics. Handlers start only once they caught up (statefulProcessor).
func (w *worker) startGlobals(ctx context.Context, globals map[*tables.Def]stores.Backend) error {
	if len(globals) == 0 {
		return nil
	}
	ts := w.tables
	var topics []string
	for d := range globals {
		topics = append(topics, d.Changelog())
	}
	details, err := kadm.NewClient(w.groupClient()).ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("runtime: global tables: listing topics: %w", err)
	}
	for d, b := range globals {
		g, err := tables.OpenGlobal(d, b, len(details[d.Changelog()].Partitions))
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

// serveTable answers GET /tables/{table}/{key}: the key's value if a shard
// this worker holds has it.
func (w *worker) serveTable(rw http.ResponseWriter, r *http.Request) {
	name, key := r.PathValue("table"), r.PathValue("key")
	var t *appTable
	for _, at := range w.app.tables {
		if at.def.Name() == name {
			t = at
		}
	}
	if t == nil || w.tables == nil {
		writeJSON(rw, http.StatusNotFound, map[string]string{"error": fmt.Sprintf("no table %q", name)})
		return
	}
	v, partition, found, err := t.lookup(w, key)
	switch {
	case err != nil:
		writeJSON(rw, http.StatusBadRequest, map[string]string{"error": err.Error()})
	case !found:
		writeJSON(rw, http.StatusNotFound, map[string]string{
			"error": fmt.Sprintf("key %q is not in the shards of table %q this worker holds", key, name)})
	default:
		writeJSON(rw, http.StatusOK, map[string]any{"table": name, "key": key, "value": v, "partition": partition})
	}
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

// checkTablePartitions creates missing changelogs and refuses to start
// when the partition counts of the source topics and the changelogs
// differ, naming each topic and count.
func (w *worker) checkTablePartitions(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.ConnectTimeout)
	defer cancel()
	adm := kadm.NewClient(w.groupClient())
	sources := w.app.SourceTopics()
	details, err := adm.ListTopics(ctx, sources...)
	if err != nil {
		return fmt.Errorf("runtime: tables: listing topics: %w", err)
	}
	counts := map[string]int{}
	for _, t := range sources {
		counts[t] = len(details[t].Partitions)
	}
	want := counts[sources[0]]
	for _, t := range w.app.tables {
		if n := t.def.Options().Partitions; n > 0 {
			want = n
		}
	}
	var changelogs []string
	for _, t := range w.app.tables {
		changelogs = append(changelogs, t.def.Changelog())
	}
	existing, err := adm.ListTopics(ctx, changelogs...)
	if err != nil {
		return fmt.Errorf("runtime: tables: listing changelogs: %w", err)
	}
	for _, t := range w.app.tables {
		cl := t.def.Changelog()
		if d, ok := existing[cl]; ok && d.Err == nil {
			counts[cl] = len(d.Partitions)
			continue
		}
		rf := int16(cmp.Or(t.def.Options().ReplicationFactor, w.cfg.TopicReplication))
		resp, err := adm.CreateTopic(ctx, int32(want), rf, t.def.TopicConfigs(), cl)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("runtime: table %q: creating changelog %s (%d partitions, replication %d): %w", t.def.Name(), cl, want, rf, err)
		}
		w.logger.Info("created changelog", "table", t.def.Name(), "topic", cl, "partitions", want, "replication", rf)
		counts[cl] = want
	}
	var names []string
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if counts[n] != counts[names[0]] {
			var parts []string
			for _, n := range names {
				parts = append(parts, fmt.Sprintf("%s=%d", n, counts[n]))
			}
			return fmt.Errorf("runtime: tables shard by source partition, so the source topics and changelogs must have the same partition count; they have: %s", strings.Join(parts, ", "))
		}
	}
	return nil
}

// tablePartitioner sends changelog records to the partition they carry
// and every other record where the key hashes to, as Kafka's default
// partitioner does.
type tablePartitioner struct {
	changelogs map[string]bool
	byKey      kgo.Partitioner
}

func (p tablePartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	if p.changelogs[topic] {
		return kgo.ManualPartitioner().ForTopic(topic)
	}
	return p.byKey.ForTopic(topic)
}

// statefulProcessor is a processor of an app with tables: its partition's
// shards of the local tables (part is nil without any), and the global
// tables it must not start before.
type statefulProcessor struct {
	actors.Processor
	ts   *tableState
	part *tables.Partition
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

// GlobalShards returns the shards of global table d a key may be in, most
// likely first. It makes Context a tables.GlobalScope; handlers do not
// call it directly.
func (c *Context) GlobalShards(d *tables.Def, key []byte) ([]*tables.Shard, error) {
	for _, g := range c.w.tables.globals {
		if g.Def() == d {
			return g.Shards(key), nil
		}
	}
	return nil, fmt.Errorf("%w: global table %q", tables.ErrNoShard, d.Name())
}

// Shard returns the shard of table d that a call addresses: for a table,
// the shard of the partition being handled. It makes Context a
// tables.Scope; handlers do not call it directly.
func (c *Context) Shard(d *tables.Def, key []byte) (*tables.Shard, error) {
	if c.tables == nil {
		return nil, tables.ErrNoShard
	}
	if s := c.tables.Shard(d); s != nil {
		return s, nil
	}
	return nil, fmt.Errorf("%w: table %q", tables.ErrNoShard, d.Name())
}

// ScanTable calls fn for every key of t in the shards the running worker
// holds, in no particular order, until fn returns false. For reports and
// tools; it reads committed and uncommitted writes alike. It returns false
// when the app is not running.
func ScanTable[K, V any](app *App, t *tables.Table[K, V], fn func(K, V) bool) (bool, error) {
	w := app.current.Load()
	if w == nil || w.tables == nil {
		return false, nil
	}
	for _, sh := range w.tables.shards(t.Def()) {
		more := true
		if err := t.Scan(sh, func(k K, v V) bool { more = fn(k, v); return more }); err != nil {
			return true, err
		}
		if !more {
			break
		}
	}
	return true, nil
}
