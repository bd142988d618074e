package stores

import "log/slog"

// Backend opens the shards of every table of one worker. Use one per process
// per state directory: a second backend on the same directory finds its
// shards locked.
//
// Concurrency: Open, Persistent and the Close of the stores it opened may be
// called from any goroutine concurrently (partitions are assigned and revoked
// independently). Close must not race with anything.
type Backend interface {
	// Open opens (creating if needed) the shard for meta. The errors say what
	// to do:
	//   - a meta that cannot name a shard wraps [ErrInvalidMeta];
	//   - a shard created with a different Meta is an [*IncompatibleError]
	//     naming the path and both metas;
	//   - a shard that is already open, in this process or another, is a
	//     [*LockedError] naming the path;
	//   - a shard the engine cannot read is a [*CorruptError] naming the
	//     path.
	// Nothing is ever wiped silently. After Close, Open returns [ErrClosed].
	Open(meta Meta) (Store, error)

	// Persistent reports whether a store's data survives its Close (memory:
	// false, RocksDB: true).
	Persistent() bool

	// Close releases what the backend's stores share (RocksDB: the block
	// cache). All stores must be closed first; if some are still open, Close
	// returns an error naming them and they stay usable until closed. Close
	// is idempotent.
	Close() error
}

// DefaultMemoryLimit is the default [Options.MemoryLimit]: 256 MiB.
const DefaultMemoryLimit int64 = 256 << 20

// Options configures a Backend. The zero value is valid and means the
// defaults.
type Options struct {
	// MemoryLimit bounds the memory of the RocksDB backend for the whole
	// process, not per shard: one shared LRU block cache (index and filter
	// blocks in it too) and a memtable budget divided among the open shards.
	// See package stores/rocksdb for what the bound covers. Default
	// DefaultMemoryLimit; the memory backend ignores it (its data is its
	// memory).
	MemoryLimit int64

	// Logger receives the backend's logs (shards opened and closed, memory
	// re-balanced). Default: discard.
	Logger *slog.Logger
}

// WithDefaults returns o with its zero fields set to their defaults.
func (o Options) WithDefaults() Options {
	if o.MemoryLimit == 0 {
		o.MemoryLimit = DefaultMemoryLimit
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
