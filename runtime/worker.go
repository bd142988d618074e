package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/acks"
	"github.com/eddy-streams/eddy/internal/conn"
	"github.com/eddy-streams/eddy/internal/group"
	"github.com/eddy-streams/eddy/internal/shards"
	"github.com/eddy-streams/eddy/internal/telemetry"
)

// worker is one run of an App: its group session, tables and counters.
type worker struct {
	app        *App
	cfg        Config
	logger     *slog.Logger
	produceCtx context.Context
	brokers    []string
	tel        *telemetry.Telemetry
	tables     *shards.Tables // nil without tables
	// member is the worker in its group: the client and engine of the
	// current session, replaced when the engine rejoins the group.
	member *group.Member
	// setUp is closed once start-up (table stores, changelogs) is done
	// or failed: the client joins the group as soon as it exists, so
	// partitions can be assigned before that.
	setUp    chan struct{}
	setUpErr error

	// produceGate bounds handlers' unacknowledged outputs.
	produceGate *acks.Gate
	// security is how every client of the worker connects: the group
	// client (also the admin client), table restores, global tables.
	security *conn.Security
}

// Run runs the app as one worker of its consumer group until ctx is
// cancelled (a clean shutdown, returning nil) or the app fails (returning
// the error). Zero fields of cfg take DefaultConfig's values, except that an
// empty HTTP serves no HTTP. With no brokers configured it starts an
// embedded broker with the app's topics. Run may be called once per App at
// a time.
func (a *App) Run(ctx context.Context, cfg Config) error {
	logger := a.logger
	if logger == nil {
		logger = newLogger(os.Stderr, cfg)
	}
	return a.run(ctx, cfg, logger)
}

func (a *App) run(ctx context.Context, cfg Config, logger *slog.Logger) error {
	if err := a.validate(); err != nil {
		return err
	}
	cfg, err := cfg.Complete(a.name)
	if err != nil {
		return err
	}
	w := &worker{app: a, cfg: cfg, logger: logger.With("app", a.name), setUp: make(chan struct{}),
		produceGate: acks.NewGate(cfg.ProducerMaxBufferedRecords)}
	if err := a.checkSteps(cfg.Steps); err != nil {
		return err
	}
	// Handlers' own start-up checks before anything starts.
	for _, r := range a.allRoutes() {
		for _, st := range r.starters {
			if err := st.OnStart(ctx, cfg); err != nil {
				return fmt.Errorf("runtime: OnStart of %s: %w", r.handler, err)
			}
		}
	}
	if len(cfg.Brokers) == 0 && cfg.SecurityProtocol != conn.Plaintext {
		return fmt.Errorf("runtime: security_protocol %s needs brokers: without them the worker starts an embedded broker, "+
			"which is plaintext (set brokers, or leave security_protocol at plaintext)", cfg.SecurityProtocol)
	}
	if w.security, err = cfg.Security(); err != nil {
		return err
	}
	if w.security.Insecure() {
		w.logger.Warn(conn.InsecureWarning)
	}
	w.brokers = cfg.Brokers
	embedded := len(w.brokers) == 0
	if embedded {
		b, err := broker.Start(broker.Options{Listen: "127.0.0.1:9092", FallbackToFreePort: true,
			Partitions: cfg.TopicPartitions, Topics: a.Topics(), Declared: brokerTopics(a.declared)})
		if err != nil {
			return fmt.Errorf("runtime: embedded broker: %w", err)
		}
		defer b.Close()
		w.brokers = b.Addrs()
		w.logger.Info("no brokers configured: started an embedded broker (data is lost on exit)",
			"brokers", strings.Join(w.brokers, ","), "topics", a.Topics(), "partitions", cfg.TopicPartitions)
	}

	tel, err := telemetry.New(ctx, telemetry.Config{Service: a.name, Group: cfg.Group,
		MeterProvider: a.obs.meterProvider, TracerProvider: a.obs.tracerProvider})
	if err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	defer tel.Close() // after the client's Close below: it flushes what the client reported
	w.tel = tel
	if w.member, err = group.New(w.groupConfig()); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	// For the returns before Run, which closes every session it runs.
	defer w.member.Close()
	if err := tel.ObserveEngine(w.member.Engine); err != nil {
		return fmt.Errorf("runtime: metrics: %w", err)
	}
	err = tel.ObserveProduceBuffer(func() int64 { return int64(w.produceGate.Held()) }, w.produceGate.Waits)
	if err != nil {
		return fmt.Errorf("runtime: metrics: %w", err)
	}
	produceCtx, cancelProduce := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelProduce()
	w.produceCtx = produceCtx

	w.setUpErr = w.checkTopics(ctx, embedded)
	if w.setUpErr == nil {
		w.setUpErr = w.setupTables(ctx)
	}
	close(w.setUp)
	if w.tables != nil {
		// After the engine's shutdown, which releases every partition.
		defer w.tables.Close()
	}
	if w.setUpErr != nil {
		return w.setUpErr
	}
	if cfg.HTTP != "off" {
		srv, err := w.serveHTTP(cfg.HTTP)
		if err != nil {
			return err
		}
		defer srv.Close()
	}
	attrs := []any{"group", cfg.Group, "topics", a.SourceTopics(), "brokers", strings.Join(w.brokers, ","),
		"security_protocol", cfg.SecurityProtocol}
	if len(a.patterns) > 0 {
		attrs = append(attrs, "patterns", a.Patterns())
	}
	w.logger.Info("worker started", attrs...)
	a.current.Store(w)
	defer a.current.Store(nil)
	runCtx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	if w.tables != nil {
		// A global table that stops following stops the worker: handlers
		// would read stale reference data.
		go func() {
			select {
			case err := <-w.tables.Failed():
				stopRun(err)
			case <-runCtx.Done():
			}
		}()
	}
	err = w.member.Run(runCtx)
	if cause := context.Cause(runCtx); err == nil && cause != nil && ctx.Err() == nil {
		err = cause
	}
	totals := tel.Totals()
	w.logger.Info("worker stopped", "handled", totals.Handled, "skipped", totals.Skipped, "produced", totals.Produced)
	return err
}

// groupConfig is the worker's group membership as its settings say.
func (w *worker) groupConfig() group.Config {
	cfg := w.cfg
	sources := w.app.SourceTopics()
	return group.Config{
		Engine: actors.Config{
			NewProcessor:   w.newProcessor,
			Logger:         w.logger,
			MaxInFlight:    cfg.MaxInFlight,
			MaxAttempts:    cfg.HandlerMaxAttempts,
			Backoff:        cfg.HandlerBackoff,
			MaxBackoff:     cfg.HandlerMaxBackoff,
			CommitInterval: cfg.CommitInterval,
			DrainTimeout:   cfg.ShutdownTimeout,
			StallTimeout:   cfg.StallTimeout,
			Observer:       w.tel,
			Modes:          modePolicy(cfg),
			BulkMaxRecords: cfg.BulkMaxRecords,
			BulkMaxWait:    cfg.BulkMaxWait,
			Steps:          cfg.Steps,
			Topics:         sources,
		},
		Brokers: w.brokers, ClientID: cfg.ClientID, Group: cfg.Group, Topics: sources, Patterns: w.app.Patterns(),
		Protocol: cfg.GroupProtocol, Balancer: cfg.Balancer,
		Colocate:       len(w.app.changelogs()) > 0 && len(sources) > 1,
		SessionTimeout: cfg.SessionTimeout, RebalanceTimeout: cfg.RebalanceTimeout, FetchMaxWait: cfg.FetchMaxWait,
		StartFrom: cfg.StartFrom, MetadataMaxAge: cfg.MetadataMaxAge,
		Producer:    producer(cfg),
		Partitioner: shards.Partitioner(w.app.changelogs()),
		Hooks:       w.tel.ClientHooks(),
		UserOptions: w.app.clientOpts,
		Logger:      w.logger, LogLevel: cfg.LogLevel,
		Options: w.security.Options(),
	}
}

// groupClient returns the client of the current session, the one records
// are produced through. Safe for concurrent use.
func (w *worker) groupClient() *kgo.Client { return w.member.Client() }

func (w *worker) newProcessor(tp actors.TopicPartition) (actors.Processor, error) {
	<-w.setUp
	if w.setUpErr != nil {
		return nil, fmt.Errorf("runtime: start-up failed: %w", w.setUpErr)
	}
	r := w.app.route(tp.Topic)
	if r == nil {
		return nil, fmt.Errorf("runtime: assigned %s, but no handler is registered for topic %q", tp, tp.Topic)
	}
	if len(w.app.tables) == 0 {
		return r.build(w, tp, nil), nil
	}
	return w.tables.Processor(tp.Partition, func(scope shards.Scope) actors.Processor { return r.build(w, tp, scope) })
}
