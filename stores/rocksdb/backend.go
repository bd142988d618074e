package rocksdb

import (
	"fmt"
	"log/slog"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/eddy-streams/eddy/stores"
	"github.com/linxGnu/grocksdb"
)

const (
	// MinMemoryLimit is the smallest MemoryLimit New accepts: below it the
	// per-shard floors, not the limit, would decide the memory use.
	MinMemoryLimit int64 = 8 << 20

	// minWriteBuffer is RocksDB's own floor for write_buffer_size (it
	// raises smaller values to it).
	minWriteBuffer uint64 = 64 << 10
	// maxWriteBuffer caps a shard's memtable even when it is alone: larger
	// memtables make flushes and WAL replay longer for little gain.
	maxWriteBuffer uint64 = 64 << 20
	// writeBuffers is max_write_buffer_number: one memtable taking writes and
	// one being flushed. RocksDB stalls writes rather than exceed it.
	writeBuffers = 2
	// sysWriteBuffer is the memtable size of the "eddy" column family,
	// which holds two small keys.
	sysWriteBuffer = minWriteBuffer
)

// Backend opens RocksDB shards under one directory and shares one memory
// budget among them; see the package documentation. Create it with New.
//
// Concurrency: Open, MemoryUsage, and the Close of its stores may be called
// from any goroutine concurrently; Close must not race with anything.
type Backend struct {
	dir            string
	limit          int64
	memtableBudget uint64
	log            *slog.Logger

	// cache is the block cache of every shard; table holds the block-based
	// table options (cache and Bloom filter) every shard's column families
	// copy. RocksDB reference-counts what they hold, so releasing them in
	// Close is safe even if a shard is still open.
	cache *grocksdb.Cache
	table *grocksdb.BlockBasedTableOptions

	mu struct {
		sync.Mutex
		closed bool
		// shards holds every shard path this backend has open. A nil value
		// marks a shard being opened or closed: its path is taken, but its
		// DB must not be touched (re-balanced, measured).
		shards map[string]*Store
		// writeBuffer is the write_buffer_size the open shards should
		// have, for len(shards) shards.
		writeBuffer uint64
	}
}

var _ stores.Backend = (*Backend)(nil)

// New returns a backend that keeps its shards under dir (dir/<table>/<partition>),
// creating dir if needed. opts.MemoryLimit (default stores.DefaultMemoryLimit)
// must be at least MinMemoryLimit; opts.Logger defaults to discarding.
func New(dir string, opts stores.Options) (*Backend, error) {
	opts = opts.WithDefaults()
	if dir == "" {
		return nil, fmt.Errorf("stores: rocksdb: no state directory given; set --state-dir or use rocksdb:///abs/path")
	}
	if opts.MemoryLimit < MinMemoryLimit {
		return nil, fmt.Errorf("stores: rocksdb: memory limit %d bytes is below the minimum %d (%d MiB); raise stores.rocksdb.memory_limit",
			opts.MemoryLimit, MinMemoryLimit, MinMemoryLimit>>20)
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("stores: rocksdb: state directory %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("stores: rocksdb: create state directory: %w", err)
	}

	memtables := uint64(opts.MemoryLimit) / 2
	b := &Backend{
		dir:            abs,
		limit:          opts.MemoryLimit,
		memtableBudget: memtables,
		log:            opts.Logger.With("backend", "rocksdb", "dir", abs),
		cache:          grocksdb.NewLRUCache(uint64(opts.MemoryLimit) - memtables),
	}
	b.table = grocksdb.NewDefaultBlockBasedTableOptions()
	b.table.SetBlockCache(b.cache)
	// Index and filter blocks live in the cache, so they count against the
	// limit; L0's stay pinned because every read consults them.
	b.table.SetCacheIndexAndFilterBlocks(true)
	b.table.SetCacheIndexAndFilterBlocksWithHighPriority(true)
	b.table.SetPinL0FilterAndIndexBlocksInCache(true)
	// Table lookups are point reads of single keys: a Bloom filter spares
	// most disk reads for missing keys.
	b.table.SetFilterPolicy(grocksdb.NewBloomFilterFull(10))
	b.table.SetFormatVersion(5)

	b.mu.shards = make(map[string]*Store)
	b.mu.writeBuffer = writeBufferSize(memtables, 1)
	return b, nil
}

// Dir returns the absolute directory the backend keeps its shards under.
func (b *Backend) Dir() string { return b.dir }

// Persistent returns true: data survives Close.
func (b *Backend) Persistent() bool { return true }

// Path returns the directory of meta's shard: <dir>/<table>/<partition>. It
// does not check meta.
func (b *Backend) Path(meta stores.Meta) string {
	return filepath.Join(b.dir, meta.Table, strconv.Itoa(int(meta.Partition)))
}

// Open opens (creating if needed) the shard for meta; see
// [stores.Backend.Open] for the errors. Opening another shard re-balances the
// memtable budget of the open ones.
func (b *Backend) Open(meta stores.Meta) (stores.Store, error) {
	if err := meta.Validate(); err != nil {
		return nil, err
	}
	path := b.Path(meta)

	// Take the path (so a concurrent Open of it fails fast) and size the
	// new shard's memtable for the shards open afterwards; open the DB
	// without holding the lock, since replaying a WAL can take a while.
	b.mu.Lock()
	if b.mu.closed {
		b.mu.Unlock()
		return nil, stores.ErrClosed
	}
	if _, taken := b.mu.shards[path]; taken {
		b.mu.Unlock()
		return nil, &stores.LockedError{Path: path, InProcess: true}
	}
	b.mu.shards[path] = nil
	b.rebalanceLocked()
	writeBuffer := b.mu.writeBuffer
	b.mu.Unlock()

	s, err := b.openStore(path, meta, writeBuffer)

	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		delete(b.mu.shards, path)
		b.rebalanceLocked()
		return nil, err
	}
	b.mu.shards[path] = s
	b.rebalanceLocked() // other shards may have opened or closed meanwhile
	cp, _ := s.Checkpoint()
	b.log.Debug("stores: rocksdb: shard opened", "path", path, "table", meta.Table, "partition", meta.Partition,
		"checkpoint", cp, "shards", len(b.mu.shards), "write_buffer_size", b.mu.writeBuffer)
	return s, nil
}

// closing marks s's path as closing: re-balancing and MemoryUsage leave its
// DB alone from now on, and the path stays taken until released.
func (b *Backend) closing(s *Store) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.mu.shards[s.path]; ok {
		b.mu.shards[s.path] = nil
	}
}

// release frees s's path once its DB is closed and gives its memtable budget
// to the shards still open.
func (b *Backend) release(s *Store) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.mu.shards, s.path)
	if b.mu.closed {
		return
	}
	b.rebalanceLocked()
	b.log.Debug("stores: rocksdb: shard closed", "path", s.path, "shards", len(b.mu.shards), "write_buffer_size", b.mu.writeBuffer)
}

// rebalanceLocked sets the write_buffer_size of every open shard to the share
// of the memtable budget for len(b.mu.shards) shards. b.mu must be held.
func (b *Backend) rebalanceLocked() {
	target := writeBufferSize(b.memtableBudget, len(b.mu.shards))
	if target != b.mu.writeBuffer {
		b.log.Debug("stores: rocksdb: memtable budget re-balanced", "shards", len(b.mu.shards),
			"write_buffer_size", target, "was", b.mu.writeBuffer)
	}
	b.mu.writeBuffer = target
	value := strconv.FormatUint(target, 10)
	for _, s := range b.mu.shards {
		if s == nil || s.writeBuffer == target {
			continue
		}
		if err := s.db.SetOptions([]string{"write_buffer_size"}, []string{value}); err != nil {
			// The shard keeps its old size: memory may exceed the budget
			// by the difference, which is no reason to fail the caller.
			b.log.Warn("stores: rocksdb: cannot re-balance a shard's memtable", "path", s.path, "err", err)
			continue
		}
		s.writeBuffer = target
	}
}

// writeBufferSize is one shard's write_buffer_size when n shards share budget:
// budget / (writeBuffers × n), rounded down to a power of two (so that shards
// coming and going re-balance rarely), within [minWriteBuffer, maxWriteBuffer].
func writeBufferSize(budget uint64, n int) uint64 {
	share := budget / uint64(writeBuffers*max(n, 1))
	if share < minWriteBuffer {
		return minWriteBuffer
	}
	return min(uint64(1)<<(bits.Len64(share)-1), maxWriteBuffer)
}

// Close releases the block cache and the table options. If shards are still
// open it returns an error naming them; they keep working (RocksDB keeps
// what they use alive) until their own Close. Close is idempotent.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.mu.closed {
		return nil
	}
	b.mu.closed = true
	b.table.Destroy()
	b.cache.Destroy()
	if len(b.mu.shards) == 0 {
		return nil
	}
	open := make([]string, 0, len(b.mu.shards))
	for p := range b.mu.shards {
		open = append(open, p)
	}
	slices.Sort(open)
	return fmt.Errorf("stores: rocksdb: close: %d shards are still open (%s); close them first", len(open), strings.Join(open, ", "))
}
