package tables

import "errors"

// ErrClosed is returned by a shard used after its partition was released,
// for example by a handler call abandoned while stalled.
var ErrClosed = errors.New("tables: shard is closed (its partition was released)")

// ErrReadOnly is returned by Set and Delete on a global table.
var ErrReadOnly = errors.New("tables: global tables are read-only in handlers")

// ErrNoShard is returned when a table is used outside a handler call, or
// for a table the app did not register.
var ErrNoShard = errors.New("tables: no shard for this call (is the table registered with the app, and is this a handler call?)")
