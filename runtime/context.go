package runtime

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/internal/telemetry"
)

// Context is passed to every hook of a handler for one record. It is a
// context.Context (the one DefineContext returned, else the partition's)
// and carries what handlers may do besides returning: produce records, log,
// read settings. It is valid only during the hook call it is passed to; one
// partition's calls never overlap.
type Context struct {
	context.Context
	call    *actors.Call
	w       *worker
	log     *slog.Logger
	outputs map[string]*telemetry.TopicCounters // the processor's cache, by topic
	scope   shards.Scope                        // what the table calls address; nil without tables
}

// Value returns the value ctx carries for key; tables find the shards a
// call addresses through it.
func (c *Context) Value(key any) any {
	if shards.IsScopeKey(key) {
		if c.scope == nil {
			return nil
		}
		return c.scope
	}
	return c.Context.Value(key)
}

// Record returns the raw record being handled; in an OnBulk call (and the
// bulk hooks around it), the batch's first record.
func (c *Context) Record() *Record { return c.call.Record }

// Batch returns the records of the bulk batch being handled, in offset
// order, or nil in single mode. The slice belongs to the runtime: do not
// keep or change it.
func (c *Context) Batch() []*Record { return c.call.Batch }

// Logger returns the app's logger with the record's topic, partition and
// offset attached.
func (c *Context) Logger() *slog.Logger {
	if c.log == nil {
		r := c.call.Record
		c.log = c.w.logger.With("topic", r.Topic, "partition", r.Partition, "offset", r.Offset)
	}
	return c.log
}

// Setting returns the app setting name (from the config file's settings,
// EDDY_SETTING_<NAME>, or --set name=value) and whether it is set.
func (c *Context) Setting(name string) (string, bool) {
	v, ok := c.w.cfg.Settings[name]
	return v, ok
}

// Produce sends rec asynchronously: it returns once rec is in the
// produce buffer. rec.Topic must be set; a nil Value sends a tombstone.
// The record being handled is not committed until rec is acknowledged by
// the broker, and if the produce fails the app stops with the error and
// the record is handled again after a restart. Prefer Output.Produce for
// typed keys and values.
//
// While producer.max_buffered_records records are unacknowledged, Produce
// blocks until an acknowledgement makes room (backpressure); it returns
// an error if c ends first, as it does when the partition is revoked or
// the worker stops: return it, and the record is handled again by the
// partition's next owner.
func (c *Context) Produce(rec *Record) error {
	if rec == nil || rec.Topic == "" {
		return fmt.Errorf("runtime: produce from %s/%d@%d: record has no topic",
			c.call.Record.Topic, c.call.Record.Partition, c.call.Record.Offset)
	}
	if err := c.w.produceGate.Acquire(c.Context); err != nil {
		return fmt.Errorf("runtime: produce to %s from %s/%d@%d: gave up waiting for room in the produce buffer "+
			"(producer.max_buffered_records %d): %w", rec.Topic,
			c.call.Record.Topic, c.call.Record.Partition, c.call.Record.Offset, c.w.cfg.ProducerMaxBufferedRecords, err)
	}
	tc := c.outputs[rec.Topic]
	if tc == nil {
		tc = c.w.tel.Topic(rec.Topic)
		c.outputs[rec.Topic] = tc
	}
	c.w.tel.Inject(c.Context, rec)
	release := c.call.Hold()
	// The client's own context, not the handler's: a produce that was
	// started must finish even if the partition is being revoked.
	gate := c.w.produceGate // c is reused for the partition's next record: not read in the promise
	c.w.groupClient().Produce(c.w.produceCtx, rec, func(_ *Record, err error) {
		gate.Release()
		if err != nil {
			tc.Failed.Add(1)
		} else {
			tc.Sent.Add(1)
		}
		release(err)
	})
	return nil
}
