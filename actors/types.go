package actors

import (
	"context"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/modes"
)

// TopicPartition names one partition of one topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

func (tp TopicPartition) String() string { return fmt.Sprintf("%s/%d", tp.Topic, tp.Partition) }

func (tp TopicPartition) asMap() map[string][]int32 {
	return map[string][]int32{tp.Topic: {tp.Partition}}
}

// Processor runs the user's handler for the records of one partition. The
// Engine builds one per assigned partition through Config.NewProcessor and
// calls it only from that partition's handler actor: one record at a time,
// in offset order, never concurrently.
type Processor interface {
	// Process handles one record. Returning nil marks it done (handled or
	// deliberately skipped). Returning an error wrapping ErrInterrupted
	// leaves it unhandled without stopping anything: use it when the call
	// was cut short because the partition is stopping. Any other error stops
	// the Engine with that error, and the record stays uncommitted. A panic
	// is recovered and the record retried (see Config.MaxAttempts).
	Process(call *Call) error
	// Abandon is called instead of Process for a record whose handler
	// panicked Config.MaxAttempts times; err is a *PanicError. Its result
	// means what Process's does.
	Abandon(call *Call, err error) error
}

// BatchProcessor is implemented by a Processor that can handle a bulk batch
// in one call. In bulk mode the Engine hands it whole batches; a Processor
// without it gets a batch's records one by one through Process. Either
// way a batch is marked handled, and so becomes committable, only once
// every record in it is done.
type BatchProcessor interface {
	Processor
	// ProcessBatch handles call.Batch, in offset order. Its result means
	// what Process's does, for the whole batch; a panic retries the batch.
	ProcessBatch(call *Call) error
	// AbandonBatch is called instead of ProcessBatch for a batch whose
	// handler panicked Config.MaxAttempts times; err is a *PanicError
	// naming the batch's first record.
	AbandonBatch(call *Call, err error) error
}

// Stateful is implemented by a Processor that keeps state for its
// partition (tables). The Engine calls it around the record path:
//
//   - Restore once, on a goroutine of its own, before the first record is
//     delivered; records wait meanwhile and the Engine is not Ready. ctx is
//     cancelled when the partition stops, and Restore must then return:
//     closing the state waits for it, in a rebalance callback.
//   - Flush from the committer, before a commit: make every change by
//     records handled so far durable (changelog writes acknowledged), or
//     fail. Only then may offsets up to those records be committed. Flush
//     runs concurrently with Process; the state must allow that. Every
//     commit has a deadline (see Config.CommitInterval), and Flush must
//     return once ctx ends; a Flush cut short is followed by another.
//   - Committed after each successful commit that followed a Flush.
//   - Full, often and from the committer: whether the unflushed state is
//     over its bound; a true answer brings the next Flush and commit
//     forward. It must be cheap and safe concurrently with Process.
//   - Close once the partition's actors stopped and Restore returned.
type Stateful interface {
	Restore(ctx context.Context) error
	Flush(ctx context.Context) error
	Committed() error
	Full() bool
	Close() error
}

// Call is one record being handled. It is valid only during the Process or
// Abandon call it is passed to, except for the func Hold returns.
type Call struct {
	// Ctx is cancelled when the partition is stopped without draining
	// (partitions lost, or the shutdown deadline passed).
	Ctx context.Context
	// Record is the raw record as fetched; in a ProcessBatch call, the
	// batch's first record.
	Record *kgo.Record
	// Batch is the bulk batch the call belongs to, nil in single mode.
	// Its records are handled together: outputs of any of them hold back
	// the commit of the whole batch.
	Batch []*kgo.Record

	ledger *ledger
	onFail func(error)
}

// Hold registers an asynchronous output of this record, such as a produced
// record, that must be acknowledged before the record's offset may be
// committed. Call the returned func exactly once, from any goroutine, with
// the output's error; a non-nil error stops the Engine and the record is
// never committed.
func (c *Call) Hold() func(error) {
	anchor := c.Record
	if len(c.Batch) > 0 {
		anchor = c.Batch[0]
	}
	return c.ledger.hold(anchor, c.onFail)
}

// PartitionStatus describes one assigned partition.
type PartitionStatus struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Next is the offset of the next record to handle; -1 before the first.
	Next int64 `json:"next_offset"`
	// Committed is the group's last committed offset; -1 when the group
	// has none.
	Committed int64 `json:"committed_offset"`
	// HighWatermark is the partition's end offset seen on the last fetch;
	// -1 before the first fetch.
	HighWatermark int64 `json:"high_watermark"`
	// Lag is HighWatermark minus Next (minus the first fetched offset
	// before a record is handled); -1 before the first fetch.
	Lag int64 `json:"lag"`
	// InFlight counts records fetched and not yet handled.
	InFlight int  `json:"in_flight"`
	Paused   bool `json:"paused"`
	// Mode is how records reach the handler now: "single" or "bulk".
	Mode modes.Mode `json:"mode"`
	// ModeSwitches counts this partition's mode changes on this worker;
	// LastSwitch is the latest, if any.
	ModeSwitches int         `json:"mode_switches"`
	LastSwitch   *ModeSwitch `json:"last_mode_switch,omitempty"`
	// StepHeld is true while a step plan holds the partition's topic
	// back: its records wait, unfetched, until the topic's step.
	StepHeld bool `json:"step_held"`
	// Restoring is true until the partition's state is restored.
	Restoring bool `json:"restoring"`
	// Stalls counts the times this worker found the partition stalled and
	// restarted it; LastStall is when it last did.
	Stalls    int        `json:"stalls"`
	LastStall *time.Time `json:"last_stall,omitempty"`
}

// ModeSwitch is one change of a partition's mode.
type ModeSwitch struct {
	At   time.Time  `json:"at"`
	From modes.Mode `json:"from"`
	To   modes.Mode `json:"to"`
	// Reason is "lag" (auto mode) or the step plan's "step N".
	Reason string `json:"reason"`
	// Lag is the partition's lag when it switched; -1 if unknown.
	Lag int64 `json:"lag"`
}
