package runtimetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/runtime"
)

// Option configures Start and New.
type Option func(*options)

type options struct {
	partitions int
	timeout    time.Duration
	configure  []func(*runtime.Config)
	before     []func(*Driver)
	topics     []string
	broker     []func(*broker.Options)
}

// Partitions sets the partition count of the app's topics. Default 1, so
// that records are handled in the order they were sent.
func Partitions(n int) Option { return func(o *options) { o.partitions = n } }

// Timeout bounds each wait of the driver: start-up, Idle, reads. Default
// 10s.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Configure changes the worker's settings after the driver's defaults
// (brokers, a fresh state directory, memory tables, commits every 10ms,
// no HTTP, warnings only in the log).
func Configure(fn func(*runtime.Config)) Option {
	return func(o *options) { o.configure = append(o.configure, fn) }
}

// BrokerOptions changes the options of the driver's embedded broker after
// the driver's own (the app's topics, Partitions): to require SASL users
// (broker.Options.Users) or TLS (broker.Options.TLS), and so test the app
// as it connects to a secure cluster. Configure the app's connection
// settings to match (SecurityProtocol, TLSCAFile, SASLMechanism, ...): the
// driver's own clients connect as the app does.
func BrokerOptions(fn func(*broker.Options)) Option {
	return func(o *options) { o.broker = append(o.broker, fn) }
}

// Before runs fn once the broker runs and before the app starts: to put
// records on topics first (with Inputs), for a step plan or a start-up
// that reads them. Only Inputs may be used in fn.
func Before(fn func(d *Driver)) Option {
	return func(o *options) { o.before = append(o.before, fn) }
}

// Topics creates topics besides the app's own on the broker, with the
// driver's partition count, before the app starts: those its patterns
// (runtime.HandlePattern) match, which it does not declare. An app whose
// handlers all have patterns needs one of them at start, to be ready.
// Topics created later are found within the worker's metadata_max_age,
// which the driver sets to 100ms for an app with patterns.
func Topics(names ...string) Option {
	return func(o *options) { o.topics = append(o.topics, names...) }
}

// Driver is an app running on an embedded broker of its own. Its methods
// are safe for concurrent use.
type Driver struct {
	t       testing.TB // nil for New: failures panic
	app     *runtime.App
	broker  *broker.Broker
	cfg     runtime.Config
	timeout time.Duration
	keyed   *kgo.Client // produces where keys hash to
	manual  *kgo.Client // produces to the partition a record names
	cancel  context.CancelFunc
	done    chan struct{} // closed when Run returned
	runErr  error         // Run's result, once done is closed

	// clientOpts connect the driver's clients as the app connects.
	clientOpts []kgo.Opt

	mu       sync.Mutex // guards outcomes
	outcomes []Outcome
}

// Outcome is how the handling of one record ended.
type Outcome struct {
	Topic     string
	Partition int32
	Offset    int64
	Key       []byte
	Outcome   runtime.Outcome
	// Err is the error that made a Skipped record fail; nil otherwise.
	Err error
}

// Start runs app on an embedded broker that holds the app's topics and
// returns once the app is ready to handle records; the test's cleanup
// stops both, and fails the test if the app stopped with an error it did
// not wait for (Stopped).
func Start(t testing.TB, app *runtime.App, opts ...Option) *Driver {
	t.Helper()
	d, err := start(t, app, opts)
	if err != nil {
		t.Fatalf("runtimetest: %v", err)
	}
	t.Cleanup(func() {
		if err := d.close(); err != nil {
			t.Errorf("runtimetest: %v", err)
		}
	})
	return d
}

// New is Start outside a test (an Example, a TestMain) or in a test that
// expects the start to fail: it returns the start's error rather than
// failing the test. A failure of any of the driver's methods panics. Close
// it.
func New(app *runtime.App, opts ...Option) (*Driver, error) {
	return start(nil, app, opts)
}

// Close stops the app and the broker, and returns the app's error if it
// stopped with one that Stopped did not already return.
func (d *Driver) Close() error { return d.close() }

func start(t testing.TB, app *runtime.App, opts []Option) (*Driver, error) {
	o := options{partitions: 1, timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	bo := broker.Options{Partitions: o.partitions, Topics: append(app.Topics(), o.topics...)}
	for _, fn := range o.broker {
		fn(&bo)
	}
	b, err := broker.Start(bo)
	if err != nil {
		return nil, err
	}
	d := &Driver{t: t, app: app, broker: b, timeout: o.timeout, done: make(chan struct{})}
	stateDir, err := os.MkdirTemp("", "runtimetest-")
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("state directory: %w", err)
	}
	cfg := runtime.DefaultConfig(app.Name())
	cfg.Brokers = b.Addrs()
	cfg.StateDir = stateDir
	cfg.TableStore = "memory://"
	cfg.CommitInterval = 10 * time.Millisecond
	cfg.HTTP = "off"
	cfg.LogLevel = slog.LevelWarn
	cfg.TopicPartitions = o.partitions
	if len(app.Patterns()) > 0 {
		cfg.MetadataMaxAge = 100 * time.Millisecond // topics a test creates are consumed at once
	}
	for _, fn := range o.configure {
		fn(&cfg)
	}
	d.cfg = cfg
	// The driver's clients connect as the app does.
	if d.clientOpts, err = cfg.ClientOptions(); err != nil {
		b.Close()
		return nil, err
	}
	for _, c := range []**kgo.Client{&d.keyed, &d.manual} {
		part := kgo.StickyKeyPartitioner(nil) // Kafka's murmur2, as other clients partition
		if c == &d.manual {
			part = kgo.ManualPartitioner()
		}
		if *c, err = kgo.NewClient(d.options(kgo.RecordPartitioner(part))...); err != nil {
			d.closeClients()
			b.Close()
			return nil, err
		}
	}
	for _, fn := range o.before {
		fn(d)
	}
	app.ObserveOutcomes(d.observe)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() {
		d.runErr = app.Run(ctx, cfg)
		_ = os.RemoveAll(stateDir)
		close(d.done)
	}()
	if err := d.awaitReady(); err != nil {
		_ = d.close()
		return nil, err
	}
	return d, nil
}

func (d *Driver) observe(rec *runtime.Record, o runtime.Outcome, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.outcomes = append(d.outcomes, Outcome{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset,
		Key: slices.Clone(rec.Key), Outcome: o, Err: err})
}

// awaitReady waits for the app to have joined its group with every
// partition ready.
func (d *Driver) awaitReady() error {
	return d.poll("the app to start", func() (bool, error) {
		st, ok := d.app.Status()
		return ok && st.Ready && len(st.Partitions) > 0, nil
	})
}

// poll calls cond until it holds, the app stops, or the timeout passes.
// It is for state that has no event to wait on: offsets committed by the
// app, a worker's readiness.
func (d *Driver) poll(what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(d.timeout)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-d.done:
			return fmt.Errorf("waiting for %s: the app stopped: %w", what, d.runErr)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("waiting for %s: not done after %v", what, d.timeout)
		}
	}
}

func (d *Driver) fatalf(format string, args ...any) {
	err := fmt.Errorf("runtimetest: "+format, args...)
	if d.t == nil {
		panic(err)
	}
	d.t.Helper()
	d.t.Fatal(err)
}

func (d *Driver) closeClients() {
	for _, c := range []*kgo.Client{d.keyed, d.manual} {
		if c != nil {
			c.Close()
		}
	}
}

func (d *Driver) close() error {
	d.cancel()
	var err error
	select {
	case <-d.done:
		err = d.runErr
	case <-time.After(d.cfg.ShutdownTimeout + d.timeout):
		err = errors.New("the app did not stop")
	}
	d.runErr = nil // reported once
	d.closeClients()
	d.broker.Close()
	return err
}

// options are the driver's client options followed by opts.
func (d *Driver) options(opts ...kgo.Opt) []kgo.Opt {
	return append(append([]kgo.Opt(nil), d.clientOpts...), opts...)
}

// App returns the app the driver runs.
func (d *Driver) App() *runtime.App { return d.app }

// Config returns the settings the app runs with.
func (d *Driver) Config() runtime.Config { return d.cfg }

// Brokers returns the embedded broker's addresses, for clients of a
// test's own.
func (d *Driver) Brokers() []string { return d.broker.Addrs() }

// Broker returns the embedded broker, for tests that compact topics or
// inject faults (Broker().Cluster()).
func (d *Driver) Broker() *broker.Broker { return d.broker }

// Idle waits until the app has handled every record of its source topics
// and committed it: every output it produced and every table write is then
// acknowledged by the broker. Records the app produced to topics it also
// reads count too, and so do the topics its patterns (HandlePattern)
// match. It fails the test if the app stopped.
func (d *Driver) Idle() {
	adm := kadm.NewClient(d.keyed)
	group := d.cfg.Group
	err := d.poll("every record to be handled and committed", func() (bool, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
		defer cancel()
		sources, err := d.sources(ctx, adm)
		if err != nil {
			return false, err
		}
		ends, err := adm.ListEndOffsets(ctx, sources...)
		if err != nil {
			return false, fmt.Errorf("listing end offsets: %w", err)
		}
		committed, err := adm.FetchOffsets(ctx, group)
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return false, fmt.Errorf("fetching committed offsets: %w", err)
		}
		idle := true
		ends.Each(func(o kadm.ListedOffset) {
			at := int64(0)
			if c, ok := committed.Lookup(o.Topic, o.Partition); ok && c.Err == nil {
				at = c.At
			}
			if o.Err != nil || at < o.Offset {
				idle = false
			}
		})
		return idle, nil
	})
	if err != nil {
		d.fatalf("%v", err)
	}
}

// sources returns the topics the app reads: those its handlers name, and
// those on the broker its patterns match.
func (d *Driver) sources(ctx context.Context, adm *kadm.Client) ([]string, error) {
	sources := d.app.SourceTopics()
	patterns := d.app.Patterns()
	if len(patterns) == 0 {
		return sources, nil
	}
	res := make([]*regexp.Regexp, len(patterns))
	for i, p := range patterns {
		res[i] = regexp.MustCompile("^(?:" + p + ")$") // Run refused the app if it did not compile
	}
	all, err := adm.ListTopics(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	for _, t := range all.Names() {
		if !slices.Contains(sources, t) && slices.ContainsFunc(res, func(re *regexp.Regexp) bool { return re.MatchString(t) }) {
			sources = append(sources, t)
		}
	}
	return sources, nil
}

// Stopped waits for the app to stop by itself and returns Run's error:
// for tests of records that stop the app. The driver's cleanup then
// reports nothing more.
func (d *Driver) Stopped() error {
	select {
	case <-d.done:
		err := d.runErr
		d.runErr = nil
		return err
	case <-time.After(d.timeout):
		d.fatalf("the app did not stop within %v", d.timeout)
		return nil
	}
}

// Outcomes returns how each record handled so far ended, in the order
// they ended (offset order within a partition).
func (d *Driver) Outcomes() []Outcome {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.outcomes)
}

// Committed returns the app's committed offsets of topic, by partition:
// the offset of the next record to handle after a restart.
func (d *Driver) Committed(topic string) map[int32]int64 {
	ctx, cancel := context.WithTimeout(context.Background(), d.timeout)
	defer cancel()
	resp, err := kadm.NewClient(d.keyed).FetchOffsets(ctx, d.cfg.Group)
	out := map[int32]int64{}
	if errors.Is(err, kerr.GroupIDNotFound) {
		return out
	}
	if err != nil {
		d.fatalf("committed offsets of %s: %v", topic, err)
		return nil
	}
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Topic == topic && o.Err == nil {
			out[o.Partition] = o.At
		}
	})
	return out
}
