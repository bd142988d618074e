package actors

import (
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/modes"
)

// Mailbox messages. Each is sent to exactly one kind of actor.

// fetched carries a fetch's records of one partition to its partition actor.
type fetched struct {
	records []*kgo.Record
}

// deliver asks the handler actor to handle records in order. abandon, when
// set, names the offset whose record goes to Processor.Abandon instead.
// bulk makes records one batch: handled together, marked done together.
type deliver struct {
	records []*kgo.Record
	abandon *PanicError
	bulk    bool
}

// delivered reports back to the partition actor how a deliver went: the
// first handled count of its records were done; fatal is set when a
// Processor asked to stop the Engine; requeue when the rest is to be
// delivered again (the mode changed).
type delivered struct {
	handled int
	fatal   error
	requeue bool
}

// drain asks a partition actor to stop delivering, drop what it has not
// delivered, and close done once its handler actor is idle.
type drain struct {
	done chan struct{}
}

// recordPanic is what the handler actor panics with after recovering a
// handler's panic, so the partition actor's supervision knows the record.
type recordPanic struct {
	index int // into the deliver's records
	err   *PanicError
}

// restored tells the partition actor its state is restored, or not.
type restored struct {
	err error
}

// startPartition asks the engine actor to spawn a partition actor; reply
// gets a value once it has.
type startPartition struct {
	part  *partition
	reply chan struct{}
}

// setMode tells a partition actor the mode to deliver in, and whether a
// step plan holds its records back.
type setMode struct {
	mode modes.Mode
	held bool
}

// restartDue tells a partition actor that its handler actor's restart
// backoff number gen has passed.
type restartDue struct {
	gen int
}

// batchDue tells a partition actor in bulk mode that its oldest queued
// record has waited Config.BulkMaxWait.
type batchDue struct{}

// evaluate asks the engine actor to run its mode and step decisions now;
// done is closed when it has.
type evaluate struct {
	done chan struct{}
}

// stepListed brings the engine actor what a listing of a step's offsets
// found, for the plan as it was at gen: the end and log start offsets of
// parts (of topics), or err.
type stepListed struct {
	gen          int
	parts        map[TopicPartition]bool
	topics       []string
	ends, starts map[TopicPartition]int64
	err          error
}

// assigning tells the engine actor which partitions are about to start, so
// that a finished step plan can run again before they do; done is closed
// once it has decided.
type assigning struct {
	tps  []TopicPartition
	done chan struct{}
}
