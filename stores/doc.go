// Package stores defines what a table shard is stored in: the [Store]
// interface (ordered byte keys and values, atomic write batches, and the
// changelog offset the data is complete up to), the [Backend] that opens the
// shards of one worker, and the errors every backend reports the same way.
//
// It imports nothing of eddy and no storage engine. The implementations live
// in subpackages:
//
//   - stores/memory: an ordered in-memory map; nothing survives Close.
//   - stores/rocksdb: RocksDB through grocksdb (the only cgo in eddy), one
//     database per shard under a state directory, with one memory budget for
//     the whole process.
//   - stores/backends: picks one of them from a store URL (memory://,
//     rocksdb://, rocksdb:///abs/path). It lives in its own package because
//     it imports both implementations, which themselves import stores.
//   - stores/storetest: the conformance suite every Store and Backend passes,
//     as testing/slogtest is for slog handlers.
//
// Durability does not come from the store: the table's compacted changelog
// topic is the source of truth, and a store's checkpoint says from which
// changelog offset a restore must replay. A store therefore writes its data
// and its checkpoint in one atomic batch, so that after a crash the two never
// disagree, but it need not sync each write to disk.
package stores
