package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/internal/topics"
)

// Env is what the tools need from the app: its name and topics, and how to
// resolve its settings.
type Env struct {
	// App is the app's name.
	App string
	// Topics are every topic the app declares, in its order; Sources the
	// topics its handlers read by name.
	Topics  []string
	Sources []string
	// Declared are the app's topic declarations (DeclareTopic): what
	// `topics create` and the broker create them with.
	Declared []topics.Spec
	// Patterns are the regular expressions of topics the app's handlers
	// subscribe to, each matching whole names.
	Patterns []string
	// Parse registers the app's settings as flags on fs (after the
	// tool's own), parses args, and resolves the settings from the
	// flags, the environment and the config file.
	Parse func(fs *flag.FlagSet, args []string, environ []string) (Cluster, error)
}

// Cluster is what the tools take from the resolved settings.
type Cluster struct {
	// Brokers are the bootstrap brokers; empty when none are configured.
	Brokers []string
	// Client are the options every client of the cluster gets besides
	// the brokers: client id, TLS, SASL.
	Client []kgo.Opt
	// Producer are the producer settings' options: the produce tool takes
	// them (its own delivery timeout wins).
	Producer []kgo.Opt
	// Partitions and Replication are the topic settings of topics the
	// tools create.
	Partitions  int
	Replication int
	// Group is the app's consumer group.
	Group string
	// ConnectTimeout bounds a tool's wait for the brokers' first answer.
	ConnectTimeout time.Duration
}

const (
	// dialTimeout and requestOverhead bound one connection attempt and the
	// wait for a response (kgo's defaults are 10s each), so that a broker
	// that does not answer is retried, and reported, close to
	// Cluster.ConnectTimeout: kgo does not cut short a connection's set-up when
	// the request's context ends.
	dialTimeout     = 5 * time.Second
	requestOverhead = 5 * time.Second

	// defaultListen is where the broker subcommand listens by default: the
	// port Kafka tools expect, on loopback only.
	defaultListen = "127.0.0.1:9092"
)

// errNoBrokers is the error of a tool that needs a cluster but was given
// none.
var errNoBrokers = errors.New("cli: no brokers: pass --brokers or set EDDY_BROKERS " +
	"(a worker started without brokers logs its embedded broker's address)")

// Commands returns the tools as subcommands, in the order usage lists
// them.
func (e Env) Commands() []Command {
	return []Command{
		{"broker", "run a standalone embedded Kafka-protocol broker for development", e.Broker},
		{"produce", "produce key<TAB>value lines from stdin to a topic", e.Produce},
		{"consume", "print a topic's records as key<TAB>value lines", e.Consume},
		{"topics", "create topics (topics create), describe them (topics describe) or list the cluster's (topics list)", e.TopicsCmd},
		{"lag", "print the app's group: committed and end offsets, lag and owner per partition", e.Lag},
	}
}

// parse resolves a tool's settings and refuses arguments that are not
// flags.
func (e Env) parse(fs *flag.FlagSet, args []string, io IO) (Cluster, error) {
	c, err := e.Parse(fs, args, io.Environ)
	if err != nil {
		return Cluster{}, err
	}
	if fs.NArg() > 0 {
		return Cluster{}, fmt.Errorf("%w: unexpected arguments %q", ErrUsage, fs.Args())
	}
	return c, nil
}

// newClient returns a client of c's brokers with opts, or errNoBrokers.
func newClient(c Cluster, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(c.Brokers) == 0 {
		return nil, errNoBrokers
	}
	base := append([]kgo.Opt{
		kgo.SeedBrokers(c.Brokers...),
		kgo.DialTimeout(dialTimeout),
		kgo.RequestTimeoutOverhead(requestOverhead),
	}, c.Client...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("cli: kafka client for %s: %w (check --brokers or EDDY_BROKERS: host:port,...)",
			strings.Join(c.Brokers, ","), err)
	}
	return cl, nil
}

// brokerError explains a failed request to the brokers: either ctx was
// cancelled (the user interrupted), or the brokers did not answer within
// Cluster.ConnectTimeout.
func brokerError(ctx context.Context, c Cluster, err error) error {
	brokers := c.Brokers
	if ctx.Err() != nil {
		return fmt.Errorf("cli: interrupted while talking to %s: %w", strings.Join(brokers, ","), ctx.Err())
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("cli: the brokers %s did not answer within %v (are the addresses right and the brokers up?)",
			strings.Join(brokers, ","), c.ConnectTimeout)
	}
	return fmt.Errorf("cli: cannot reach the brokers %s: %w (are the addresses right and the brokers up?)",
		strings.Join(brokers, ","), err)
}

// lookUpTopic returns topic's metadata, or an error naming the topic if it
// does not exist.
func lookUpTopic(ctx context.Context, adm *kadm.Client, c Cluster, topic string) (kadm.TopicDetail, error) {
	brokers := c.Brokers
	lctx, cancel := context.WithTimeout(ctx, c.ConnectTimeout)
	defer cancel()
	details, err := adm.ListTopics(lctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, brokerError(ctx, c, err)
	}
	d, ok := details[topic]
	switch {
	case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
		return kadm.TopicDetail{}, fmt.Errorf("cli: topic %q does not exist on %s "+
			"(check the name: `%s topics list` lists the cluster's topics, `%s topics create` creates the app's)",
			topic, strings.Join(brokers, ","), Binary(), Binary())
	case d.Err != nil:
		return kadm.TopicDetail{}, fmt.Errorf("cli: topic %q on %s: %w", topic, strings.Join(brokers, ","), d.Err)
	}
	return d, nil
}

// Broker runs a standalone embedded broker until ctx is cancelled.
func (e Env) Broker(ctx context.Context, args []string, io IO) error {
	fs := NewFlagSet("broker", io)
	listen := fs.String("listen", defaultListen, "`host:port` to listen on; port 0 picks a free port")
	dataDir := fs.String("data-dir", "", "`directory` that keeps topics, records and offsets across restarts (default: none, data is lost on exit)")
	minSession := fs.Duration("min-session-timeout", 6*time.Second,
		"shortest session timeout a group member may ask for (group.min.session.timeout.ms); lower it to test workers with short sessions")
	SetUsage(fs, "broker [--listen host:port] [--data-dir dir] [--min-session-timeout d]",
		"Runs a Kafka-protocol broker (kfake) in this process, with the app's topics, until interrupted.\n"+
			"It prints \"broker listening on host:port\" on stdout once clients can connect.")
	c, err := e.parse(fs, args, io)
	if err != nil {
		return err
	}
	if err := checkListen(*listen); err != nil {
		return err
	}
	if *minSession <= 0 {
		return UsageErrorf("--min-session-timeout %v: must be more than 0 (Kafka's default is 6s)", *minSession)
	}
	b, err := broker.Start(broker.Options{
		Listen:            *listen,
		DataDir:           *dataDir,
		Partitions:        c.Partitions,
		Topics:            e.Topics,
		Declared:          e.brokerTopics(),
		MinSessionTimeout: *minSession,
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
	addr := b.Addrs()[0]
	if created := b.Created(); len(created) > 0 {
		fmt.Fprintf(io.Err, "created the app's topics missing from the data dir: %s\n", strings.Join(created, ", "))
	}
	if *dataDir == "" {
		fmt.Fprintln(io.Err, "no --data-dir: data is lost on exit")
	} else {
		fmt.Fprintf(io.Err, "data dir %s\n", *dataDir)
	}
	// The one line on stdout: scripts and tests wait for it. io.Out is
	// written unbuffered, in one Write.
	if _, err := fmt.Fprintf(io.Out, "broker listening on %s\n", addr); err != nil {
		return fmt.Errorf("cli: broker on %s: writing the address to stdout: %w", addr, err)
	}
	<-ctx.Done()
	return nil // the deferred Close stops the broker
}

// checkListen checks that --listen is host:port.
func checkListen(s string) error {
	_, p, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(p, 10, 16)
	}
	if err != nil {
		return UsageErrorf("--listen %q is not host:port (e.g. %s, or 127.0.0.1:0 for a free port)", s, defaultListen)
	}
	return nil
}
