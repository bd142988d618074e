package stores

// Store is one shard of one table: ordered byte keys and values, atomic write
// batches, and the changelog offset its data is complete up to.
//
// Keys are compared as byte strings ([bytes.Compare]); the empty key is a
// valid key. Values may be empty.
//
// Concurrency: writes (Apply) come from one goroutine at a time; Get, Iterate,
// Checkpoint and Len may run concurrently with writes and with each other (an
// HTTP lookup reads while the partition writes). Close must not race with
// anything. After Close every method returns [ErrClosed], and Close returns
// nil.
type Store interface {
	// Get returns a copy of the value of key, and whether it exists. The
	// caller owns the returned slice.
	Get(key []byte) ([]byte, bool, error)

	// Iterate calls fn for each key in [start, end) in key order until fn
	// returns false. A nil start begins at the first key and a nil end stops
	// after the last; a non-nil empty end is an empty range, as is any end
	// that is not after start. fn sees a consistent snapshot of the store as
	// of the call: batches applied meanwhile (also from inside fn) are not
	// visible to it. fn's slices are valid only during the call and must not
	// be modified.
	Iterate(start, end []byte, fn func(key, value []byte) bool) error

	// Apply writes b atomically: its sets and deletes in order (for the same
	// key the last one wins) and its checkpoint, if set. Readers see all of b
	// or none of it. An empty batch without a checkpoint is a no-op. Apply
	// does not keep b: the caller may Reset and reuse it when Apply returns
	// (the memory store keeps the key and value slices, see [Batch.Set]).
	Apply(b *Batch) error

	// Checkpoint returns the changelog offset the store's data is complete up
	// to (the next changelog offset to restore from), or -1 if it has none.
	Checkpoint() (int64, error)

	// Len estimates the number of keys: exact for the memory store, RocksDB's
	// estimate (exact for distinct inserts, approximate after overwrites and
	// deletes until compaction) for RocksDB.
	Len() (int64, error)

	// Close releases the store. The data of persistent stores stays on disk;
	// the memory store's data is gone.
	Close() error
}

// NoCheckpoint is what [Store.Checkpoint] returns for a store that has no
// checkpoint: a restore replays the changelog from its start.
const NoCheckpoint int64 = -1
