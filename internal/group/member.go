package group

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kslog"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/internal/logfloor"
)

// Config configures a Member.
type Config struct {
	// Engine configures each session's engine.
	Engine actors.Config
	// Brokers, ClientID, Group and Topics (those consumed) name the
	// client and what it reads.
	Brokers  []string
	ClientID string
	Group    string
	Topics   []string
	// Protocol is "classic" or "consumer" (KIP-848); Balancer one of
	// cooperative-sticky, sticky, range, roundrobin (classic only).
	Protocol string
	Balancer string
	// Colocate asks that partition p of every topic be on one member:
	// tables with several source topics shard by partition number. It
	// makes the default balancer range and refuses sticky and roundrobin.
	Colocate bool
	// SessionTimeout, RebalanceTimeout and FetchMaxWait as the settings
	// of the same names say.
	SessionTimeout   time.Duration
	RebalanceTimeout time.Duration
	FetchMaxWait     time.Duration
	// Partitioner places produced records.
	Partitioner kgo.Partitioner
	// Hooks observe the client (metrics).
	Hooks []kgo.Hook
	// Logger is the app's; the client logs its warnings there, and
	// everything when LogLevel is debug.
	Logger   *slog.Logger
	LogLevel slog.Level
	// Options are further client options: connection security, tuning.
	Options []kgo.Opt
}

// Member is a worker in its group, one session at a time. Engine and
// Client are safe for concurrent use; New, Run and Close are called by one
// goroutine, the worker's.
type Member struct {
	cfg     Config
	session atomic.Pointer[session]
	rejoins atomic.Int64 // sessions started after the first
}

// session is one membership: a client, which joins as a new member, and
// the engine that runs on it.
type session struct {
	n      int // 1 for the first session
	engine *actors.Engine
	client *kgo.Client
	// cancel ends the client's context; see close.
	cancel context.CancelFunc
	ran    bool // the engine ran on the client
	closed bool
}

// New builds the member's first session; Run runs it.
func New(cfg Config) (*Member, error) {
	m := &Member{cfg: cfg}
	s, err := m.newSession(1)
	if err != nil {
		return nil, err
	}
	m.session.Store(s)
	return m, nil
}

// Engine returns the engine of the current session.
func (m *Member) Engine() *actors.Engine { return m.session.Load().engine }

// Client returns the client of the current session, the one records are
// produced through.
func (m *Member) Client() *kgo.Client { return m.session.Load().client }

// Rejoins counts the sessions started after the first.
func (m *Member) Rejoins() int64 { return m.rejoins.Load() }

// newSession builds the engine and client of session n.
func (m *Member) newSession(n int) (*session, error) {
	engine, err := actors.New(m.cfg.Engine)
	if err != nil {
		return nil, err
	}
	opts, err := m.clientOptions(engine)
	if err != nil {
		return nil, err
	}
	// Not the worker's context: the engine's shutdown commits and leaves
	// through the client after that ended. close cancels it.
	ctx, cancel := context.WithCancel(context.Background())
	client, err := kgo.NewClient(append(opts, kgo.WithContext(ctx))...)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("group: kafka client: %w", err)
	}
	return &session{n: n, engine: engine, client: client, cancel: cancel}, nil
}

// Run runs the engine of the current session, and whenever an engine
// stops to rejoin the group, the engine of a new session, until ctx ends
// or an engine fails otherwise. Each session's client is closed before the
// next starts, so that the group sees the old member go.
func (m *Member) Run(ctx context.Context) error {
	s := m.session.Load()
	for {
		s.ran = true
		err := s.engine.Run(ctx, s.client)
		m.close(s)
		switch {
		case !errors.Is(err, actors.ErrRejoin):
			return err
		case ctx.Err() != nil:
			return nil // stopping anyway
		}
		next, nerr := m.newSession(s.n + 1)
		if nerr != nil {
			return fmt.Errorf("group: rejoining the group: %w", nerr)
		}
		m.rejoins.Add(1)
		m.cfg.Logger.Warn("rejoining the group as a new member", "session", next.n, "reason", err)
		m.session.Store(next)
		s = next
	}
}

// Close closes the current session's client if Run did not: when start-up
// failed before it.
func (m *Member) Close() { m.close(m.session.Load()) }

// close closes the session's client without waiting on the group.
// franz-go's Close leaves the group, and waits for a JoinGroup or SyncGroup
// in flight first: those go out with the client's context and are bounded
// only by the request timeout (rebalance timeout plus 10s), so a coordinator
// that holds one would hold the shutdown as long. When leaving did not
// finish (within the engine's shutdown, or here if the engine never ran),
// the client's context is cancelled first: Close then fails what is in
// flight and returns.
func (m *Member) close(s *session) {
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
		m.cfg.Logger.Info("closing the Kafka client without waiting for the group", "session", s.n)
		s.cancel()
	}
	s.client.Close()
	s.cancel()
}

// leaveTimeout bounds leaving the group when start-up failed, as the
// engine's shutdown bounds it otherwise.
const leaveTimeout = 10 * time.Second

// balancer is the group balancer the config asks for.
func (c *Config) balancer() (kgo.GroupBalancer, error) {
	// Table shards are per partition number and shared by every source
	// topic, so partition p of each source topic must be on the same
	// worker: the range balancer does that (same partition counts, same
	// subscriptions); the sticky ones spread topics independently.
	switch {
	case c.Colocate && (c.Balancer == "sticky" || c.Balancer == "roundrobin"):
		return nil, fmt.Errorf("group: balancer %q would split the partitions of %s across workers, "+
			"but the app's tables need partition p of every source topic on one worker: use range, or leave the default",
			c.Balancer, strings.Join(c.Topics, ", "))
	case c.Colocate && c.Protocol == "consumer":
		c.Logger.Warn("tables with several source topics need partition p of every topic on one worker; "+
			"under group_protocol consumer the broker's assignor decides and may split them: run one worker, or use the classic protocol",
			"topics", c.Topics)
	case c.Colocate && (c.Balancer == "" || c.Balancer == "cooperative-sticky"):
		c.Logger.Info("tables with several source topics: using the range balancer, which keeps partition p of every topic on one worker",
			"topics", c.Topics)
		return kgo.RangeBalancer(), nil
	}
	switch c.Balancer {
	case "", "cooperative-sticky":
		return kgo.CooperativeStickyBalancer(), nil
	case "sticky":
		return kgo.StickyBalancer(), nil
	case "range":
		return kgo.RangeBalancer(), nil
	case "roundrobin":
		return kgo.RoundRobinBalancer(), nil
	}
	return nil, fmt.Errorf("group: unknown balancer %q (want cooperative-sticky, sticky, range or roundrobin)", c.Balancer)
}

// clientOptions are the options of a session's client, wired to engine.
func (m *Member) clientOptions(engine *actors.Engine) ([]kgo.Opt, error) {
	c := &m.cfg
	balancer, err := c.balancer()
	if err != nil {
		return nil, err
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.ClientID(c.ClientID),
		kgo.ConsumerGroup(c.Group),
		kgo.ConsumeTopics(c.Topics...),
		// A new group starts at the beginning: a stream processor that
		// silently skipped existing records would surprise.
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.OnPartitionsAssigned(engine.OnAssigned),
		kgo.OnPartitionsRevoked(engine.OnRevoked),
		kgo.OnPartitionsLost(engine.OnLost),
		kgo.Balancers(balancer),
		kgo.SessionTimeout(c.SessionTimeout),
		kgo.RebalanceTimeout(c.RebalanceTimeout),
		// franz-go's 3s, or a third of a shorter session timeout, as
		// Kafka advises: a session of 6s (Kafka's least) must not expire
		// for one late heartbeat.
		kgo.HeartbeatInterval(min(3*time.Second, c.SessionTimeout/3)),
		// Not franz-go's 5s, nor Kafka's 500ms: a partition resumed
		// after backpressure joins the next fetch request, so a long
		// poll for caught-up partitions holds it back for that long.
		kgo.FetchMaxWait(c.FetchMaxWait),
		kgo.WithHooks(c.Hooks...),
		// The client's own warnings (connections, group errors) go to the
		// app's log; its info lines only at debug level.
		kgo.WithLogger(kslog.New(c.clientLogger())),
		kgo.RecordPartitioner(c.Partitioner),
		// Without it a record is retried for as long as the brokers are
		// down, holding its source offset (and memory) with it. Two minutes
		// rides out a broker restart or leader election; a longer outage
		// fails the record, which stops the worker with an error that
		// names it, rather than leaving it silently stuck.
		kgo.RecordDeliveryTimeout(2 * time.Minute),
	}
	if c.Protocol == "consumer" {
		opts = append(opts, kgo.ServerSideBalancer())
	}
	return append(opts, c.Options...), nil
}

// clientLogger is the logger of the Kafka client: warnings and errors,
// and everything when the app logs at debug level.
func (c *Config) clientLogger() *slog.Logger {
	floor := slog.LevelWarn
	if c.LogLevel <= slog.LevelDebug {
		floor = slog.LevelDebug
	}
	return slog.New(logfloor.DemoteCanceled(logfloor.New(c.Logger.Handler(), floor))).With("component", "kafka")
}
