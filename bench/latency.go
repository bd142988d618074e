package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
)

// runLatency is the latency scenario: once the worker is ready, records
// are produced at config.latencyRate for config.latencyDuration, each
// value carrying its send time, and a stateless handler takes the time
// from the send to its call. Its records/s is the rate achieved from the
// first send to the last record handled; its figures are the latency's
// p50, p99 and maximum in milliseconds.
func runLatency(ctx context.Context, h *harness, i int) (measurement, error) {
	topic := h.name("latency", i)
	if err := h.createTopic(ctx, topic, false); err != nil {
		return measurement{}, err
	}
	total := max(1, int(float64(h.cfg.latencyRate)*h.cfg.latencyDuration.Seconds()))
	lat := &latencies{ns: make([]int64, total)}
	cd := newCountdown([]int64{int64(total)}) // one count for all partitions: 10,000 adds/s contend little
	app := runtime.NewApp(topic)
	runtime.Handle(app, runtime.HandlerFunc[[]byte, []byte](func(_ *runtime.Context, m *runtime.Message[[]byte, []byte]) error {
		now := time.Now().UnixNano()
		if len(m.Value) < 8 {
			return fmt.Errorf("a value of %d bytes carries no send time", len(m.Value))
		}
		lat.add(now - int64(binary.BigEndian.Uint64(m.Value)))
		cd.add(0)
		return nil
	}), serde.Bytes(), serde.Bytes(), topic)

	r := startApp(ctx, app, appConfig(h.conn, app.Name(), "", ""))
	err := r.waitReady(ctx, partitions)
	var first time.Time
	if err == nil {
		first, err = h.producePaced(ctx, topic, total)
	}
	if err == nil {
		err = r.wait(ctx, cd.done, fmt.Sprintf("handling %d records", total))
	}
	last := time.Now()
	if err = errors.Join(err, r.stop()); err != nil {
		return measurement{}, err
	}
	if err := h.deleteTopics(ctx, topic); err != nil {
		return measurement{}, err
	}
	p50, p99, maxMS := lat.summary()
	return measurement{records: int64(total), elapsed: last.Sub(first), figures: map[string]float64{
		"p50_ms": p50, "p99_ms": p99, "max_ms": maxMS,
	}}, nil
}

// producePaced produces n records of the workload to topic at
// config.latencyRate, each value starting with its send time (Unix
// nanoseconds, big-endian). The producer does not linger: a record goes
// out as soon as the client can send it, so that the latency measured is
// Eddy's rather than the producer's batching. It returns the time of the
// first send once every record is acknowledged.
func (h *harness) producePaced(ctx context.Context, topic string, n int) (time.Time, error) {
	cl, err := kgo.NewClient(h.options(kgo.ProducerLinger(0))...)
	if err != nil {
		return time.Time{}, fmt.Errorf("producer for %s: %w", topic, err)
	}
	defer cl.Close()
	var acks acks
	next, fill := h.work.picker(), h.work.values()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	perSecond := float64(h.cfg.latencyRate)
	for sent := 0; sent < n; {
		// Send what is due by now: the rate holds on average even when a
		// tick comes late.
		due := min(n, int(time.Since(start).Seconds()*perSecond)+1)
		for ; sent < due; sent++ {
			v := make([]byte, valueLen)
			fill(v)
			binary.BigEndian.PutUint64(v, uint64(time.Now().UnixNano()))
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: h.work.keys[next()], Value: v}, acks.promise)
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("produce to %s: %w", topic, ctx.Err())
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return time.Time{}, fmt.Errorf("produce to %s: %w", topic, err)
	}
	if err := acks.err(); err != nil {
		return time.Time{}, fmt.Errorf("produce to %s: %w", topic, err)
	}
	return start, nil
}

// acks collects the first error of a producer's promises.
type acks struct{ failed atomic.Pointer[error] }

// promise is a kgo produce promise; safe for concurrent use.
func (a *acks) promise(_ *kgo.Record, err error) {
	if err != nil {
		a.failed.CompareAndSwap(nil, &err)
	}
}

// err returns the first error a promise was given, or nil.
func (a *acks) err() error {
	if p := a.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// latencies collects one latency per record from concurrent handlers:
// each add takes a slot of its own. Read it only once every add happened
// before (the countdown's done).
type latencies struct {
	ns   []int64
	next atomic.Int64
}

// add records d nanoseconds; latencies beyond the slots (a record
// delivered twice) are dropped.
func (l *latencies) add(d int64) {
	if i := l.next.Add(1) - 1; i < int64(len(l.ns)) {
		l.ns[i] = d
	}
}

// summary returns the p50, p99 (nearest rank) and maximum, in
// milliseconds.
func (l *latencies) summary() (p50, p99, maxMS float64) {
	s := slices.Clone(l.ns[:min(int(l.next.Load()), len(l.ns))])
	if len(s) == 0 {
		return 0, 0, 0
	}
	slices.Sort(s)
	rank := func(p float64) float64 {
		i := max(0, int(math.Ceil(p*float64(len(s))))-1)
		return float64(s[i]) / 1e6
	}
	return rank(0.50), rank(0.99), float64(s[len(s)-1]) / 1e6
}
