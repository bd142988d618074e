package actors

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eddy-streams/eddy/modes"
)

// Config configures an Engine. Its values have no defaults here: the
// settings table (config/settings.go) is the one place
// defaults are written, and it sets every field. New refuses a field left
// at zero, but Logger (default: discard) and Observer (default: none).
type Config struct {
	// NewProcessor builds the Processor of a newly assigned partition.
	// Required. An error stops the Engine.
	NewProcessor func(TopicPartition) (Processor, error)
	// Logger receives the Engine's logs. Default: discard.
	Logger *slog.Logger
	// MaxInFlight bounds a partition's records fetched but not yet handled
	// before its fetching pauses.
	MaxInFlight int
	// MaxAttempts is how many times a record whose handler panics is
	// handled before it goes to Processor.Abandon.
	MaxAttempts int
	// Backoff is the delay before the first restart of a panicked handler
	// actor, doubled per consecutive panic up to MaxBackoff.
	// A partition drained meanwhile (revoked, shutting down) restarts its
	// handler at once, and the record waits for the next owner.
	Backoff time.Duration
	// MaxBackoff caps Backoff.
	MaxBackoff time.Duration
	// CommitInterval is the period of offset commits. Each
	// periodic commit, its state flush included, gives up after 10s or
	// DrainTimeout, whichever is shorter, and is retried at the next
	// interval: in a broker outage commits fail rather than pile up.
	CommitInterval time.Duration
	// DrainTimeout bounds how long revoking partitions, or shutting down,
	// waits for in-flight records and their outputs, and a revoke for its
	// commit (waiting for a commit in progress included).
	DrainTimeout time.Duration
	// StallTimeout is how long a partition may go without handling a
	// record while records wait before it counts as stalled and is
	// restarted from its last commit.
	StallTimeout time.Duration
	// Observer is told of rebalances, restarts, commits, stalls, mode
	// switches and steps. Default: none.
	Observer Observer

	// Modes chooses each partition's mode: forced single or bulk, or
	// auto on its lag (the zero Mode), with its thresholds.
	Modes modes.Policy
	// BulkMaxRecords caps a bulk batch; at most MaxInFlight.
	BulkMaxRecords int
	// BulkMaxWait is how long a partial bulk batch waits for more records
	// before it is handled anyway.
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
	if c.Observer == nil {
		c.Observer = nopObserver{}
	}
	var errs []error
	for _, f := range []struct {
		name string
		ok   bool
	}{
		{"MaxInFlight", c.MaxInFlight > 0}, {"MaxAttempts", c.MaxAttempts > 0},
		{"Backoff", c.Backoff > 0}, {"MaxBackoff", c.MaxBackoff > 0},
		{"CommitInterval", c.CommitInterval > 0}, {"DrainTimeout", c.DrainTimeout > 0},
		{"StallTimeout", c.StallTimeout > 0}, {"BulkMaxRecords", c.BulkMaxRecords > 0},
		{"BulkMaxWait", c.BulkMaxWait > 0},
	} {
		if !f.ok {
			errs = append(errs, fmt.Errorf("actors: Config.%s must be more than 0", f.name))
		}
	}
	if err := c.Modes.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("actors: %w", err))
	}
	if c.BulkMaxRecords > c.MaxInFlight {
		errs = append(errs, fmt.Errorf("actors: a bulk batch of up to %d records cannot fill with at most %d records in flight per partition", c.BulkMaxRecords, c.MaxInFlight))
	}
	return errors.Join(errs...)
}
