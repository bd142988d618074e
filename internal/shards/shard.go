package shards

import (
	"sync"

	"github.com/eddy-streams/eddy/stores"
)

// Shard is one partition of one table: its store and write-back cache.
// Handler calls read and write it; the committer flushes it. Its cache is
// under a mutex because both do so concurrently.
type Shard struct {
	def       *Def
	partition int32
	store     stores.Store
	// storeMu keeps close from racing any use of the store: uses hold it
	// for reading (several at once), close for writing. A RocksDB store
	// used while closing aborts the process.
	storeMu sync.RWMutex

	mu struct {
		sync.Mutex
		// dirty holds writes since the last flush; flushing holds
		// flushed writes not yet in the store. Reads look in dirty, then
		// flushing, then the store.
		dirty    map[string]entry
		flushing map[string]entry
		closed   bool
	}
	// checkpoint is the changelog offset after the last acknowledged
	// flushed write; -1 before any. acked is whether a successful Flush
	// covered everything in the flushing set. Only the committer touches
	// them.
	checkpoint int64
	acked      bool

	alone []*Shard // the shard alone, for a Scope's Read without allocating
}

// entry is a cached write; deleted marks a tombstone.
type entry struct {
	value   []byte
	deleted bool
}

func newShard(def *Def, partition int32, store stores.Store) *Shard {
	s := &Shard{def: def, partition: partition, store: store, checkpoint: -1}
	s.alone = []*Shard{s}
	s.mu.dirty = make(map[string]entry)
	s.mu.flushing = make(map[string]entry)
	return s
}

// Partition returns the shard's partition.
func (s *Shard) Partition() int32 { return s.partition }

// Def returns the shard's table.
func (s *Shard) Def() *Def { return s.def }

// Alone returns a slice holding only s, the same one on every call: a
// Scope's Read of a single shard does not allocate.
func (s *Shard) Alone() []*Shard { return s.alone }

// Store returns the shard's store, to look past its cache (tests).
func (s *Shard) Store() stores.Store { return s.store }

// Get returns a copy of key's value, from the cache or the store: what
// the handlers wrote, committed or not.
func (s *Shard) Get(key []byte) ([]byte, bool, error) {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil, false, ErrClosed
	}
	e, ok := s.mu.dirty[string(key)]
	if !ok {
		e, ok = s.mu.flushing[string(key)]
	}
	s.mu.Unlock()
	if ok {
		if e.deleted {
			return nil, false, nil
		}
		return append([]byte(nil), e.value...), true, nil
	}
	var v []byte
	err := s.useStore(func(st stores.Store) (err error) {
		v, ok, err = st.Get(key)
		return err
	})
	return v, ok, err
}

// useStore runs f with the store, unless the shard is closed.
func (s *Shard) useStore(f func(stores.Store) error) error {
	s.storeMu.RLock()
	defer s.storeMu.RUnlock()
	s.mu.Lock()
	closed := s.mu.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return f(s.store)
}

// dirtyLen is how many keys changed since the last flush.
func (s *Shard) dirtyLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.mu.dirty)
}

// Set caches a write of key; the shard keeps value.
func (s *Shard) Set(key, value []byte) error { return s.put(key, value, false) }

// Delete caches the deletion of key; the changelog gets a tombstone.
func (s *Shard) Delete(key []byte) error { return s.put(key, nil, true) }

// put caches a write; the shard keeps value.
func (s *Shard) put(key, value []byte, deleted bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	s.mu.dirty[string(key)] = entry{value: value, deleted: deleted}
	return nil
}

// takeDirty moves the writes since the last flush to the flushing set and
// returns them, to be produced to the changelog.
func (s *Shard) takeDirty() map[string]entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.mu.dirty
	if len(d) == 0 {
		return nil
	}
	for k, e := range d {
		s.mu.flushing[k] = e
	}
	s.mu.dirty = make(map[string]entry, len(d))
	s.acked = false // until a Flush sees these acknowledged
	return d
}

// applyFlushed writes the flushed changes to the store with the changelog
// checkpoint they reach, then drops them from the cache. Reads in between
// find them in either place.
func (s *Shard) applyFlushed() error {
	if !s.acked {
		return nil // a Flush failed or was cut short: nothing is known durable
	}
	s.mu.Lock()
	if len(s.mu.flushing) == 0 || s.checkpoint < 0 {
		s.mu.Unlock()
		return nil
	}
	var b stores.Batch
	for k, e := range s.mu.flushing {
		if e.deleted {
			b.Delete([]byte(k))
		} else {
			b.Set([]byte(k), e.value)
		}
	}
	s.mu.Unlock()
	b.SetCheckpoint(s.checkpoint)
	if err := s.useStore(func(st stores.Store) error { return st.Apply(&b) }); err != nil {
		return err
	}
	s.mu.Lock()
	s.mu.flushing = make(map[string]entry)
	s.mu.Unlock()
	return nil
}

// close marks the shard closed and closes its store. Unflushed writes are
// dropped: their records were not committed and will be handled again.
func (s *Shard) close() error {
	s.storeMu.Lock()
	defer s.storeMu.Unlock()
	s.mu.Lock()
	s.mu.closed = true
	s.mu.dirty, s.mu.flushing = nil, nil
	s.mu.Unlock()
	return s.store.Close()
}

// Len estimates the keys in the shard's store (writes not yet committed are
// not counted).
func (s *Shard) Len() (int64, error) {
	var n int64
	err := s.useStore(func(st stores.Store) (err error) {
		n, err = st.Len()
		return err
	})
	return n, err
}

// snapshotCache copies the writes not yet in the store.
func (s *Shard) snapshotCache() (map[string]entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return nil, ErrClosed
	}
	m := make(map[string]entry, len(s.mu.flushing)+len(s.mu.dirty))
	for k, e := range s.mu.flushing {
		m[k] = e
	}
	for k, e := range s.mu.dirty {
		m[k] = e
	}
	return m, nil
}
