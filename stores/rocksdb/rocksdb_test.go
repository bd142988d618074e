package rocksdb_test

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/rocksdb"
	"github.com/eddy-streams/eddy/stores/storetest"
	"github.com/linxGnu/grocksdb"
)

// testLimit keeps tests light: 16 MiB of cache and 16 MiB of memtables.
const testLimit = 32 << 20

func newBackend(tb testing.TB, dir string) stores.Backend {
	return open(tb, dir, stores.Options{MemoryLimit: testLimit})
}

func open(tb testing.TB, dir string, opts stores.Options) *rocksdb.Backend {
	tb.Helper()
	b, err := rocksdb.New(dir, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestConformance(t *testing.T) {
	storetest.Run(t, newBackend)
}

func BenchmarkApply(b *testing.B) { storetest.BenchmarkApply(b, newBackend) }

func BenchmarkGet(b *testing.B) { storetest.BenchmarkGet(b, newBackend) }

func BenchmarkGetMissing(b *testing.B) { storetest.BenchmarkGetMissing(b, newBackend) }

func BenchmarkSet(b *testing.B) { storetest.BenchmarkSet(b, newBackend) }

var meta = stores.Meta{Table: "counts", Partition: 0, Schema: "string/int64 v1"}

// openStore opens meta's shard on a new backend on dir, closing both at the
// end of the test.
func openStore(t *testing.T, dir string) (*rocksdb.Backend, stores.Store) {
	t.Helper()
	b := open(t, dir, stores.Options{MemoryLimit: testLimit})
	s, err := b.Open(meta)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		b.Close()
	})
	return b, s
}

func TestLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, s := openStore(t, dir)
	want := filepath.Join(dir, "counts", "0")
	if got := s.(*rocksdb.Store).Path(); got != want {
		t.Fatalf("shard path = %q, want %q", got, want)
	}
	if got := b.Path(meta); got != want {
		t.Fatalf("Backend.Path = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(want, "CURRENT")); err != nil {
		t.Fatalf("no RocksDB database at %s: %v", want, err)
	}
}

// holdEnv, when set, makes the test binary a helper process that opens the
// shard in the directory it names, says "ready" and holds it until stdin
// closes.
const holdEnv = "EDDY_STORES_ROCKSDB_HOLD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(holdEnv); dir != "" {
		os.Exit(hold(dir))
	}
	os.Exit(m.Run())
}

func hold(dir string) int {
	b, err := rocksdb.New(dir, stores.Options{MemoryLimit: testLimit})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	s, err := b.Open(meta)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
	s.Close()
	b.Close()
	return 0
}

func TestLockedByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), holdEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("helper process: %v", err)
		}
	}()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("helper process said %q, %v; want ready", line, err)
	}

	b := open(t, dir, stores.Options{MemoryLimit: testLimit})
	defer b.Close()
	_, err = b.Open(meta)
	var le *stores.LockedError
	if !errors.As(err, &le) {
		t.Fatalf("Open of a shard another process holds = %v, want *stores.LockedError", err)
	}
	if le.InProcess || le.Path != b.Path(meta) {
		t.Fatalf("LockedError = %+v, want InProcess false and Path %q", le, b.Path(meta))
	}
	if !strings.Contains(err.Error(), "--state-dir") {
		t.Errorf("error %q does not say what to do", err)
	}
}

func TestCorrupt(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, path string)
	}{
		{"CURRENT overwritten", func(t *testing.T, path string) {
			write(t, filepath.Join(path, "CURRENT"), []byte("garbage"))
		}},
		{"CURRENT names a missing MANIFEST", func(t *testing.T, path string) {
			write(t, filepath.Join(path, "CURRENT"), []byte("MANIFEST-999999\n"))
		}},
		// Cut inside the first record (a MANIFEST cut at a record boundary
		// is what a crash leaves: RocksDB opens the state it records).
		{"MANIFEST truncated", func(t *testing.T, path string) {
			m := manifest(t, path)
			data, err := os.ReadFile(m)
			if err != nil {
				t.Fatal(err)
			}
			write(t, m, data[:16])
		}},
		{"MANIFEST overwritten", func(t *testing.T, path string) {
			m := manifest(t, path)
			fi, err := os.Stat(m)
			if err != nil {
				t.Fatal(err)
			}
			write(t, m, []byte(strings.Repeat("\xab", int(fi.Size()))))
		}},
		{"SST file missing", func(t *testing.T, path string) {
			ssts, _ := filepath.Glob(filepath.Join(path, "*.sst"))
			if len(ssts) == 0 {
				t.Fatal("no SST file to remove")
			}
			if err := os.Remove(ssts[0]); err != nil {
				t.Fatal(err)
			}
		}},
		{"CURRENT missing", func(t *testing.T, path string) {
			if err := os.Remove(filepath.Join(path, "CURRENT")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			b := open(t, dir, stores.Options{MemoryLimit: testLimit})
			defer b.Close()
			s, err := b.Open(meta)
			if err != nil {
				t.Fatal(err)
			}
			var batch stores.Batch
			for i := range 100 {
				batch.Set(fmt.Appendf(nil, "k%d", i), []byte("v"))
			}
			batch.SetCheckpoint(100)
			if err := s.Apply(&batch); err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil { // flushes: the data is in an SST file
				t.Fatal(err)
			}
			path := b.Path(meta)
			tc.damage(t, path)
			before := listDir(t, path)

			_, err = b.Open(meta)
			var ce *stores.CorruptError
			if !errors.As(err, &ce) {
				t.Fatalf("Open of a damaged shard = %v, want *stores.CorruptError", err)
			}
			if ce.Path != path || !strings.Contains(err.Error(), path) {
				t.Fatalf("CorruptError %q does not name the path %q", err, path)
			}
			t.Logf("%s: %v", tc.name, err)
			// Nothing was wiped or rewritten (RocksDB's LOG files aside).
			if after := listDir(t, path); after != before {
				t.Fatalf("Open changed the shard's files:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func manifest(t *testing.T, path string) string {
	t.Helper()
	cur, err := os.ReadFile(filepath.Join(path, "CURRENT"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(path, strings.TrimSpace(string(cur)))
}

// listDir lists the names and sizes of path's files but RocksDB's own logs.
func listDir(t *testing.T, path string) string {
	t.Helper()
	entries, err := os.ReadDir(path)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "LOG") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&sb, "%s:%d ", e.Name(), fi.Size())
	}
	return sb.String()
}

func TestNotAShard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := open(t, dir, stores.Options{MemoryLimit: testLimit})
	defer b.Close()
	// A shard directory holding a file RocksDB would overwrite is not
	// touched; one holding data files but no CURRENT is refused as corrupt.
	path := b.Path(meta)
	if err := os.MkdirAll(path, 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(path, "000007.sst"), []byte("precious"))
	_, err := b.Open(meta)
	var ce *stores.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Open of a directory with data files but no CURRENT = %v, want *stores.CorruptError", err)
	}
}

func TestInvalidOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		dir  string
		opts stores.Options
	}{
		{"no directory", "", stores.Options{}},
		{"limit below the minimum", t.TempDir(), stores.Options{MemoryLimit: rocksdb.MinMemoryLimit - 1}},
		{"negative limit", t.TempDir(), stores.Options{MemoryLimit: -1}},
	} {
		if b, err := rocksdb.New(tc.dir, tc.opts); err == nil {
			b.Close()
			t.Errorf("%s: New succeeded, want an error", tc.name)
		} else if !strings.HasPrefix(err.Error(), "stores: rocksdb: ") {
			t.Errorf("%s: error %q lacks the package prefix", tc.name, err)
		}
	}
}

// createForeign makes a RocksDB database at path that Eddy did not write:
// with a key in its default column family and the extra column families.
func createForeign(t *testing.T, path string, extraCFs ...string) {
	t.Helper()
	o := grocksdb.NewDefaultOptions()
	defer o.Destroy()
	o.SetCreateIfMissing(true)
	db, err := grocksdb.OpenDb(o, path)
	if err != nil {
		t.Fatal(err)
	}
	wo := grocksdb.NewDefaultWriteOptions()
	defer wo.Destroy()
	if err := db.Put(wo, []byte("theirs"), []byte("precious")); err != nil {
		t.Fatal(err)
	}
	for _, name := range extraCFs {
		cf, err := db.CreateColumnFamily(o, name)
		if err != nil {
			t.Fatal(err)
		}
		cf.Destroy()
	}
	db.Close()
}

func TestForeignDatabase(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"data without meta", nil},
		{"other column families", []string{"other"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := open(t, t.TempDir(), stores.Options{MemoryLimit: testLimit})
			defer b.Close()
			path := b.Path(meta)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			createForeign(t, path, tc.extra...)
			_, err := b.Open(meta)
			var ie *stores.IncompatibleError
			if !errors.As(err, &ie) || ie.Path != path {
				t.Fatalf("Open of a foreign database = %v, want *stores.IncompatibleError for %s", err, path)
			}
			t.Log(err)
			// Its data is untouched.
			o := grocksdb.NewDefaultOptions()
			defer o.Destroy()
			names, err := grocksdb.ListColumnFamilies(o, path)
			if err != nil {
				t.Fatal(err)
			}
			cfOpts := make([]*grocksdb.Options, len(names))
			for i := range cfOpts {
				cfOpts[i] = o
			}
			db, cfs, err := grocksdb.OpenDbForReadOnlyColumnFamilies(o, path, names, cfOpts, false)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, cf := range cfs {
					cf.Destroy()
				}
				db.Close()
			}()
			ro := grocksdb.NewDefaultReadOptions()
			defer ro.Destroy()
			v, err := db.GetBytes(ro, []byte("theirs"))
			if err != nil || string(v) != "precious" {
				t.Fatalf("the foreign database's key reads %q, %v after Open", v, err)
			}
		})
	}
}
