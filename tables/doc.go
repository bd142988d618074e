// Package tables gives handlers key/value state that survives crashes,
// restarts and rebalances: Table[K, V], sharded by the source partition,
// made durable through a compacted changelog topic and kept in a store
// (package stores: memory or RocksDB).
//
// A table's calls take the handler's context: while a record of
// partition p is handled, Get, Set and Delete address shard p, and
// changelog writes go to changelog partition p. Writes land in a
// write-back cache that folds repeated updates of a key between commits;
// before the runtime commits a partition's offsets it produces the changed
// keys to the changelog and waits for them, and after the commit it writes
// them to the store with the changelog offset they reach. Restoring a
// shard replays only the changelog past that checkpoint. The machinery
// (shards, flushes, restores, global tables) is internal (internal/shards);
// this package is the typed API.
//
// Delivery is at least once: a crash between a flush and the commit that
// follows replays the records since the last commit, whose changes may
// already be in the changelog; counts and sums may then count a record
// twice, never zero times.
package tables
