package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/internal/settings"
	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/internal/topics"
	"github.com/eddy-streams/eddy/modes"
	"github.com/eddy-streams/eddy/serde"
)

// App is a stream-processing application: a name, the handlers of the
// topics it reads, and the outputs it writes. Build it in main with NewApp,
// Handle and NewOutput, then run it with Main (the CLI) or Run. Registration
// is not safe for concurrent use and must finish before Run.
type App struct {
	name        string
	logger      *slog.Logger
	errorPolicy ErrorPolicy
	routes      []*route
	patterns    []*route // HandlePattern's, in registration order
	outputs     []string
	declared    []topics.Spec // DeclareTopic's
	errs        []error
	commands    []appCommand
	obs         observability
	tables      []*appTable
	outcomes    []func(rec *Record, o Outcome, err error)
	clientOpts  []kgo.Opt              // WithClientOptions
	current     atomic.Pointer[worker] // the running worker, for Status
}

// route is one source topic, or a pattern of topics, and how to build the
// processor of their partitions.
type route struct {
	topic    string
	pattern  *regexp.Regexp // anchored; set instead of topic by HandlePattern
	handler  string         // the handler's type, for messages
	starters []Starter      // its stages' and its own OnStart
	build    func(w *worker, tp actors.TopicPartition, scope shards.Scope) actors.Processor
}

// command is a subcommand the app adds to its binary.
type appCommand struct {
	name, summary string
	run           func(ctx context.Context, args []string) error
}

// Command adds a subcommand to the app's binary, next to worker, broker and
// the others: for demos, data loaders, migrations. run gets the arguments
// after the subcommand's name; an error exits 1.
func (a *App) Command(name, summary string, run func(ctx context.Context, args []string) error) {
	if builtinCommand(name) {
		a.errorf("runtime: Command %q: the binary already has that subcommand", name)
		return
	}
	a.commands = append(a.commands, appCommand{name: name, summary: summary, run: run})
}

// Option configures an App.
type Option func(*App)

// WithLogger sets the app's logger. Default: text logs on stderr at the
// configured log level.
func WithLogger(l *slog.Logger) Option { return func(a *App) { a.logger = l } }

// ErrorPolicy is what happens to a failed record when its handler has no
// OnError hook.
type ErrorPolicy int

const (
	// ContinueOnError logs, counts and skips the record. The default.
	ContinueOnError ErrorPolicy = iota
	// StopOnError stops the app with the error; the record stays
	// uncommitted.
	StopOnError
)

// WithErrorPolicy sets the policy for handlers without OnError. Default
// ContinueOnError.
func WithErrorPolicy(p ErrorPolicy) Option { return func(a *App) { a.errorPolicy = p } }

// WithClientOptions appends opts to the options of the worker's Kafka
// client, the one that joins the group, consumes the handlers' topics and
// produces outputs and table changelogs: for what no setting covers
// (kgo.MaxBufferedBytes, kgo.FetchMaxBytes, kgo.Rack, a dialer of your
// own). They come after the options Eddy derives from its settings, so
// where both set the same thing (kgo.ProducerLinger and producer.linger,
// say) these win. Default: none; options given in several calls add up.
//
// Some options would break the worker's guarantees or wiring; do not pass
// them: kgo.ConsumerGroup, kgo.ConsumeTopics, kgo.ConsumeRegex and
// kgo.ConsumePartitions (register handlers with Handle or HandlePattern,
// and set the group), kgo.DisableAutoCommit's opposite kgo.AutoCommitMarks
// or an autocommit interval (only finished records are committed),
// kgo.BlockRebalanceOnPoll, kgo.OnPartitionsAssigned,
// kgo.OnPartitionsRevoked and kgo.OnPartitionsLost (the engine's
// rebalance callbacks), kgo.RecordPartitioner (table changelogs are
// placed by partition), kgo.ManualFlushing, kgo.TransactionalID, and
// kgo.WithContext.
//
// Only the group client gets them: the clients that restore tables, follow
// global tables, and the tools' (produce, consume, topics) do not.
func WithClientOptions(opts ...kgo.Opt) Option {
	return func(a *App) { a.clientOpts = append(a.clientOpts, opts...) }
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

// NewApp returns an app named name. The name is the default consumer group
// and client id, and prefixes the app's internal topics.
func NewApp(name string, opts ...Option) *App {
	a := &App{name: name}
	if name == "" {
		a.errorf("runtime: NewApp: the app needs a name")
	}
	for _, o := range opts {
		o(a)
	}
	return a
}

// ObserveOutcomes has fn called once each record's handling has ended,
// with its outcome and, for a Skipped record, the error that failed it: for
// audit logs, and for tests (runtimetest uses it). It is not called for a
// record that stops the app or whose handling a rebalance interrupted. fn
// is called from the partitions' goroutines, concurrently across
// partitions, in offset order within one; it must not block. Call it
// before Run, like the other registrations.
func (a *App) ObserveOutcomes(fn func(rec *Record, o Outcome, err error)) {
	a.outcomes = append(a.outcomes, fn)
}

// Name returns the app's name.
func (a *App) Name() string { return a.name }

func (a *App) errorf(format string, args ...any) {
	a.errs = append(a.errs, fmt.Errorf(format, args...))
}

// Handle registers h for topics, decoding keys and values with the given
// codecs. A topic has at most one handler. h's optional hooks are found by
// their method names: a method named like a hook but with another
// signature (OnTombstone for another value type, say), or declared on the
// pointer type of a handler passed as a value, is an error rather than a
// hook silently ignored. Put stages in front of h with WithStages.
// Problems (no topics, a topic registered twice, nil codecs or handler, a
// mistyped hook) are reported by App.Run.
func Handle[K, V any](app *App, h Handler[K, V], keys serde.Codec[K], values serde.Codec[V], topics ...string) {
	label := func(name string) string {
		if name == "" {
			return fmt.Sprintf("Handle(%v)", topics)
		}
		return fmt.Sprintf("Handle(%s, %v)", name, topics)
	}
	noTopics := func(name string) error {
		if len(topics) == 0 {
			return fmt.Errorf("runtime: Handle(%s): no topics given", name)
		}
		return nil
	}
	name, starters, build, ok := prepareHandler(app, label, noTopics, h, keys, values)
	if !ok {
		return
	}
	for i, t := range topics {
		if prev := app.literalRoute(t); prev != nil {
			app.errorf("runtime: topic %q has two handlers: %s and %s", t, prev.handler, name)
			continue
		}
		r := &route{topic: t, handler: name, build: build}
		if i == 0 {
			r.starters = starters // once per handler, not per topic
		}
		app.routes = append(app.routes, r)
	}
}

// prepareHandler checks a handler being registered and returns its name,
// what to start, and how to build its processors; ok is false after it
// reported a problem. label names the registering call in messages
// (given "" before the handler's name is known); check, run once the
// handler and codecs are known good, adds the call's own checks.
func prepareHandler[K, V any](app *App, label func(name string) string, check func(name string) error,
	h Handler[K, V], keys serde.Codec[K], values serde.Codec[V]) (
	name string, starters []Starter, build func(w *worker, tp actors.TopicPartition, scope shards.Scope) actors.Processor, ok bool) {
	var stages []Stage[K, V]
	if s, ok := h.(*staged[K, V]); ok {
		h, stages = s.h, s.stages
	}
	name = fmt.Sprintf("%T", h)
	switch {
	case h == nil || reflect.ValueOf(h).Kind() == reflect.Pointer && reflect.ValueOf(h).IsNil():
		app.errorf("runtime: %s: handler is nil", label(""))
		return "", nil, nil, false
	case keys == nil || values == nil:
		app.errorf("runtime: %s: key and value codecs are required", label(name))
		return "", nil, nil, false
	}
	if err := check(name); err != nil {
		app.errs = append(app.errs, err)
		return "", nil, nil, false
	}
	if errs := checkHooks(h); len(errs) > 0 {
		for _, err := range errs {
			app.errorf("runtime: %s: %w", label(name), err)
		}
		return "", nil, nil, false
	}
	for i, st := range stages {
		if st == nil {
			app.errorf("runtime: %s: stage %d is nil", label(name), i+1)
			return "", nil, nil, false
		}
		if s, ok := st.(Starter); ok {
			starters = append(starters, s)
		}
	}
	if s, ok := h.(Starter); ok {
		starters = append(starters, s)
	}
	build = func(w *worker, tp actors.TopicPartition, scope shards.Scope) actors.Processor {
		return newHandlerProcessor(newProcessor(w, tp, scope, h, stages, keys, values))
	}
	return name, starters, build, true
}

// literalRoute returns the route of topic registered by name, or nil.
func (a *App) literalRoute(topic string) *route {
	for _, r := range a.routes {
		if r.topic == topic {
			return r
		}
	}
	return nil
}

// route returns the route that handles topic: the one registered for it
// by name, else the first pattern registered that matches it, else nil.
func (a *App) route(topic string) *route {
	if r := a.literalRoute(topic); r != nil {
		return r
	}
	for _, r := range a.patterns {
		if r.pattern.MatchString(topic) {
			return r
		}
	}
	return nil
}

// allRoutes returns the literal routes, then the patterns'.
func (a *App) allRoutes() []*route { return append(slices.Clone(a.routes), a.patterns...) }

// SourceTopics returns the topics the app's handlers read by name, in
// registration order; topics matched by HandlePattern's patterns are not
// among them.
func (a *App) SourceTopics() []string {
	ts := make([]string, len(a.routes))
	for i, r := range a.routes {
		ts[i] = r.topic
	}
	return ts
}

// Topics returns every topic the app declares: sources, outputs, the
// topics global tables follow, then other topics of DeclareTopic, without
// repeats. Changelogs are not among them: the app creates those itself.
func (a *App) Topics() []string {
	ts := a.SourceTopics()
	others := append(slices.Clone(a.outputs), a.globalTopics()...)
	for _, d := range a.declared {
		others = append(others, d.Name)
	}
	for _, t := range others {
		if !slices.Contains(ts, t) {
			ts = append(ts, t)
		}
	}
	return ts
}

func (a *App) validate() error {
	errs := slices.Clone(a.errs)
	if len(a.routes) == 0 && len(a.patterns) == 0 {
		errs = append(errs, fmt.Errorf("runtime: app %q has no handlers: register one with runtime.Handle", a.name))
	}
	if err := a.checkPatterns(); err != nil {
		errs = append(errs, err)
	}
	if err := a.checkDeclared(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Status describes the running worker: its partitions with offsets, lag and
// mode, and its record counts. ok is false while the app is not running.
// Safe for concurrent use.
func (a *App) Status() (s Status, ok bool) {
	w := a.current.Load()
	if w == nil {
		return Status{}, false
	}
	return w.status(), true
}

// checkSteps reports a step plan naming a topic no handler consumes.
func (a *App) checkSteps(steps [][]string) error {
	if _, err := modes.NewPlan(steps); err != nil {
		return fmt.Errorf("runtime: steps: %w", err)
	}
	if len(steps) > 0 && len(a.patterns) > 0 {
		return fmt.Errorf("runtime: steps: app %q has pattern subscriptions (%q), and a step plan holds back every topic but a step's, "+
			"which topics a pattern matches later would escape: remove the steps setting, or register the topics by name with Handle",
			a.name, a.Patterns())
	}
	sources := a.SourceTopics()
	var errs []error
	for i, st := range steps {
		for _, t := range st {
			if !slices.Contains(sources, t) {
				errs = append(errs, fmt.Errorf("runtime: steps: step %d names topic %q, which no handler consumes (handlers consume %s)%s",
					i+1, t, strings.Join(sources, ", "), settings.DidYouMean(t, sources)))
			}
		}
	}
	return errors.Join(errs...)
}
