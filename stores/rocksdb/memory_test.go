package rocksdb_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/rocksdb"
	"github.com/linxGnu/grocksdb"
)

// writeBufferOnDisk reads the data column family's write_buffer_size from
// the OPTIONS file RocksDB rewrites on every SetOptions: what the shard
// really uses, not what the backend believes.
func writeBufferOnDisk(t *testing.T, path string) uint64 {
	t.Helper()
	env := grocksdb.NewDefaultEnv()
	cache := grocksdb.NewLRUCache(1 << 20)
	defer cache.Destroy()
	lo, err := grocksdb.LoadLatestOptions(path, env, true, cache)
	if err != nil {
		t.Fatalf("LoadLatestOptions(%s): %v", path, err)
	}
	defer lo.Destroy()
	for i, name := range lo.ColumnFamilyNames() {
		if name == "default" {
			return lo.ColumnFamilyOpts()[i].GetWriteBufferSize()
		}
	}
	t.Fatalf("%s: no default column family in the OPTIONS file", path)
	return 0
}

// The memtable budget (half the limit) is divided among the open shards, two
// memtables each, in powers of two, and given back when shards close.
func TestRebalance(t *testing.T) {
	t.Parallel()
	const limit = 64 << 20 // 32 MiB of memtables
	b := open(t, t.TempDir(), stores.Options{MemoryLimit: limit})
	defer b.Close()

	var open []stores.Store
	check := func(want uint64) {
		t.Helper()
		u, err := b.MemoryUsage()
		if err != nil {
			t.Fatal(err)
		}
		if u.Shards != len(open) || u.WriteBufferSize != want {
			t.Fatalf("%d shards open: MemoryUsage says %d shards with write_buffer_size %d, want %d",
				len(open), u.Shards, u.WriteBufferSize, want)
		}
		if uint64(len(open))*2*u.WriteBufferSize > u.MemtableBudget && want > 64<<10 {
			t.Fatalf("%d shards × 2 × %d exceeds the memtable budget %d", len(open), u.WriteBufferSize, u.MemtableBudget)
		}
		for _, s := range open {
			if got := writeBufferOnDisk(t, s.(*rocksdb.Store).Path()); got != want {
				t.Fatalf("shard %s has write_buffer_size %d, want %d", s.(*rocksdb.Store).Path(), got, want)
			}
		}
	}
	for i, want := range []uint64{
		16 << 20, // 1 shard: 32 MiB / 2
		8 << 20,  // 2
		4 << 20,  // 3: 32/6 = 5.3 MiB, rounded down
		4 << 20,  // 4
		2 << 20,  // 5
	} {
		s, err := b.Open(stores.Meta{Table: "t", Partition: int32(i)})
		if err != nil {
			t.Fatal(err)
		}
		open = append(open, s)
		check(want)
	}
	for _, want := range []uint64{4 << 20, 4 << 20, 8 << 20, 16 << 20} {
		if err := open[len(open)-1].Close(); err != nil {
			t.Fatal(err)
		}
		open = open[:len(open)-1]
		check(want)
	}
	open[0].Close()
}

// Writing far more than the memory limit into several shards keeps the
// memtables within their budget and the cache within its capacity.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 64 MB")
	}
	t.Parallel()
	const limit = 16 << 20 // 8 MiB cache, 8 MiB memtables
	b := open(t, t.TempDir(), stores.Options{MemoryLimit: limit})
	defer b.Close()
	const shards = 4
	var ss []stores.Store
	for i := range shards {
		s, err := b.Open(stores.Meta{Table: "big", Partition: int32(i)})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ss = append(ss, s)
	}
	r := rand.New(rand.NewPCG(5, 6))
	var peak rocksdb.MemoryUsage
	var keys [][]byte
	for round := range 16 { // 16 rounds × 4 shards × 1000 × 1 KiB = 64 MiB
		for _, s := range ss {
			var batch stores.Batch
			for range 1000 {
				k := fmt.Appendf(nil, "%016x", r.Uint64())
				v := make([]byte, 1024)
				for j := range v {
					v[j] = byte(r.Uint32())
				}
				batch.Set(k, v)
				if round%4 == 0 && len(keys) < 2000 {
					keys = append(keys, k)
				}
			}
			if err := s.Apply(&batch); err != nil {
				t.Fatal(err)
			}
			u, err := b.MemoryUsage()
			if err != nil {
				t.Fatal(err)
			}
			peak.Memtables = max(peak.Memtables, u.Memtables)
			peak.CacheUsage = max(peak.CacheUsage, u.CacheUsage)
		}
	}
	// Reads fill the cache.
	for _, k := range keys {
		for _, s := range ss {
			if _, _, err := s.Get(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	u, err := b.MemoryUsage()
	if err != nil {
		t.Fatal(err)
	}
	peak.CacheUsage = max(peak.CacheUsage, u.CacheUsage)
	t.Logf("limit %d: memtable budget %d, write_buffer_size %d, peak memtables %d; cache capacity %d, peak usage %d (pinned now %d); table readers %d",
		u.Limit, u.MemtableBudget, u.WriteBufferSize, peak.Memtables, u.CacheCapacity, peak.CacheUsage, u.CachePinned, u.TableReaders)
	// Each shard's "eddy" column family has its own small memtables (2 × 64
	// KiB) outside the budget; arenas may overshoot by an eighth.
	slack := uint64(shards) * 2 * (64 << 10)
	if peak.Memtables > u.MemtableBudget+u.MemtableBudget/8+slack {
		t.Errorf("memtables peaked at %d bytes, over the budget %d", peak.Memtables, u.MemtableBudget)
	}
	if peak.CacheUsage > u.CacheCapacity+u.CacheCapacity/10 {
		t.Errorf("cache usage peaked at %d bytes, over its capacity %d", peak.CacheUsage, u.CacheCapacity)
	}
	var disk int64
	for _, s := range ss {
		matches, _ := filepath.Glob(filepath.Join(s.(*rocksdb.Store).Path(), "*.sst"))
		disk += int64(len(matches))
	}
	if disk == 0 {
		t.Fatal("no SST file was written: the test did not exceed the memtables")
	}
}
