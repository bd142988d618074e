package memory_test

import (
	"testing"

	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/memory"
	"github.com/eddy-streams/eddy/stores/storetest"
)

func newBackend(testing.TB, string) stores.Backend { return memory.New() }

func TestConformance(t *testing.T) {
	storetest.Run(t, newBackend)
}

func BenchmarkApply(b *testing.B) { storetest.BenchmarkApply(b, newBackend) }

func BenchmarkGet(b *testing.B) { storetest.BenchmarkGet(b, newBackend) }

func BenchmarkGetMissing(b *testing.B) { storetest.BenchmarkGetMissing(b, newBackend) }

func BenchmarkSet(b *testing.B) { storetest.BenchmarkSet(b, newBackend) }

// A Store from NewStore belongs to no backend and behaves like one that does.
func TestNewStore(t *testing.T) {
	t.Parallel()
	s := memory.NewStore()
	var b stores.Batch
	b.Set([]byte("k"), []byte("v"))
	b.SetCheckpoint(3)
	if err := s.Apply(&b); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := s.Get([]byte("k")); err != nil || !ok || string(v) != "v" {
		t.Fatalf("Get = %q, %v, %v", v, ok, err)
	}
	if cp, err := s.Checkpoint(); err != nil || cp != 3 {
		t.Fatalf("Checkpoint = %d, %v; want 3", cp, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}
