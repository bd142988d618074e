package stores

import (
	"errors"
	"fmt"
)

// ErrClosed is returned by the methods of a Store or Backend after its Close.
var ErrClosed = errors.New("stores: closed")

// ErrInvalidMeta is wrapped by the error of Backend.Open for a Meta that
// cannot name a shard (an empty or unsafe table name, a negative partition).
var ErrInvalidMeta = errors.New("stores: invalid meta")

// ErrInvalidBatch is wrapped by the error of Store.Apply for a batch that
// cannot be applied (a negative checkpoint). Nothing of the batch is written.
var ErrInvalidBatch = errors.New("stores: invalid batch")

// IncompatibleError is returned by Backend.Open for a shard that was created
// with a different Meta, or that is not an Eddy store at all. The shard is
// left as it is.
type IncompatibleError struct {
	Path string // the shard's directory
	Want Meta   // the Meta passed to Open
	// Found is the Meta recorded in the shard; zero if it has none.
	Found Meta
	// Reason says what is wrong when Found alone does not (no meta recorded,
	// unexpected column families).
	Reason string
}

// Error says which shard, what it holds instead, and what to do.
func (e *IncompatibleError) Error() string {
	what := e.Reason
	if what == "" {
		what = fmt.Sprintf("was created for %v, not %v", e.Found, e.Want)
	}
	return fmt.Sprintf("stores: shard at %s %s; it is not read, so nothing is lost: "+
		"if the old state is no longer needed, delete the directory and the shard restores from its changelog; "+
		"otherwise use another --state-dir", e.Path, what)
}

// LockedError is returned by Backend.Open for a shard that is already open:
// by another process (another worker with the same --state-dir?) or by this
// one (a shard opened twice without Close).
type LockedError struct {
	Path string // the shard's directory
	// InProcess is true when this process holds the shard, false when
	// another process does.
	InProcess bool
	Err       error // what the storage engine reported; may be nil
}

// Error says which shard, who holds it, and what to do.
func (e *LockedError) Error() string {
	if e.InProcess {
		return fmt.Sprintf("stores: shard at %s is already open in this process (opened twice, or by two backends on one state directory); close it before opening it again", e.Path)
	}
	msg := fmt.Sprintf("stores: shard at %s is locked by another process: is another worker running with the same --state-dir? "+
		"stop it, or give each worker its own --state-dir", e.Path)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Unwrap returns the storage engine's error, if any.
func (e *LockedError) Unwrap() error { return e.Err }

// CorruptError is returned by Backend.Open (and by reads and writes that find
// damage) for a shard the storage engine cannot read. The shard is left as it
// is for inspection.
type CorruptError struct {
	Path string // the shard's directory
	Err  error  // what the storage engine reported
}

// Error says which shard, what the engine found, and what to do.
func (e *CorruptError) Error() string {
	return fmt.Sprintf("stores: shard at %s is corrupt: %v; nothing was deleted: "+
		"move the directory aside (keep it to inspect, e.g. with RocksDB's ldb) and the shard restores from its changelog",
		e.Path, e.Err)
}

// Unwrap returns the storage engine's error.
func (e *CorruptError) Unwrap() error { return e.Err }
