package tables

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/serde"
)

// Options configure a table. The zero value means the defaults.
type Options struct {
	// Store is the store URL: "memory://", "rocksdb://" (under the
	// worker's state directory) or "rocksdb:///abs/path". Default: the
	// worker's table_store setting (rocksdb://).
	Store string
	// Partitions of the changelog topic when it is created. Default: the
	// partition count of the app's source topics, which it must equal.
	Partitions int
	// ReplicationFactor of the changelog topic when it is created.
	// Default: the worker's topics.replication_factor setting.
	ReplicationFactor int
	// SegmentTime is the changelog's segment.ms. Default: the broker's.
	SegmentTime time.Duration
	// MinCleanableDirtyRatio is the changelog's min.cleanable.dirty.ratio,
	// in (0, 1]. Default: the broker's.
	MinCleanableDirtyRatio float64
	// MaxCompactionLag is the changelog's max.compaction.lag.ms. Default:
	// the broker's.
	MaxCompactionLag time.Duration
}

// Table is a typed key/value table. Create it with runtime.NewTable (or
// runtime.NewGlobalTable), which registers it with the app. Its methods
// take the context of the handler call they are made in (the
// *runtime.Context, or a context derived from it), which says which shard
// they address; they are safe for concurrent use across partitions.
type Table[K, V any] struct {
	def    *shards.Def
	keys   serde.Codec[K]
	values serde.Codec[V]
}

// New returns a table named name, encoding keys and values with the given
// codecs. It does nothing until registered with an app: runtime.NewTable
// does both.
func New[K, V any](name string, keys serde.Codec[K], values serde.Codec[V], opts Options) *Table[K, V] {
	return newTable(name, keys, values, false, "", opts)
}

// NewGlobal returns a global table that follows topic: every worker
// restores and keeps following every partition of it; handlers may only
// read it. For reference data and lookups. runtime.NewGlobalTable creates
// and registers one.
func NewGlobal[K, V any](name, topic string, keys serde.Codec[K], values serde.Codec[V], opts Options) *Table[K, V] {
	return newTable(name, keys, values, true, topic, opts)
}

func newTable[K, V any](name string, keys serde.Codec[K], values serde.Codec[V], global bool, topic string, opts Options) *Table[K, V] {
	schema := fmt.Sprintf("eddy-table/1 key=%T value=%T", *new(K), *new(V))
	return &Table[K, V]{
		def: shards.NewDef(name, schema, global, topic, shards.DefOptions{
			Store: opts.Store, Partitions: opts.Partitions, ReplicationFactor: opts.ReplicationFactor,
			SegmentTime: opts.SegmentTime, MinCleanableDirtyRatio: opts.MinCleanableDirtyRatio, MaxCompactionLag: opts.MaxCompactionLag,
		}),
		keys:   keys,
		values: values,
	}
}

// Name returns the table's name.
func (t *Table[K, V]) Name() string { return t.def.Name() }

// Def returns the table's untyped definition. It is for the runtime: its
// type is internal.
func (t *Table[K, V]) Def() *shards.Def { return t.def }

// Get returns the value of key and whether it exists. It sees the
// handler's own earlier writes.
func (t *Table[K, V]) Get(ctx context.Context, key K) (V, bool, error) {
	var zero V
	kb, err := t.keys.Encode(key)
	if err != nil {
		return zero, false, fmt.Errorf("tables: %s: encode key: %w", t.def.Name(), err)
	}
	sc, err := shards.ScopeOf(ctx)
	if err != nil {
		return zero, false, err
	}
	shs, err := sc.Read(t.def, kb)
	if err != nil {
		return zero, false, err
	}
	for _, sh := range shs {
		vb, ok, err := sh.Get(kb)
		if err != nil {
			return zero, false, err
		}
		if !ok {
			continue
		}
		v, err := t.values.Decode(vb)
		if err != nil {
			return zero, false, fmt.Errorf("tables: %s: decode value of key %q in partition %d: %w", t.def.Name(), kb, sh.Partition(), err)
		}
		return v, true, nil
	}
	return zero, false, nil
}

// Set sets key to value. The change is durable once the handler's record
// is committed. The table keeps the encoded value: with serde.Bytes, do not
// modify the slice after Set.
func (t *Table[K, V]) Set(ctx context.Context, key K, value V) error {
	vb, err := t.values.Encode(value)
	if err != nil {
		return fmt.Errorf("tables: %s: encode value: %w", t.def.Name(), err)
	}
	return t.write(ctx, key, func(sh *shards.Shard, kb []byte) error { return sh.Set(kb, vb) })
}

// Delete removes key; the changelog gets a tombstone.
func (t *Table[K, V]) Delete(ctx context.Context, key K) error {
	return t.write(ctx, key, (*shards.Shard).Delete)
}

// write encodes key and applies op to the shard the call writes it to.
func (t *Table[K, V]) write(ctx context.Context, key K, op func(sh *shards.Shard, kb []byte) error) error {
	if t.def.Global() {
		return ErrReadOnly
	}
	kb, err := t.keys.Encode(key)
	if err != nil {
		return fmt.Errorf("tables: %s: encode key: %w", t.def.Name(), err)
	}
	sc, err := shards.ScopeOf(ctx)
	if err != nil {
		return err
	}
	sh, err := sc.Write(t.def, kb)
	if err != nil {
		return err
	}
	return op(sh, kb)
}

// Scan calls fn for every key of the table that the call's scope holds,
// in no particular order, until fn returns false: in a handler call, the
// partition's shard (every shard for a global table); through
// runtime.ScanTable, every shard the worker holds. It sees writes not yet
// committed. fn runs with no table lock held; a key written while Scan
// runs may show its old or its new value.
func (t *Table[K, V]) Scan(ctx context.Context, fn func(K, V) bool) error {
	sc, err := shards.ScopeOf(ctx)
	if err != nil {
		return err
	}
	shs, err := sc.Scan(t.def)
	if err != nil {
		return err
	}
	var ferr error
	more := true
	for _, sh := range shs {
		err := sh.Scan(func(kb, vb []byte) bool {
			k, err := t.keys.Decode(kb)
			if err != nil {
				ferr = fmt.Errorf("tables: %s: decode key %q: %w", t.def.Name(), kb, err)
				return false
			}
			v, err := t.values.Decode(vb)
			if err != nil {
				ferr = fmt.Errorf("tables: %s: decode value of key %q: %w", t.def.Name(), kb, err)
				return false
			}
			more = fn(k, v)
			return more
		})
		if err != nil || ferr != nil {
			return cmp.Or(ferr, err)
		}
		if !more {
			return nil
		}
	}
	return nil
}

// ParseKey parses the string form of a key, as in an HTTP look-up: a
// string or []byte as it is, an integer in decimal, anything else as JSON.
func (t *Table[K, V]) ParseKey(s string) (K, error) {
	k, err := serde.ParseText[K](s)
	if err != nil {
		return k, fmt.Errorf("tables: %s: key %w", t.def.Name(), err)
	}
	return k, nil
}
