package rocksdb

import (
	"fmt"
	"strings"

	"github.com/eddy-streams/eddy/stores"
)

// classify maps a RocksDB error to a *stores.LockedError or
// *stores.CorruptError, or returns nil. grocksdb returns RocksDB's Status as
// a plain string ("<Code>: <message>"), so the message is all there is to go
// by; the texts matched are those of librocksdb 7.8 (see the tests).
func classify(path string, err error) error {
	msg := err.Error()
	switch {
	// Another DB object in this process holds the LOCK file (two backends on
	// one directory): "IO error: lock hold by current process, ...".
	case strings.Contains(msg, "lock hold by current process"):
		return &stores.LockedError{Path: path, InProcess: true, Err: err}
	// Another process holds it: "IO error: While lock file: <path>/LOCK:
	// Resource temporarily unavailable".
	case strings.Contains(msg, "While lock file"),
		strings.Contains(msg, "LOCK: Resource temporarily unavailable"):
		return &stores.LockedError{Path: path, Err: err}
	case strings.HasPrefix(msg, "Corruption:"), strings.Contains(msg, ": Corruption:"):
		return &stores.CorruptError{Path: path, Err: err}
	// CURRENT names a MANIFEST that is gone: RocksDB says IO error, but the
	// shard cannot be read either way.
	case strings.Contains(msg, "No such file or directory") && strings.Contains(msg, "MANIFEST"):
		return &stores.CorruptError{Path: path, Err: fmt.Errorf("a file it refers to is missing: %w", err)}
	}
	return nil
}
