package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/eddy-streams/eddy/internal/logfloor"
	"github.com/eddy-streams/eddy/modes"
)

// Config configures an Engine. The zero value of every field but
// NewProcessor means its default.
type Config struct {
	// NewProcessor builds the Processor of a newly assigned partition.
	// Required. An error stops the Engine.
	NewProcessor func(TopicPartition) (Processor, error)
	// Logger receives the Engine's logs. Default: discard.
	Logger *slog.Logger
	// MaxInFlight bounds a partition's records fetched but not yet handled
	// before its fetching pauses. Default 10000.
	MaxInFlight int
	// MaxAttempts is how many times a record whose handler panics is
	// handled before it goes to Processor.Abandon. Default 3.
	MaxAttempts int
	// Backoff is the delay before the first restart of a panicked handler
	// actor, doubled per consecutive panic up to MaxBackoff. Default 100ms.
	Backoff time.Duration
	// MaxBackoff caps Backoff. Default 5s.
	MaxBackoff time.Duration
	// CommitInterval is the period of offset commits. Default 5s.
	CommitInterval time.Duration
	// DrainTimeout bounds how long revoking partitions, or shutting down,
	// waits for in-flight records and their outputs. Default 30s.
	DrainTimeout time.Duration
	// StallTimeout is how long a partition may go without handling a
	// record while records wait before it counts as stalled and is
	// restarted from its last commit. Default 5m.
	StallTimeout time.Duration
	// Observer is told of rebalances, restarts, commits, stalls, mode
	// switches and steps. Default: none.
	Observer Observer

	// Modes chooses each partition's mode: forced single or bulk, or
	// auto on its lag (the zero Mode). Zero thresholds take defaults:
	// LagHigh 10000, LagLow a tenth of LagHigh, MinDwell 10s.
	Modes modes.Policy
	// BulkMaxRecords caps a bulk batch. Default 1000; at most MaxInFlight.
	BulkMaxRecords int
	// BulkMaxWait is how long a partial bulk batch waits for more records
	// before it is handled anyway. Default 500ms.
	BulkMaxWait time.Duration
	// Steps is a step plan: topic groups consumed (in bulk) to the end
	// offsets captured when their step begins, one group after another,
	// with every other topic paused; then every topic runs in Modes.
	// Each topic must be in Topics. Default: none.
	Steps [][]string
	// Topics lists every topic consumed; required with Steps.
	Topics []string
}

func (c *Config) ensureDefaults() error {
	if c.NewProcessor == nil {
		return errors.New("actors: Config.NewProcessor is required")
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 10000
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	if c.Backoff < 0 {
		return fmt.Errorf("actors: Config.Backoff %v is negative", c.Backoff)
	}
	if c.Backoff == 0 {
		c.Backoff = 100 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Second
	}
	if c.CommitInterval <= 0 {
		c.CommitInterval = 5 * time.Second
	}
	if c.DrainTimeout <= 0 {
		c.DrainTimeout = 30 * time.Second
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 5 * time.Minute
	}
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	if c.Modes.LagHigh == 0 {
		c.Modes.LagHigh = 10000
	}
	if c.Modes.LagLow == 0 {
		c.Modes.LagLow = c.Modes.LagHigh / 10
	}
	if c.Modes.MinDwell == 0 {
		c.Modes.MinDwell = 10 * time.Second
	}
	if err := c.Modes.Validate(); err != nil {
		return fmt.Errorf("actors: %w", err)
	}
	if c.BulkMaxRecords <= 0 {
		c.BulkMaxRecords = min(1000, c.MaxInFlight)
	}
	if c.BulkMaxRecords > c.MaxInFlight {
		return fmt.Errorf("actors: a bulk batch of up to %d records cannot fill with at most %d records in flight per partition", c.BulkMaxRecords, c.MaxInFlight)
	}
	if c.BulkMaxWait <= 0 {
		c.BulkMaxWait = 500 * time.Millisecond
	}
	return nil
}

// Engine runs the actor tree for one consumer-group member. Wire its
// OnAssigned, OnRevoked and OnLost into the franz-go client (with
// kgo.BlockRebalanceOnPoll and kgo.DisableAutoCommit), then call Run.
type Engine struct {
	cfg    Config
	system *actor.ActorSystem
	root   *actor.PID // the engine actor

	mu struct {
		sync.Mutex
		parts  map[TopicPartition]*partition
		joined bool // a first assignment arrived
		// starting counts assigned partitions not yet registered in
		// parts: the worker is not ready while any is.
		starting int
		closing  bool // Run is shutting down: callbacks leave partitions to it
		cause    error
		client   *kgo.Client // set by Run
		// heals are stalled partitions waiting for the fetch loop to
		// restart them; pollCancel interrupts its current poll.
		heals      []TopicPartition
		pollCancel context.CancelFunc
		stalls     map[TopicPartition]stallRecord
		steps      *StepStatus // published by the engine actor
	}
	commitMu sync.Mutex    // serializes commits
	stopped  chan struct{} // closed when Run's final commit is done
	failed   chan struct{} // closed by the first fatal error
	failOnce sync.Once
}

// New validates cfg and builds an Engine; nothing runs until Run.
func New(cfg Config) (*Engine, error) {
	if err := cfg.ensureDefaults(); err != nil {
		return nil, err
	}
	logger := cfg.Logger.With("component", "actors")
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		// protoactor logs every supervised restart at info; ours are
		// logged by the partition actor with topic, partition and offset.
		return slog.New(logfloor.New(cfg.Logger.Handler(), slog.LevelWarn))
	}))
	e := &Engine{
		cfg:     cfg,
		system:  system,
		stopped: make(chan struct{}),
		failed:  make(chan struct{}),
	}
	e.cfg.Logger = logger
	e.mu.parts = make(map[TopicPartition]*partition)
	e.mu.stalls = make(map[TopicPartition]stallRecord)
	ms, err := newModeState(&e.cfg)
	if err != nil {
		return nil, err
	}
	e.root = system.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &engineActor{e: e, modes: ms} }))
	return e, nil
}

// engineActor is the root supervisor: it spawns partition actors as its
// children and turns any failure of theirs into an Engine failure. It
// chooses each partition's mode and runs the step plan.
type engineActor struct {
	e     *Engine
	modes *modeState
}

func (a *engineActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *startPartition:
		p := msg.part
		a.initial(p)
		p.pid = ctx.Spawn(actor.PropsFromProducer(func() actor.Actor {
			return &partitionActor{part: p, cfg: &a.e.cfg}
		}))
		msg.reply <- nil
	case *evaluate:
		a.evaluate()
		close(msg.done)
	case *assigning:
		a.replanFor(msg.tps)
		close(msg.done)
	}
}

// HandleFailure: a partition actor failed outside user code, a defect.
func (a *engineActor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason, _ any) {
	a.e.fail(fmt.Errorf("actors: partition actor %s failed: %v", child.Id, reason))
	sup.StopChildren(child)
}

// fail stops the Engine with err; the first error wins.
func (e *Engine) fail(err error) {
	e.failOnce.Do(func() {
		e.mu.Lock()
		e.mu.cause = err
		e.mu.Unlock()
		e.cfg.Logger.Error("stopping on error", "err", err)
		close(e.failed)
	})
}

// OnAssigned starts the actors of newly assigned partitions. It is a
// kgo.OnPartitionsAssigned callback.
func (e *Engine) OnAssigned(_ context.Context, cl *kgo.Client, assigned map[string][]int32) {
	e.cfg.Observer.Rebalanced("assigned", countPartitions(assigned))
	tps := sortedPartitions(assigned)
	e.mu.Lock()
	e.mu.joined = true
	e.mu.starting += len(tps)
	closing := e.mu.closing
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.mu.starting -= len(tps)
		e.mu.Unlock()
	}()
	if closing {
		return
	}
	if len(e.cfg.Steps) > 0 {
		done := make(chan struct{})
		e.system.Root.Send(e.root, &assigning{tps: tps, done: done})
		<-done
	}
	for _, tp := range tps {
		if err := e.start(tp, cl); err != nil {
			e.fail(err)
			return
		}
	}
}

func (e *Engine) start(tp TopicPartition, cl *kgo.Client) error {
	e.mu.Lock()
	_, running := e.mu.parts[tp]
	e.mu.Unlock()
	if running {
		return nil
	}
	proc, err := e.cfg.NewProcessor(tp)
	if err != nil {
		return fmt.Errorf("actors: starting %s: %w", tp, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stateful, _ := proc.(Stateful)
	p := &partition{
		tp:          tp,
		proc:        proc,
		stateful:    stateful,
		restoreDone: make(chan struct{}),
		flushedPos:  -1,
		ledger:      newLedger(stateful != nil),
		flow:        newFlow(tp, cl, e.cfg.MaxInFlight),
		ctx:         ctx,
		cancel:      cancel,
		fail:        e.fail,
		logger:      e.cfg.Logger.With("topic", tp.Topic, "partition", tp.Partition),
	}
	p.stepEnd.Store(-1)
	reply := make(chan error, 1)
	e.system.Root.Send(e.root, &startPartition{part: p, reply: reply})
	if err := <-reply; err != nil {
		cancel()
		return err
	}
	e.mu.Lock()
	e.mu.parts[tp] = p
	e.mu.Unlock()
	p.logger.Info("partition assigned")
	return nil
}

// OnRevoked drains the revoked partitions, commits what they handled and
// stops their actors. It is a kgo.OnPartitionsRevoked callback.
func (e *Engine) OnRevoked(ctx context.Context, cl *kgo.Client, revoked map[string][]int32) {
	e.cfg.Observer.Rebalanced("revoked", countPartitions(revoked))
	parts, closing := e.take(revoked)
	if closing {
		// Run is draining every partition; let the group move on only
		// once that commit is done, so the next owner starts after it.
		select {
		case <-e.stopped:
		case <-ctx.Done():
		}
		return
	}
	e.stop(ctx, cl, parts, true)
}

// OnLost stops the lost partitions' actors without committing: another
// member may own them already. It is a kgo.OnPartitionsLost callback.
func (e *Engine) OnLost(ctx context.Context, cl *kgo.Client, lost map[string][]int32) {
	e.cfg.Observer.Rebalanced("lost", countPartitions(lost))
	parts, _ := e.take(lost)
	e.stop(ctx, cl, parts, false)
}

// take removes the named partitions from the assignment.
func (e *Engine) take(m map[string][]int32) (parts []*partition, closing bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, tp := range sortedPartitions(m) {
		if p, ok := e.mu.parts[tp]; ok {
			parts = append(parts, p)
			delete(e.mu.parts, tp)
		}
	}
	return parts, e.mu.closing
}

// stop takes partitions out of service. With commit, in this order: stop
// delivering and let the record in progress finish, wait for the outputs of
// handled records, commit, stop the actors. Without commit (lost
// partitions), the handlers' context is cancelled at once.
func (e *Engine) stop(ctx context.Context, cl *kgo.Client, parts []*partition, commit bool) {
	if len(parts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.DrainTimeout)
	defer cancel()
	for _, p := range parts {
		p.stopping.Store(true)
		if !commit {
			p.cancel()
		}
	}
	if commit {
		e.drain(ctx, parts)
		if err := e.commit(ctx, cl, parts); err != nil {
			e.cfg.Logger.Warn("commit on revoke failed; the next owner re-handles from the last commit", "err", err)
		}
	}
	e.stopActors(parts)
	e.closeState(parts)
	for _, p := range parts {
		p.flow.close()
		next, committed := p.ledger.snapshot()
		p.logger.Info("partition released", "next_offset", next, "committed_offset", committed, "committed", commit)
	}
}

// stepTimeout bounds one shutdown step that talks to the broker.
const stepTimeout = 10 * time.Second

// stopActors stops partition actors (and their handler actors) in
// parallel. A handler stuck in user code past the drain deadline cannot be
// interrupted; protoactor's stop future gives up on it after 10s and the
// shutdown goes on without it.
func (e *Engine) stopActors(parts []*partition) {
	futures := make([]*actor.Future, len(parts))
	for i, p := range parts {
		p.cancel()
		futures[i] = e.system.Root.StopFuture(p.pid)
	}
	for i, f := range futures {
		if err := f.Wait(); err != nil {
			parts[i].logger.Error("partition actors did not stop; a handler is still running", "err", err)
		}
	}
}

// drain waits, bounded by ctx, for the partitions' handler actors to go
// idle and for their handled records' outputs to be acknowledged.
func (e *Engine) drain(ctx context.Context, parts []*partition) {
	dones := make([]chan struct{}, len(parts))
	for i, p := range parts {
		dones[i] = make(chan struct{})
		e.system.Root.Send(p.pid, &drain{done: dones[i]})
	}
	for i, p := range parts {
		select {
		case <-dones[i]:
		case <-ctx.Done():
			p.logger.Warn("drain deadline passed with a record still in its handler", "timeout", e.cfg.DrainTimeout)
			p.cancel()
			continue
		}
		idle, _ := p.ledger.idle()
		select {
		case <-idle:
		case <-ctx.Done():
			p.logger.Warn("drain deadline passed with produced records unacknowledged", "timeout", e.cfg.DrainTimeout)
		}
	}
}

// commit commits the committable offsets of parts, synchronously. It is
// the only place offsets are committed.
func (e *Engine) commit(ctx context.Context, cl *kgo.Client, parts []*partition) error {
	e.commitMu.Lock()
	defer e.commitMu.Unlock()
	return e.commitLocked(ctx, cl, parts)
}

// commitLocked is commit with commitMu held. Stateful partitions flush
// their state first; what they may commit is capped at what the flush made
// durable.
func (e *Engine) commitLocked(ctx context.Context, cl *kgo.Client, parts []*partition) error {
	e.flushState(ctx, parts)
	offsets := make(map[string]map[int32]kgo.EpochOffset)
	byTP := make(map[TopicPartition]*partition)
	for _, p := range parts {
		eo, ok := p.ledger.committable()
		if !ok {
			continue
		}
		if offsets[p.tp.Topic] == nil {
			offsets[p.tp.Topic] = make(map[int32]kgo.EpochOffset)
		}
		offsets[p.tp.Topic][p.tp.Partition] = eo
		byTP[p.tp] = p
	}
	if len(offsets) == 0 {
		return nil
	}
	var errs []error
	cl.CommitOffsetsSync(ctx, offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			errs = append(errs, err)
			return
		}
		for _, t := range resp.Topics {
			for _, rp := range t.Partitions {
				tp := TopicPartition{Topic: t.Topic, Partition: rp.Partition}
				if err := kerr.ErrorForCode(rp.ErrorCode); err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", tp, err))
					continue
				}
				if p := byTP[tp]; p != nil {
					p.ledger.markCommitted(offsets[t.Topic][rp.Partition].Offset)
					if p.stateful != nil {
						if err := p.stateful.Committed(); err != nil {
							errs = append(errs, fmt.Errorf("%s: after commit: %w", tp, err))
						}
					}
				}
			}
		}
	})
	if len(errs) > 0 {
		err := fmt.Errorf("actors: commit: %w", errors.Join(errs...))
		e.cfg.Observer.Committed(len(byTP), err)
		return err
	}
	e.cfg.Observer.Committed(len(byTP), nil)
	return nil
}

// Run polls cl and runs the actor tree until ctx is cancelled or a fatal
// error occurs, then shuts down in order. It returns nil after a requested
// shutdown and the fatal error otherwise. The caller closes cl after Run
// returns. Run may be called once.
func (e *Engine) Run(ctx context.Context, cl *kgo.Client) error {
	e.mu.Lock()
	e.mu.client = cl
	e.mu.Unlock()
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The first review pauses the topics a step plan holds back before
	// anything is fetched.
	e.review(runCtx)
	var wg sync.WaitGroup
	wg.Go(func() { e.modeLoop(runCtx) })
	wg.Go(func() { e.fetchLoop(runCtx, cl) })
	wg.Go(func() { e.commitLoop(runCtx, cl) })
	wg.Go(func() { e.watchLoop(runCtx, cl) })
	select {
	case <-ctx.Done():
	case <-e.failed:
	}
	cancel()
	wg.Wait()
	return e.shutdown(ctx, cl)
}

// shutdown runs the shutdown order. Each step is bounded by DrainTimeout.
func (e *Engine) shutdown(ctx context.Context, cl *kgo.Client) error {
	// 1. Stop fetching: the fetch loop has returned before this runs.
	e.mu.Lock()
	e.mu.closing = true
	parts := slices.Collect(maps.Values(e.mu.parts))
	clear(e.mu.parts)
	e.mu.Unlock()

	// The caller's ctx is cancelled by now on a requested shutdown; each
	// step below gets its own deadline, so one stuck step cannot starve
	// the ones after it.
	base := context.WithoutCancel(ctx)
	e.cfg.Logger.Info("shutting down", "partitions", len(parts))

	// 2. Drain partition actors: the record in progress finishes, nothing
	//    new starts. 3. Wait for produced records to be acknowledged.
	for _, p := range parts {
		p.stopping.Store(true)
	}
	dctx, dcancel := context.WithTimeout(base, e.cfg.DrainTimeout)
	e.drain(dctx, parts)
	dcancel()
	// 4. Commit what is done.
	cctx, ccancel := context.WithTimeout(base, stepTimeout)
	if err := e.commit(cctx, cl, parts); err != nil {
		e.cfg.Logger.Warn("final commit failed; records since the last commit will be handled again", "err", err)
	}
	ccancel()
	// 5. Stores were checkpointed by that commit (Stateful.Committed).
	// 6. Stop the actors, bottom-up, then the actor system.
	e.stopActors(parts)
	//    Then close the partitions' state (stores are checkpointed after
	//    each commit; closing flushes them to disk).
	e.closeState(parts)
	// Every live partition is stopped by now; what may remain under the
	// engine actor are partitions abandoned while stalled, whose handler
	// is stuck in user code. Do not wait for those.
	e.system.Root.Stop(e.root)
	e.system.Shutdown()
	close(e.stopped)
	// 7. Leave the group so the partitions move at once; the caller then
	//    closes the client.
	lctx, lcancel := context.WithTimeout(base, stepTimeout)
	if err := cl.LeaveGroupContext(lctx); err != nil {
		e.cfg.Logger.Warn("leaving the group", "err", err)
	}
	lcancel()

	e.mu.Lock()
	defer e.mu.Unlock()
	return e.mu.cause
}

// fetchLoop polls and hands each partition's records to its actor. With
// kgo.BlockRebalanceOnPoll, rebalance callbacks run only between a poll's
// dispatch and the next poll, so no record polled before a revoke is
// dispatched after it.
//
// Stalled partitions are restarted here too, after a poll's dispatch and
// before rebalances are allowed again: no polled record is then waiting to
// be dispatched, no rebalance can run, and no commit is in progress, which
// is what resetting a partition's fetch position needs.
func (e *Engine) fetchLoop(ctx context.Context, cl *kgo.Client) {
	for {
		pollCtx, cancel := context.WithCancel(ctx)
		e.mu.Lock()
		e.mu.pollCancel = cancel
		heal := len(e.mu.heals) > 0
		e.mu.Unlock()
		if heal {
			cancel() // heals are waiting: take the poll's turn at once
		}
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if ctx.Err() != nil || fetches.IsClientClosed() {
			cl.AllowRebalance()
			return
		}
		fetches.EachError(func(topic string, partition int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, kgo.ErrClientClosed) {
				e.cfg.Logger.Warn("fetch error", "topic", topic, "partition", partition, "err", err)
			}
		})
		e.mu.Lock()
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			p := e.mu.parts[TopicPartition{Topic: fp.Topic, Partition: fp.Partition}]
			if p == nil {
				return
			}
			if len(fp.Records) == 0 {
				p.flow.observe(fp.HighWatermark)
				return
			}
			p.flow.add(len(fp.Records), fp.Records[0].Offset, fp.HighWatermark)
			e.system.Root.Send(p.pid, &fetched{records: fp.Records})
		})
		heals := e.mu.heals
		e.mu.heals = nil
		e.mu.Unlock()
		for _, tp := range heals {
			e.heal(cl, tp)
		}
		cl.AllowRebalance()
	}
}

// commitLoop commits every CommitInterval, and sooner for stateful
// partitions whose state holds more unflushed changes than it should
// (Stateful.Full): that bounds the memory of their write-back caches.
func (e *Engine) commitLoop(ctx context.Context, cl *kgo.Client) {
	t := time.NewTicker(e.cfg.CommitInterval)
	defer t.Stop()
	full := time.NewTicker(min(e.cfg.CommitInterval, fullCheckInterval))
	defer full.Stop()
	for {
		var all bool
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			all = true
		case <-full.C:
		}
		e.mu.Lock()
		parts := slices.Collect(maps.Values(e.mu.parts))
		e.mu.Unlock()
		if !all {
			parts = slices.DeleteFunc(parts, func(p *partition) bool {
				return p.stateful == nil || !p.restored.Load() || !p.stateful.Full()
			})
		}
		if len(parts) == 0 {
			continue
		}
		if err := e.commit(ctx, cl, parts); err != nil && ctx.Err() == nil {
			e.cfg.Logger.Warn("periodic commit failed; retrying next interval", "err", err)
		}
	}
}

// fullCheckInterval is how often the committer asks stateful partitions
// whether their unflushed state is over its bound.
const fullCheckInterval = 100 * time.Millisecond

// Status describes the assigned partitions, sorted by topic and partition.
// Safe for concurrent use.
func (e *Engine) Status() []PartitionStatus {
	e.mu.Lock()
	parts := slices.Collect(maps.Values(e.mu.parts))
	cl := e.mu.client
	stalls := maps.Clone(e.mu.stalls)
	e.mu.Unlock()
	var groupOffsets map[string]map[int32]kgo.EpochOffset
	if cl != nil {
		// What the group had committed before this worker's first commit.
		groupOffsets = cl.CommittedOffsets()
	}
	out := make([]PartitionStatus, 0, len(parts))
	for _, p := range parts {
		next, committed := p.ledger.snapshot()
		if eo, ok := groupOffsets[p.tp.Topic][p.tp.Partition]; ok && committed < 0 {
			committed = eo.Offset
		}
		inflight, paused, _, hwm := p.flow.state()
		st := PartitionStatus{
			Topic: p.tp.Topic, Partition: p.tp.Partition,
			Next: next, Committed: committed, HighWatermark: hwm, Lag: p.lag(),
			InFlight: inflight, Paused: paused,
			Mode: modes.Mode(p.mode.Load()).String(), ModeSwitches: int(p.switches.Load()),
			LastSwitch: p.lastSwitch.Load(),
			StepHeld:   p.held.Load(),
			Restoring:  !p.restored.Load(),
		}
		if rec, ok := stalls[p.tp]; ok {
			st.Stalls, st.LastStall = rec.count, &rec.last
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Topic != out[j].Topic {
			return out[i].Topic < out[j].Topic
		}
		return out[i].Partition < out[j].Partition
	})
	return out
}

// Ready reports whether the member has joined its group and every assigned
// partition is ready to handle records (its state restored). Safe for
// concurrent use.
func (e *Engine) Ready() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.mu.joined || e.mu.closing || e.mu.starting > 0 {
		return false
	}
	for _, p := range e.mu.parts {
		if !p.restored.Load() {
			return false
		}
	}
	return true
}

// flushState flushes the state of stateful partitions that handled records
// since their last flush, and raises their commit limit to what is now
// durable. A failed flush stops the Engine: the partition's changes since
// its last flush may be lost, so nothing past it may be committed. Called
// with commitMu held.
func (e *Engine) flushState(ctx context.Context, parts []*partition) {
	for _, p := range parts {
		if p.stateful == nil || !p.restored.Load() {
			continue
		}
		pos := p.ledger.nextOffset.Load()
		if pos < 0 || pos <= p.flushedPos {
			continue
		}
		if err := p.stateful.Flush(ctx); err != nil {
			if ctx.Err() == nil {
				e.fail(fmt.Errorf("actors: %s: flushing state: %w", p.tp, err))
			}
			continue
		}
		p.flushedPos = pos
		p.ledger.limit.Store(pos)
	}
}

// closeState closes the state of stopped partitions, once their restore
// goroutine has returned.
func (e *Engine) closeState(parts []*partition) {
	for _, p := range parts {
		if p.stateful == nil {
			continue
		}
		p.cancel()
		<-p.restoreDone
		if err := p.stateful.Close(); err != nil {
			p.logger.Warn("closing partition state", "err", err)
		}
	}
}

func countPartitions(m map[string][]int32) int {
	n := 0
	for _, ps := range m {
		n += len(ps)
	}
	return n
}

func sortedPartitions(m map[string][]int32) []TopicPartition {
	var tps []TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			tps = append(tps, TopicPartition{Topic: t, Partition: p})
		}
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].Topic != tps[j].Topic {
			return tps[i].Topic < tps[j].Topic
		}
		return tps[i].Partition < tps[j].Partition
	})
	return tps
}
