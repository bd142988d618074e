package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/stores"
)

// The tests of a shard's life: reopen, restart, and the errors of Open and
// Close.

func testReopen(t *testing.T, h *harness) {
	b, s := h.store()
	apply(t, s, func(b *stores.Batch) {
		b.Set([]byte("a"), []byte("1"))
		b.Set([]byte("b"), []byte("2"))
		b.Delete([]byte("b"))
		b.SetCheckpoint(1234)
	})
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s = h.open(b, testMeta)
	if b.Persistent() {
		wantGet(t, s, "a", []byte("1"))
		wantGet(t, s, "b", nil)
		wantCheckpoint(t, s, 1234)
	} else {
		if got := collect(t, s, nil, nil); len(got) != 0 {
			t.Fatalf("a reopened non-persistent store holds %v, want nothing", got)
		}
		wantCheckpoint(t, s, stores.NoCheckpoint)
	}
	// The reopened store takes writes as usual.
	set(t, s, "c", "3")
	wantGet(t, s, "c", []byte("3"))
}

func testRestart(t *testing.T, h *harness) {
	b := h.newBackend(t, h.dir)
	s, err := b.Open(testMeta)
	if err != nil {
		t.Fatal(err)
	}
	persistent := b.Persistent()
	apply(t, s, func(b *stores.Batch) {
		for i := range 100 {
			b.Set(fmt.Appendf(nil, "k%03d", i), fmt.Appendf(nil, "v%d", i))
		}
		b.SetCheckpoint(99)
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	s = h.open(h.backend(), testMeta)
	n := len(collect(t, s, nil, nil))
	if persistent {
		if n != 100 {
			t.Fatalf("after restart the store holds %d keys, want 100", n)
		}
		wantGet(t, s, "k042", []byte("v42"))
		wantCheckpoint(t, s, 99)
	} else if n != 0 {
		t.Fatalf("after restart a non-persistent store holds %d keys, want 0", n)
	}
}

func testIncompatible(t *testing.T, h *harness) {
	b := h.backend()
	if !b.Persistent() {
		t.Skip("a non-persistent store keeps no meta across Close")
	}
	s := h.open(b, testMeta)
	apply(t, s, func(b *stores.Batch) {
		b.Set([]byte("k"), []byte("v"))
		b.SetCheckpoint(5)
	})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	other := testMeta
	other.Schema = "string/json v2"
	_, err := b.Open(other)
	var ie *stores.IncompatibleError
	if !errors.As(err, &ie) {
		t.Fatalf("Open with another schema = %v, want *stores.IncompatibleError", err)
	}
	if ie.Want != other || ie.Found != testMeta || ie.Path == "" {
		t.Fatalf("IncompatibleError = %+v, want Want=%v Found=%v and a path", ie, other, testMeta)
	}
	for _, part := range []string{ie.Path, testMeta.Schema, other.Schema} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not name %q", err, part)
		}
	}
	// Nothing was wiped: the right meta still finds the data.
	s = h.open(b, testMeta)
	wantGet(t, s, "k", []byte("v"))
	wantCheckpoint(t, s, 5)
}

func testOpenTwice(t *testing.T, h *harness) {
	b, s := h.store()
	set(t, s, "k", "v")
	_, err := b.Open(testMeta)
	var le *stores.LockedError
	if !errors.As(err, &le) || !le.InProcess || le.Path == "" {
		t.Fatalf("second Open of an open shard = %v, want *stores.LockedError with InProcess and a path", err)
	}
	if !strings.Contains(err.Error(), le.Path) {
		t.Errorf("error %q does not name the path %q", err, le.Path)
	}
	// The failed Open left the open store alone, and closing frees the shard.
	wantGet(t, s, "k", []byte("v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	h.open(b, testMeta)
}

func testTwoBackends(t *testing.T, h *harness) {
	b1 := h.backend()
	if !b1.Persistent() {
		t.Skip("non-persistent backends share no directory")
	}
	h.open(b1, testMeta)
	b2 := h.backend()
	_, err := b2.Open(testMeta)
	var le *stores.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Open of a shard another backend holds = %v, want *stores.LockedError", err)
	}
	if !strings.Contains(err.Error(), le.Path) {
		t.Errorf("error %q does not name the path %q", err, le.Path)
	}
	// Other shards of the same directory are free.
	other := testMeta
	other.Partition++
	h.open(b2, other)
}

func testInvalidMeta(t *testing.T, h *harness) {
	b := h.backend()
	for _, m := range []stores.Meta{
		{Table: ""},
		{Table: "."},
		{Table: ".."},
		{Table: "../escape"},
		{Table: "a/b"},
		{Table: "with space"},
		{Table: strings.Repeat("x", 250)},
		{Table: "ok", Partition: -1},
	} {
		if s, err := b.Open(m); !errors.Is(err, stores.ErrInvalidMeta) {
			if err == nil {
				s.Close()
			}
			t.Errorf("Open(%v) = %v, want ErrInvalidMeta", m, err)
		}
	}
	h.open(b, stores.Meta{Table: "Valid_table-name.v2", Partition: 0})
}

func testClosed(t *testing.T, h *harness) {
	b, s := h.store()
	set(t, s, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	for name, err := range map[string]error{
		"Get":        func() error { _, _, err := s.Get([]byte("k")); return err }(),
		"Iterate":    s.Iterate(nil, nil, func(_, _ []byte) bool { return true }),
		"Apply":      s.Apply(&stores.Batch{}),
		"Checkpoint": func() error { _, err := s.Checkpoint(); return err }(),
		"Len":        func() error { _, err := s.Len(); return err }(),
	} {
		if !errors.Is(err, stores.ErrClosed) {
			t.Errorf("%s after Close = %v, want ErrClosed", name, err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatalf("Backend.Close: %v", err)
	}
	if _, err := b.Open(testMeta); !errors.Is(err, stores.ErrClosed) {
		t.Errorf("Open after Backend.Close = %v, want ErrClosed", err)
	}
}

func testBackendCloseWithOpenStores(t *testing.T, h *harness) {
	b := h.newBackend(t, h.dir)
	s, err := b.Open(testMeta)
	if err != nil {
		t.Fatal(err)
	}
	err = b.Close()
	if err == nil || !strings.Contains(err.Error(), "still open") {
		t.Fatalf("Backend.Close with a store open = %v, want an error saying a store is still open", err)
	}
	// The open store still works until it is closed.
	set(t, s, "k", "v")
	wantGet(t, s, "k", []byte("v"))
	if err := s.Close(); err != nil {
		t.Fatalf("Store.Close after Backend.Close: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Backend.Close = %v, want nil", err)
	}
}
