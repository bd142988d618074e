package tables

import (
	"errors"

	"github.com/eddy-streams/eddy/internal/shards"
)

// ErrClosed is returned by a table call on a shard whose partition was
// released meanwhile, for example by a handler call abandoned while
// stalled.
var ErrClosed = shards.ErrClosed

// ErrReadOnly is returned by Set and Delete on a global table.
var ErrReadOnly = errors.New("tables: global tables are read-only in handlers")

// ErrNoShard is returned when a table is used outside a handler call, or
// for a table the app did not register.
var ErrNoShard = shards.ErrNoShard
