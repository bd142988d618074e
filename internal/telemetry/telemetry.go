package telemetry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/modes"
)

// instrumentationName names Eddy's meter and tracer.
const instrumentationName = "github.com/eddy-streams/eddy"

// Error types of the eddy.messages.errors metric and of log lines.
const (
	ErrDecode  = "decode"
	ErrHandler = "handler"
	ErrPanic   = "panic"
	errProduce = "produce"
)

// Telemetry is one worker's metrics and traces. Counts on the record path
// are atomics read at collection time, so a record costs no metric call
// but the latency histogram's. Its methods are safe for concurrent use.
type Telemetry struct {
	group    string
	meter    metric.Meter
	registry *prometheus.Registry // serves /metrics; nil with a MeterProvider given
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
	rejoins         metric.Int64Counter

	mu struct {
		sync.Mutex
		parts    map[actors.TopicPartition]*PartitionCounters
		produced map[string]*TopicCounters
	}
}

// PartitionCounters count what happened to one source partition's records
// over the worker's life; they survive the partition moving away and back,
// so the counters stay monotonic. The partition's processor adds to them.
type PartitionCounters struct {
	attrs      attribute.Set // topic and partition
	topicAttrs attribute.Set // topic only, for the latency histogram
	latency    latency

	Consumed          atomic.Int64
	Handled           atomic.Int64
	Dropped           atomic.Int64
	Skipped           atomic.Int64
	TombstonesSkipped atomic.Int64
	DecodeErrors      atomic.Int64
	HandlerErrors     atomic.Int64
	Panics            atomic.Int64
	Batches           atomic.Int64 // bulk handler calls
}

// TopicCounters count the records produced to one topic.
type TopicCounters struct {
	attrs  attribute.Set
	Sent   atomic.Int64
	Failed atomic.Int64
}

// Config configures New.
type Config struct {
	// Service is service.name, unless OTEL_SERVICE_NAME or
	// OTEL_RESOURCE_ATTRIBUTES say otherwise: the app's name.
	Service string
	// Group is the consumer group, an attribute of every series.
	Group string
	// MeterProvider receives the metrics. Default: a Prometheus exporter
	// served by Handler.
	MeterProvider metric.MeterProvider
	// TracerProvider traces handled records. Default: tracing is off
	// unless the standard OTEL_TRACES_EXPORTER or OTEL_EXPORTER_OTLP_*
	// variables ask for it.
	TracerProvider trace.TracerProvider
}

// New builds a worker's instruments. Close it once the Kafka client is
// closed: it flushes what the client reported.
func New(ctx context.Context, cfg Config) (*Telemetry, error) {
	t := &Telemetry{group: cfg.Group}
	t.mu.parts = make(map[actors.TopicPartition]*PartitionCounters)
	t.mu.produced = make(map[string]*TopicCounters)
	// One resource for metrics and traces: service.name is the app's
	// name unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES say
	// otherwise.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", cfg.Service)),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}

	mp := cfg.MeterProvider
	if mp == nil {
		t.registry = prometheus.NewRegistry()
		exp, err := otelprom.New(otelprom.WithRegisterer(t.registry), otelprom.WithoutScopeInfo(),
			otelprom.WithProducer(&latencyProducer{t: t, start: time.Now()}))
		if err != nil {
			return nil, fmt.Errorf("telemetry: prometheus exporter: %w", err)
		}
		p := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
		t.shutdown = append(t.shutdown, p.Shutdown)
		mp = p
	}
	t.meter = mp.Meter(instrumentationName)
	t.kotel = kotel.NewKotel(kotel.WithMeter(kotel.NewMeter(kotel.MeterProvider(mp))))
	if err := t.instruments(); err != nil {
		return nil, fmt.Errorf("telemetry: metrics: %w", err)
	}
	if cfg.MeterProvider != nil {
		h, err := t.meter.Float64Histogram("messaging.process.duration", metric.WithUnit("s"),
			metric.WithDescription("Time a handler took for one record, decoding and hooks included."),
			metric.WithExplicitBucketBoundaries(latencyBounds...))
		if err != nil {
			return nil, fmt.Errorf("telemetry: metrics: %w", err)
		}
		t.processDuration = h
	}

	tp := cfg.TracerProvider
	if tp == nil && tracingFromEnv() {
		exp, err := autoexport.NewSpanExporter(ctx)
		if err != nil {
			return nil, fmt.Errorf("telemetry: trace exporter from OTEL_* environment: %w", err)
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

// Handler serves the metrics in the Prometheus text format, or nil when
// they go to a MeterProvider given in Config.
func (t *Telemetry) Handler() http.Handler {
	if t.registry == nil {
		return nil
	}
	return promhttp.HandlerFor(t.registry, promhttp.HandlerOpts{})
}

// ClientHooks are the Kafka client's hooks that report its metrics.
func (t *Telemetry) ClientHooks() []kgo.Hook { return t.kotel.Hooks() }

// Tracing reports whether records are traced.
func (t *Telemetry) Tracing() bool { return t.tracer != nil }

// tracingFromEnv reports whether the standard OpenTelemetry variables ask
// for traces. Unlike the SDK's default, Eddy traces nothing unless asked.
// Empty variables count as unset, as the OpenTelemetry spec says.
func tracingFromEnv() bool {
	if v := os.Getenv("OTEL_TRACES_EXPORTER"); v != "" {
		return v != "none"
	}
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

func (t *Telemetry) instruments() error {
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
	t.rejoins, err = m.Int64Counter("eddy.group.rejoins", metric.WithUnit("{rejoin}"),
		metric.WithDescription("Times the worker gave up a group membership that was out of a stable generation for longer than the rebalance timeout plus the session timeout, and rejoined as a new member."))
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
	t.rejoins.Add(context.Background(), 0, metric.WithAttributeSet(t.groupAttrs()))
	_, err = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t.mu.Lock()
		defer t.mu.Unlock()
		for _, c := range t.mu.parts {
			attrs := metric.WithAttributeSet(c.attrs)
			o.ObserveInt64(consumed, c.Consumed.Load(), attrs)
			o.ObserveInt64(batches, c.Batches.Load(), attrs)
			for _, oc := range []struct {
				outcome string
				n       int64
			}{{"handled", c.Handled.Load()}, {"dropped", c.Dropped.Load()}, {"skipped", c.Skipped.Load()}, {"skipped_tombstone", c.TombstonesSkipped.Load()}} {
				o.ObserveInt64(outcomes, oc.n, attrs, metric.WithAttributes(attribute.String("eddy.outcome", oc.outcome)))
			}
			for _, ec := range []struct {
				kind string
				n    int64
			}{{ErrDecode, c.DecodeErrors.Load()}, {ErrHandler, c.HandlerErrors.Load()}, {ErrPanic, c.Panics.Load()}} {
				o.ObserveInt64(errorsCtr, ec.n, attrs, metric.WithAttributes(attribute.String("error.type", ec.kind)))
			}
		}
		for _, c := range t.mu.produced {
			attrs := metric.WithAttributeSet(c.attrs)
			o.ObserveInt64(sent, c.Sent.Load(), attrs)
			o.ObserveInt64(errorsCtr, c.Failed.Load(), attrs, metric.WithAttributes(attribute.String("error.type", errProduce)))
		}
		return nil
	}, consumed, outcomes, sent, errorsCtr, batches)
	return err
}

// Restored records a finished restore of a table's partition.
func (t *Telemetry) Restored(table string, partition int32, records int64, took time.Duration) {
	attrs := metric.WithAttributes(attribute.String("eddy.table", table),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(int(partition))))
	t.restoredRecords.Add(context.Background(), records, attrs)
	t.restoreSeconds.Add(context.Background(), took.Seconds(), attrs)
}

// ObserveTables registers the gauge of the keys in each table shard held:
// at each collection, shards reports every table shard with its key count.
func (t *Telemetry) ObserveTables(shards func(report func(table string, partition int32, keys int64))) error {
	keys, err := t.meter.Int64ObservableGauge("eddy.table.keys", metric.WithUnit("{key}"),
		metric.WithDescription("Keys in each table shard this worker holds (RocksDB: an estimate; writes not yet committed excluded)."))
	if err != nil {
		return err
	}
	_, err = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		shards(func(table string, partition int32, n int64) {
			o.ObserveInt64(keys, n, metric.WithAttributes(attribute.String("eddy.table", table),
				attribute.String("messaging.destination.partition.id", strconv.Itoa(int(partition)))))
		})
		return nil
	}, keys)
	return err
}

// ObserveProduceBuffer registers the instruments of the handlers' produce
// buffer: at each collection, buffered returns the records produced and
// not yet acknowledged, and waits the Produce calls so far that found the
// buffer full.
func (t *Telemetry) ObserveProduceBuffer(buffered, waits func() int64) error {
	records, err := t.meter.Int64ObservableGauge("eddy.produce.buffered", metric.WithUnit("{record}"),
		metric.WithDescription("Records handlers produced that the brokers have not acknowledged yet (at most producer.max_buffered_records)."))
	if err != nil {
		return err
	}
	waited, err := t.meter.Int64ObservableCounter("eddy.produce.waits", metric.WithUnit("{call}"),
		metric.WithDescription("Produce calls that found the produce buffer full and waited for room (backpressure)."))
	if err != nil {
		return err
	}
	_, err = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		o.ObserveInt64(records, buffered())
		o.ObserveInt64(waited, waits())
		return nil
	}, records, waited)
	return err
}

// ObserveEngine registers the gauges read from the engine's status at each
// collection. current returns the engine running now (the worker replaces
// it when it rejoins its group), or nil.
func (t *Telemetry) ObserveEngine(current func() *actors.Engine) error {
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
	unstable, err := t.meter.Float64ObservableGauge("eddy.group.unstable", metric.WithUnit("s"),
		metric.WithDescription("How long this worker has not been in a stable generation of its group (the group Stable and listing it); 0 while it is. Classic group protocol only."))
	if err != nil {
		return err
	}
	_, err = t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		e := current()
		if e == nil {
			return nil
		}
		if g := e.Group(); g.Watched {
			o.ObserveFloat64(unstable, g.UnstableSeconds, metric.WithAttributeSet(t.groupAttrs()))
		}
		for _, p := range e.Status() {
			attrs := metric.WithAttributeSet(t.partitionAttrs(actors.TopicPartition{Topic: p.Topic, Partition: p.Partition}))
			if p.Lag >= 0 {
				o.ObserveInt64(lag, p.Lag, attrs)
			}
			o.ObserveInt64(mode, 1, attrs, metric.WithAttributes(attribute.String("eddy.mode", p.Mode.String())))
		}
		return nil
	}, lag, mode, unstable)
	return err
}

// groupAttrs are the attributes of the group's series.
func (t *Telemetry) groupAttrs() attribute.Set {
	return attribute.NewSet(
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.consumer.group.name", t.group))
}

func (t *Telemetry) partitionAttrs(tp actors.TopicPartition) attribute.Set {
	return attribute.NewSet(
		attribute.String("messaging.system", "kafka"),
		attribute.String("messaging.consumer.group.name", t.group),
		attribute.String("messaging.destination.name", tp.Topic),
		attribute.String("messaging.destination.partition.id", strconv.Itoa(int(tp.Partition))),
	)
}

// Partition returns the counters of a source partition, made on first use.
func (t *Telemetry) Partition(tp actors.TopicPartition) *PartitionCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.mu.parts[tp]
	if c == nil {
		c = &PartitionCounters{attrs: t.partitionAttrs(tp)}
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

// Topic returns the counters of records produced to topic, made on first
// use.
func (t *Telemetry) Topic(topic string) *TopicCounters {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.mu.produced[topic]
	if c == nil {
		c = &TopicCounters{attrs: attribute.NewSet(
			attribute.String("messaging.system", "kafka"),
			attribute.String("messaging.destination.name", topic))}
		t.mu.produced[topic] = c
	}
	return c
}

// Counts are the record counts of a worker since it started.
type Counts struct {
	Consumed          int64
	Handled           int64
	Dropped           int64
	Skipped           int64
	TombstonesSkipped int64
	DecodeErrors      int64
	HandlerErrors     int64
	Panics            int64
	Produced          int64
	ProduceErrors     int64
}

// Totals sums the counters.
func (t *Telemetry) Totals() Counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	var r Counts
	for _, c := range t.mu.parts {
		r.Consumed += c.Consumed.Load()
		r.Handled += c.Handled.Load()
		r.Dropped += c.Dropped.Load()
		r.Skipped += c.Skipped.Load()
		r.TombstonesSkipped += c.TombstonesSkipped.Load()
		r.DecodeErrors += c.DecodeErrors.Load()
		r.HandlerErrors += c.HandlerErrors.Load()
		r.Panics += c.Panics.Load()
	}
	for _, c := range t.mu.produced {
		r.Produced += c.Sent.Load()
		r.ProduceErrors += c.Failed.Load()
	}
	return r
}

// Close flushes and stops the providers New made.
func (t *Telemetry) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, f := range t.shutdown {
		_ = f(ctx)
	}
}

// The actors.Observer methods: low-rate engine events.

var _ actors.Observer = (*Telemetry)(nil)

// Rebalanced counts partitions assigned, revoked or lost.
func (t *Telemetry) Rebalanced(kind string, n int) {
	t.rebalances.Add(context.Background(), int64(n), metric.WithAttributes(attribute.String("eddy.rebalance.kind", kind)))
}

// HandlerRestarted counts a handler actor's restart after a panic.
func (t *Telemetry) HandlerRestarted(tp actors.TopicPartition) {
	t.restarts.Add(context.Background(), 1, metric.WithAttributeSet(t.partitionAttrs(tp)))
}

// Committed counts a commit, or a failed one.
func (t *Telemetry) Committed(n int, err error) {
	if err != nil {
		t.commitFailures.Add(context.Background(), 1)
		return
	}
	t.commits.Add(context.Background(), 1)
}

// Stalled counts a partition found stalled.
func (t *Telemetry) Stalled(tp actors.TopicPartition) {
	t.stalls.Add(context.Background(), 1, metric.WithAttributeSet(t.partitionAttrs(tp)))
}

// ModeSwitched counts a partition's switch to mode.
func (t *Telemetry) ModeSwitched(tp actors.TopicPartition, mode modes.Mode) {
	t.modeSwitches.Add(context.Background(), 1, metric.WithAttributeSet(t.partitionAttrs(tp)),
		metric.WithAttributes(attribute.String("eddy.mode", mode.String())))
}

// StepCompleted counts a completed step of the step plan.
func (t *Telemetry) StepCompleted(int) {
	t.stepsCompleted.Add(context.Background(), 1)
}

// GroupRejoin counts a rejoin of the group as a new member.
func (t *Telemetry) GroupRejoin(actors.GroupStatus) {
	t.rejoins.Add(context.Background(), 1, metric.WithAttributeSet(t.groupAttrs()))
}

// ObserveLatency records one handler call's duration.
func (t *Telemetry) ObserveLatency(c *PartitionCounters, d time.Duration) {
	if t.processDuration != nil {
		t.processDuration.Record(context.Background(), d.Seconds(), metric.WithAttributeSet(c.topicAttrs))
		return
	}
	c.latency.observe(d)
}

// StartSpan starts the span of one record, child of the trace context in
// its headers. Call it only when Tracing.
func (t *Telemetry) StartSpan(ctx context.Context, rec *kgo.Record) (context.Context, trace.Span) {
	ctx = t.propagator.Extract(ctx, kotel.NewRecordCarrier(rec))
	return t.tracer.Start(ctx, "process "+rec.Topic,
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(t.processAttrs(rec)...))
}

// processAttrs are the attributes of the consumer span of rec's call (for
// a batch, its first record).
func (t *Telemetry) processAttrs(rec *kgo.Record, more ...attribute.KeyValue) []attribute.KeyValue {
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

// StartBatchSpan starts the consumer span of a bulk batch: a child of the
// first record's trace context, linked to the others' (up to
// maxBatchLinks). Call it only when Tracing.
func (t *Telemetry) StartBatchSpan(ctx context.Context, batch []*kgo.Record) (context.Context, trace.Span) {
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

// Inject writes ctx's trace context into rec's headers, so the trace
// follows the record to whoever consumes it; nothing when not Tracing.
func (t *Telemetry) Inject(ctx context.Context, rec *kgo.Record) {
	if t.tracer != nil {
		t.propagator.Inject(ctx, kotel.NewRecordCarrier(rec))
	}
}
