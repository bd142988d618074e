package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Consume prints a topic's records as key<TAB>value lines.
func (e Env) Consume(ctx context.Context, args []string, io IO) error {
	start := time.Now()
	fs := NewFlagSet("consume", io)
	topic := fs.String("topic", "", "`topic` to consume (required)")
	fromBeginning := fs.Bool("from-beginning", false, "start at the first record of each partition (default: only records produced from now on)")
	limit := fs.Int("max", 0, "stop after `n` records; 0 means no limit")
	timeout := fs.Duration("timeout", 0, "stop this long after starting, without error; 0 means no limit")
	SetUsage(fs, "consume --topic T [--from-beginning] [--max n] [--timeout d] [flags]",
		"Prints the records of every partition of a topic, as key<TAB>value lines, until interrupted,\n"+
			`--max or --timeout. A null key prints as empty, a null value (a tombstone) as \N. No consumer group is used.`)
	c, err := e.parse(fs, args, io)
	if err != nil {
		return err
	}
	switch {
	case *topic == "":
		return UsageErrorf("--topic is required: name the topic to consume")
	case *limit < 0:
		return UsageErrorf("--max %d: must be 0 (no limit) or more", *limit)
	case *timeout < 0:
		return UsageErrorf("--timeout %v: must be 0 (no limit) or more", *timeout)
	}
	offset := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		offset = kgo.NewOffset().AtStart()
	}
	cl, err := newClient(c, io, kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(offset))
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := lookUpTopic(ctx, kadm.NewClient(cl), c, *topic); err != nil {
		return err
	}

	pollCtx := ctx
	if *timeout > 0 {
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithDeadline(ctx, start.Add(*timeout))
		defer cancel()
	}
	w := bufio.NewWriter(io.Out)
	n, err := consumeInto(pollCtx, cl, *topic, *limit, w, io.Err)
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("cli: consume %q: writing the records: %w", *topic, ferr)
	}
	fmt.Fprintf(io.Err, "consumed %d records from %s\n", n, *topic)
	return err
}

// consumeInto writes cl's records to w until limit records (0: no limit)
// or ctx ends, and returns how many it wrote. w is flushed after each
// poll, so that a reader sees records as they come. Warnings go to warn.
func consumeInto(ctx context.Context, cl *kgo.Client, topic string, limit int, w *bufio.Writer, warn io.Writer) (int, error) {
	n := 0
	for limit == 0 || n < limit {
		fetches := cl.PollRecords(ctx, limit-n) // 0 or less: no limit
		for it := fetches.RecordIter(); !it.Done() && (limit == 0 || n < limit); n++ {
			writeRecord(w, it.Next())
		}
		if err := w.Flush(); err != nil {
			return n, fmt.Errorf("cli: consume %q: writing the records: %w", topic, err)
		}
		for _, fe := range fetches.Errors() {
			var lost *kgo.ErrDataLoss
			switch {
			case ctx.Err() != nil || errors.Is(fe.Err, kgo.ErrClientClosed):
				return n, nil
			case errors.As(fe.Err, &lost):
				// The client has already moved on; the user should know.
				fmt.Fprintf(warn, "warning: %v\n", lost)
			default:
				return n, fmt.Errorf("cli: consume %q: partition %d: %w", fe.Topic, fe.Partition, fe.Err)
			}
		}
		if ctx.Err() != nil {
			return n, nil
		}
	}
	return n, nil
}

// writeRecord writes r as key<TAB>value: a null key as empty, a null value
// as \N. Keys and values are written as they are: one that holds a tab or
// a newline makes the line ambiguous.
func writeRecord(w *bufio.Writer, r *kgo.Record) {
	w.Write(r.Key)
	w.WriteByte('\t')
	if r.Value == nil {
		w.WriteString(nullValue)
	} else {
		w.Write(r.Value)
	}
	w.WriteByte('\n')
}
