package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/cli"
	"github.com/eddy-streams/eddy/internal/logfloor"
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
	// session is the current group session. The run loop replaces it when
	// the engine rejoins the group; everything else only reads it.
	session atomic.Pointer[session]
	rejoins atomic.Int64 // sessions started after the first
	// setUp is closed once start-up (table stores, changelogs) is done
	// or failed: the client joins the group as soon as it exists, so
	// partitions can be assigned before that.
	setUp    chan struct{}
	setUpErr error
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
	cfg, err := cfg.complete(a.name)
	if err != nil {
		return err
	}
	w := &worker{app: a, cfg: cfg, logger: logger.With("app", a.name), setUp: make(chan struct{})}
	if err := a.checkSteps(cfg.Steps); err != nil {
		return err
	}
	// Handlers' own start-up checks before anything starts.
	for _, r := range a.routes {
		for _, st := range r.starters {
			if err := st.OnStart(ctx, cfg); err != nil {
				return fmt.Errorf("runtime: OnStart of %s: %w", r.handler, err)
			}
		}
	}
	w.brokers = cfg.Brokers
	if len(w.brokers) == 0 {
		b, err := broker.Start(broker.Options{Listen: "127.0.0.1:9092", FallbackToFreePort: true,
			Partitions: cfg.TopicPartitions, Topics: a.Topics()})
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
	s, err := w.newSession(1)
	if err != nil {
		return err
	}
	w.session.Store(s)
	// For the returns before the run loop, which closes every session it
	// runs.
	defer func() { w.closeSession(w.session.Load()) }()
	if err := tel.ObserveEngine(w.engine); err != nil {
		return fmt.Errorf("runtime: metrics: %w", err)
	}
	produceCtx, cancelProduce := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelProduce()
	w.produceCtx = produceCtx

	w.setUpErr = w.checkTopics(ctx)
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
		defer srv.close()
	}
	w.logger.Info("worker started", "group", cfg.Group, "topics", a.SourceTopics(), "brokers", strings.Join(w.brokers, ","))
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
	err = w.runSessions(runCtx, s)
	if cause := context.Cause(runCtx); err == nil && cause != nil && ctx.Err() == nil {
		err = cause
	}
	totals := tel.Totals()
	w.logger.Info("worker stopped", "handled", totals.Handled, "skipped", totals.Skipped, "produced", totals.Produced)
	return err
}

// session is one membership of the worker in its group: a client, which
// joins as a new member, and the engine that runs on it. A worker starts a
// new session when its engine gives up on a group generation it cannot get
// into (actors.ErrRejoin); table stores, telemetry and the HTTP server
// outlive sessions.
type session struct {
	n      int // 1 for the first session of the worker
	engine *actors.Engine
	client *kgo.Client
	// cancel ends the client's context; see closeSession.
	cancel context.CancelFunc
	ran    bool // the engine ran on the client
	closed bool
}

// newSession builds the engine and client of session n.
func (w *worker) newSession(n int) (*session, error) {
	engine, err := actors.New(actors.Config{
		NewProcessor:   w.newProcessor,
		Logger:         w.logger,
		MaxInFlight:    w.cfg.MaxInFlight,
		MaxAttempts:    w.cfg.HandlerMaxAttempts,
		Backoff:        w.cfg.HandlerBackoff,
		MaxBackoff:     w.cfg.HandlerMaxBackoff,
		CommitInterval: w.cfg.CommitInterval,
		DrainTimeout:   w.cfg.ShutdownTimeout,
		StallTimeout:   w.cfg.StallTimeout,
		Observer:       w.tel,
		Modes:          w.cfg.modePolicy(),
		BulkMaxRecords: w.cfg.BulkMaxRecords,
		BulkMaxWait:    w.cfg.BulkMaxWait,
		Steps:          w.cfg.Steps,
		Topics:         w.app.SourceTopics(),
	})
	if err != nil {
		return nil, err
	}
	opts, err := w.clientOptions(engine)
	if err != nil {
		return nil, err
	}
	// Not the worker's context: the engine's shutdown commits and leaves
	// through the client after that ended. closeSession cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	client, err := kgo.NewClient(append(opts, kgo.WithContext(ctx))...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("runtime: kafka client: %w", err)
	}
	return &session{n: n, engine: engine, client: client, cancel: cancel}, nil
}

// runSessions runs the engine of s, and whenever an engine stops to rejoin
// the group, the engine of a new session, until ctx ends or an engine
// fails otherwise. Each session's client is closed before the next starts,
// so that the group sees the old member go.
func (w *worker) runSessions(ctx context.Context, s *session) error {
	for {
		s.ran = true
		err := s.engine.Run(ctx, s.client)
		w.closeSession(s)
		switch {
		case !errors.Is(err, actors.ErrRejoin):
			return err
		case ctx.Err() != nil:
			return nil // stopping anyway
		}
		next, nerr := w.newSession(s.n + 1)
		if nerr != nil {
			return fmt.Errorf("runtime: rejoining the group: %w", nerr)
		}
		w.rejoins.Add(1)
		w.logger.Warn("rejoining the group as a new member", "session", next.n, "reason", err)
		w.session.Store(next)
		s = next
	}
}

// closeSession closes the session's client without waiting on the group.
// franz-go's Close leaves the group, and waits for a JoinGroup or SyncGroup
// in flight first: those go out with the client's context and are bounded
// only by the request timeout (rebalance timeout plus 10s), so a coordinator
// that holds one would hold the shutdown as long. When leaving did not
// finish (within the engine's shutdown, or here if the engine never ran),
// the client's context is cancelled first: Close then fails what is in
// flight and returns. Only the goroutine of App.Run calls it.
func (w *worker) closeSession(s *session) {
	if s.closed {
		return
	}
	s.closed = true
	left := s.engine.LeftGroup()
	if !s.ran {
		ctx, cancel := context.WithTimeout(context.Background(), leaveTimeout)
		left = s.client.LeaveGroupContext(ctx) == nil
		cancel()
	}
	if !left {
		w.logger.Info("closing the Kafka client without waiting for the group", "session", s.n)
		s.cancel()
	}
	s.client.Close()
	s.cancel()
}

// leaveTimeout bounds leaving the group when start-up failed, as the
// engine's shutdown bounds it otherwise.
const leaveTimeout = 10 * time.Second

// engine returns the engine of the current session. Safe for concurrent
// use.
func (w *worker) engine() *actors.Engine { return w.session.Load().engine }

// groupClient returns the client of the current session, the one records
// are produced through. Safe for concurrent use.
func (w *worker) groupClient() *kgo.Client { return w.session.Load().client }

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

func (w *worker) clientOptions(engine *actors.Engine) ([]kgo.Opt, error) {
	cfg := w.cfg
	// Table shards are per partition number and shared by every source
	// topic, so partition p of each source topic must be on the same
	// worker: the range balancer does that (same partition counts, same
	// subscriptions); the sticky ones spread topics independently.
	sources := w.app.SourceTopics()
	colocate := len(w.app.changelogs()) > 0 && len(sources) > 1
	var balancer kgo.GroupBalancer
	switch {
	case colocate && (cfg.Balancer == "sticky" || cfg.Balancer == "roundrobin"):
		return nil, fmt.Errorf("runtime: balancer %q would split the partitions of %s across workers, "+
			"but the app's tables need partition p of every source topic on one worker: use range, or leave the default",
			cfg.Balancer, strings.Join(sources, ", "))
	case colocate && cfg.GroupProtocol == groupProtocolConsumer:
		w.logger.Warn("tables with several source topics need partition p of every topic on one worker; "+
			"under group_protocol consumer the broker's assignor decides and may split them: run one worker, or use the classic protocol",
			"topics", sources)
	case colocate && (cfg.Balancer == "" || cfg.Balancer == defaultBalancer):
		w.logger.Info("tables with several source topics: using the range balancer, which keeps partition p of every topic on one worker",
			"topics", sources)
		balancer = kgo.RangeBalancer()
	}
	switch cfg.Balancer {
	case "", "cooperative-sticky":
		if balancer == nil {
			balancer = kgo.CooperativeStickyBalancer()
		}
	case "sticky":
		balancer = kgo.StickyBalancer()
	case "range":
		balancer = kgo.RangeBalancer()
	case "roundrobin":
		balancer = kgo.RoundRobinBalancer()
	default:
		return nil, fmt.Errorf("runtime: unknown balancer %q (want cooperative-sticky, sticky, range or roundrobin)", cfg.Balancer)
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(w.brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.ConsumerGroup(cfg.Group),
		kgo.ConsumeTopics(w.app.SourceTopics()...),
		// A new group starts at the beginning: a stream processor that
		// silently skipped existing records would surprise.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(engine.OnAssigned),
		kgo.OnPartitionsRevoked(engine.OnRevoked),
		kgo.OnPartitionsLost(engine.OnLost),
		kgo.Balancers(balancer),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.RebalanceTimeout(cfg.RebalanceTimeout),
		// franz-go's 3s, or a third of a shorter session timeout, as
		// Kafka advises: a session of 6s (Kafka's least) must not expire
		// for one late heartbeat.
		kgo.HeartbeatInterval(min(3*time.Second, cfg.SessionTimeout/3)),
		// Not franz-go's 5s, nor Kafka's 500ms: a partition resumed
		// after backpressure joins the next fetch request, so a long
		// poll for caught-up partitions holds it back for that long.
		kgo.FetchMaxWait(cfg.FetchMaxWait),
		kgo.WithHooks(w.tel.ClientHooks()...),
		// The client's own warnings (connections, group errors) go to the
		// app's log; its info lines only at debug level.
		kgo.WithLogger(kslog.New(w.clientLogger())),
		kgo.RecordPartitioner(shards.Partitioner(w.app.changelogs())),
		// Without it a record is retried for as long as the brokers are
		// down, holding its source offset (and memory) with it. Two minutes
		// rides out a broker restart or leader election; a longer outage
		// fails the record, which stops the worker with an error that
		// names it, rather than leaving it silently stuck.
		kgo.RecordDeliveryTimeout(2 * time.Minute),
	}
	if cfg.GroupProtocol == "consumer" {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return opts, nil
}

// checkTopics fails start-up, with a message naming them, when the brokers
// cannot be reached or a topic the app reads or writes does not exist.
func (w *worker) checkTopics(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, w.cfg.ConnectTimeout)
	defer cancel()
	adm := kadm.NewClient(w.groupClient())
	topics := w.app.Topics()
	details, err := adm.ListTopics(ctx, topics...)
	if err != nil {
		return fmt.Errorf("runtime: cannot reach the brokers %s within %v: %w (are the addresses right and the brokers up?)",
			strings.Join(w.brokers, ","), w.cfg.ConnectTimeout, err)
	}
	var missing []string
	for _, t := range topics {
		d, ok := details[t]
		if !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition) {
			missing = append(missing, t)
		} else if d.Err != nil {
			return fmt.Errorf("runtime: topic %q: %w", t, d.Err)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return fmt.Errorf("runtime: topics missing on %s: %s (create them with `%s topics create`, or check the names)",
			strings.Join(w.brokers, ","), strings.Join(missing, ", "), cli.Binary())
	}
	return nil
}

// clientLogger is the logger of the Kafka client: warnings and errors,
// and everything when the app logs at debug level.
func (w *worker) clientLogger() *slog.Logger {
	min := slog.LevelWarn
	if w.cfg.LogLevel <= slog.LevelDebug {
		min = slog.LevelDebug
	}
	return slog.New(logfloor.New(w.logger.Handler(), min)).With("component", "kafka")
}
