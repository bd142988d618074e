package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

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
	// A partition drained meanwhile (revoked, shutting down) restarts its
	// handler at once, and the record waits for the next owner.
	Backoff time.Duration
	// MaxBackoff caps Backoff. Default 5s.
	MaxBackoff time.Duration
	// CommitInterval is the period of offset commits. Default 5s. Each
	// periodic commit, its state flush included, gives up after 10s or
	// DrainTimeout, whichever is shorter, and is retried at the next
	// interval: in a broker outage commits fail rather than pile up.
	CommitInterval time.Duration
	// DrainTimeout bounds how long revoking partitions, or shutting down,
	// waits for in-flight records and their outputs, and a revoke for its
	// commit (waiting for a commit in progress included). Default 30s.
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
