package shards

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/acks"
	"github.com/eddy-streams/eddy/stores"
)

// Producer sends a record asynchronously and calls promise with the
// outcome; *kgo.Client's Produce, bound to a context, fits.
type Producer func(rec *kgo.Record, promise func(*kgo.Record, error))

// RegistryConfig configures a Registry.
type RegistryConfig struct {
	// Tables are the app's tables (not global ones), with the backend each
	// one's store URL selected.
	Tables map[*Def]stores.Backend
	// Produce writes changelog records; each carries its partition, so
	// the producer's partitioner must honour Record.Partition for
	// changelog topics.
	Produce Producer
	// Restore are the client options restore consumers start from (seed
	// brokers, TLS, SASL, ...).
	Restore []kgo.Opt
	// Logger receives restore progress. Default: discard.
	Logger *slog.Logger
	// OnRestored, if set, is told of each finished shard restore.
	OnRestored func(RestoreStats)
}

// Registry holds one worker's table shards. A partition number's shards
// are opened when the first partition of that number is acquired and
// closed when the last is released: topics a and b, both feeding a
// table, share shard 3 between partitions a/3 and b/3. Safe for
// concurrent use.
type Registry struct {
	cfg  RegistryConfig
	defs []*Def // a fixed order, for stable shard indexes
	mu   struct {
		sync.Mutex
		parts map[int32]*Partition
	}
}

// NewRegistry returns a registry for cfg.
func NewRegistry(cfg RegistryConfig) *Registry {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Registry{cfg: cfg}
	for d := range cfg.Tables {
		r.defs = append(r.defs, d)
	}
	r.mu.parts = make(map[int32]*Partition)
	return r
}

// Partition is the shards of every table for one partition number, held
// by the partitions of that number a worker is assigned.
type Partition struct {
	reg    *Registry
	number int32
	refs   int // guarded by reg.mu
	shards map[*Def]*Shard

	// restore has one caller replay the shards' changelogs while the
	// others (source partitions of the same number) wait for it, or for
	// their own context.
	restore struct {
		mu      sync.Mutex // guards done and running
		done    bool
		running chan struct{} // closed when the replay in progress ends; nil when none
	}

	acks flushAcks // changelog writes in flight
}

// Acquire returns the shards of partition number, opening their stores if
// no partition of that number holds them yet. Release it when done.
func (r *Registry) Acquire(number int32) (*Partition, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p := r.mu.parts[number]; p != nil {
		p.refs++
		return p, nil
	}
	p := &Partition{reg: r, number: number, refs: 1, shards: make(map[*Def]*Shard)}
	for _, d := range r.defs {
		st, err := r.cfg.Tables[d].Open(stores.Meta{Table: d.name, Partition: number, Schema: d.schema})
		if err != nil {
			for _, s := range p.shards {
				_ = s.store.Close()
			}
			return nil, fmt.Errorf("tables: %s partition %d: %w", d.name, number, err)
		}
		p.shards[d] = newShard(d, number, st)
	}
	r.mu.parts[number] = p
	return p, nil
}

// Release gives back a partition from Acquire; the last release of a
// number closes its stores. Unflushed changes are dropped.
func (r *Registry) Release(p *Partition) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.refs <= 0 {
		return nil // released already
	}
	if p.refs--; p.refs > 0 {
		return nil
	}
	delete(r.mu.parts, p.number)
	var errs []error
	for _, s := range p.shards {
		if err := s.close(); err != nil {
			errs = append(errs, fmt.Errorf("tables: closing %s partition %d: %w", s.def.name, p.number, err))
		}
	}
	return errors.Join(errs...)
}

// Dirty returns how many keys the partition's shards changed since their
// last flush: what its write-back caches hold beyond the store.
func (p *Partition) Dirty() int {
	n := 0
	for _, s := range p.shards {
		n += s.dirtyLen()
	}
	return n
}

// Shards returns the shards of table d this registry holds now, by
// partition.
func (r *Registry) Shards(d *Def) []*Shard {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*Shard
	for _, p := range r.mu.parts {
		if s := p.shards[d]; s != nil {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].partition < out[j].partition })
	return out
}

// Shard returns the partition's shard of table d, or nil if d is not one of
// the registry's tables.
func (p *Partition) Shard(d *Def) *Shard { return p.shards[d] }

// Restore brings every shard up to its changelog's end, once; callers for
// the same partition number wait for the one replaying, or until their ctx
// ends. A restore cut short by ctx is resumed by the next call.
func (p *Partition) Restore(ctx context.Context) error {
	for {
		p.restore.mu.Lock()
		if p.restore.done {
			p.restore.mu.Unlock()
			return nil
		}
		if running := p.restore.running; running != nil {
			p.restore.mu.Unlock()
			select {
			case <-running:
				continue // done, or cut short: look again
			case <-ctx.Done():
				return fmt.Errorf("tables: partition %d: waiting for its restore in progress: %w", p.number, ctx.Err())
			}
		}
		running := make(chan struct{})
		p.restore.running = running
		p.restore.mu.Unlock()

		err := p.replay(ctx)
		p.restore.mu.Lock()
		p.restore.done = err == nil
		p.restore.running = nil
		close(running)
		p.restore.mu.Unlock()
		return err
	}
}

// replay restores every shard, one after the other.
func (p *Partition) replay(ctx context.Context) error {
	for _, s := range p.shards {
		r := &replay{name: s.def.name, topic: s.def.changelog, kind: "changelog", shards: []*Shard{s}, opts: p.reg.cfg.Restore, logger: p.reg.cfg.Logger}
		stats, err := r.run(ctx)
		if err != nil {
			return err
		}
		if p.reg.cfg.OnRestored != nil {
			p.reg.cfg.OnRestored(stats[0])
		}
	}
	return nil
}

// Flush produces every shard's writes since the last flush to the
// changelog and waits until they, and any an earlier interrupted Flush
// produced, are acknowledged, or ctx ends. After it returns nil, the
// changes of every record handled before it was called are durable.
// Called by the committer, never concurrently with itself.
func (p *Partition) Flush(ctx context.Context) error {
	for _, s := range p.shards {
		for k, e := range s.takeDirty() {
			rec := &kgo.Record{Topic: s.def.changelog, Partition: s.partition, Key: []byte(k)}
			if !e.deleted {
				// A set is never a tombstone, even of a nil value.
				rec.Value = e.value
				if rec.Value == nil {
					rec.Value = []byte{}
				}
			}
			p.acks.writes.Add(1)
			sh := s
			p.reg.cfg.Produce(rec, func(r *kgo.Record, err error) { p.acks.done(sh, r.Offset, err) })
		}
	}
	if err := p.acks.writes.Wait(ctx); err != nil {
		return fmt.Errorf("tables: partition %d: waiting for changelog writes: %w", p.number, err)
	}
	last, err := p.acks.take()
	if err != nil {
		return err
	}
	for s, off := range last {
		s.checkpoint = off + 1
	}
	for _, s := range p.shards {
		s.acked = true
	}
	return nil
}

// flushAcks counts a partition's changelog writes in flight across
// flushes, so a flush cut short by its context is waited for by the next
// one, and keeps the first failure: a partition whose changelog write
// failed must not commit again. Produce callbacks update it from the
// client's goroutines and never block.
type flushAcks struct {
	writes acks.Tracker
	mu     sync.Mutex       // guards last
	last   map[*Shard]int64 // highest acknowledged offset per shard
}

// done records one write's outcome: on s, at offset, or err.
func (a *flushAcks) done(s *Shard, offset int64, err error) {
	if err != nil {
		err = fmt.Errorf("tables: %s partition %d: changelog write: %w", s.def.name, s.partition, err)
	} else {
		// Before Done: a flush that saw the writes idle finds their
		// offsets.
		a.mu.Lock()
		if a.last == nil {
			a.last = make(map[*Shard]int64)
		}
		if prev, ok := a.last[s]; !ok || offset > prev {
			a.last[s] = offset
		}
		a.mu.Unlock()
	}
	a.writes.Done(err)
}

// take returns and resets what was acknowledged since the last take, or
// the first failure, which stays.
func (a *flushAcks) take() (map[*Shard]int64, error) {
	if err := a.writes.Err(); err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	last := a.last
	a.last = nil
	return last, nil
}

// Committed writes the flushed changes to the stores with their
// checkpoints; called by the committer after a commit that followed Flush.
func (p *Partition) Committed() error {
	var errs []error
	for _, s := range p.shards {
		if err := s.applyFlushed(); err != nil {
			errs = append(errs, fmt.Errorf("tables: %s partition %d: store: %w", s.def.name, p.number, err))
		}
	}
	return errors.Join(errs...)
}
