package runtime

// The development tools of an app binary: broker, produce, consume and
// topics. Each is a subcommand that cli.go's command table runs; it reads
// io.in, writes its data to io.out and human messages to io.err, and takes
// brokers and topic settings from the resolved Config (flags, EDDY_*
// environment, config file), so that the same flags work for every
// subcommand.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

const (
	// nullValue is how a line spells a null value (a tombstone), as in
	// PostgreSQL's COPY text format.
	nullValue = `\N`

	// toolDialTimeout and toolRequestOverhead bound one connection
	// attempt and the wait for a response (kgo's defaults are 10s each),
	// so that a broker that does not answer is retried, and reported,
	// close to connectTimeout: kgo does not cut short a connection's
	// set-up when the request's context ends.
	toolDialTimeout     = 5 * time.Second
	toolRequestOverhead = 5 * time.Second

	// produceDeliveryTimeout bounds how long one record may wait for its
	// acknowledgement before produce gives up on it and fails, naming its
	// line.
	produceDeliveryTimeout = 30 * time.Second

	// defaultListen is where the broker subcommand listens by default: the
	// port Kafka tools expect, on loopback only.
	defaultListen = "127.0.0.1:9092"

	// cleanerBackoff is how often the embedded broker compacts compacted
	// topics (kfake's log.cleaner.backoff.ms). Kafka's default of an hour
	// hides compaction from anyone trying it out.
	cleanerBackoff = "1000"
)

// errNoBrokers is the error of a tool that needs a cluster but was given
// none.
var errNoBrokers = errors.New("runtime: no brokers: pass --brokers or set EDDY_BROKERS " +
	"(a worker started without brokers logs its embedded broker's address)")

// usageErrorf returns a usage error (exit code 2) saying what was wrong with
// the command line and how to fix it.
func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("runtime: %w: %s", errUsage, fmt.Sprintf(format, args...))
}

// setToolUsage makes fs's -h output start with the subcommand's synopsis
// and what it does.
func setToolUsage(fs *flag.FlagSet, synopsis, about string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s\n\n%s\n\nflags:\n", binaryName(), synopsis, about)
		fs.PrintDefaults()
	}
}

// newToolClient returns a client of cfg's brokers with opts, or
// errNoBrokers.
func newToolClient(cfg Config, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(cfg.Brokers) == 0 {
		return nil, errNoBrokers
	}
	base := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.DialTimeout(toolDialTimeout),
		kgo.RequestTimeoutOverhead(toolRequestOverhead),
	}
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("runtime: kafka client for %s: %w (check --brokers or EDDY_BROKERS: host:port,...)",
			strings.Join(cfg.Brokers, ","), err)
	}
	return cl, nil
}

// brokerError explains a failed request to the brokers: either ctx was
// cancelled (the user interrupted), or the brokers did not answer within
// connectTimeout.
func brokerError(ctx context.Context, brokers []string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("runtime: interrupted while talking to %s: %w", strings.Join(brokers, ","), ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("runtime: the brokers %s did not answer within %v (are the addresses right and the brokers up?)",
			strings.Join(brokers, ","), connectTimeout)
	}
	return fmt.Errorf("runtime: cannot reach the brokers %s: %w (are the addresses right and the brokers up?)",
		strings.Join(brokers, ","), err)
}

// lookUpTopic returns topic's metadata, or an error naming the topic if it
// does not exist.
func lookUpTopic(ctx context.Context, adm *kadm.Client, brokers []string, topic string) (kadm.TopicDetail, error) {
	lctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	details, err := adm.ListTopics(lctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, brokerError(ctx, brokers, err)
	}
	d, ok := details[topic]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		return kadm.TopicDetail{}, fmt.Errorf("runtime: topic %q does not exist on %s "+
			"(check the name: `%s topics list` lists the cluster's topics, `%s topics create` creates the app's)",
			topic, strings.Join(brokers, ","), binaryName(), binaryName())
	case d.Err != nil:
		return kadm.TopicDetail{}, fmt.Errorf("runtime: topic %q on %s: %w", topic, strings.Join(brokers, ","), d.Err)
	}
	return d, nil
}

// cmdBroker runs a standalone embedded broker until ctx is cancelled.
func cmdBroker(ctx context.Context, app *App, args []string, io cliIO) error {
	fs := newFlagSet("broker", io)
	listen := fs.String("listen", defaultListen, "`host:port` to listen on; port 0 picks a free port")
	dataDir := fs.String("data-dir", "", "`directory` that keeps topics, records and offsets across restarts (default: none, data is lost on exit)")
	setToolUsage(fs, "broker [--listen host:port] [--data-dir dir]",
		"Runs a Kafka-protocol broker (kfake) in this process, with the app's topics, until interrupted.\n"+
			"It prints \"broker listening on host:port\" on stdout once clients can connect.")
	cfg, err := parseConfig(fs, app, args, io)
	if err != nil {
		return err
	}
	host, port, err := parseListen(*listen)
	if err != nil {
		return err
	}

	b, err := startBroker(brokerOptions{
		host:       host,
		port:       port,
		dataDir:    *dataDir,
		partitions: cfg.TopicPartitions,
		topics:     app.Topics(),
	})
	if errors.Is(err, syscall.EADDRINUSE) {
		return fmt.Errorf("%w (is another broker running there? pick another port with --listen, "+
			"or --listen 127.0.0.1:0 for a free one)", err)
	}
	if err != nil {
		return err
	}
	// Close persists the data dir; it must run however we leave.
	defer b.Close()
	addr := b.ListenAddrs()[0]

	created, err := prepareBroker(ctx, addr, app, cfg)
	if err != nil {
		return err
	}
	if len(created) > 0 {
		fmt.Fprintf(io.err, "created the app's topics missing from the data dir: %s\n", strings.Join(created, ", "))
	}
	if *dataDir == "" {
		fmt.Fprintln(io.err, "no --data-dir: data is lost on exit")
	} else {
		fmt.Fprintf(io.err, "data dir %s\n", *dataDir)
	}
	// The one line on stdout: scripts and tests wait for it. io.out is
	// written unbuffered, in one Write.
	if _, err := fmt.Fprintf(io.out, "broker listening on %s\n", addr); err != nil {
		return fmt.Errorf("runtime: broker on %s: writing the address to stdout: %w", addr, err)
	}

	<-ctx.Done()
	return nil // the deferred Close stops the broker
}

// parseListen splits --listen into host and port.
func parseListen(s string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(s)
	if err == nil {
		var n uint64
		n, err = strconv.ParseUint(p, 10, 16)
		port = int(n)
	}
	if err != nil {
		return "", 0, usageErrorf("--listen %q is not host:port (e.g. %s, or 127.0.0.1:0 for a free port)", s, defaultListen)
	}
	return h, port, nil
}

// prepareBroker makes a just started embedded broker ready for
// development: compaction runs every cleanerBackoff, and every topic the app
// declares exists. It returns the topics it had to create.
func prepareBroker(ctx context.Context, addr string, app *App, cfg Config) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ClientID(cfg.ClientID))
	if err != nil {
		return nil, fmt.Errorf("runtime: embedded broker on %s: %w", addr, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()

	// Set with a request rather than kfake.BrokerConfigs: a cluster
	// reloaded from a data dir starts its compaction timer only when a
	// topic or a config changes, so this request is what starts
	// compaction after a restart.
	resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
		{Op: kadm.SetConfig, Name: "log.cleaner.backoff.ms", Value: kadm.StringPtr(cleanerBackoff)},
	})
	for _, r := range resps {
		err = cmp.Or(err, r.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: embedded broker on %s: set log.cleaner.backoff.ms: %w", addr, err)
	}

	// The broker seeds the app's topics only into an empty data dir:
	// create those the app declared since.
	topics := app.Topics()
	if len(topics) == 0 {
		return nil, nil
	}
	created, err := adm.CreateTopics(ctx, int32(cfg.TopicPartitions), 1, nil, topics...)
	if err != nil {
		return nil, fmt.Errorf("runtime: embedded broker on %s: create the app's topics: %w", addr, err)
	}
	var names []string
	for _, t := range topics {
		switch r := created[t]; {
		case r.Err == nil:
			names = append(names, t)
		case !errors.Is(r.Err, kerr.TopicAlreadyExists):
			return nil, fmt.Errorf("runtime: embedded broker on %s: create topic %q: %w", addr, t, r.Err)
		}
	}
	return names, nil
}

// cmdProduce produces key<TAB>value lines from io.in to a topic.
func cmdProduce(ctx context.Context, app *App, args []string, io cliIO) error {
	fs := newFlagSet("produce", io)
	topic := fs.String("topic", "", "`topic` to produce to (required)")
	setToolUsage(fs, "produce --topic T [flags] < lines",
		"Produces one record per line of stdin, in order, and waits until the brokers acknowledge every one.\n"+
			"A line is key<TAB>value, split at the first tab; a line without a tab is a value without a key;\n"+
			`the value \N is null (a tombstone). Empty lines are skipped; a trailing \r is dropped.`)
	cfg, err := parseConfig(fs, app, args, io)
	if err != nil {
		return err
	}
	if *topic == "" {
		return usageErrorf("--topic is required: name the topic to produce to")
	}
	cl, err := newToolClient(cfg,
		kgo.RequiredAcks(kgo.AllISRAcks()),
		// A topic deleted while we produce fails its records soon
		// rather than being retried for ever.
		kgo.UnknownTopicRetries(2),
		kgo.RecordDeliveryTimeout(produceDeliveryTimeout),
	)
	if err != nil {
		return err
	}
	defer cl.Close()
	// Fail fast, naming the topic, rather than have every record wait for
	// a topic that will not appear.
	if _, err := lookUpTopic(ctx, kadm.NewClient(cl), cfg.Brokers, *topic); err != nil {
		return err
	}

	p := &lineProducer{cl: cl, topic: *topic}
	acked, err := p.run(ctx, io.in)
	fmt.Fprintf(io.err, "produced %d records to %s\n", acked, *topic)
	return err
}

// A lineProducer produces the lines of one input to one topic.
type lineProducer struct {
	cl    *kgo.Client
	topic string
	stop  context.CancelFunc // fails the records not yet sent; set by run

	// mu guards the outcomes of records, reported by the client's
	// goroutines.
	mu struct {
		sync.Mutex
		acked  int64
		failed error // the first failed record, naming its line
	}
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
			stopErr = fmt.Errorf("runtime: produce to %q: interrupted after line %d: %w", p.topic, last, ctx.Err())
			break read
		case l, ok := <-lines:
			if !ok {
				break read
			}
			if l.err != nil {
				stopErr = fmt.Errorf("runtime: produce to %q: reading the input after line %d: %w", p.topic, l.n-1, l.err)
				break read
			}
			last = l.n
			rec := parseLine(p.topic, l.text)
			if rec == nil {
				continue
			}
			n := l.n
			p.cl.Produce(produceCtx, rec, func(_ *kgo.Record, err error) { p.finished(n, err) })
		}
	}

	// Flush returns once every record is acknowledged or failed; each
	// fails within produceDeliveryTimeout.
	_ = p.cl.Flush(context.WithoutCancel(ctx))
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mu.acked, cmp.Or(p.mu.failed, stopErr)
}

// finished records the outcome of the record of line n.
// The first failure stops the run: the lines after it are not produced.
func (p *lineProducer) finished(n int, err error) {
	p.mu.Lock()
	first := err != nil && p.mu.failed == nil
	switch {
	case err == nil:
		p.mu.acked++
	case first:
		p.mu.failed = fmt.Errorf("runtime: produce to %q: line %d: %w", p.topic, n, err)
	}
	p.mu.Unlock()
	if first {
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

// cmdConsume prints a topic's records as key<TAB>value lines.
func cmdConsume(ctx context.Context, app *App, args []string, io cliIO) error {
	start := time.Now()
	fs := newFlagSet("consume", io)
	topic := fs.String("topic", "", "`topic` to consume (required)")
	fromBeginning := fs.Bool("from-beginning", false, "start at the first record of each partition (default: only records produced from now on)")
	limit := fs.Int("max", 0, "stop after `n` records; 0 means no limit")
	timeout := fs.Duration("timeout", 0, "stop this long after starting, without error; 0 means no limit")
	setToolUsage(fs, "consume --topic T [--from-beginning] [--max n] [--timeout d] [flags]",
		"Prints the records of every partition of a topic, as key<TAB>value lines, until interrupted,\n"+
			`--max or --timeout. A null key prints as empty, a null value (a tombstone) as \N. No consumer group is used.`)
	cfg, err := parseConfig(fs, app, args, io)
	if err != nil {
		return err
	}
	switch {
	case *topic == "":
		return usageErrorf("--topic is required: name the topic to consume")
	case *limit < 0:
		return usageErrorf("--max %d: must be 0 (no limit) or more", *limit)
	case *timeout < 0:
		return usageErrorf("--timeout %v: must be 0 (no limit) or more", *timeout)
	}
	offset := kgo.NewOffset().AtEnd()
	if *fromBeginning {
		offset = kgo.NewOffset().AtStart()
	}
	cl, err := newToolClient(cfg, kgo.ConsumeTopics(*topic), kgo.ConsumeResetOffset(offset))
	if err != nil {
		return err
	}
	defer cl.Close()
	if _, err := lookUpTopic(ctx, kadm.NewClient(cl), cfg.Brokers, *topic); err != nil {
		return err
	}

	pollCtx := ctx
	if *timeout > 0 {
		var cancel context.CancelFunc
		pollCtx, cancel = context.WithDeadline(ctx, start.Add(*timeout))
		defer cancel()
	}
	w := bufio.NewWriter(io.out)
	n, err := consumeInto(pollCtx, cl, *topic, *limit, w, io.err)
	if ferr := w.Flush(); ferr != nil && err == nil {
		err = fmt.Errorf("runtime: consume %q: writing the records: %w", *topic, ferr)
	}
	fmt.Fprintf(io.err, "consumed %d records from %s\n", n, *topic)
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
			return n, fmt.Errorf("runtime: consume %q: writing the records: %w", topic, err)
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
				return n, fmt.Errorf("runtime: consume %q: partition %d: %w", fe.Topic, fe.Partition, fe.Err)
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

// cmdTopics creates the app's topics or lists the cluster's.
func cmdTopics(ctx context.Context, app *App, args []string, io cliIO) error {
	fs := newFlagSet("topics", io)
	setToolUsage(fs, "topics create|list [flags]",
		"create: creates every topic the app reads or writes, with --topics-partitions partitions and\n"+
			"--topics-replication-factor replicas; topics that exist are left as they are.\n"+
			"list: lists the cluster's topics and their partition counts, marking the app's with (app).")
	// The verb may come before the flags or after them: flag parsing
	// stops at the first argument that is not a flag.
	var verb string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	cfg, err := parseConfig(fs, app, args, io)
	if err != nil {
		return err
	}
	rest := fs.Args()
	if verb == "" && len(rest) > 0 {
		verb, rest = rest[0], rest[1:]
	}
	switch {
	case verb == "":
		return usageErrorf("topics needs a verb: create (create the app's topics) or list (list the cluster's topics)")
	case verb != "create" && verb != "list":
		return usageErrorf("unknown topics verb %q: use create (create the app's topics) or list (list the cluster's topics)", verb)
	case len(rest) > 0:
		return usageErrorf("unexpected arguments %q after topics %s", rest, verb)
	}
	cl, err := newToolClient(cfg)
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if verb == "create" {
		return createTopics(ctx, adm, app, cfg, io)
	}
	return listTopics(ctx, adm, app, cfg, io)
}

// createTopics creates the app's topics, printing a line per topic.
func createTopics(ctx context.Context, adm *kadm.Client, app *App, cfg Config, io cliIO) error {
	topics := app.Topics()
	if len(topics) == 0 {
		fmt.Fprintf(io.err, "app %s declares no topics: nothing to create\n", app.name)
		return nil
	}
	tctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	resps, err := adm.CreateTopics(tctx, int32(cfg.TopicPartitions), int16(cfg.TopicReplication), nil, topics...)
	if err != nil {
		return brokerError(ctx, cfg.Brokers, err)
	}
	var existing []string
	for _, t := range topics {
		if errors.Is(resps[t].Err, kerr.TopicAlreadyExists) {
			existing = append(existing, t)
		}
	}
	var details kadm.TopicDetails
	if len(existing) > 0 {
		if details, err = adm.ListTopics(tctx, existing...); err != nil {
			return brokerError(ctx, cfg.Brokers, err)
		}
	}

	var errs []error
	for _, t := range topics {
		r := resps[t]
		switch {
		case r.Err == nil:
			p := int(r.NumPartitions)
			if p <= 0 { // a broker before Kafka 2.4 does not say
				p = cfg.TopicPartitions
			}
			fmt.Fprintf(io.out, "created %s (%d partitions)\n", t, p)
		case errors.Is(r.Err, kerr.TopicAlreadyExists):
			d := details[t]
			if d.Err != nil {
				errs = append(errs, fmt.Errorf("runtime: topic %q exists, but describing it failed: %w", t, d.Err))
				continue
			}
			p := len(d.Partitions)
			fmt.Fprintf(io.out, "exists %s (%d partitions)\n", t, p)
			if p != cfg.TopicPartitions {
				fmt.Fprintf(io.err, "warning: topic %s has %d partitions, not the configured %d; it is left as it is "+
					"(set --topics-partitions %d to match it, or delete and re-create the topic)\n",
					t, p, cfg.TopicPartitions, p)
			}
		default:
			msg := ""
			if r.ErrMessage != "" {
				msg = " (" + r.ErrMessage + ")"
			}
			errs = append(errs, fmt.Errorf("runtime: create topic %q with %d partitions and replication factor %d: %w%s",
				t, cfg.TopicPartitions, cfg.TopicReplication, r.Err, msg))
		}
	}
	return errors.Join(errs...)
}

// listTopics prints the cluster's topics, sorted, one per line.
func listTopics(ctx context.Context, adm *kadm.Client, app *App, cfg Config, io cliIO) error {
	tctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	details, err := adm.ListTopics(tctx)
	if err != nil {
		return brokerError(ctx, cfg.Brokers, err)
	}
	appTopics := app.Topics()
	w := bufio.NewWriter(io.out)
	for _, d := range details.Sorted() {
		fmt.Fprintf(w, "%s\t%d partitions", d.Topic, len(d.Partitions))
		if slices.Contains(appTopics, d.Topic) {
			w.WriteString("\t(app)")
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("runtime: topics list: writing the list: %w", err)
	}
	var missing []string
	for _, t := range appTopics {
		if !details.Has(t) {
			missing = append(missing, t)
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(io.err, "the app's topics missing on %s: %s (create them with `%s topics create`)\n",
			strings.Join(cfg.Brokers, ","), strings.Join(missing, ", "), binaryName())
	}
	return nil
}
