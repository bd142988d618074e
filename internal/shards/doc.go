// Package shards is the machinery behind package tables: a table's
// definition (Def), its shards (one store and write-back cache per
// partition), the Registry of the shards a worker holds, the changelog
// flush before each commit and the restore after each assignment, global
// tables, the Scope a handler call's context carries, and the changelog
// topics' creation and partitioning.
//
// Package tables is the typed face handlers use; package runtime wires
// this machinery into the worker and the actors' commit path. Neither
// exposes it: it is internal so that it can change without changing the
// API users write against.
//
// While a record of partition p is handled, the call's Scope addresses
// shard p of each table, and changelog writes go to changelog partition
// p. A shard's writes land first in a write-back cache, which folds
// repeated updates of a key between commits. Before the runtime commits a
// partition's offsets it flushes the partition's shards (Partition.Flush):
// the changed keys are produced to the changelog and the commit waits for
// their acknowledgements. After the commit the flushed changes are written
// to the store together with the changelog offset they reach, the store's
// checkpoint (Partition.Committed). A store therefore always holds exactly
// its changelog up to its checkpoint, and restoring a shard replays only
// the changelog from that checkpoint to the end (Partition.Restore).
package shards
