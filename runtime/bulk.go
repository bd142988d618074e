package runtime

import (
	"fmt"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/internal/telemetry"
)

// bulkProcessor is the processor of a handler with OnBulk: an
// actors.BatchProcessor, so bulk batches reach OnBulk whole.
type bulkProcessor[K, V any] struct {
	*processor[K, V]
	bulk BulkHandler[K, V]
	recv BulkReceiver[K, V]
	errs BulkErrorHandler
	fin  BulkFinisher

	buf  []Message[K, V]  // decoded messages, reused across batches
	msgs []*Message[K, V] // the batch handed to the hooks
	recs []*Record        // the records of msgs
}

// newHandlerProcessor returns the processor of h for one partition: a
// bulkProcessor when h has OnBulk.
func newHandlerProcessor[K, V any](p *processor[K, V]) actors.Processor {
	bh, ok := p.h.(BulkHandler[K, V])
	if !ok {
		return p
	}
	b := &bulkProcessor[K, V]{processor: p, bulk: bh}
	b.recv, _ = p.h.(BulkReceiver[K, V])
	b.errs, _ = p.h.(BulkErrorHandler)
	b.fin, _ = p.h.(BulkFinisher)
	return b
}

// ProcessBatch decodes call.Batch and hands it to OnBulk.
func (p *bulkProcessor[K, V]) ProcessBatch(call *actors.Call) (err error) {
	start := time.Now()
	batch := call.Batch
	p.ctr.Consumed.Add(int64(len(batch)))
	p.ctr.Batches.Add(1)
	p.ctx = Context{Context: call.Ctx, call: call, w: p.w, outputs: p.outputs, scope: p.scope}
	c := &p.ctx
	if p.w.tel.Tracing() {
		var span trace.Span
		c.Context, span = p.w.tel.StartBatchSpan(c.Context, batch)
		completed := false
		defer func() { endSpan(span, completed, err) }()
		defer func() { completed = true }()
	}
	err = p.handleBatch(c, batch)
	if err != nil && call.Ctx.Err() != nil {
		return fmt.Errorf("%w: %w", actors.ErrInterrupted, err)
	}
	p.w.tel.ObserveLatency(p.ctr, time.Since(start))
	return err
}

// handleBatch runs the per-record hooks of batch, then the bulk ones. Its
// error stops the app (or, with the call's context done, is an
// interruption).
func (p *bulkProcessor[K, V]) handleBatch(c *Context, batch []*Record) error {
	if p.def != nil {
		ctx, err := p.def.DefineContext(c.Context, batch[0])
		if err != nil {
			return p.batchFailed(c, batch, fmt.Errorf("DefineContext: %w", err))
		}
		if ctx != nil {
			c.Context = ctx
		}
	}
	if cap(p.buf) < len(batch) {
		p.buf = make([]Message[K, V], len(batch))
	}
	p.buf = p.buf[:len(batch)]
	msgs := p.msgs[:0]
	for i, rec := range batch {
		msg, outcome, err := p.receive(c, rec, &p.buf[i])
		switch {
		case err != nil:
			if c.Err() != nil {
				return err
			}
			// The record's own error path; going on leaves it out.
			if err := p.failed(c, rec, err); err != nil {
				return err
			}
		case outcome != 0:
			p.finish(c, rec, outcome, nil)
		default:
			msgs = append(msgs, msg)
		}
	}
	p.msgs = msgs
	if p.recv != nil && len(msgs) > 0 {
		kept, err := p.recv.DidReceiveBulk(c, msgs)
		if err != nil {
			return p.batchFailed(c, p.records(msgs), fmt.Errorf("DidReceiveBulk: %w", err))
		}
		if dropped := len(msgs) - len(kept); dropped > 0 {
			p.ctr.Dropped.Add(int64(dropped))
		}
		msgs = kept
	}
	if len(msgs) == 0 {
		return nil
	}
	recs := p.records(msgs)
	if err := p.bulk.OnBulk(c, msgs); err != nil {
		if c.Err() != nil {
			return err
		}
		return p.batchFailed(c, recs, err)
	}
	p.ctr.Handled.Add(int64(len(msgs)))
	p.finishBatch(c, recs, Handled, nil)
	return nil
}

// AbandonBatch sends a batch that panicked on every attempt to the error
// path.
func (p *bulkProcessor[K, V]) AbandonBatch(call *actors.Call, cause error) (err error) {
	p.ctx = Context{Context: call.Ctx, call: call, w: p.w, outputs: p.outputs, scope: p.scope}
	defer func() {
		// OnBulkError panicking too would loop through restarts: stop.
		if v := recover(); v != nil {
			err = batchError(call.Batch, fmt.Errorf("OnBulkError panicked: %v (after %w)", v, cause))
		}
	}()
	return p.batchFailed(&p.ctx, call.Batch, cause)
}

// batchFailed is the error path of a batch: OnBulkError decides, else the
// app's policy. Going on skips every record of recs.
func (p *bulkProcessor[K, V]) batchFailed(c *Context, recs []*Record, err error) error {
	if span := trace.SpanFromContext(c.Context); span.IsRecording() {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	kind := errorKind(err)
	n := int64(len(recs))
	if kind == telemetry.ErrPanic {
		p.ctr.Panics.Add(n)
	} else {
		p.ctr.HandlerErrors.Add(n)
	}
	switch {
	case p.errs != nil:
		if e := p.errs.OnBulkError(c, recs, err); e != nil {
			return batchError(recs, e)
		}
	case p.w.app.errorPolicy == StopOnError:
		return batchError(recs, err)
	default:
		c.Logger().Warn("skipping batch after error", "err", err, "error_type", kind,
			"records", len(recs), "first_offset", recs[0].Offset, "last_offset", recs[len(recs)-1].Offset)
	}
	p.ctr.Skipped.Add(n)
	p.finishBatch(c, recs, Skipped, err)
	return nil
}

func (p *bulkProcessor[K, V]) finishBatch(c *Context, recs []*Record, o Outcome, err error) {
	switch {
	case p.fin != nil:
		p.fin.OnBulkFinished(c, recs, o)
	case p.processor.fin != nil:
		for _, rec := range recs {
			p.processor.fin.OnFinished(c, rec, o)
		}
	}
	for _, obs := range p.w.app.outcomes {
		for _, rec := range recs {
			obs(rec, o, err)
		}
	}
}

// records returns the records of msgs, in a slice reused across batches.
func (p *bulkProcessor[K, V]) records(msgs []*Message[K, V]) []*Record {
	recs := p.recs[:0]
	for _, m := range msgs {
		recs = append(recs, m.Record)
	}
	p.recs = recs
	return recs
}

// batchError is the error that stops the app over a batch.
func batchError(recs []*Record, err error) error {
	first, last := recs[0], recs[len(recs)-1]
	return &BatchError{Topic: first.Topic, Partition: first.Partition, First: first.Offset, Last: last.Offset, Records: len(recs), Err: err}
}

// BatchError wraps an error from handling a bulk batch with the batch's
// coordinates. App.Run returns one when the error path stops the app over
// a batch.
type BatchError struct {
	Topic       string
	Partition   int32
	First, Last int64 // offsets of the batch's first and last records
	Records     int
	Err         error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("runtime: batch %s/%d@%d..%d (%d records): %v", e.Topic, e.Partition, e.First, e.Last, e.Records, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }
