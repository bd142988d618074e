// Package storetest is the conformance suite of [stores.Backend] and
// [stores.Store] implementations, as testing/slogtest is for slog handlers:
// every backend passes [Run] in its own tests, and measures itself with
// [BenchmarkApply], [BenchmarkSet], [BenchmarkGet] and [BenchmarkGetMissing].
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(tb testing.TB, dir string) stores.Backend {
//			b, err := rocksdb.New(dir, stores.Options{})
//			if err != nil {
//				tb.Fatal(err)
//			}
//			return b
//		})
//	}
//
// The suite opens backends on temporary directories, more than once on the
// same directory to act as a restarted process, and checks what the tables
// code relies on: point reads, ordered and bounded iteration on a snapshot,
// atomic batches with the checkpoint, reads concurrent with writes (run it
// with -race), reopen (data and checkpoint survive for persistent backends,
// are gone for others) and the typed errors for incompatible, locked and
// invalid shards.
package storetest
