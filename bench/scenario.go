package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"time"

	"github.com/eddy-streams/eddy/modes"
)

// scenario is one row of the results: a figure in records/s, measured
// config.runs times, with optional further figures (latency percentiles,
// peak RSS) and a target.
type scenario struct {
	name string
	// baseline names the scenario whose median records/s divides this
	// one's into the ratio; empty for none.
	baseline string
	// target is what issue 6 asks of the scenario; nil for none.
	target *target
	// prepare, when set, runs once before the first run: loading data the
	// runs share. finish, when set, runs once after the last (or after a
	// failed run), releasing it.
	prepare func(ctx context.Context, h *harness) error
	finish  func(ctx context.Context, h *harness) error
	// run measures once; i counts runs from 0. It is given its own
	// deadline (--run-timeout).
	run func(ctx context.Context, h *harness, i int) (measurement, error)
}

// measurement is what one run of a scenario measured.
type measurement struct {
	// records were processed in elapsed: the scenario's records/s.
	records int64
	elapsed time.Duration
	// figures are further numbers of the run, by name (see figureFormats).
	figures map[string]float64
}

// rate returns the records per second of m.
func (m measurement) rate() float64 { return float64(m.records) / m.elapsed.Seconds() }

// target is a bound on the ratio or on one figure's median.
type target struct {
	// figure is "ratio" (the ratio of medians to the baseline) or the
	// name of a figure.
	figure string
	// atMost makes bound a maximum; otherwise it is a minimum.
	atMost bool
	bound  float64
	// text is how the results show the target, e.g. ">= 0.5x".
	text string
}

// ratioAtLeast is the target "at least bound times the baseline".
func ratioAtLeast(bound float64) *target {
	return &target{figure: "ratio", bound: bound, text: fmt.Sprintf(">= %gx", bound)}
}

// met reports whether v satisfies the target.
func (t *target) met(v float64) bool {
	if t.atMost {
		return v <= t.bound
	}
	return v >= t.bound
}

// scenarios is the harness's table, baselines first: every scenario a
// full run measures, in the order it measures them. Add a scenario by
// adding a row.
func scenarios() []scenario {
	restore := &changelogData{}
	rss := &backlog{}
	return []scenario{
		{name: "raw-consume", run: runRawConsume},
		{name: "raw-produce", run: runRawProduce},
		{name: "raw-rocksdb", run: runRawRocksDB},
		{name: "single", baseline: "raw-consume", target: ratioAtLeast(0.5), run: statelessRun(modes.Single)},
		{name: "bulk", baseline: "raw-consume", target: ratioAtLeast(0.75), run: statelessRun(modes.Bulk)},
		// Issue 4: a backlog with a fixed cost per handler call (one
		// RocksDB write), forced single against auto.
		{name: "single-catchup", run: catchupRun(modes.Single)},
		{name: "auto-catchup", baseline: "single-catchup", target: ratioAtLeast(1.5), run: catchupRun(modes.Auto)},
		{name: "memory-count", baseline: "raw-consume", target: ratioAtLeast(0.25), run: countRun("memory://")},
		{name: "rocksdb-count", baseline: "raw-rocksdb", target: ratioAtLeast(3), run: countRun("rocksdb://")},
		{name: "restore-memory", baseline: "raw-consume", prepare: restore.prepare, run: restore.run("memory://")},
		{name: "restore-rocksdb", baseline: "raw-rocksdb", target: ratioAtLeast(1), prepare: restore.prepare, finish: restore.finish, run: restore.run("rocksdb://")},
		{name: "latency", target: &target{figure: "p99_ms", atMost: true, bound: 10, text: "p99 <= 10 ms"}, run: runLatency},
		{name: "rss", target: &target{figure: "peak_rss_mib", atMost: true, bound: 300, text: "peak RSS <= 300 MiB"},
			prepare: rss.prepare, finish: rss.finish, run: rss.run},
	}
}

// selectScenarios returns the scenarios whose name only matches, with the
// baselines they need, in table order; nil only selects all of them.
func selectScenarios(all []scenario, only *regexp.Regexp) ([]scenario, error) {
	if only == nil {
		return all, nil
	}
	want := make(map[string]bool)
	for _, sc := range all {
		if only.MatchString(sc.name) {
			want[sc.name] = true
			if sc.baseline != "" {
				want[sc.baseline] = true
			}
		}
	}
	if len(want) == 0 {
		names := make([]string, len(all))
		for i, sc := range all {
			names[i] = sc.name
		}
		return nil, fmt.Errorf("%w: --only %q matches no scenario (there are %v)", errUsage, only, names)
	}
	return slices.DeleteFunc(slices.Clone(all), func(sc scenario) bool { return !want[sc.name] }), nil
}

// runScenario runs sc's runs and summarizes them.
func (h *harness) runScenario(ctx context.Context, sc scenario) (_ result, err error) {
	if sc.prepare != nil {
		if err := sc.prepare(ctx, h); err != nil {
			return result{}, fmt.Errorf("bench: %s: prepare: %w", sc.name, err)
		}
	}
	if sc.finish != nil {
		defer func() {
			if ferr := sc.finish(ctx, h); ferr != nil {
				err = errors.Join(err, fmt.Errorf("bench: %s: finish: %w", sc.name, ferr))
			}
		}()
	}
	runs := h.cfg.runs
	ms := make([]measurement, 0, runs)
	for i := range runs {
		rctx, cancel := context.WithTimeout(ctx, h.cfg.runTimeout)
		m, err := sc.run(rctx, h, i)
		cancel()
		if err != nil {
			return result{}, fmt.Errorf("bench: %s, run %d of %d: %w", sc.name, i+1, runs, err)
		}
		fmt.Fprintf(h.cfg.progress, "%-16s run %d/%d: %9s rec/s (%d records in %.2fs)%s\n",
			sc.name, i+1, runs, formatRate(m.rate()), m.records, m.elapsed.Seconds(), formatFigures(m.figures))
		ms = append(ms, m)
	}
	return summarize(sc, ms), nil
}
