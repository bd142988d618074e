package shards

import (
	"fmt"
	"time"
)

// Def is the untyped part of a table: its name, changelog topic, encoding
// and options. It is immutable once the app runs.
type Def struct {
	name      string
	changelog string
	schema    string
	global    bool
	opts      DefOptions
}

// DefOptions are a table's options that the machinery acts on; package
// tables' Options in its own terms.
type DefOptions struct {
	Store                  string // store URL; "" for the worker's
	Partitions             int    // changelog partitions when created; 0: the sources'
	ReplicationFactor      int    // 0: the worker's
	SegmentTime            time.Duration
	MinCleanableDirtyRatio float64
	MaxCompactionLag       time.Duration
}

// NewDef returns the definition of table name whose stores hold values
// of schema (a store written with another schema is refused). A global
// table follows topic; another gets its changelog from SetChangelog.
func NewDef(name, schema string, global bool, topic string, opts DefOptions) *Def {
	return &Def{name: name, schema: schema, global: global, changelog: topic, opts: opts}
}

// Name returns the table's name.
func (d *Def) Name() string { return d.name }

// Changelog returns the table's changelog topic, or the topic a global
// table follows.
func (d *Def) Changelog() string { return d.changelog }

// SetChangelog names the changelog topic, when the table is registered
// with its app, before the app runs.
func (d *Def) SetChangelog(topic string) { d.changelog = topic }

// Global reports whether the table is global: every worker holds every
// partition, read-only for handlers.
func (d *Def) Global() bool { return d.global }

// Options returns the table's options.
func (d *Def) Options() DefOptions { return d.opts }

// Schema identifies the table's encoding in its stores.
func (d *Def) Schema() string { return d.schema }

// TopicConfigs returns the changelog topic's configuration for creation:
// compacted, with the options that are set.
func (d *Def) TopicConfigs() map[string]*string {
	str := func(s string) *string { return &s }
	c := map[string]*string{"cleanup.policy": str("compact")}
	if d.opts.SegmentTime > 0 {
		c["segment.ms"] = str(fmt.Sprint(d.opts.SegmentTime.Milliseconds()))
	}
	if d.opts.MinCleanableDirtyRatio > 0 {
		c["min.cleanable.dirty.ratio"] = str(fmt.Sprint(d.opts.MinCleanableDirtyRatio))
	}
	if d.opts.MaxCompactionLag > 0 {
		c["max.compaction.lag.ms"] = str(fmt.Sprint(d.opts.MaxCompactionLag.Milliseconds()))
	}
	return c
}
