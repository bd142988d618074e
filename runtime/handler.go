package runtime

import (
	"context"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is a raw Kafka record as fetched: topic, partition, offset, key,
// value, headers and timestamp. It is franz-go's record type.
type Record = kgo.Record

// Header is one record header.
type Header = kgo.RecordHeader

// Message is a record with its key and value decoded by the handler's
// codecs. A record without a key has the zero K.
type Message[K, V any] struct {
	Key   K
	Value V
	// Record is the raw record; handlers must not modify it.
	Record *Record
}

// Handler handles the records of the topics it is registered for with
// Handle. OnMessage is called once per record (at least once: after a crash
// a record may be seen again), in offset order within a partition and
// concurrently across partitions, never concurrently for one partition.
// Returning nil marks the record done; an error goes to the error path
// (ErrorHandler, else the app's error policy).
//
// A handler may implement any of the optional hooks below. They are found
// by interface assertion when the handler is registered. Per record the
// order is: DefineContext, decode, DidReceive, OnMessage or OnTombstone,
// OnFinished; a failure in any step goes to OnError.
type Handler[K, V any] interface {
	OnMessage(ctx *Context, msg *Message[K, V]) error
}

// TombstoneHandler handles records whose value is null (tombstones, the
// deletes of compacted topics). Without it tombstones are skipped and
// counted; their value is never decoded.
type TombstoneHandler[K, V any] interface {
	OnTombstone(ctx *Context, msg *Message[K, V]) error
}

// ErrorHandler decides what happens to a record that failed: its key or
// value did not decode (*DecodeError), a hook returned an error, or its
// handler panicked on every attempt (*PanicError). Returning nil logs,
// counts and skips the record; returning an error stops the app with it,
// and the record stays uncommitted so it is handled again after a restart.
type ErrorHandler interface {
	OnError(ctx *Context, rec *Record, err error) error
}

// Receiver sees each decoded message before it is handled, to transform or
// drop it: return the message to handle (msg itself, changed, or a new
// one), or nil to drop the record, which then counts as done.
type Receiver[K, V any] interface {
	DidReceive(ctx *Context, msg *Message[K, V]) (*Message[K, V], error)
}

// Finisher is told once a record's handling has ended, whatever the
// outcome, for clean-up or accounting. It is not called for a record that
// stops the app or whose handling was interrupted by a rebalance.
type Finisher interface {
	OnFinished(ctx *Context, rec *Record, outcome Outcome)
}

// ContextDefiner defines the context of each handler call, like
// paperboy's define_context: it runs first for every record and returns the
// context.Context that ctx carries through the record's other hooks, for
// example with values (context.WithValue), a deadline, or a span. An error
// goes to the error path.
type ContextDefiner interface {
	DefineContext(parent context.Context, rec *Record) (context.Context, error)
}

// Starter is told once when the app starts, before any record is fetched,
// with the resolved configuration: parse settings, open connections, check
// what the handler needs. An error stops the start-up. It is called once
// per registered handler, even if the handler serves several topics.
type Starter interface {
	OnStart(ctx context.Context, cfg Config) error
}

// Outcome is how a record's handling ended.
type Outcome int

const (
	// Handled: OnMessage or OnTombstone returned nil.
	Handled Outcome = iota + 1
	// Dropped: DidReceive dropped the record.
	Dropped
	// Skipped: the record failed and the error path chose to go on.
	Skipped
	// SkippedTombstone: a tombstone reached a handler without OnTombstone.
	SkippedTombstone
)

func (o Outcome) String() string {
	switch o {
	case Handled:
		return "handled"
	case Dropped:
		return "dropped"
	case Skipped:
		return "skipped"
	case SkippedTombstone:
		return "skipped-tombstone"
	}
	return "unknown"
}

// BulkHandler handles a partition's records in batches while it runs in
// bulk mode (see the mode setting): OnBulk gets up to bulk.max_records
// decoded messages in offset order, after DidReceive and DidReceiveBulk.
// Returning nil marks the whole batch done; an error goes to OnBulkError,
// else the app's error policy. A batch becomes committable only once every
// record in it is handled and everything it produced or wrote to tables is
// acknowledged; after a crash the whole batch is handled again. A handler
// without OnBulk gets bulk batches one record at a time through OnMessage,
// still committed per batch. In single mode OnMessage is called, so a
// BulkHandler implements both.
//
// In a bulk call, DefineContext runs once with the batch's first record.
// Each record is decoded and passed through DidReceive as in single mode:
// records that fail to decode take the record's error path (OnError) and
// are left out of the batch if it chooses to go on; tombstones are in the
// batch only if the handler implements TombstoneHandler (a message whose
// Record.Value is nil), else they are skipped and counted as in single mode.
type BulkHandler[K, V any] interface {
	OnBulk(ctx *Context, msgs []*Message[K, V]) error
}

// BulkReceiver sees each batch before OnBulk, to transform or filter it:
// return the messages to handle (msgs itself, changed, or a new slice);
// messages left out count as dropped. An empty result skips OnBulk.
type BulkReceiver[K, V any] interface {
	DidReceiveBulk(ctx *Context, msgs []*Message[K, V]) ([]*Message[K, V], error)
}

// BulkErrorHandler decides what happens to a batch whose OnBulk (or
// DidReceiveBulk) failed or panicked on every attempt (*PanicError):
// returning nil logs, counts and skips the batch's records; returning an
// error stops the app with it, and the batch stays uncommitted. Without it
// the app's error policy decides.
type BulkErrorHandler interface {
	OnBulkError(ctx *Context, recs []*Record, err error) error
}

// BulkFinisher is told once a batch's handling has ended: recs are the
// records that reached OnBulk (or would have, had it not failed), outcome
// is Handled or Skipped. Records left out before (decode errors, skipped
// tombstones, drops) are reported one by one to Finisher, if implemented.
type BulkFinisher interface {
	OnBulkFinished(ctx *Context, recs []*Record, outcome Outcome)
}

// HandlerFunc adapts a function to a Handler with no optional hooks.
type HandlerFunc[K, V any] func(ctx *Context, msg *Message[K, V]) error

// OnMessage calls f.
func (f HandlerFunc[K, V]) OnMessage(ctx *Context, msg *Message[K, V]) error { return f(ctx, msg) }
