package cli

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/internal/acks"
)

const (
	// nullValue is how a line spells a null value (a tombstone), as in
	// PostgreSQL's COPY text format.
	nullValue = `\N`

	// produceDeliveryTimeout bounds how long one record may wait for its
	// acknowledgement before produce gives up on it and fails, naming its
	// line.
	produceDeliveryTimeout = 30 * time.Second
)

// Produce produces key<TAB>value lines from io.In to a topic.
func (e Env) Produce(ctx context.Context, args []string, io IO) error {
	fs := NewFlagSet("produce", io)
	topic := fs.String("topic", "", "`topic` to produce to (required)")
	SetUsage(fs, "produce --topic T [flags] < lines",
		"Produces one record per line of stdin, in order, and waits until the brokers acknowledge every one.\n"+
			"A line is key<TAB>value, split at the first tab; a line without a tab is a value without a key;\n"+
			`the value \N is null (a tombstone). Empty lines are skipped; a trailing \r is dropped.`)
	c, err := e.parse(fs, args, io)
	if err != nil {
		return err
	}
	if *topic == "" {
		return UsageErrorf("--topic is required: name the topic to produce to")
	}
	cl, err := newClient(c, io, append(c.Producer[:len(c.Producer):len(c.Producer)],
		// A topic deleted while we produce fails its records soon
		// rather than being retried for ever.
		kgo.UnknownTopicRetries(2),
		kgo.RecordDeliveryTimeout(produceDeliveryTimeout))...,
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	// Fail fast, naming the topic, rather than have every record wait for
	// a topic that will not appear.
	if _, err := lookUpTopic(ctx, kadm.NewClient(cl), c, *topic); err != nil {
		return err
	}

	p := &lineProducer{cl: cl, topic: *topic}
	acked, err := p.run(ctx, io.In)
	fmt.Fprintf(io.Err, "produced %d records to %s\n", acked, *topic)
	return err
}

// A lineProducer produces the lines of one input to one topic.
type lineProducer struct {
	cl    *kgo.Client
	topic string
	stop  context.CancelFunc // fails the records not yet sent; set by run
	acks  acks.Tracker       // the records in flight; the first failure names its line
}

// run produces every line of in, then waits for every acknowledgement, and
// returns how many records were acknowledged. It stops early at the first
// failed record or when ctx is cancelled; records already handed to the
// client are still delivered.
func (p *lineProducer) run(ctx context.Context, in io.Reader) (int64, error) {
	// Records outlive ctx: an interrupted run still delivers, and counts,
	// what it read. Cancelled on the first failure, to fail the rest fast.
	produceCtx, stopProducing := context.WithCancel(context.WithoutCancel(ctx))
	defer stopProducing()
	p.stop = stopProducing

	lines := make(chan inputLine)
	done := make(chan struct{})
	defer close(done)
	// The reader ends at the end of the input, or once run returns and
	// it next has a line to send. A Read blocked on a terminal cannot be
	// interrupted, so run does not wait for it: an interrupt stops the
	// command at once and the process exits.
	go readLines(in, lines, done)

	var stopErr error
	last := 0 // the number of the last line read
read:
	for produceCtx.Err() == nil {
		select {
		case <-ctx.Done():
			stopErr = fmt.Errorf("cli: produce to %q: interrupted after line %d: %w", p.topic, last, ctx.Err())
			break read
		case l, ok := <-lines:
			if !ok {
				break read
			}
			if l.err != nil {
				stopErr = fmt.Errorf("cli: produce to %q: reading the input after line %d: %w", p.topic, l.n-1, l.err)
				break read
			}
			last = l.n
			rec := parseLine(p.topic, l.text)
			if rec == nil {
				continue
			}
			n := l.n
			p.acks.Add(1)
			p.cl.Produce(produceCtx, rec, func(_ *kgo.Record, err error) { p.finished(n, err) })
		}
	}

	// Every record is acknowledged or failed within
	// produceDeliveryTimeout.
	_ = p.acks.Wait(context.WithoutCancel(ctx))
	return p.acks.Acked(), cmp.Or(p.acks.Err(), stopErr)
}

// finished records the outcome of the record of line n.
// The first failure stops the run: the lines after it are not produced.
func (p *lineProducer) finished(n int, err error) {
	if err != nil {
		err = fmt.Errorf("cli: produce to %q: line %d: %w", p.topic, n, err)
	}
	if p.acks.Done(err) {
		p.stop()
	}
}

// inputLine is one line of produce's input, or the error that ended it.
type inputLine struct {
	n    int    // 1-based line number
	text []byte // without its line ending; owned by the receiver
	err  error  // a read error after line n-1; no line follows
}

// readLines sends the lines of r, numbered, to out and closes it at the end
// of r. It returns early once done is closed.
func readLines(r io.Reader, out chan<- inputLine, done <-chan struct{}) {
	defer close(out)
	send := func(l inputLine) bool {
		select {
		case out <- l:
			return true
		case <-done:
			return false
		}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for n := 1; ; n++ {
		// ReadBytes, not a Scanner: a record may be larger than any line
		// limit we would pick.
		b, err := br.ReadBytes('\n')
		if len(b) > 0 || err == nil {
			b = bytes.TrimSuffix(b, []byte{'\n'})
			b = bytes.TrimSuffix(b, []byte{'\r'})
			if !send(inputLine{n: n, text: b}) {
				return
			}
		}
		if err == io.EOF {
			return
		}
		if err != nil {
			send(inputLine{n: n + 1, err: err})
			return
		}
	}
}

// parseLine returns the record a line of produce's input stands for, or nil
// for an empty line. The line is key<TAB>value, split at the first tab; a
// line without a tab is a value with a null key; the value \N is null.
// The record keeps line's memory.
func parseLine(topic string, line []byte) *kgo.Record {
	if len(line) == 0 {
		return nil
	}
	rec := &kgo.Record{Topic: topic}
	key, value, found := bytes.Cut(line, []byte{'\t'})
	if !found {
		key, value = nil, line
	}
	rec.Key = key
	if string(value) != nullValue {
		// Not nil even when empty: an empty value is not a tombstone.
		rec.Value = value
	}
	return rec
}
