package memory

import (
	"bytes"
	"sync"

	"github.com/eddy-streams/eddy/stores"
	"github.com/google/btree"
)

// degree is the B-tree's branching factor: 32 keeps nodes near a few cache
// lines of pointers, google/btree's own benchmarks' sweet spot.
const degree = 32

// item is one key and its value. Both slices are the ones handed to
// [stores.Batch.Set]; the store never modifies them.
type item struct {
	key, value []byte
}

func less(a, b item) bool { return bytes.Compare(a.key, b.key) < 0 }

// Store is an in-memory [stores.Store]. Get returns copies; Iterate works on a
// snapshot. The concurrency rules are those of [stores.Store].
type Store struct {
	mu struct {
		sync.RWMutex
		tree       *btree.BTreeG[item] // nil once closed
		checkpoint int64
	}
	// release tells the backend the shard is closed; nil for a store made
	// with NewStore. Called once, by Close.
	release func()
}

var _ stores.Store = (*Store)(nil)

// NewStore returns an empty store with no checkpoint, not tied to any
// Backend (for tests and for tables that never persist).
func NewStore() *Store {
	s := &Store{}
	s.mu.tree = btree.NewG(degree, less)
	s.mu.checkpoint = stores.NoCheckpoint
	return s
}

// Get returns a copy of the value of key, and whether it exists.
func (s *Store) Get(key []byte) ([]byte, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.tree == nil {
		return nil, false, stores.ErrClosed
	}
	it, ok := s.mu.tree.Get(item{key: key})
	if !ok {
		return nil, false, nil
	}
	return bytes.Clone(it.value), true, nil // Clone keeps an empty value non-nil
}

// Iterate calls fn for each key in [start, end) in order, on a snapshot taken
// when it is called; see [stores.Store.Iterate].
func (s *Store) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	if end != nil && bytes.Compare(start, end) >= 0 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.mu.tree == nil {
			return stores.ErrClosed
		}
		return nil
	}
	// Clone marks the shared nodes copy-on-write, so it needs the write
	// lock; afterwards the snapshot is ours alone and fn runs unlocked.
	s.mu.Lock()
	if s.mu.tree == nil {
		s.mu.Unlock()
		return stores.ErrClosed
	}
	snap := s.mu.tree.Clone()
	s.mu.Unlock()

	visit := func(it item) bool { return fn(it.key, it.value) }
	switch {
	case start == nil && end == nil:
		snap.Ascend(visit)
	case end == nil:
		snap.AscendGreaterOrEqual(item{key: start}, visit)
	case start == nil:
		snap.AscendLessThan(item{key: end}, visit)
	default:
		snap.AscendRange(item{key: start}, item{key: end}, visit)
	}
	return nil
}

// Apply writes b atomically. The store keeps b's key and value slices as its
// data (see [stores.Batch.Set]).
func (s *Store) Apply(b *stores.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.tree == nil {
		return stores.ErrClosed
	}
	for _, op := range b.Ops() {
		if op.Delete {
			s.mu.tree.Delete(item{key: op.Key})
		} else {
			s.mu.tree.ReplaceOrInsert(item{key: op.Key, value: op.Value})
		}
	}
	if cp, ok := b.Checkpoint(); ok {
		s.mu.checkpoint = cp
	}
	return nil
}

// Checkpoint returns the checkpoint of the last applied batch that had one,
// or -1.
func (s *Store) Checkpoint() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.tree == nil {
		return 0, stores.ErrClosed
	}
	return s.mu.checkpoint, nil
}

// Len returns the exact number of keys.
func (s *Store) Len() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.mu.tree == nil {
		return 0, stores.ErrClosed
	}
	return int64(s.mu.tree.Len()), nil
}

// Close drops the data. Later calls return nil.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.mu.tree == nil {
		s.mu.Unlock()
		return nil
	}
	s.mu.tree = nil
	s.mu.Unlock()
	if s.release != nil {
		s.release()
	}
	return nil
}
