package backends

import (
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/eddy-streams/eddy/stores"
	"github.com/eddy-streams/eddy/stores/memory"
	"github.com/eddy-streams/eddy/stores/rocksdb"
)

// The schemes of store URLs.
const (
	Memory  = "memory"
	RocksDB = "rocksdb"
)

// validForms is appended to URL errors.
const validForms = "use memory://, rocksdb:// (under --state-dir) or rocksdb:///abs/path"

// Location is what a store URL selects: a backend and, for RocksDB, its
// absolute directory. Two URLs with equal Locations must share one Backend
// (one per process per directory).
type Location struct {
	Scheme string // Memory or RocksDB
	Dir    string // absolute and clean for RocksDB; empty for Memory
}

// String returns the canonical URL of l: memory:// or rocksdb:///abs/dir.
func (l Location) String() string {
	if l.Scheme == RocksDB {
		return "rocksdb://" + l.Dir
	}
	return l.Scheme + "://"
}

// ParseURL resolves a store URL against stateDir (used by rocksdb:// alone).
// An unknown scheme, a malformed URL, a relative path, or rocksdb:// with no
// stateDir is an error naming the URL and the valid forms.
func ParseURL(rawURL, stateDir string) (Location, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Location{}, fmt.Errorf("stores: store URL %q is malformed: %v; %s", rawURL, err, validForms)
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return Location{}, fmt.Errorf("stores: store URL %q is malformed; %s", rawURL, validForms)
	}
	switch u.Scheme {
	case Memory:
		if u.Host != "" || u.Path != "" {
			return Location{}, fmt.Errorf("stores: store URL %q: memory:// takes no path; %s", rawURL, validForms)
		}
		return Location{Scheme: Memory}, nil
	case RocksDB:
		if u.Host != "" {
			return Location{}, fmt.Errorf("stores: store URL %q: the path must be absolute (three slashes: rocksdb:///abs/path); %s", rawURL, validForms)
		}
		dir := u.Path
		if dir == "/" {
			return Location{}, fmt.Errorf("stores: store URL %q names the root directory; %s", rawURL, validForms)
		}
		if dir == "" {
			if stateDir == "" {
				return Location{}, fmt.Errorf("stores: store URL %q needs a state directory: set --state-dir, or use rocksdb:///abs/path", rawURL)
			}
			dir = stateDir
		}
		abs, err := filepath.Abs(dir)
		if err != nil {
			return Location{}, fmt.Errorf("stores: store URL %q: %w", rawURL, err)
		}
		return Location{Scheme: RocksDB, Dir: abs}, nil
	case "":
		return Location{}, fmt.Errorf("stores: store URL %q has no scheme; %s", rawURL, validForms)
	default:
		return Location{}, fmt.Errorf("stores: store URL %q: unknown scheme %q; %s", rawURL, u.Scheme, validForms)
	}
}

// Open opens the backend a store URL selects (see the package documentation),
// with opts (the zero Options means the defaults). The caller owns the backend
// and closes it after all its stores.
func Open(rawURL, stateDir string, opts stores.Options) (stores.Backend, error) {
	loc, err := ParseURL(rawURL, stateDir)
	if err != nil {
		return nil, err
	}
	return OpenLocation(loc, opts)
}

// OpenLocation opens the backend at loc, as returned by ParseURL.
func OpenLocation(loc Location, opts stores.Options) (stores.Backend, error) {
	switch loc.Scheme {
	case Memory:
		return memory.New(), nil
	case RocksDB:
		return rocksdb.New(loc.Dir, opts)
	default:
		return nil, fmt.Errorf("stores: unknown backend %q; %s", loc.Scheme, validForms)
	}
}
