package shards

import (
	"bytes"
	"fmt"

	"github.com/eddy-streams/eddy/stores"
)

// ScanPage is how many store entries Scan reads at a time under the
// shard's store lock; it calls fn on them after releasing it.
const ScanPage = 1000

// Scan calls fn for every key of the shard, in no particular order, until
// fn returns false: the store's keys overlaid with the writes not yet in
// it. fn runs with no lock held, so a slow fn delays no handler and no
// revoke; the store is read a page at a time, so fn sees each key at most
// once but not one snapshot of the store: a key committed while Scan runs
// may show its old or its new value. A shard closed meanwhile (its
// partition released) ends Scan with an error wrapping ErrClosed. fn's
// slices are its own.
func (s *Shard) Scan(fn func(key, value []byte) bool) error {
	cached, err := s.snapshotCache()
	if err != nil {
		return err
	}
	type kv struct{ k, v []byte }
	page := make([]kv, 0, ScanPage)
	var start []byte
	for {
		page = page[:0]
		var next []byte // the first key of the next page; nil at the end
		read := 0
		if err := s.useStore(func(st stores.Store) error {
			return st.Iterate(start, nil, func(kb, vb []byte) bool {
				if read == ScanPage {
					next = bytes.Clone(kb)
					return false
				}
				read++
				if _, ok := cached[string(kb)]; !ok { // else the cache has the newer write
					page = append(page, kv{bytes.Clone(kb), bytes.Clone(vb)})
				}
				return true
			})
		}); err != nil {
			return fmt.Errorf("tables: %s partition %d: scan: %w", s.def.name, s.partition, err)
		}
		for _, e := range page {
			if !fn(e.k, e.v) {
				return nil
			}
		}
		if next == nil {
			break
		}
		start = next
	}
	for k, e := range cached {
		if !e.deleted && !fn([]byte(k), e.value) {
			return nil
		}
	}
	return nil
}
