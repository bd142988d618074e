package shards

import (
	"context"
	"errors"
)

// ErrClosed is returned by a shard used after its partition was released,
// for example by a handler call abandoned while stalled.
var ErrClosed = errors.New("tables: shard is closed (its partition was released)")

// ErrNoShard is returned when a table is used outside a handler call, or
// for a table the app did not register.
var ErrNoShard = errors.New("tables: no shard for this call (is the table registered with the app, and is this a handler call?)")

// Scope is what the table calls made with a context address: the runtime
// puts one in the context of every handler call (the shards of the
// partition being handled, and the global tables), and one addressing
// every shard the worker holds in the contexts of its tools (look-ups,
// scans). Its methods are called concurrently.
type Scope interface {
	// Write returns the shard that a Set or Delete of key in table d
	// writes to.
	Write(d *Def, key []byte) (*Shard, error)
	// Read returns the shards a Get of key in d looks in, in order,
	// until one has it.
	Read(d *Def, key []byte) ([]*Shard, error)
	// Scan returns the shards of d a Scan visits.
	Scan(d *Def) ([]*Shard, error)
}

// scopeKey is the context key of a Scope.
type scopeKey struct{}

// WithScope returns ctx carrying s.
func WithScope(ctx context.Context, s Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, s)
}

// IsScopeKey reports whether key is the context key of a Scope: a
// context type that answers Value itself (the runtime's) answers it with
// its Scope.
func IsScopeKey(key any) bool {
	_, ok := key.(scopeKey)
	return ok
}

// ScopeOf returns the Scope ctx carries, or ErrNoShard.
func ScopeOf(ctx context.Context) (Scope, error) {
	if ctx != nil {
		if s, ok := ctx.Value(scopeKey{}).(Scope); ok && s != nil {
			return s, nil
		}
	}
	return nil, ErrNoShard
}
