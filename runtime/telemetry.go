package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/plugin/kotel"
	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/tables"
)

// instrumentationName names Eddy's meter and tracer.
const instrumentationName = "github.com/eddy-streams/eddy"

// Error types of the eddy.messages.errors metric and of log lines.
const (
	errDecode  = "decode"
	errHandler = "handler"
	errPanic   = "panic"
	errProduce = "produce"
)

// telemetry is one worker's metrics and traces. Counts on the record path
// are atomics read at collection time, so a record costs no metric call
// but the latency histogram's.
type telemetry struct {
	group    string
	meter    metric.Meter
	registry *prometheus.Registry // serves /metrics; nil with WithMeterProvider
	kotel    *kotel.Kotel
	shutdown []func(context.Context) error

	// tracer is nil when tracing is off; nothing is then extracted,
	// started or injected.
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator

	// processDuration is the synchronous latency histogram, used only
	// with WithMeterProvider; the worker's own exporter collects the
	// partitions' latency histograms through latencyProducer instead.
	processDuration metric.Float64Histogram
	rebalances      metric.Int64Counter
	restarts        metric.Int64Counter
	commits         metric.Int64Counter
	commitFailures  metric.Int64Counter
	stalls          metric.Int64Counter
	modeSwitches    metric.Int64Counter
	stepsCompleted  metric.Int64Counter
	restoredRecords metric.Int64Counter
	restoreSeconds  metric.Float64Counter

	mu struct {
		sync.Mutex
		parts    map[actors.TopicPartition]*partitionCounters
		produced map[string]*topicCounters
	}
}

// partitionCounters count what happened to one source partition's records
// over the worker's life; they survive the partition moving away and back,
// so the counters stay monotonic.
type partitionCounters struct {
	attrs      attribute.Set // topic and partition
	topicAttrs attribute.Set // topic only, for the latency histogram
	latency    latency

	consumed          atomic.Int64
	handled           atomic.Int64
	dropped           atomic.Int64
	skipped           atomic.Int64
	tombstonesSkipped atomic.Int64
	decodeErrors      atomic.Int64
	handlerErrors     atomic.Int64
	panics            atomic.Int64
	batches           atomic.Int64 // bulk handler calls
}

// topicCounters count the records produced to one topic.
type topicCounters struct {
	attrs  attribute.Set
	sent   atomic.Int64
	failed atomic.Int64
}

// observability is how an App reports: providers given as options, else
// its own Prometheus exporter and tracing from the OTEL_* environment.
type observability struct {
	meterProvider  metric.MeterProvider
	tracerProvider trace.TracerProvider
}

// WithMeterProvider sends the app's metrics to mp instead of the worker's
// own Prometheus exporter; /metrics then answers 404. Default: a Prometheus
// exporter served at /metrics.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return func(a *App) { a.obs.meterProvider = mp }
}

// WithTracerProvider traces handled records with tp. Default: tracing is
// off unless the standard OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_*
// variables ask for it.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(a *App) { a.obs.tracerProvider = tp }
}

// newTelemetry builds the worker's instruments. Close it with close.
func newTelemetry(ctx context.Context, app *App, group string) (*telemetry, error) {
	t := &telemetry{group: group}
	t.mu.parts = make(map[actors.TopicPartition]*partitionCounters)
	t.mu.produced = make(map[string]*topicCounters)
	// One resource for metrics and traces: service.name is the app's
	// name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say
	// otherwise.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", app.name)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("runtime: telemetry resource: %w", err)
	}

	mp := app.obs.meterProvider
	if mp == nil {
		t.registry = prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo(),
			otelprom.WithProducer(&latencyProducer{t: t, start: time.Now()}))
		if err != nil {
			return nil, fmt.Errorf("runtime: prometheus exporter: %w", err)
		}
		p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
		t.shutdown = append(t.shutdown, p.Shutdown)
		mp = p
	}
	t.meter = mp.Meter(instrumentationName)
	t.kotel = kotel.NewKotel(kotel.WithMeter(kotel.NewMeter(kotel.MeterProvider(mp))))
	if err := t.instruments(); err != nil {
		return nil, fmt.Errorf("runtime: metrics: %w", err)
	}
	if app.obs.meterProvider != nil {
		h, err := t.meter.Float64Histogram("messaging.process.duration", metric.WithUnit("s"),
			metric.WithDescription("Time a handler took for one record, decoding and hooks included."),
			metric.WithExplicitBucketBoundaries(latencyBounds...))
		if err != nil {
			return nil, fmt.Errorf("runtime: metrics: %w", err)
		}
		t.processDuration = h
	}

	tp := app.obs.tracerProvider
	if tp == nil && tracingFromEnv() {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("runtime: trace exporter from OTEL_* environment: %w", err)
		}
		p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
		t.shutdown = append(t.shutdown, p.Shutdown)
		tp = p
	}
	if tp != nil {
		t.tracer = tp.Tracer(instrumentationName)
		t.propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
	}
	return t, nil
}

// tracingFromEnv reports whether the standard OpenTelemetry variables ask
// for traces. Unlike the SDK's default, Eddy traces nothing unless asked.
// Empty variables count as unset, as the OpenTelemetry spec says.
func tracingFromEnv() bool {
	if v := os.Getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

func (t *telemetry) instruments() error {
	m := t.meter
	var errs []error
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	t.rebalances, err = m.Int64Counter("eddy.rebalances", metric.WithUnit("{partition}"),
		metric.WithDescription("Partitions assigned, revoked or lost, by eddy.rebalance.kind."))
	check(err)
	t.restarts, err = m.Int64Counter("eddy.handler.restarts", metric.WithUnit("{restart}"),
		metric.WithDescription("Handler actors restarted after a panic."))
	check(err)
	t.commits, err = m.Int64Counter("eddy.commits", metric.WithUnit("{commit}"),
		metric.WithDescription("Offset commits that succeeded."))
	check(err)
	t.commitFailures, err = m.Int64Counter("eddy.commit.failures", metric.WithUnit("{commit}"),
		metric.WithDescription("Offset commits that failed."))
	check(err)
	t.stalls, err = m.Int64Counter("eddy.partition.stalls", metric.WithUnit("{stall}"),
		metric.WithDescription("Partitions found stalled and restarted."))
	check(err)
	t.modeSwitches, err = m.Int64Counter("eddy.mode.switches", metric.WithUnit("{switch}"),
		metric.WithDescription("Partitions switched to the mode eddy.mode (single or bulk)."))
	check(err)
	t.stepsCompleted, err = m.Int64Counter("eddy.steps.completed", metric.WithUnit("{step}"),
		metric.WithDescription("Steps of the step plan completed on this worker."))
	check(err)
	t.restoredRecords, err = m.Int64Counter("eddy.table.restored.records", metric.WithUnit("{record}"),
		metric.WithDescription("Changelog records replayed into table shards when partitions were assigned."))
	check(err)
	t.restoreSeconds, err = m.Float64Counter("eddy.table.restore.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent restoring table shards."))
	check(err)

	consumed, err := m.Int64ObservableCounter("messaging.client.consumed.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Records handed to a handler."))
	check(err)
	outcomes, err := m.Int64ObservableCounter("eddy.messages.outcomes", metric.WithUnit("{message}"),
		metric.WithDescription("Records finished, by eddy.outcome: handled, dropped, skipped, skipped_tombstone."))
	check(err)
	sent, err := m.Int64ObservableCounter("messaging.client.sent.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Records produced by handlers and acknowledged."))
	check(err)
	errorsCtr, err := m.Int64ObservableCounter("eddy.messages.errors", metric.WithUnit("{message}"),
		metric.WithDescription("Records that failed, by error.type: decode, handler, panic, produce."))
	check(err)
	batches, err := m.Int64ObservableCounter("eddy.bulk.batches", metric.WithUnit("{batch}"),
		metric.WithDescription("Bulk batches handed to OnBulk."))
	check(err)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	// Present at 0 from the start, so rate() and alerts see a series.
	t.commits.Add(context.Background(), 0)
	t.commitFailures.Add(context.Background(), 0)
	t.stepsCompleted.Add(context.Background(), 0)
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, c := range t.mu.parts {
			attrs := metric.WithAttributeSet(c.attrs)
			o.ObserveInt64(consumed, c.consumed.Load(), attrs)
			o.ObserveInt64(batches, c.batches.Load(), attrs)
			for _, oc := range []struct {
				outcome string
				n       int64
			}{{"handled", c.handled.Load()}, {"dropped", c.dropped.Load()}, {"skipped", c.skipped.Load()}, {"skipped_tombstone", c.tombstonesSkipped.Load()}} {
				o.ObserveInt64(outcomes, oc.n, attrs, metric.WithAttributes(attribute.String("eddy.outcome", oc.outcome)))
			}
			for _, ec := range []struct {
				kind string
				n    int64
			}{{errDecode, c.decodeErrors.Load()}, {errHandler, c.handlerErrors.Load()}, {errPanic, c.panics.Load()}} {
				o.ObserveInt64(errorsCtr, ec.n, attrs, metric.WithAttributes(attribute.String("error.type", ec.kind)))
			}
		}
		for _, c := range t.mu.produced {
			attrs := metric.WithAttributeSet(c.attrs)
			o.ObserveInt64(sent, c.sent.Load(), attrs)
			o.ObserveInt64(errorsCtr, c.failed.Load(), attrs, metric.WithAttributes(attribute.String("error.type", errProduce)))
		}
		return nil
	}, consumed, outcomes, sent, errorsCtr, batches)
	return err
}

// restored records a finished shard restore.
func (t *telemetry) restored(st tables.RestoreStats) {
	attrs := metric.WithAttributes(attribute.String("eddy.table", st.Table),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(int(st.Partition))))
	t.restoredRecords.Add(context.Background(), st.Records, attrs)
	t.restoreSeconds.Add(context.Background(), st.Duration.Seconds(), attrs)
}

// observeTables registers the gauge of the keys in each table shard held.
func (t *telemetry) observeTables(shards func(*tables.Def) []*tables.Shard, defs []*tables.Def) error {
	keys, err := t.meter.Int64ObservableGauge("eddy.table.keys", metric.WithUnit("{key}"),
		metric.WithDescription("Keys in each table shard this worker holds (RocksDB: an estimate; writes not yet committed excluded)."))
	if err != nil {
		return err
	}
	_, err = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, d := range defs {
			for _, sh := range shards(d) {
				n, err := sh.Len()
				if err != nil {
					continue
				}
				o.ObserveInt64(keys, n, metric.WithAttributes(attribute.String("eddy.table", d.Name()),
					attribute.String("messaging.destination.partition.id", strconv.Itoa(int(sh.Partition())))))
			}
		}
		return nil
	}, keys)
	return err
}

// observeEngine registers the gauges read from the engine's status.
func (t *telemetry) observeEngine(e *actors.Engine) error {
	lag, err := t.meter.Int64ObservableGauge("eddy.consumer.lag", metric.WithUnit("{message}"),
		metric.WithDescription("Records between a partition's high watermark and the next record to handle."))
	if err != nil {
		return err
	}
	mode, err := t.meter.Int64ObservableGauge("eddy.partition.mode",
		metric.WithDescription("1 for the mode (eddy.mode) each assigned partition runs in."))
	if err != nil {
		return err
	}
	_, err = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, p := range e.Status() {
			attrs := metric.WithAttributeSet(t.partitionAttrs(actors.TopicPartition{Topic: p.Topic, Partition: p.Partition}))
			if p.Lag >= 0 {
				o.ObserveInt64(lag, p.Lag, attrs)
			}
			o.ObserveInt64(mode, 1, attrs, metric.WithAttributes(attribute.String("eddy.mode", p.Mode)))
		}
		return nil
	}, lag, mode)
	return err
}

func (t *telemetry) partitionAttrs(tp actors.TopicPartition) attribute.Set {
	return attribute.NewSet(
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.consumer.group.name", t.group),
		attribute.String("messaging.destination.name", tp.Topic),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(int(tp.Partition))),
	)
}

// partition returns the counters of a source partition, made on first use.
func (t *telemetry) partition(tp actors.TopicPartition) *partitionCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.mu.parts[tp]
	if c == nil {
		c = &partitionCounters{attrs: t.partitionAttrs(tp)}
		// Present at 0 from the partition's first assignment.
		t.restarts.Add(context.Background(), 0, metric.WithAttributeSet(c.attrs))
		t.stalls.Add(context.Background(), 0, metric.WithAttributeSet(c.attrs))
		// The latency histogram is per topic: a label per partition
		// multiplies its series for little insight.
		c.topicAttrs = attribute.NewSet(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.consumer.group.name", t.group),
			attribute.String("messaging.destination.name", tp.Topic))
		t.mu.parts[tp] = c
	}
	return c
}

// topic returns the counters of records produced to topic.
func (t *telemetry) topic(topic string) *topicCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.mu.produced[topic]
	if c == nil {
		c = &topicCounters{attrs: attribute.NewSet(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", topic))}
		t.mu.produced[topic] = c
	}
	return c
}

// totals sums the counters for /status.
func (t *telemetry) totals() RecordCounts {
	t.mu.Lock()
	defer t.mu.Unlock()
	var r RecordCounts
	for _, c := range t.mu.parts {
		r.Consumed += c.consumed.Load()
		r.Handled += c.handled.Load()
		r.Dropped += c.dropped.Load()
		r.Skipped += c.skipped.Load()
		r.TombstonesSkipped += c.tombstonesSkipped.Load()
		r.DecodeErrors += c.decodeErrors.Load()
		r.HandlerErrors += c.handlerErrors.Load()
		r.Panics += c.panics.Load()
	}
	for _, c := range t.mu.produced {
		r.Produced += c.sent.Load()
		r.ProduceErrors += c.failed.Load()
	}
	return r
}

// close flushes and stops the providers the worker made.
func (t *telemetry) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, f := range t.shutdown {
		_ = f(ctx)
	}
}

// The actors.Observer methods: low-rate engine events.

func (t *telemetry) Rebalanced(kind string, n int) {
	t.rebalances.Add(context.Background(), int64(n), metric.WithAttributes(attribute.String("eddy.rebalance.kind", kind)))
}

func (t *telemetry) HandlerRestarted(tp actors.TopicPartition) {
	t.restarts.Add(context.Background(), 1, metric.WithAttributeSet(t.partitionAttrs(tp)))
}

func (t *telemetry) Committed(n int, err error) {
	if err != nil {
		t.commitFailures.Add(context.Background(), 1)
		return
	}
	t.commits.Add(context.Background(), 1)
}

func (t *telemetry) Stalled(tp actors.TopicPartition) {
	t.stalls.Add(context.Background(), 1, metric.WithAttributeSet(t.partitionAttrs(tp)))
}

// ModeSwitched counts a partition's switch to mode.
func (t *telemetry) ModeSwitched(tp actors.TopicPartition, mode string) {
	t.modeSwitches.Add(context.Background(), 1, metric.WithAttributeSet(t.partitionAttrs(tp)),
		metric.WithAttributes(attribute.String("eddy.mode", mode)))
}

// StepCompleted counts a completed step of the step plan.
func (t *telemetry) StepCompleted(int) {
	t.stepsCompleted.Add(context.Background(), 1)
}

// observeLatency records one handler call's duration.
func (t *telemetry) observeLatency(c *partitionCounters, d time.Duration) {
	if t.processDuration != nil {
		t.processDuration.Record(context.Background(), d.Seconds(), metric.WithAttributeSet(c.topicAttrs))
		return
	}
	c.latency.observe(d)
}

// startSpan starts the span of one record, child of the trace context in
// its headers; ctx is returned unchanged when tracing is off.
func (t *telemetry) startSpan(ctx context.Context, rec *Record) (context.Context, trace.Span) {
	ctx = t.propagator.Extract(ctx, kotel.NewRecordCarrier(rec))
	return t.tracer.Start(ctx, "process "+rec.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(t.processAttrs(rec)...))
}

// processAttrs are the attributes of the consumer span of rec's call (for
// a batch, its first record).
func (t *telemetry) processAttrs(rec *Record, more ...attribute.KeyValue) []attribute.KeyValue {
	return append([]attribute.KeyValue{
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.operation.name", "process"),
		attribute.String("messaging.operation.type", "process"),
		attribute.String("messaging.destination.name", rec.Topic),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(int(rec.Partition))),
		attribute.Int64("messaging.kafka.offset", rec.Offset),
		attribute.String("messaging.consumer.group.name", t.group),
	}, more...)
}

// startBatchSpan starts the consumer span of a bulk batch: a child of the
// first record's trace context, linked to the others' (up to
// maxBatchLinks).
func (t *telemetry) startBatchSpan(ctx context.Context, batch []*Record) (context.Context, trace.Span) {
	first, last := batch[0], batch[len(batch)-1]
	var links []trace.Link
	for _, rec := range batch[1:min(len(batch), maxBatchLinks+1)] {
		sc := trace.SpanContextFromContext(t.propagator.Extract(context.Background(), kotel.NewRecordCarrier(rec)))
		if sc.IsValid() {
			links = append(links, trace.Link{SpanContext: sc})
		}
	}
	ctx = t.propagator.Extract(ctx, kotel.NewRecordCarrier(first))
	return t.tracer.Start(ctx, "process "+first.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithLinks(links...),
		trace.WithAttributes(t.processAttrs(first,
			attribute.Int64("eddy.batch.last_offset", last.Offset),
			attribute.Int("messaging.batch.message_count", len(batch)))...))
}

// maxBatchLinks caps the span links of a bulk batch's span.
const maxBatchLinks = 128

// inject writes ctx's trace context into rec's headers, so the trace
// follows the record to whoever consumes it.
func (t *telemetry) inject(ctx context.Context, rec *Record) {
	if t.tracer != nil {
		t.propagator.Inject(ctx, kotel.NewRecordCarrier(rec))
	}
}
