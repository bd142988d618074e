package runtime

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// appTable is a registered table: its definition and a typed lookup for
// GET /tables/{table}/{key}.
type appTable struct {
	def *shards.Def
	// lookup finds the string form of a key in the shards this worker
	// holds: its value as JSON-ready data, and its partition.
	lookup func(ts *shards.Tables, key string) (value any, partition int32, found bool, err error)
}

// NewTable creates a table named name and registers it with app. Its
// changelog is "<app>-<name>-changelog", created when the app starts if
// missing. Handlers use it with their ctx: table.Get(ctx, k),
// table.Set(ctx, k, v), table.Delete(ctx, k), table.Scan(ctx, fn).
// Problems (an empty or repeated name, nil codecs) are reported by App.Run.
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
	a.tables = append(a.tables, &appTable{def: d, lookup: func(ts *shards.Tables, key string) (any, int32, bool, error) {
		k, err := t.ParseKey(key)
		if err != nil {
			return nil, -1, false, err
		}
		return readTable(ts, t, k)
	}})
}

// setupTables opens the worker's tables: stores, global tables,
// changelogs. It runs before the worker joins its group.
func (w *worker) setupTables(ctx context.Context) error {
	if len(w.app.tables) == 0 {
		return nil
	}
	defs := make([]*shards.Def, len(w.app.tables))
	for i, t := range w.app.tables {
		defs[i] = t.def
	}
	ts, err := shards.OpenTables(ctx, shards.TablesConfig{
		Defs: defs, Store: w.cfg.TableStore, StateDir: w.cfg.StateDir, MemoryLimit: w.cfg.RocksDBMemoryLimit,
		CacheMaxEntries: w.cfg.TableCacheMaxEntries,
		Sources:         w.app.SourceTopics(), Replication: w.cfg.TopicReplication,
		Admin: kadm.NewClient(w.groupClient()), ConnectTimeout: w.cfg.ConnectTimeout,
		Produce: func(rec *kgo.Record, promise func(*kgo.Record, error)) {
			w.groupClient().Produce(w.produceCtx, rec, promise)
		},
		Consume: append([]kgo.Opt{kgo.SeedBrokers(w.brokers...)}, w.security.Options()...), ClientID: w.cfg.ClientID,
		Logger: w.logger,
		OnRestored: func(st shards.RestoreStats) {
			w.tel.Restored(st.Table, st.Partition, st.Records, st.Duration)
		},
	})
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	w.tables = ts
	err = w.tel.ObserveTables(func(report func(table string, partition int32, keys int64)) {
		for _, d := range defs {
			for _, sh := range ts.Shards(d) {
				if n, err := sh.Len(); err == nil {
					report(d.Name(), sh.Partition(), n)
				}
			}
		}
	})
	if err != nil {
		return fmt.Errorf("runtime: table metrics: %w", err)
	}
	return nil
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

// ReadTable returns the value of key in t from the shards the running
// worker holds. found is false when none of them has the key: it is not in
// the table, another worker holds its partition, or the app is not running.
// For tools and tests, outside handler calls; it sees writes not yet
// committed. Safe for concurrent use.
func ReadTable[K, V any](app *App, t *tables.Table[K, V], key K) (value V, found bool, err error) {
	w := app.current.Load()
	if w == nil || w.tables == nil {
		return value, false, nil
	}
	v, _, found, err := readTable(w.tables, t, key)
	if found {
		value = v
	}
	return value, found, err
}

// readTable looks key up in the shards of t that ts holds, returning its
// value and partition.
func readTable[K, V any](ts *shards.Tables, t *tables.Table[K, V], key K) (V, int32, bool, error) {
	var zero V
	for _, sh := range ts.Shards(t.Def()) {
		v, ok, err := t.Get(shards.WithScope(context.Background(), shards.OneShard(sh)), key)
		if err != nil || ok {
			return v, sh.Partition(), ok, err
		}
	}
	return zero, -1, false, nil
}

// ScanTable calls fn for every key of t in the shards the running worker
// holds, in no particular order, until fn returns false. For reports and
// tools; it reads committed and uncommitted writes alike, and fn runs with
// no table lock held. It returns false when the app is not running.
func ScanTable[K, V any](app *App, t *tables.Table[K, V], fn func(K, V) bool) (bool, error) {
	w := app.current.Load()
	if w == nil || w.tables == nil {
		return false, nil
	}
	return true, t.Scan(shards.WithScope(context.Background(), w.tables.Reads()), fn)
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
	v, partition, found, err := t.lookup(w.tables, key)
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
