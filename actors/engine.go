package actors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/logfloor"
)

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
		// group is what the group watch last found, and listed whether
		// that look found this member in the group.
		group  GroupStatus
		listed bool
		left   bool // the shutdown finished leaving the group
	}
	// io runs the engine actor's broker calls (offset listings) so that
	// Receive never waits on the network. Calls start under mu, never
	// once closing is set; the shutdown then cancels and waits for them.
	io struct {
		wg     sync.WaitGroup
		ctx    context.Context
		cancel context.CancelFunc
	}
	// commitSem is the commit lock, a 1-slot semaphore: unlike a mutex,
	// a wait for it ends with the waiter's context (see lockCommit).
	commitSem chan struct{}
	stopped   chan struct{} // closed once Run's shutdown stopped the actors, after its final commit
	failed    chan struct{} // closed by the first fatal error
	failOnce  sync.Once
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
		cfg:       cfg,
		system:    system,
		stopped:   make(chan struct{}),
		failed:    make(chan struct{}),
		commitSem: make(chan struct{}, 1),
	}
	e.cfg.Logger = logger
	e.io.ctx, e.io.cancel = context.WithCancel(context.Background())
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
		msg.reply <- struct{}{}
	case *evaluate:
		a.evaluate()
		close(msg.done)
	case *assigning:
		a.replanFor(msg.tps)
		close(msg.done)
	case *stepListed:
		a.onListed(msg)
	}
}

// HandleFailure: a partition actor failed outside user code, a defect.
func (a *engineActor) HandleFailure(_ *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason, _ any) {
	a.e.fail(fmt.Errorf("actors: partition actor %s failed: %v", child.Id, reason))
	sup.StopChildren(child)
}

// goIO runs call on a goroutine the Engine owns, for a broker call the
// engine actor must not wait on; call's context ends with the shutdown.
// It reports false, and runs nothing, once Run is shutting down.
func (e *Engine) goIO(call func(ctx context.Context)) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.mu.closing {
		return false
	}
	e.io.wg.Go(func() { call(e.io.ctx) })
	return true
}

// fail stops the Engine with err; the first error wins.
func (e *Engine) fail(err error) {
	e.failOnce.Do(func() {
		e.mu.Lock()
		e.mu.cause = err
		e.mu.Unlock()
		if !errors.Is(err, ErrRejoin) { // the group watch logged why
			e.cfg.Logger.Error("stopping on error", "err", err)
		}
		close(e.failed)
	})
}

// Run polls cl and runs the actor tree until ctx is cancelled or a fatal
// error occurs, then shuts down in order. It returns nil after a requested
// shutdown and the fatal error otherwise: one wrapping ErrRejoin when the
// member could not get into a stable group generation (see Group), after
// which the caller should run a new Engine on a new client. The caller
// closes cl after Run returns; see LeftGroup. Run may be called once.
func (e *Engine) Run(ctx context.Context, cl *kgo.Client) error {
	watch, watched := newGroupWatch(cl, time.Now())
	e.mu.Lock()
	e.mu.client = cl
	if watched {
		e.mu.group = watch.status(groupLook{})
		e.mu.group.Reason = "the group has not been described yet"
	}
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
	if watched {
		wg.Go(func() { e.groupLoop(runCtx, cl, watch) })
	}
	select {
	case <-ctx.Done():
	case <-e.failed:
	}
	cancel()
	wg.Wait()
	return e.shutdown(ctx, cl)
}
