// Package backends opens a [stores.Backend] from a store URL, as paperboy
// does:
//
//	memory://            in memory (data is lost on close; a restore replays the whole changelog)
//	rocksdb://           RocksDB under the state directory (<state-dir>/<table>/<partition>)
//	rocksdb:///abs/path  RocksDB under /abs/path
//
// It is a package of its own because it imports both stores/memory and
// stores/rocksdb, which import stores for the interface: stores itself
// cannot, and a registry of constructors would need package-level mutable
// state. A program that must not link RocksDB (cgo) can use stores/memory
// directly instead.
package backends
