package memory

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/eddy-streams/eddy/stores"
)

// Backend opens in-memory shards. Like the RocksDB backend it refuses to open
// a shard that is already open (a [*stores.LockedError] with InProcess set),
// so that code which opens a shard twice fails the same way in tests as in
// production.
//
// Concurrency: Open, and Close of its stores, may be called from any
// goroutine; Backend.Close must not race with Open.
type Backend struct {
	mu struct {
		sync.Mutex
		closed bool
		open   map[shardKey]bool // the shards currently open
	}
}

type shardKey struct {
	table     string
	partition int32
}

var _ stores.Backend = (*Backend)(nil)

// New returns an empty in-memory backend.
func New() *Backend {
	b := &Backend{}
	b.mu.open = make(map[shardKey]bool)
	return b
}

// Open returns a new empty store for meta: see [stores.Backend.Open]. An
// in-memory shard has no data from an earlier open, so its Schema is never
// incompatible.
func (b *Backend) Open(meta stores.Meta) (stores.Store, error) {
	if err := meta.Validate(); err != nil {
		return nil, err
	}
	k := shardKey{meta.Table, meta.Partition}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return nil, stores.ErrClosed
	}
	if b.mu.open[k] {
		return nil, &stores.LockedError{Path: path(meta), InProcess: true}
	}
	b.mu.open[k] = true
	s := NewStore()
	s.release = func() {
		b.mu.Lock()
		delete(b.mu.open, k)
		b.mu.Unlock()
	}
	return s, nil
}

// path names an in-memory shard in errors.
func path(m stores.Meta) string {
	return fmt.Sprintf("memory://%s/%d", m.Table, m.Partition)
}

// Persistent returns false: data does not survive Close.
func (b *Backend) Persistent() bool { return false }

// Close marks the backend closed; later Opens return [stores.ErrClosed]. If
// stores are still open it returns an error naming them (they stay usable
// until their own Close). Close is idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.mu.closed = true
	if len(b.mu.open) == 0 {
		return nil
	}
	var open []string
	for k := range b.mu.open {
		open = append(open, fmt.Sprintf("%s/%d", k.table, k.partition))
	}
	slices.Sort(open)
	return fmt.Errorf("stores: memory: close: %d stores are still open (%s); close them first", len(open), strings.Join(open, ", "))
}
