package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/modes"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// quietLogs is a log level above every level the runtime logs at: the
// apps under measurement log nothing (a failure still ends their Run with
// an error, which the harness reports).
const quietLogs = slog.LevelError + 4

// readyPoll is how often waitReady looks at the app's status. The public
// API has no readiness notification; 2ms bounds the error of a restore's
// time well below its length.
const readyPoll = 2 * time.Millisecond

// appConfig is the configuration of every app the harness runs: conn's
// brokers and connection settings, a consumer group of its own, no HTTP,
// no logs, and tables in stateDir with store (both may be empty for a
// stateless app). Everything else is the runtime's default, the mode too
// (auto: bulk while a partition is far behind, single once it keeps up).
func appConfig(conn runtime.Config, group, store, stateDir string) runtime.Config {
	cfg := conn.Connection()
	cfg.Group, cfg.HTTP, cfg.LogLevel = group, "off", quietLogs
	cfg.TableStore, cfg.StateDir = store, stateDir
	return cfg
}

// runningApp is an App running on a goroutine of its own; stop ends it.
type runningApp struct {
	app    *runtime.App
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned
	err    error         // Run's result, set before done is closed
}

// startApp runs app with cfg until stop or until ctx ends. The caller must
// call stop.
func startApp(ctx context.Context, app *runtime.App, cfg runtime.Config) *runningApp {
	ctx, cancel := context.WithCancel(ctx)
	r := &runningApp{app: app, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.err = app.Run(ctx, cfg)
	}()
	return r
}

// stop shuts the app down (drain, flush, commit, close) and returns Run's
// error.
func (r *runningApp) stop() error {
	r.cancel()
	<-r.done
	if r.err != nil {
		return fmt.Errorf("app %s: %w", r.app.Name(), r.err)
	}
	return nil
}

// wait returns once done is closed, or with an error once the app stopped
// or ctx ended first.
func (r *runningApp) wait(ctx context.Context, done <-chan struct{}, what string) error {
	select {
	case <-done:
		return nil
	case <-r.done:
		return fmt.Errorf("app %s stopped before %s: %v", r.app.Name(), what, r.err)
	case <-ctx.Done():
		return fmt.Errorf("app %s: waiting for %s: %w", r.app.Name(), what, ctx.Err())
	}
}

// waitReady returns once the worker holds parts partitions, each ready
// (its tables restored), as /readyz would say; or with an error once the
// app stopped or ctx ended first.
func (r *runningApp) waitReady(ctx context.Context, parts int) error {
	tick := time.NewTicker(readyPoll)
	defer tick.Stop()
	for {
		if st, ok := r.app.Status(); ok && st.Ready && len(st.Partitions) == parts && !restoring(st) {
			return nil
		}
		select {
		case <-tick.C:
		case <-r.done:
			return fmt.Errorf("app %s stopped before it was ready: %v", r.app.Name(), r.err)
		case <-ctx.Done():
			return fmt.Errorf("app %s: waiting for it to be ready: %w", r.app.Name(), ctx.Err())
		}
	}
}

// restoring reports whether a partition of st is still restoring.
func restoring(st runtime.Status) bool {
	for _, p := range st.Partitions {
		if p.Restoring {
			return true
		}
	}
	return false
}

// storeName is a store URL's scheme: "memory", "rocksdb".
func storeName(url string) string { return strings.TrimSuffix(url, "://") }

// consume runs app until cd has counted every record and the app has shut
// down. It returns the time from the start to the last record handled and
// to the end of the shutdown (whose final flush and commit make a table's
// counts durable).
func consume(ctx context.Context, app *runtime.App, cfg runtime.Config, cd *countdown) (handled, durable time.Duration, err error) {
	start := time.Now()
	r := startApp(ctx, app, cfg)
	if err := r.wait(ctx, cd.done, fmt.Sprintf("handling %d records", cd.total())); err != nil {
		return 0, 0, errors.Join(err, r.stop())
	}
	handled = time.Since(start)
	if err := r.stop(); err != nil {
		return 0, 0, err
	}
	return handled, time.Since(start), nil
}

// countingHandler counts records in cd, with bytes codecs.
func countingHandler(cd *countdown) runtime.Handler[[]byte, []byte] {
	return runtime.HandlerFunc[[]byte, []byte](func(_ *runtime.Context, m *runtime.Message[[]byte, []byte]) error {
		cd.add(m.Record.Partition)
		return nil
	})
}

// statelessRun returns the run of the single or bulk scenario: a
// stateless handler that counts records (bulkCounter: OnBulk counts a
// batch at once), bytes codecs, with the mode forced (the default, auto,
// would switch a backlog to bulk), from App.Run to the last record handled
// (joining the group included, as for raw-consume). Forced bulk waits
// bulk.max_wait for a partial batch to fill, each partition's last one: a
// 10ms wait keeps that tail from dominating.
func statelessRun(mode modes.Mode) func(context.Context, *harness, int) (measurement, error) {
	return func(ctx context.Context, h *harness, i int) (measurement, error) {
		topic, err := h.recordsTopic(ctx)
		if err != nil {
			return measurement{}, err
		}
		cd, err := h.countdown(ctx, topic)
		if err != nil {
			return measurement{}, err
		}
		app := runtime.NewApp(h.name(mode.String(), i))
		runtime.Handle(app, bulkCounter{cd: cd}, serde.Bytes(), serde.Bytes(), topic)
		cfg := appConfig(h.conn, app.Name(), "", "")
		cfg.Mode = mode
		cfg.BulkMaxWait = 10 * time.Millisecond
		handled, _, err := consume(ctx, app, cfg, cd)
		return measurement{records: int64(h.cfg.records), elapsed: handled}, err
	}
}

// countRun returns the run of a count scenario on store: a handler that
// counts records per key in a table (Get, then Set of the count plus
// one), string keys, default settings. The clock runs from the start of
// the app until its shutdown is done, so it includes the final flush to
// the changelog, the commit and the closing of the stores: records/s is
// the rate at which counts became durable. The figures are the rate at
// which records were handled and the changelog records written per record
// (the write-back cache's folding).
func countRun(store string) func(context.Context, *harness, int) (measurement, error) {
	return func(ctx context.Context, h *harness, i int) (measurement, error) {
		topic, err := h.recordsTopic(ctx)
		if err != nil {
			return measurement{}, err
		}
		dir, err := h.tempDir("state")
		if err != nil {
			return measurement{}, err
		}
		cd, err := h.countdown(ctx, topic)
		if err != nil {
			return measurement{}, err
		}
		app := runtime.NewApp(h.name(storeName(store)+"-count", i))
		counts := runtime.NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{})
		runtime.Handle(app, runtime.HandlerFunc[string, []byte](func(ctx *runtime.Context, m *runtime.Message[string, []byte]) error {
			n, _, err := counts.Get(ctx, m.Key)
			if err != nil {
				return err
			}
			if err := counts.Set(ctx, m.Key, n+1); err != nil {
				return err
			}
			cd.add(m.Record.Partition)
			return nil
		}), serde.String(), serde.Bytes(), topic)
		handled, durable, err := consume(ctx, app, appConfig(h.conn, app.Name(), store, dir), cd)
		if err != nil {
			return measurement{}, err
		}
		changelog := app.Name() + "-counts-changelog"
		written, err := h.endOffsets(ctx, changelog)
		if err != nil {
			return measurement{}, err
		}
		if err := h.deleteTopics(ctx, changelog); err != nil {
			return measurement{}, err
		}
		n := int64(h.cfg.records)
		return measurement{records: n, elapsed: durable, figures: map[string]float64{
			"handled_rec_per_sec":  float64(n) / handled.Seconds(),
			"changelog_per_record": float64(written) / float64(n),
		}}, h.removeDir(dir)
	}
}
