package backends_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/backends"
)

func TestParseURL(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	for _, tc := range []struct {
		url, stateDir string
		want          backends.Location
	}{
		{"memory://", "", backends.Location{Scheme: backends.Memory}},
		{"memory://", stateDir, backends.Location{Scheme: backends.Memory}},
		{"rocksdb://", stateDir, backends.Location{Scheme: backends.RocksDB, Dir: stateDir}},
		{"rocksdb:///var/lib/eddy", stateDir, backends.Location{Scheme: backends.RocksDB, Dir: "/var/lib/eddy"}},
		{"rocksdb:///var/lib/eddy/", "", backends.Location{Scheme: backends.RocksDB, Dir: "/var/lib/eddy"}},
		{"rocksdb:///a/../b", "", backends.Location{Scheme: backends.RocksDB, Dir: "/b"}},
		{"ROCKSDB:///x", "", backends.Location{Scheme: backends.RocksDB, Dir: "/x"}},
	} {
		got, err := backends.ParseURL(tc.url, tc.stateDir)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q, %q) = %+v, %v; want %+v", tc.url, tc.stateDir, got, err, tc.want)
		}
	}

	// A relative state directory is made absolute, so that equal
	// directories compare equal.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := backends.ParseURL("rocksdb://", "state"); err != nil || got.Dir != filepath.Join(wd, "state") {
		t.Errorf("ParseURL(rocksdb://, state) = %+v, %v; want Dir %s", got, err, filepath.Join(wd, "state"))
	}
}

func TestParseURLErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		url, stateDir string
		mention       string // besides the URL and the valid forms
	}{
		{"", "/s", "no scheme"},
		{"/var/lib/eddy", "/s", "no scheme"},
		{"redis://", "/s", `unknown scheme "redis"`},
		{"rocksdb://", "", "--state-dir"},
		{"rocksdb://relative/path", "/s", "absolute"},
		{"rocksdb:relative", "/s", "malformed"},
		{"rocksdb:///", "/s", "root"},
		{"rocksdb:///x?cache=1", "/s", "malformed"},
		{"memory:///x", "/s", "no path"},
		{"memory://host", "/s", "no path"},
		{"rocksdb://%zz", "/s", "malformed"},
	} {
		_, err := backends.ParseURL(tc.url, tc.stateDir)
		if err == nil {
			t.Errorf("ParseURL(%q, %q) succeeded, want an error", tc.url, tc.stateDir)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "stores: ") || !strings.Contains(msg, tc.mention) || !strings.Contains(msg, "rocksdb:///abs/path") {
			t.Errorf("ParseURL(%q) error %q: want the prefix, %q and the valid forms", tc.url, msg, tc.mention)
		}
		if tc.url != "" && !strings.Contains(msg, tc.url) {
			t.Errorf("ParseURL(%q) error %q does not name the URL", tc.url, msg)
		}
	}
}

func TestLocationString(t *testing.T) {
	t.Parallel()
	for _, url := range []string{"memory://", "rocksdb:///var/lib/eddy"} {
		loc, err := backends.ParseURL(url, "")
		if err != nil {
			t.Fatal(err)
		}
		if loc.String() != url {
			t.Errorf("ParseURL(%q).String() = %q", url, loc.String())
		}
	}
}

func TestOpen(t *testing.T) {
	t.Parallel()
	stateDir := t.TempDir()
	abs := t.TempDir()
	for _, tc := range []struct {
		url        string
		persistent bool
		shardDir   string // where shard t/2 lives; "" for memory
	}{
		{"memory://", false, ""},
		{"rocksdb://", true, filepath.Join(stateDir, "t", "2")},
		{"rocksdb://" + abs, true, filepath.Join(abs, "t", "2")},
	} {
		b, err := backends.Open(tc.url, stateDir, stores.Options{})
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.url, err)
		}
		if b.Persistent() != tc.persistent {
			t.Errorf("Open(%q).Persistent() = %v", tc.url, b.Persistent())
		}
		s, err := b.Open(stores.Meta{Table: "t", Partition: 2})
		if err != nil {
			t.Fatal(err)
		}
		if tc.shardDir != "" {
			if _, err := os.Stat(filepath.Join(tc.shardDir, "CURRENT")); err != nil {
				t.Errorf("Open(%q): no shard at %s: %v", tc.url, tc.shardDir, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := backends.Open("bogus://", stateDir, stores.Options{}); err == nil {
		t.Error("Open(bogus://) succeeded")
	}
}
