package runtime

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/internal/telemetry"
	"github.com/eddy-streams/eddy/serde"
)

// processor runs one typed handler for one partition: it is the
// actors.Processor that decodes, calls the hooks in order and applies the
// error path. Its calls never overlap, so it reuses one Context and one
// Message across records.
type processor[K, V any] struct {
	w      *worker
	keys   serde.Codec[K]
	values serde.Codec[V]

	h     Handler[K, V]
	keyed []keyStage[K] // the leading key filters, run before the value is decoded
	steps []Stage[K, V] // the stages after them
	tomb  TombstoneHandler[K, V]
	onErr ErrorHandler
	recv  Receiver[K, V]
	fin   Finisher
	def   ContextDefiner

	scope   shards.Scope // the tables the calls address; nil without tables
	ctr     *telemetry.PartitionCounters
	outputs map[string]*telemetry.TopicCounters // cache of the telemetry's, by topic

	ctx Context
	msg Message[K, V]
}

func newProcessor[K, V any](w *worker, tp actors.TopicPartition, scope shards.Scope, h Handler[K, V], stages []Stage[K, V], keys serde.Codec[K], values serde.Codec[V]) *processor[K, V] {
	p := &processor[K, V]{w: w, keys: keys, values: values, h: h, scope: scope,
		ctr: w.tel.Partition(tp), outputs: make(map[string]*telemetry.TopicCounters)}
	for len(stages) > 0 {
		ks, ok := stages[0].(keyStage[K])
		if !ok {
			break
		}
		p.keyed, stages = append(p.keyed, ks), stages[1:]
	}
	p.steps = stages
	p.tomb, _ = h.(TombstoneHandler[K, V])
	p.onErr, _ = h.(ErrorHandler)
	p.recv, _ = h.(Receiver[K, V])
	p.fin, _ = h.(Finisher)
	p.def, _ = h.(ContextDefiner)
	return p
}

func (p *processor[K, V]) Process(call *actors.Call) (err error) {
	start := time.Now()
	p.ctr.Consumed.Add(1)
	p.ctx = Context{Context: call.Ctx, call: call, w: p.w, outputs: p.outputs, scope: p.scope}
	c := &p.ctx
	if p.w.tel.Tracing() {
		var span trace.Span
		c.Context, span = p.w.tel.StartSpan(c.Context, call.Record)
		completed := false
		defer func() { endSpan(span, completed, err) }()
		defer func() { completed = true }()
	}
	outcome, err := p.handle(c)
	if err != nil {
		if call.Ctx.Err() != nil {
			// Cut short by a stop: not handled, not an error of the record.
			return fmt.Errorf("%w: %w", actors.ErrInterrupted, err)
		}
		err = p.failed(c, call.Record, err)
	} else {
		p.finish(c, call.Record, outcome, nil)
	}
	p.w.tel.ObserveLatency(p.ctr, time.Since(start))
	return err
}

func (p *processor[K, V]) Abandon(call *actors.Call, cause error) (err error) {
	p.ctx = Context{Context: call.Ctx, call: call, w: p.w, outputs: p.outputs, scope: p.scope}
	rec := call.Record
	defer func() {
		// OnError itself panicking on a poisoned record would loop through
		// restarts for ever: stop instead.
		if v := recover(); v != nil {
			err = &RecordError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
				Err: fmt.Errorf("OnError panicked: %v (after %w)", v, cause)}
		}
	}()
	return p.failed(&p.ctx, rec, cause)
}

// handle runs the hooks of one record up to its handler.
func (p *processor[K, V]) handle(c *Context) (Outcome, error) {
	rec := c.call.Record
	if p.def != nil {
		ctx, err := p.def.DefineContext(c.Context, rec)
		if err != nil {
			return 0, fmt.Errorf("DefineContext: %w", err)
		}
		if ctx != nil {
			c.Context = ctx
		}
	}
	msg, outcome, err := p.receive(c, rec, &p.msg)
	if err != nil || outcome != 0 {
		return outcome, err
	}
	if rec.Value == nil {
		err = p.tomb.OnTombstone(c, msg)
	} else {
		err = p.h.OnMessage(c, msg)
	}
	if err != nil {
		return 0, err
	}
	p.ctr.Handled.Add(1)
	return Handled, nil
}

// receive decodes rec into msg and passes it through DidReceive. It
// returns the message to handle, or the outcome of a record that is not to
// be handled (a tombstone without OnTombstone, or dropped).
func (p *processor[K, V]) receive(c *Context, rec *Record, msg *Message[K, V]) (*Message[K, V], Outcome, error) {
	*msg = Message[K, V]{Record: rec}
	if rec.Key != nil {
		k, err := p.keys.Decode(rec.Key)
		if err != nil {
			return nil, 0, &DecodeError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Part: "key", Err: err}
		}
		msg.Key = k
	}
	tombstone := rec.Value == nil
	if tombstone && p.tomb == nil {
		p.ctr.TombstonesSkipped.Add(1)
		return nil, SkippedTombstone, nil
	}
	for _, ks := range p.keyed {
		if !ks.passes(msg.Key) {
			p.ctr.Dropped.Add(1)
			return nil, Dropped, nil
		}
	}
	if !tombstone {
		v, err := p.values.Decode(rec.Value)
		if err != nil {
			return nil, 0, &DecodeError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Part: "value", Err: err}
		}
		msg.Value = v
	}
	for _, st := range p.steps {
		m, err := st.Process(c, msg)
		if err != nil {
			return nil, 0, fmt.Errorf("stage %T: %w", st, err)
		}
		if m == nil {
			p.ctr.Dropped.Add(1)
			return nil, Dropped, nil
		}
		msg = m
	}
	if p.recv != nil {
		m, err := p.recv.DidReceive(c, msg)
		if err != nil {
			return nil, 0, fmt.Errorf("DidReceive: %w", err)
		}
		if m == nil {
			p.ctr.Dropped.Add(1)
			return nil, Dropped, nil
		}
		msg = m
	}
	return msg, 0, nil
}

// failed is the error path of rec: OnError decides, else the app's policy.
func (p *processor[K, V]) failed(c *Context, rec *Record, err error) error {
	if span := trace.SpanFromContext(c.Context); span.IsRecording() {
		// Skipped or not, the record failed: the trace must say so.
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	kind := errorKind(err)
	switch kind {
	case telemetry.ErrDecode:
		p.ctr.DecodeErrors.Add(1)
	case telemetry.ErrPanic:
		p.ctr.Panics.Add(1)
	default:
		p.ctr.HandlerErrors.Add(1)
	}
	stop := func(cause error) error {
		return &RecordError{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset, Err: cause}
	}
	if p.onErr != nil {
		if e := p.onErr.OnError(c, rec, err); e != nil {
			return stop(e)
		}
	} else if p.w.app.errorPolicy == StopOnError {
		return stop(err)
	} else {
		c.Logger().Warn("skipping record after error", "err", err, "error_type", kind)
	}
	p.ctr.Skipped.Add(1)
	p.finish(c, rec, Skipped, err)
	return nil
}

// finish reports the end of rec's handling: to OnFinished, and to the
// app's outcome observer with the error that made it Skipped.
func (p *processor[K, V]) finish(c *Context, rec *Record, o Outcome, err error) {
	if p.fin != nil {
		p.fin.OnFinished(c, rec, o)
	}
	for _, obs := range p.w.app.outcomes {
		obs(rec, o, err)
	}
}

// endSpan ends the span of a handler call: with an error status when the
// call panicked (it did not complete: deferred without recover, the panic
// goes on to the handler actor, which retries) or returned an error that
// stops the app.
func endSpan(span trace.Span, completed bool, err error) {
	switch {
	case !completed:
		span.SetStatus(codes.Error, "handler panicked")
	case err != nil:
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// errorKind names the kind of a record's error for logs and counters.
func errorKind(err error) string {
	var de *DecodeError
	var pe *PanicError
	switch {
	case errors.As(err, &de):
		return telemetry.ErrDecode
	case errors.As(err, &pe):
		return telemetry.ErrPanic
	default:
		return telemetry.ErrHandler
	}
}
