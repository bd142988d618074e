package tables

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/stores"
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

// Def is the untyped part of a table, which the runtime manages: its name,
// changelog topic and options. It is immutable once the app runs.
type Def struct {
	name      string
	changelog string
	schema    string
	opts      Options
	global    bool
}

// Name returns the table's name.
func (d *Def) Name() string { return d.name }

// Changelog returns the table's changelog topic, or the topic a global
// table follows.
func (d *Def) Changelog() string { return d.changelog }

// Global reports whether the table is global: every worker holds every
// partition, read-only for handlers.
func (d *Def) Global() bool { return d.global }

// Options returns the table's options.
func (d *Def) Options() Options { return d.opts }

// Schema identifies the table's encoding in its stores, so a store written
// by a table with other codecs is refused rather than misread.
func (d *Def) Schema() string { return d.schema }

// SetChangelog names the changelog topic; the runtime calls it when the
// table is registered, before the app runs.
func (d *Def) SetChangelog(topic string) { d.changelog = topic }

// TopicConfigs returns the changelog topic's configuration for creation:
// compacted, with the options that are set.
func (d *Def) TopicConfigs() map[string]*string {
	str := func(s string) *string { return &s }
	c := map[string]*string{"cleanup.policy": str("compact")}
	if d.opts.SegmentTime > 0 {
		c["segment.ms"] = str(fmt.Sprint(d.opts.SegmentTime.Milliseconds()))
	}
	if d.opts.MinCleanableDirtyRatio > 0 {
		c["min.cleanable.dirty.ratio"] = str(fmt.Sprint(d.opts.MinCleanableDirtyRatio))
	}
	if d.opts.MaxCompactionLag > 0 {
		c["max.compaction.lag.ms"] = str(fmt.Sprint(d.opts.MaxCompactionLag.Milliseconds()))
	}
	return c
}

// Scope is what a table call needs from the handler call it is made in:
// the shard to address. *runtime.Context implements it.
type Scope interface {
	// Shard returns the shard of d that a call with the encoded key
	// addresses: for a table, the shard of the partition being handled;
	// for a global table, the shard the key belongs to.
	Shard(d *Def, key []byte) (*Shard, error)
}

// GlobalScope is what a call needs to read a global table: the shards a
// key may be in, most likely first. *runtime.Context implements it.
type GlobalScope interface {
	GlobalShards(d *Def, key []byte) ([]*Shard, error)
}

// Table is a typed key/value table. Create it with New and register it
// with the app (runtime.NewTable does both). Its methods are called from
// handlers with the handler's context as the Scope, and are safe for
// concurrent use across partitions.
type Table[K, V any] struct {
	def    *Def
	keys   serde.Codec[K]
	values serde.Codec[V]
}

// New returns a table named name, encoding keys and values with the given
// codecs. The runtime validates it when the app starts.
func New[K, V any](name string, keys serde.Codec[K], values serde.Codec[V], opts Options) *Table[K, V] {
	return &Table[K, V]{
		def:    &Def{name: name, opts: opts, schema: fmt.Sprintf("eddy-table/1 key=%T value=%T", *new(K), *new(V))},
		keys:   keys,
		values: values,
	}
}

// NewGlobal returns a global table that follows topic: every worker
// restores and keeps following every partition of it; handlers may only
// read it. For reference data and lookups.
func NewGlobal[K, V any](name, topic string, keys serde.Codec[K], values serde.Codec[V], opts Options) *Table[K, V] {
	t := New(name, keys, values, opts)
	t.def.global = true
	t.def.changelog = topic
	return t
}

// Def returns the table's untyped definition, for the runtime.
func (t *Table[K, V]) Def() *Def { return t.def }

// Keys returns the table's key codec.
func (t *Table[K, V]) Keys() serde.Codec[K] { return t.keys }

// Values returns the table's value codec.
func (t *Table[K, V]) Values() serde.Codec[V] { return t.values }

// Get returns the value of key and whether it exists. It sees the
// handler's own earlier writes.
func (t *Table[K, V]) Get(s Scope, key K) (V, bool, error) {
	var zero V
	kb, err := t.keys.Encode(key)
	if err != nil {
		return zero, false, fmt.Errorf("tables: %s: encode key: %w", t.def.name, err)
	}
	vb, sh, ok, err := t.lookup(s, kb)
	if err != nil || !ok {
		return zero, false, err
	}
	v, err := t.values.Decode(vb)
	if err != nil {
		return zero, false, fmt.Errorf("tables: %s: decode value of key %q in partition %d: %w", t.def.name, kb, sh.partition, err)
	}
	return v, true, nil
}

// lookup finds kb's value: in the call's shard, or for a global table in
// the shards the key may be in.
func (t *Table[K, V]) lookup(s Scope, kb []byte) ([]byte, *Shard, bool, error) {
	if t.def.global {
		gs, ok := s.(GlobalScope)
		if !ok {
			return nil, nil, false, ErrNoShard
		}
		shards, err := gs.GlobalShards(t.def, kb)
		if err != nil {
			return nil, nil, false, err
		}
		for _, sh := range shards {
			vb, ok, err := sh.get(kb)
			if err != nil || ok {
				return vb, sh, ok, err
			}
		}
		return nil, nil, false, nil
	}
	sh, err := s.Shard(t.def, kb)
	if err != nil {
		return nil, nil, false, err
	}
	vb, ok, err := sh.get(kb)
	return vb, sh, ok, err
}

// Set sets key to value. The change is durable once the handler's record
// is committed. The table keeps the encoded value: with serde.Bytes, do not
// modify the slice after Set.
func (t *Table[K, V]) Set(s Scope, key K, value V) error {
	if t.def.global {
		return ErrReadOnly
	}
	kb, err := t.keys.Encode(key)
	if err != nil {
		return fmt.Errorf("tables: %s: encode key: %w", t.def.name, err)
	}
	vb, err := t.values.Encode(value)
	if err != nil {
		return fmt.Errorf("tables: %s: encode value: %w", t.def.name, err)
	}
	sh, err := s.Shard(t.def, kb)
	if err != nil {
		return err
	}
	return sh.put(kb, vb, false)
}

// Delete removes key; the changelog gets a tombstone.
func (t *Table[K, V]) Delete(s Scope, key K) error {
	if t.def.global {
		return ErrReadOnly
	}
	kb, err := t.keys.Encode(key)
	if err != nil {
		return fmt.Errorf("tables: %s: encode key: %w", t.def.name, err)
	}
	sh, err := s.Shard(t.def, kb)
	if err != nil {
		return err
	}
	return sh.put(kb, nil, true)
}

// ParseKey parses the string form of a key, as in an HTTP look-up: a
// string or []byte as it is, an integer in decimal, anything else as JSON.
func (t *Table[K, V]) ParseKey(s string) (K, error) {
	var k K
	var err error
	switch p := any(&k).(type) {
	case *string:
		*p = s
	case *[]byte:
		*p = []byte(s)
	case *int64:
		*p, err = strconv.ParseInt(s, 10, 64)
	case *int32:
		var n int64
		n, err = strconv.ParseInt(s, 10, 32)
		*p = int32(n)
	case *int:
		*p, err = strconv.Atoi(s)
	default:
		err = json.Unmarshal([]byte(s), &k)
	}
	if err != nil {
		return k, fmt.Errorf("tables: %s: key %q is not a %T: %w", t.def.name, s, k, err)
	}
	return k, nil
}

// GetFrom reads key from the given shard, outside any handler call: for
// look-ups over HTTP and for tests.
func (t *Table[K, V]) GetFrom(sh *Shard, key K) (V, bool, error) {
	return t.Get(fixedScope{sh}, key)
}

// fixedScope addresses one shard whatever the call.
type fixedScope struct{ sh *Shard }

func (f fixedScope) Shard(*Def, []byte) (*Shard, error) { return f.sh, nil }

func (f fixedScope) GlobalShards(*Def, []byte) ([]*Shard, error) { return []*Shard{f.sh}, nil }

// scanPage is how many store entries Scan reads at a time under the
// shard's store lock; it calls fn on them after releasing it.
const scanPage = 1000

// Scan calls fn for every key of shard sh, in no particular order, until fn
// returns false: the store's keys overlaid with the writes not yet in it.
// fn runs with no lock held, so a slow fn delays no handler and no revoke;
// the store is read a page at a time, so fn sees each key at most once but
// not one snapshot of the store: a key committed while Scan runs may show
// its old or its new value. A shard closed meanwhile (its partition
// released) ends Scan with an error wrapping ErrClosed. For reports and
// tools, outside handler calls.
func (t *Table[K, V]) Scan(sh *Shard, fn func(K, V) bool) error {
	cached, err := sh.snapshotCache()
	if err != nil {
		return err
	}
	var ferr error
	decode := func(kb, vb []byte) bool {
		k, err := t.keys.Decode(kb)
		if err != nil {
			ferr = fmt.Errorf("tables: %s: decode key %q: %w", t.def.name, kb, err)
			return false
		}
		v, err := t.values.Decode(vb)
		if err != nil {
			ferr = fmt.Errorf("tables: %s: decode value of key %q: %w", t.def.name, kb, err)
			return false
		}
		return fn(k, v)
	}
	type kv struct{ k, v []byte }
	page := make([]kv, 0, scanPage)
	var start []byte
	for {
		page = page[:0]
		var next []byte // the first key of the next page; nil at the end
		read := 0
		if err := sh.useStore(func(st stores.Store) error {
			return st.Iterate(start, nil, func(kb, vb []byte) bool {
				if read == scanPage {
					next = bytes.Clone(kb)
					return false
				}
				read++
				if _, ok := cached[string(kb)]; !ok { // else the cache has the newer write
					page = append(page, kv{bytes.Clone(kb), bytes.Clone(vb)})
				}
				return true
			})
		}); err != nil {
			return fmt.Errorf("tables: %s partition %d: scan: %w", t.def.name, sh.partition, err)
		}
		for _, e := range page {
			if !decode(e.k, e.v) {
				return ferr
			}
		}
		if next == nil {
			break
		}
		start = next
	}
	for k, e := range cached {
		if !e.deleted && !decode([]byte(k), e.value) {
			return ferr
		}
	}
	return nil
}
