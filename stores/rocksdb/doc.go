// Package rocksdb is the RocksDB [stores.Backend], through
// github.com/linxGnu/grocksdb v1.7.15 linked against the system librocksdb
// (Debian bookworm's librocksdb-dev 7.8.3; scripts/prereqs.sh installs it).
// It is the only package of eddy that uses cgo.
//
// # Layout
//
// Each shard is one RocksDB database in <dir>/<table>/<partition>, with two
// column families: "default" holds the table's keys and values, and "eddy"
// holds the shard's [stores.Meta] and its checkpoint. User keys therefore
// cannot collide with them and Iterate needs no filtering. Apply writes the
// data and the checkpoint in one WriteBatch, so after a crash the two always
// agree.
//
// # Durability
//
// Writes go to the write-ahead log without fsync (sync=false): a killed
// process loses nothing, a machine crash may lose the last writes, and then
// data and checkpoint roll back together. That is enough because the table's
// changelog topic is the durable copy: a restore replays it from the
// checkpoint. Close flushes the memtables, so a clean reopen replays no WAL.
//
// # Memory
//
// MemoryLimit ([stores.Options]) bounds the whole process, not each shard.
// Half of it is one LRU block cache shared by every shard, with index and
// filter blocks charged to it (cache_index_and_filter_blocks), so reads of
// many shards never grow beyond it. The other half is the memtable budget.
// grocksdb v1.7.15 has no WriteBufferManager, so the budget is divided
// instead: each open shard gets write_buffer_size = budget / (2 × open
// shards), rounded down to a power of two (at least 64 KiB, at most
// 64 MiB), and at most 2 memtables (max_write_buffer_number), so memtables
// stay within the budget. When shards open or close the backend re-balances
// the open ones with SetOptions; rounding to powers of two keeps that to
// O(log n) changes per shard.
//
// What the bound does not cover, so the process can exceed MemoryLimit by:
//   - blocks pinned by live iterators and the L0 index and filter blocks
//     (pinned in the cache, which then exceeds its capacity rather than
//     fail);
//   - per-shard fixed costs: the metadata column family's memtables (2 ×
//     64 KiB), table-reader objects for open SST files, WAL and
//     compaction buffers;
//   - the 64 KiB floor: with more than budget / 128 KiB open shards (1024 at
//     the default 256 MiB) memtables exceed their budget;
//   - memtable arenas overshoot write_buffer_size by up to one arena block
//     (1/8 of it) before a flush is triggered.
//
// [Backend.MemoryUsage] reports what RocksDB accounts for, to check the
// bound in production.
package rocksdb
