package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eddy-streams/eddy/stores"
)

// NewBackend returns a new backend keeping its shards under dir, failing tb
// if it cannot. The suite may call it several times with the same dir (never
// with two of them open at once unless it tests locking) and closes what it
// returns.
type NewBackend func(tb testing.TB, dir string) stores.Backend

// Run runs the conformance suite against the backends newBackend returns.
// Every test runs in parallel on its own temporary directory.
func Run(t *testing.T, newBackend NewBackend) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, h *harness)
	}{
		{"GetMissing", testGetMissing},
		{"SetGet", testSetGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"DeleteMissing", testDeleteMissing},
		{"BatchOrder", testBatchOrder},
		{"BatchReuse", testBatchReuse},
		{"EmptyBatch", testEmptyBatch},
		{"InvalidBatch", testInvalidBatch},
		{"GetReturnsCopy", testGetReturnsCopy},
		{"IterateOrder", testIterateOrder},
		{"IterateBounds", testIterateBounds},
		{"IterateEarlyStop", testIterateEarlyStop},
		{"IterateSnapshot", testIterateSnapshot},
		{"IterateOnlyUserKeys", testIterateOnlyUserKeys},
		{"Checkpoint", testCheckpoint},
		{"Len", testLen},
		{"Reopen", testReopen},
		{"Restart", testRestart},
		{"ShardsIndependent", testShardsIndependent},
		{"ConcurrentReadsDuringApply", testConcurrentReads},
		{"Incompatible", testIncompatible},
		{"OpenTwice", testOpenTwice},
		{"TwoBackendsOneDir", testTwoBackends},
		{"InvalidMeta", testInvalidMeta},
		{"Closed", testClosed},
		{"BackendCloseWithOpenStores", testBackendCloseWithOpenStores},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, &harness{t: t, newBackend: newBackend, dir: t.TempDir()})
		})
	}
}

// harness opens backends and stores for one test on one directory.
type harness struct {
	t          *testing.T
	newBackend NewBackend
	dir        string
}

// backend opens a backend on the test's directory, closed at the end of the
// test (after the stores opened after it).
func (h *harness) backend() stores.Backend {
	h.t.Helper()
	b := h.newBackend(h.t, h.dir)
	h.t.Cleanup(func() {
		if err := b.Close(); err != nil {
			h.t.Errorf("Backend.Close: %v", err)
		}
	})
	return b
}

// open opens meta's shard on b, closed at the end of the test.
func (h *harness) open(b stores.Backend, meta stores.Meta) stores.Store {
	h.t.Helper()
	s, err := b.Open(meta)
	if err != nil {
		h.t.Fatalf("Open(%v): %v", meta, err)
	}
	h.t.Cleanup(func() {
		if err := s.Close(); err != nil {
			h.t.Errorf("Store.Close: %v", err)
		}
	})
	return s
}

// store opens a fresh backend and the default shard on it.
func (h *harness) store() (stores.Backend, stores.Store) {
	h.t.Helper()
	b := h.backend()
	return b, h.open(b, testMeta)
}

var testMeta = stores.Meta{Table: "counts", Partition: 3, Schema: "string/int64 v1"}

// apply applies a batch built by fill, failing t on error.
func apply(t testing.TB, s stores.Store, fill func(b *stores.Batch)) {
	t.Helper()
	var b stores.Batch
	fill(&b)
	if err := s.Apply(&b); err != nil {
		t.Fatalf("Apply: %v", err)
	}
}

// set applies one batch setting key/value pairs (k1, v1, k2, v2, ...).
func set(t testing.TB, s stores.Store, kv ...string) {
	t.Helper()
	apply(t, s, func(b *stores.Batch) {
		for i := 0; i+1 < len(kv); i += 2 {
			b.Set([]byte(kv[i]), []byte(kv[i+1]))
		}
	})
}

// wantGet fails t unless key's value is want (ok=false for want == nil).
func wantGet(t testing.TB, s stores.Store, key string, want []byte) {
	t.Helper()
	got, ok, err := s.Get([]byte(key))
	switch {
	case err != nil:
		t.Fatalf("Get(%q): %v", key, err)
	case want == nil && ok:
		t.Fatalf("Get(%q) = %q, want missing", key, got)
	case want != nil && !ok:
		t.Fatalf("Get(%q) is missing, want %q", key, want)
	case want != nil && !bytes.Equal(got, want):
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

// kv is a key and value as strings, for comparing iteration results.
type kv struct{ k, v string }

// collect returns what Iterate(start, end) yields, copied.
func collect(t testing.TB, s stores.Store, start, end []byte) []kv {
	t.Helper()
	var out []kv
	err := s.Iterate(start, end, func(k, v []byte) bool {
		out = append(out, kv{string(k), string(v)})
		return true
	})
	if err != nil {
		t.Fatalf("Iterate(%q, %q): %v", start, end, err)
	}
	return out
}

func wantCheckpoint(t testing.TB, s stores.Store, want int64) {
	t.Helper()
	got, err := s.Checkpoint()
	if err != nil {
		t.Fatalf("Checkpoint: %v", err)
	}
	if got != want {
		t.Fatalf("Checkpoint() = %d, want %d", got, want)
	}
}

func testGetMissing(t *testing.T, h *harness) {
	_, s := h.store()
	got, ok, err := s.Get([]byte("nope"))
	if err != nil || ok || got != nil {
		t.Fatalf("Get(missing) = %q, %v, %v; want nil, false, nil", got, ok, err)
	}
}

func testSetGet(t *testing.T, h *harness) {
	_, s := h.store()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	for _, tc := range []struct {
		name       string
		key, value []byte
		want       []byte
	}{
		{"plain", []byte("page-a"), []byte("42"), []byte("42")},
		{"empty value", []byte("empty"), []byte{}, []byte{}},
		{"nil value is empty", []byte("nil"), nil, []byte{}},
		{"empty key", []byte{}, []byte("root"), []byte("root")},
		{"binary key", []byte{0, 0xff, 0, 1}, []byte{0}, []byte{0}},
		{"1 MiB value", []byte("big"), big, big},
	} {
		var b stores.Batch
		b.Set(tc.key, tc.value)
		if err := s.Apply(&b); err != nil {
			t.Fatalf("%s: Apply: %v", tc.name, err)
		}
		got, ok, err := s.Get(tc.key)
		if err != nil || !ok || !bytes.Equal(got, tc.want) {
			t.Fatalf("%s: Get(%q) = %.20q, %v, %v; want %.20q, true, nil", tc.name, tc.key, got, ok, err, tc.want)
		}
	}
}

func testOverwrite(t *testing.T, h *harness) {
	_, s := h.store()
	set(t, s, "k", "1")
	set(t, s, "k", "2")
	wantGet(t, s, "k", []byte("2"))
	if got := collect(t, s, nil, nil); len(got) != 1 {
		t.Fatalf("after overwrite Iterate yields %v, want one key", got)
	}
}

func testDelete(t *testing.T, h *harness) {
	_, s := h.store()
	set(t, s, "a", "1", "b", "2")
	apply(t, s, func(b *stores.Batch) { b.Delete([]byte("a")) })
	wantGet(t, s, "a", nil)
	wantGet(t, s, "b", []byte("2"))
	if got, want := collect(t, s, nil, nil), []kv{{"b", "2"}}; !slices.Equal(got, want) {
		t.Fatalf("after delete Iterate yields %v, want %v", got, want)
	}
}

func testDeleteMissing(t *testing.T, h *harness) {
	_, s := h.store()
	var b stores.Batch
	b.Delete([]byte("never-set"))
	if err := s.Apply(&b); err != nil {
		t.Fatalf("Apply(delete of a missing key) = %v, want nil", err)
	}
	wantGet(t, s, "never-set", nil)
}

func testBatchOrder(t *testing.T, h *harness) {
	_, s := h.store()
	// Each case is one batch on one key; the last write wins.
	for _, tc := range []struct {
		name string
		ops  []string // "set:<v>" or "del"
		want []byte   // nil: missing
	}{
		{"set then delete", []string{"set:1", "del"}, nil},
		{"delete then set", []string{"del", "set:1"}, []byte("1")},
		{"set twice", []string{"set:1", "set:2"}, []byte("2")},
		{"set delete set", []string{"set:1", "del", "set:3"}, []byte("3")},
		{"delete twice", []string{"del", "del"}, nil},
	} {
		key := "k-" + strings.ReplaceAll(tc.name, " ", "-")
		set(t, s, key, "before")
		var b stores.Batch
		for _, op := range tc.ops {
			if v, ok := strings.CutPrefix(op, "set:"); ok {
				b.Set([]byte(key), []byte(v))
			} else {
				b.Delete([]byte(key))
			}
		}
		if err := s.Apply(&b); err != nil {
			t.Fatalf("%s: Apply: %v", tc.name, err)
		}
		wantGet(t, s, key, tc.want)
	}
}

func testBatchReuse(t *testing.T, h *harness) {
	_, s := h.store()
	var b stores.Batch
	b.Set([]byte("first"), []byte("1"))
	b.SetCheckpoint(10)
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	b.Reset()
	if b.Len() != 0 || !b.Empty() {
		t.Fatalf("after Reset: Len() = %d, Empty() = %v; want 0, true", b.Len(), b.Empty())
	}
	if _, ok := b.Checkpoint(); ok {
		t.Fatal("after Reset the batch still has a checkpoint")
	}
	b.Set([]byte("second"), []byte("2"))
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	wantGet(t, s, "first", []byte("1"))
	wantGet(t, s, "second", []byte("2"))
	wantCheckpoint(t, s, 10) // a batch without checkpoint keeps the old one
}

func testEmptyBatch(t *testing.T, h *harness) {
	_, s := h.store()
	set(t, s, "k", "v")
	if err := s.Apply(&stores.Batch{}); err != nil {
		t.Fatalf("Apply(empty batch) = %v, want nil", err)
	}
	wantGet(t, s, "k", []byte("v"))
	wantCheckpoint(t, s, stores.NoCheckpoint)
}

func testInvalidBatch(t *testing.T, h *harness) {
	_, s := h.store()
	if err := s.Apply(nil); !errors.Is(err, stores.ErrInvalidBatch) {
		t.Fatalf("Apply(nil) = %v, want ErrInvalidBatch", err)
	}
	var b stores.Batch
	b.Set([]byte("k"), []byte("v"))
	b.SetCheckpoint(-5)
	if err := s.Apply(&b); !errors.Is(err, stores.ErrInvalidBatch) {
		t.Fatalf("Apply(checkpoint -5) = %v, want ErrInvalidBatch", err)
	}
	wantGet(t, s, "k", nil) // nothing of a refused batch is written
	wantCheckpoint(t, s, stores.NoCheckpoint)
}

func testGetReturnsCopy(t *testing.T, h *harness) {
	_, s := h.store()
	set(t, s, "k", "value")
	got, _, err := s.Get([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	copy(got, "XXXXX")
	wantGet(t, s, "k", []byte("value"))
	// Nor does the key passed to Get matter afterwards.
	key := []byte("k")
	if _, _, err := s.Get(key); err != nil {
		t.Fatal(err)
	}
	key[0] = 'z'
	wantGet(t, s, "k", []byte("value"))
}

func testIterateOrder(t *testing.T, h *harness) {
	_, s := h.store()
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string]string{"": "empty", "\x00": "zero", "\xff\xff": "max", "a": "a", "a\x00": "a0", "ab": "ab", "b": "b"}
	for len(want) < 500 {
		k := make([]byte, 1+r.IntN(8))
		for i := range k {
			k[i] = byte(r.IntN(256))
		}
		want[string(k)] = fmt.Sprint(len(want))
	}
	// Insert in random order, over several batches.
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	r.Shuffle(len(keys), func(i, j int) { keys[i], keys[j] = keys[j], keys[i] })
	for chunk := range slices.Chunk(keys, 64) {
		apply(t, s, func(b *stores.Batch) {
			for _, k := range chunk {
				b.Set([]byte(k), []byte(want[k]))
			}
		})
	}
	slices.Sort(keys) // byte-wise, as bytes.Compare
	got := collect(t, s, nil, nil)
	if len(got) != len(keys) {
		t.Fatalf("Iterate yields %d keys, want %d", len(got), len(keys))
	}
	for i, e := range got {
		if e.k != keys[i] || e.v != want[keys[i]] {
			t.Fatalf("Iterate #%d = %q=%q, want %q=%q", i, e.k, e.v, keys[i], want[keys[i]])
		}
	}
}

func testIterateBounds(t *testing.T, h *harness) {
	_, s := h.store()
	set(t, s, "a", "1", "b", "2", "c", "3", "d", "4", "e", "5")
	keys := func(kvs []kv) string {
		var sb strings.Builder
		for _, e := range kvs {
			sb.WriteString(e.k)
		}
		return sb.String()
	}
	for _, tc := range []struct {
		name       string
		start, end []byte
		want       string
	}{
		{"all", nil, nil, "abcde"},
		{"from b", []byte("b"), nil, "bcde"},
		{"before d", nil, []byte("d"), "abc"},
		{"b to d", []byte("b"), []byte("d"), "bc"},
		{"between keys", []byte("aa"), []byte("cc"), "bc"},
		{"start is empty key", []byte{}, []byte("c"), "ab"},
		{"empty end", nil, []byte{}, ""},
		{"start equals end", []byte("b"), []byte("b"), ""},
		{"start after end", []byte("d"), []byte("b"), ""},
		{"past the last key", []byte("f"), nil, ""},
		{"before the first key", nil, []byte("a"), ""},
		{"end past the last key", []byte("d"), []byte("zz"), "de"},
	} {
		if got := keys(collect(t, s, tc.start, tc.end)); got != tc.want {
			t.Errorf("%s: Iterate(%q, %q) yields %q, want %q", tc.name, tc.start, tc.end, got, tc.want)
		}
	}
}

func testIterateEarlyStop(t *testing.T, h *harness) {
	_, s := h.store()
	set(t, s, "a", "1", "b", "2", "c", "3", "d", "4")
	var seen []string
	err := s.Iterate(nil, nil, func(k, _ []byte) bool {
		seen = append(seen, string(k))
		return len(seen) < 2
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seen, []string{"a", "b"}) {
		t.Fatalf("Iterate stopping after 2 called fn for %q", seen)
	}
}

func testIterateSnapshot(t *testing.T, h *harness) {
	_, s := h.store()
	set(t, s, "a", "1", "b", "2", "c", "3")
	var got []kv
	err := s.Iterate(nil, nil, func(k, v []byte) bool {
		if len(got) == 0 { // Apply from inside fn, as a handler might
			apply(t, s, func(b *stores.Batch) {
				b.Delete([]byte("c"))
				b.Set([]byte("b"), []byte("changed"))
				b.Set([]byte("bb"), []byte("new"))
			})
		}
		got = append(got, kv{string(k), string(v)})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := []kv{{"a", "1"}, {"b", "2"}, {"c", "3"}}; !slices.Equal(got, want) {
		t.Fatalf("Iterate saw %v, want the snapshot %v", got, want)
	}
	if got, want := collect(t, s, nil, nil), []kv{{"a", "1"}, {"b", "changed"}, {"bb", "new"}}; !slices.Equal(got, want) {
		t.Fatalf("after the batch Iterate yields %v, want %v", got, want)
	}
}

func testIterateOnlyUserKeys(t *testing.T, h *harness) {
	b, s := h.store()
	apply(t, s, func(b *stores.Batch) {
		b.Set([]byte("x"), []byte("1"))
		b.SetCheckpoint(7)
	})
	check := func(s stores.Store) {
		t.Helper()
		if got, want := collect(t, s, nil, nil), []kv{{"x", "1"}}; !slices.Equal(got, want) {
			t.Fatalf("Iterate yields %v, want only the user key %v", got, want)
		}
		if n, err := s.Len(); err != nil || n != 1 {
			t.Fatalf("Len() = %d, %v; want 1 (internal keys are not counted)", n, err)
		}
	}
	check(s)
	if !b.Persistent() {
		return
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	check(h.open(b, testMeta))
}

func testCheckpoint(t *testing.T, h *harness) {
	_, s := h.store()
	wantCheckpoint(t, s, stores.NoCheckpoint)
	apply(t, s, func(b *stores.Batch) {
		b.Set([]byte("k"), []byte("v"))
		b.SetCheckpoint(42)
	})
	wantCheckpoint(t, s, 42)
	set(t, s, "k2", "v2") // no checkpoint: unchanged
	wantCheckpoint(t, s, 42)
	apply(t, s, func(b *stores.Batch) { b.SetCheckpoint(100) }) // checkpoint only
	wantCheckpoint(t, s, 100)
	apply(t, s, func(b *stores.Batch) { b.SetCheckpoint(0) }) // any non-negative offset
	wantCheckpoint(t, s, 0)
}

func testLen(t *testing.T, h *harness) {
	_, s := h.store()
	if n, err := s.Len(); err != nil || n != 0 {
		t.Fatalf("Len() of an empty store = %d, %v; want 0", n, err)
	}
	apply(t, s, func(b *stores.Batch) {
		for i := range 1000 {
			b.Set(fmt.Appendf(nil, "key-%04d", i), []byte("v"))
		}
	})
	if n, err := s.Len(); err != nil || n != 1000 {
		t.Fatalf("Len() after 1000 distinct sets = %d, %v; want 1000", n, err)
	}
}

// testRestart closes the backend, as a stopping process does, and opens the
// shard on a new backend on the same directory.
func testShardsIndependent(t *testing.T, h *harness) {
	b := h.backend()
	metas := []stores.Meta{
		{Table: "t", Partition: 0},
		{Table: "t", Partition: 1},
		{Table: "u", Partition: 0},
	}
	var ss []stores.Store
	for i, m := range metas {
		s := h.open(b, m)
		apply(t, s, func(b *stores.Batch) {
			b.Set([]byte("shared"), fmt.Appendf(nil, "%d", i))
			b.Set(fmt.Appendf(nil, "only-%d", i), []byte("x"))
			b.SetCheckpoint(int64(10 * i))
		})
		ss = append(ss, s)
	}
	for i, s := range ss {
		wantGet(t, s, "shared", fmt.Appendf(nil, "%d", i))
		if got := collect(t, s, nil, nil); len(got) != 2 {
			t.Fatalf("shard %v holds %v, want its own 2 keys", metas[i], got)
		}
		wantCheckpoint(t, s, int64(10*i))
	}
}

// testConcurrentReads applies batches from one goroutine while others read.
// Every batch sets all keys to the same value, so a reader that sees two
// values in one Iterate saw half a batch.
func testConcurrentReads(t *testing.T, h *harness) {
	_, s := h.store()
	const keys, batches, readers = 50, 200, 4
	key := func(i int) []byte { return fmt.Appendf(nil, "key-%02d", i) }

	var wg sync.WaitGroup
	done := make(chan struct{})
	errs := make(chan error, readers+1)
	wg.Go(func() {
		defer close(done)
		for n := 1; n <= batches; n++ {
			var b stores.Batch
			for i := range keys {
				b.Set(key(i), fmt.Appendf(nil, "%06d", n))
			}
			b.SetCheckpoint(int64(n))
			if err := s.Apply(&b); err != nil {
				errs <- fmt.Errorf("apply: %w", err)
				return
			}
		}
	})
	for r := range readers {
		wg.Go(func() {
			lastCP := int64(-1)
			for iter := 0; ; iter++ {
				select {
				case <-done:
					return
				default:
				}
				var first []byte
				var torn error
				count := 0
				err := s.Iterate(nil, nil, func(_, v []byte) bool {
					if first == nil {
						first = bytes.Clone(v)
					} else if !bytes.Equal(v, first) {
						torn = fmt.Errorf("reader %d: Iterate saw values %q and %q: a batch was not atomic", r, first, v)
						return false
					}
					count++
					return true
				})
				if err == nil {
					err = torn
				}
				if err != nil {
					errs <- fmt.Errorf("iterate: %w", err)
					return
				}
				if count != 0 && count != keys {
					errs <- fmt.Errorf("reader %d: Iterate saw %d keys, want 0 or %d", r, count, keys)
					return
				}
				if _, _, err := s.Get(key(iter % keys)); err != nil {
					errs <- fmt.Errorf("get: %w", err)
					return
				}
				cp, err := s.Checkpoint()
				if err != nil || cp < lastCP {
					errs <- fmt.Errorf("reader %d: Checkpoint() = %d, %v after %d: want it never to go back", r, cp, err, lastCP)
					return
				}
				lastCP = cp
				if _, err := s.Len(); err != nil {
					errs <- fmt.Errorf("len: %w", err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	wantCheckpoint(t, s, batches)
	wantGet(t, s, "key-00", fmt.Appendf(nil, "%06d", batches))
}
