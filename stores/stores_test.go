package stores_test

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/stores"
)

func TestBatch(t *testing.T) {
	t.Parallel()
	var b stores.Batch
	if !b.Empty() || b.Len() != 0 {
		t.Fatal("the zero Batch is not empty")
	}
	if _, ok := b.Checkpoint(); ok {
		t.Fatal("the zero Batch has a checkpoint")
	}
	key, value := []byte("k"), []byte("v")
	b.Set(key, value)
	b.Set([]byte("nil"), nil)
	b.Delete([]byte("gone"))
	b.SetCheckpoint(7)
	b.SetCheckpoint(9)
	if b.Len() != 3 || b.Empty() {
		t.Fatalf("Len() = %d, Empty() = %v; want 3, false", b.Len(), b.Empty())
	}
	if cp, ok := b.Checkpoint(); !ok || cp != 9 {
		t.Fatalf("Checkpoint() = %d, %v; want the last one, 9", cp, ok)
	}
	ops := b.Ops()
	if &ops[0].Key[0] != &key[0] || &ops[0].Value[0] != &value[0] {
		t.Error("Set copied its slices; it is documented to keep them")
	}
	if ops[1].Value == nil || len(ops[1].Value) != 0 || ops[1].Delete {
		t.Errorf("Set(k, nil) recorded %+v, want an empty non-nil value", ops[1])
	}
	if !ops[2].Delete || string(ops[2].Key) != "gone" {
		t.Errorf("Delete recorded %+v", ops[2])
	}
	if err := b.Validate(); err != nil {
		t.Fatal(err)
	}

	b.Reset()
	if !b.Empty() || b.Len() != 0 {
		t.Fatal("Reset left writes or a checkpoint")
	}
	if _, ok := b.Checkpoint(); ok {
		t.Fatal("Reset left the checkpoint")
	}
	// A checkpoint alone makes a batch non-empty.
	b.SetCheckpoint(0)
	if b.Empty() {
		t.Fatal("a batch with only a checkpoint is Empty")
	}
}

func TestBatchValidate(t *testing.T) {
	t.Parallel()
	var nilBatch *stores.Batch
	if err := nilBatch.Validate(); !errors.Is(err, stores.ErrInvalidBatch) {
		t.Errorf("nil batch: Validate() = %v, want ErrInvalidBatch", err)
	}
	var b stores.Batch
	b.SetCheckpoint(-1)
	if err := b.Validate(); !errors.Is(err, stores.ErrInvalidBatch) || !strings.Contains(err.Error(), "-1") {
		t.Errorf("checkpoint -1: Validate() = %v, want ErrInvalidBatch naming -1", err)
	}
}

func TestMetaValidate(t *testing.T) {
	t.Parallel()
	for _, m := range []stores.Meta{
		{Table: "page_views"},
		{Table: "a.b-c_D9", Partition: 2147483647, Schema: "anything / goes ✓"},
		{Table: strings.Repeat("x", 249)},
	} {
		if err := m.Validate(); err != nil {
			t.Errorf("Validate(%v) = %v, want nil", m, err)
		}
	}
	for _, tc := range []struct {
		m       stores.Meta
		mention string
	}{
		{stores.Meta{}, "empty"},
		{stores.Meta{Table: "."}, `"."`},
		{stores.Meta{Table: ".."}, `".."`},
		{stores.Meta{Table: "a/b"}, `"/"`},
		{stores.Meta{Table: `a\b`}, `"\\"`},
		{stores.Meta{Table: "naïve"}, "a-z"},
		{stores.Meta{Table: strings.Repeat("x", 250)}, "249"},
		{stores.Meta{Table: "t", Partition: -1}, "-1"},
	} {
		err := tc.m.Validate()
		if !errors.Is(err, stores.ErrInvalidMeta) || !strings.Contains(err.Error(), tc.mention) {
			t.Errorf("Validate(%v) = %v, want ErrInvalidMeta mentioning %s", tc.m, err, tc.mention)
		}
	}
}

func TestOptionsWithDefaults(t *testing.T) {
	t.Parallel()
	o := stores.Options{}.WithDefaults()
	if o.MemoryLimit != stores.DefaultMemoryLimit || o.Logger == nil {
		t.Fatalf("zero Options with defaults = %+v", o)
	}
	if o := (stores.Options{MemoryLimit: 1 << 30}).WithDefaults(); o.MemoryLimit != 1<<30 {
		t.Fatalf("WithDefaults changed a set MemoryLimit to %d", o.MemoryLimit)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	cause := fs.ErrPermission
	want := stores.Meta{Table: "t", Partition: 1, Schema: "v2"}
	found := stores.Meta{Table: "t", Partition: 1, Schema: "v1"}
	for _, tc := range []struct {
		err      error
		unwraps  bool
		mentions []string
	}{
		{&stores.IncompatibleError{Path: "/s/t/1", Want: want, Found: found}, false, []string{"/s/t/1", `"v1"`, `"v2"`, "delete the directory"}},
		{&stores.IncompatibleError{Path: "/s/t/1", Want: want, Reason: "is odd"}, false, []string{"/s/t/1", "is odd"}},
		{&stores.LockedError{Path: "/s/t/1", Err: cause}, true, []string{"/s/t/1", "another process", "--state-dir"}},
		{&stores.LockedError{Path: "/s/t/1", InProcess: true}, false, []string{"/s/t/1", "this process"}},
		{&stores.CorruptError{Path: "/s/t/1", Err: cause}, true, []string{"/s/t/1", "corrupt", "move the directory aside"}},
	} {
		msg := tc.err.Error()
		if !strings.HasPrefix(msg, "stores: ") {
			t.Errorf("%q lacks the package prefix", msg)
		}
		for _, m := range tc.mentions {
			if !strings.Contains(msg, m) {
				t.Errorf("%q does not mention %q", msg, m)
			}
		}
		if got := errors.Is(tc.err, cause); got != tc.unwraps {
			t.Errorf("errors.Is(%T, cause) = %v, want %v", tc.err, got, tc.unwraps)
		}
	}
}
