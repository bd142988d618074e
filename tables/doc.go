// Package tables gives handlers key/value state that survives crashes,
// restarts and rebalances: Table[K, V], sharded by the source partition,
// made durable through a compacted changelog topic and kept in a store
// (package stores: memory or RocksDB).
//
// While a record of partition p is handled, a table's Get, Set and Delete
// address shard p, and changelog writes go to changelog partition p. A
// shard's writes land first in a write-back cache, which folds repeated
// updates of a key between commits. Before the runtime commits a
// partition's offsets it flushes the partition's shards (Partition.Flush):
// the changed keys are produced to the changelog and the commit waits for
// their acknowledgements. After the commit the flushed changes are written
// to the store together with the changelog offset they reach, the store's
// checkpoint (Partition.Committed). A store therefore always holds exactly
// its changelog up to its checkpoint, and restoring a shard replays only
// the changelog from that checkpoint to the end (Partition.Restore).
//
// Delivery is at least once: a crash between a flush and the commit that
// follows replays the records since the last commit, whose changes may
// already be in the changelog; counts and sums may then count a record
// twice, never zero times.
package tables
