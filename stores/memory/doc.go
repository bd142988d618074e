// Package memory is the in-memory [stores.Backend]: each shard is an ordered
// map (a copy-on-write B-tree from github.com/google/btree) guarded by a
// read-write mutex. Nothing survives Close: a reopened shard is empty and has
// no checkpoint, so its table restores it by replaying the whole changelog.
//
// Iterate works on a lazy clone of the tree, taken in O(1), so it sees a
// snapshot, as a RocksDB iterator does, and never holds the lock while calling
// back: a long scan does not block the partition's writes, and fn may Apply.
//
// Use it for tests, for small tables and where a full restore on start is
// cheap; use stores/rocksdb otherwise.
package memory
