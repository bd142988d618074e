package tables

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkCount measures a counting handler's table calls in one shard:
// Get, then Set of the count plus one, keys drawn uniformly from 100,000,
// with a commit cycle (Flush to a kfake changelog, then Committed to the
// store) every 100,000 records, as the runtime interleaves them. It
// reports records/s and the changelog records written per record (the
// write-back cache's folding at that commit rate).
func BenchmarkCount(b *testing.B) {
	const keys, commitEvery = 100_000, 100_000
	for _, url := range storeURLs {
		b.Run(storeName(url), func(b *testing.B) {
			f := newFixture(b, url, 1)
			reg, _ := f.registry()
			p := f.acquire(reg, 0)
			sc := in(p)
			names := make([]string, keys)
			for i := range names {
				names[i] = fmt.Sprintf("key-%012d", i) // 16 bytes
			}
			r := rand.New(rand.NewPCG(1, 2))
			n := 0
			for b.Loop() {
				k := names[r.IntN(keys)]
				c, _, err := f.counts.Get(sc, k)
				if err != nil {
					b.Fatal(err)
				}
				if err := f.counts.Set(sc, k, c+1); err != nil {
					b.Fatal(err)
				}
				if n++; n%commitEvery == 0 {
					f.flushCommit(p)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
			f.flushCommit(p)
			b.ReportMetric(float64(f.endOffset(0))/float64(n), "changelog-records/record")
			f.release(reg, p)
		})
	}
}
