package rocksdb

import (
	"bytes"
	"fmt"
	"sync/atomic"

	"github.com/eddy-streams/eddy/stores"
	"github.com/linxGnu/grocksdb"
)

// Store is one RocksDB shard; Backend.Open returns it as a [stores.Store].
// The concurrency rules are those of [stores.Store]: one writer at a time,
// reads concurrent with it and with each other, Close alone.
type Store struct {
	backend *Backend
	path    string
	meta    stores.Meta

	db   *grocksdb.DB
	data *grocksdb.ColumnFamilyHandle // "default": the table's keys and values
	sys  *grocksdb.ColumnFamilyHandle // "eddy": meta and checkpoint
	// opts are the DB's and the column families' options, destroyed after
	// the DB is closed.
	opts []*grocksdb.Options
	ro   *grocksdb.ReadOptions  // shared by every Get: RocksDB only reads it
	wo   *grocksdb.WriteOptions // sync=false: the changelog is the durable copy
	wb   *grocksdb.WriteBatch   // reused by Apply, which has one caller at a time

	checkpoint atomic.Int64 // mirrors the checkpoint key, updated after each write
	closed     atomic.Bool

	// writeBuffer is the write_buffer_size last set on the data column
	// family; guarded by backend.mu.
	writeBuffer uint64
}

var _ stores.Store = (*Store)(nil)

// Path returns the shard's directory.
func (s *Store) Path() string { return s.path }

// Meta returns the Meta the shard was opened with.
func (s *Store) Meta() stores.Meta { return s.meta }

// Get returns a copy of the value of key, and whether it exists.
func (s *Store) Get(key []byte) ([]byte, bool, error) {
	if s.closed.Load() {
		return nil, false, stores.ErrClosed
	}
	h, err := s.db.GetPinned(s.ro, key)
	if err != nil {
		return nil, false, s.wrap("get", err)
	}
	defer h.Destroy()
	if !h.Exists() {
		return nil, false, nil
	}
	return append([]byte{}, h.Data()...), true, nil
}

// Iterate calls fn for each key in [start, end) in order, on RocksDB's
// implicit snapshot taken when it is called; see [stores.Store.Iterate].
func (s *Store) Iterate(start, end []byte, fn func(key, value []byte) bool) error {
	if s.closed.Load() {
		return stores.ErrClosed
	}
	if end != nil && bytes.Compare(start, end) >= 0 {
		return nil
	}
	ro := grocksdb.NewDefaultReadOptions()
	defer ro.Destroy()
	// RocksDB keeps the bounds by pointer until the iterator is closed
	// (grocksdb keeps them referenced from ro): hand it copies the caller
	// cannot change meanwhile. The bounds also let RocksDB skip tombstones
	// beyond the range instead of stepping over them.
	if len(start) > 0 {
		ro.SetIterateLowerBound(bytes.Clone(start))
	}
	if end != nil {
		ro.SetIterateUpperBound(bytes.Clone(end))
	}
	it := s.db.NewIteratorCF(ro, s.data)
	defer it.Close()
	if len(start) > 0 {
		it.Seek(start)
	} else {
		it.SeekToFirst()
	}
	for ; it.Valid(); it.Next() {
		// Key and Value point into RocksDB's memory, valid until Next.
		if !fn(it.Key().Data(), it.Value().Data()) {
			break
		}
	}
	if err := it.Err(); err != nil {
		return s.wrap("iterate", err)
	}
	return nil
}

// Apply writes b's sets, deletes and checkpoint as one RocksDB WriteBatch.
func (s *Store) Apply(b *stores.Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	if s.closed.Load() {
		return stores.ErrClosed
	}
	if b.Empty() {
		return nil
	}
	s.wb.Clear()
	for _, op := range b.Ops() {
		if op.Delete {
			s.wb.DeleteCF(s.data, op.Key)
		} else {
			s.wb.PutCF(s.data, op.Key, op.Value)
		}
	}
	cp, hasCP := b.Checkpoint()
	if hasCP {
		s.wb.PutCF(s.sys, checkpointKey, encodeOffset(cp))
	}
	if err := s.db.Write(s.wo, s.wb); err != nil {
		return s.wrap("apply", err)
	}
	if hasCP {
		s.checkpoint.Store(cp)
	}
	return nil
}

// Checkpoint returns the checkpoint of the last applied batch that had one
// (read from disk at Open), or -1.
func (s *Store) Checkpoint() (int64, error) {
	if s.closed.Load() {
		return 0, stores.ErrClosed
	}
	return s.checkpoint.Load(), nil
}

// Len returns RocksDB's estimate of the number of keys
// (rocksdb.estimate-num-keys): exact after distinct inserts, approximate
// after overwrites and deletes until compaction folds them.
func (s *Store) Len() (int64, error) {
	if s.closed.Load() {
		return 0, stores.ErrClosed
	}
	n, ok := s.db.GetIntPropertyCF("rocksdb.estimate-num-keys", s.data)
	if !ok {
		return 0, fmt.Errorf("stores: rocksdb: %s: property rocksdb.estimate-num-keys is not available", s.path)
	}
	return int64(n), nil
}

// Close flushes the memtables to disk (so that a reopen replays no WAL),
// closes the DB and gives the shard's memtable budget back to the backend.
// Later calls return nil.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	// Order: stop the backend touching the DB, flush, close, and only then
	// free the path, so that an immediate reopen finds the LOCK released.
	s.backend.closing(s)
	err := s.flush()
	s.closeDB()
	s.backend.release(s)
	if err != nil {
		return fmt.Errorf("stores: rocksdb: close %s: flush (the data is safe in the WAL and replays on open): %w", s.path, err)
	}
	return nil
}

// flush writes both column families' memtables to SST files: the data first,
// then the checkpoint. Each flush is its own MANIFEST record, and a MANIFEST
// that loses its tail (RocksDB opens the state its intact prefix records)
// then never holds a flushed checkpoint without the data it vouches for.
func (s *Store) flush() error {
	fo := grocksdb.NewDefaultFlushOptions()
	defer fo.Destroy()
	fo.SetWait(true)
	if err := s.db.FlushCF(s.data, fo); err != nil {
		return err
	}
	return s.db.FlushCF(s.sys, fo)
}

// closeDB releases the DB and everything allocated for it. The column family
// handles go first: librocksdb asserts none is left when the DB closes (and
// Debian's build aborts the process on it).
func (s *Store) closeDB() {
	s.data.Destroy()
	s.sys.Destroy()
	s.db.Close()
	s.wb.Destroy()
	s.ro.Destroy()
	s.wo.Destroy()
	for _, o := range s.opts {
		o.Destroy()
	}
}

// wrap gives a RocksDB error of op the shard's path, as a *stores.CorruptError
// when RocksDB reports corruption.
func (s *Store) wrap(op string, err error) error {
	if c := classify(s.path, err); c != nil {
		return c
	}
	return fmt.Errorf("stores: rocksdb: %s %s: %w", op, s.path, err)
}
