package rocksdb

import (
	"fmt"

	"github.com/eddy-streams/eddy/stores"
	"github.com/linxGnu/grocksdb"
)

// MemoryUsage is a backend's memory as RocksDB accounts for it, with the
// bounds it is kept within. See the package documentation for what RocksDB
// does not account for.
type MemoryUsage struct {
	// Limit is the backend's MemoryLimit.
	Limit int64
	// CacheCapacity is the shared block cache's capacity: Limit minus
	// MemtableBudget.
	CacheCapacity uint64
	// CacheUsage is what the cache holds now (data, index and filter
	// blocks); it exceeds CacheCapacity only by pinned blocks.
	CacheUsage uint64
	// CachePinned is the part of CacheUsage pinned by readers and L0.
	CachePinned uint64
	// MemtableBudget is the share of Limit for memtables.
	MemtableBudget uint64
	// WriteBufferSize is each open shard's write_buffer_size; a shard holds
	// at most two memtables of this size.
	WriteBufferSize uint64
	// Shards is the number of open shards.
	Shards int
	// Memtables is the memory of every memtable of the open shards, those
	// being flushed included.
	Memtables uint64
	// MemtablesUnflushed is the part of Memtables not yet being flushed.
	MemtablesUnflushed uint64
	// TableReaders is the memory of open SST readers outside the cache.
	TableReaders uint64
}

// Total is the accounted memory: cache, memtables and table readers.
func (u MemoryUsage) Total() uint64 {
	return u.CacheUsage + u.Memtables + u.TableReaders
}

// MemoryUsage reports the backend's memory. It costs a walk over the open
// shards' memtable statistics; call it for metrics, not per record.
func (b *Backend) MemoryUsage() (MemoryUsage, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return MemoryUsage{}, stores.ErrClosed
	}
	dbs := make([]*grocksdb.DB, 0, len(b.mu.shards))
	for _, s := range b.mu.shards {
		if s != nil {
			dbs = append(dbs, s.db)
		}
	}
	u := MemoryUsage{
		Limit:           b.limit,
		CacheCapacity:   b.cache.GetCapacity(),
		CacheUsage:      b.cache.GetUsage(),
		CachePinned:     b.cache.GetPinnedUsage(),
		MemtableBudget:  b.memtableBudget,
		WriteBufferSize: b.mu.writeBuffer,
		Shards:          len(dbs),
	}
	if len(dbs) == 0 {
		return u, nil
	}
	// The cache is measured above, directly.
	m, err := grocksdb.GetApproximateMemoryUsageByType(dbs, nil)
	if err != nil {
		return u, fmt.Errorf("stores: rocksdb: memory usage: %w", err)
	}
	u.Memtables, u.MemtablesUnflushed, u.TableReaders = m.MemTableTotal, m.MemTableUnflushed, m.MemTableReadersTotal
	return u, nil
}
