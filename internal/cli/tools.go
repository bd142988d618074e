package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
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
	// Explain, if set, explains an error of a request that could not
	// connect (authentication, TLS), or returns nil when it has nothing
	// to add.
	Explain func(error) error
	// Warnings are printed, each on a line of its own, before a tool
	// connects: insecure settings.
	Warnings []string
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

// newClient returns a client of c's brokers with opts, or errNoBrokers. It
// prints c's warnings first.
func newClient(c Cluster, io IO, opts ...kgo.Opt) (*kgo.Client, error) {
	if len(c.Brokers) == 0 {
		return nil, errNoBrokers
	}
	for _, w := range c.Warnings {
		fmt.Fprintf(io.Err, "warning: %s\n", w)
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
// cancelled (the user interrupted), the client could not connect securely
// (Cluster.Explain says how), or the brokers did not answer within
// Cluster.ConnectTimeout.
func brokerError(ctx context.Context, c Cluster, err error) error {
	brokers := c.Brokers
	if ctx.Err() != nil {
		return fmt.Errorf("cli: interrupted while talking to %s: %w", strings.Join(brokers, ","), ctx.Err())
	}
	if c.Explain != nil {
		if e := c.Explain(err); e != nil {
			return fmt.Errorf("cli: cannot connect to the brokers %s: %w", strings.Join(brokers, ","), e)
		}
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
	var users userFlags
	fs.Var(&users, "sasl-user", "a user clients must authenticate as, `name:password`, with PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 "+
		"(repeatable; default: none, no authentication)")
	certFile := fs.String("tls-cert-file", "", "the broker's TLS certificate (PEM `file`), with --tls-key-file: the listener speaks TLS only")
	keyFile := fs.String("tls-key-file", "", "the private key (PEM `file`) of --tls-cert-file")
	generate := fs.String("tls-generate", "", "create a fresh CA and a certificate of the broker in `dir` (ca.pem for clients' tls.ca_file; "+
		"client.pem and client-key.pem for mutual TLS) and speak TLS only")
	clientCA := fs.String("tls-client-ca-file", "", "require clients to present a certificate this CA (PEM `file`) signed: mutual TLS")
	SetUsage(fs, "broker [--listen host:port] [--data-dir dir] [--min-session-timeout d] [--sasl-user name:password ...] "+
		"[--tls-generate dir | --tls-cert-file f --tls-key-file f] [--tls-client-ca-file f]",
		"Runs a Kafka-protocol broker (kfake) in this process, with the app's topics, until interrupted.\n"+
			"It prints \"broker listening on host:port\" on stdout once clients can connect. With --sasl-user it requires\n"+
			"SASL authentication; with --tls-generate or --tls-cert-file it speaks TLS only. For development: users given\n"+
			"on the command line show in the process list.")
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
	sasl, err := users.users()
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(*listen)
	tlsCfg, caFile, err := brokerTLS(host, *certFile, *keyFile, *generate, *clientCA)
	if err != nil {
		return err
	}
	b, err := broker.Start(broker.Options{
		Listen:            *listen,
		DataDir:           *dataDir,
		Partitions:        c.Partitions,
		Topics:            e.Topics,
		Declared:          e.brokerTopics(),
		MinSessionTimeout: *minSession,
		Users:             sasl,
		TLS:               tlsCfg,
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
	fmt.Fprintln(io.Err, clientHint(sasl, tlsCfg != nil, caFile))
	// The one line on stdout: scripts and tests wait for it. io.Out is
	// written unbuffered, in one Write.
	if _, err := fmt.Fprintf(io.Out, "broker listening on %s\n", addr); err != nil {
		return fmt.Errorf("cli: broker on %s: writing the address to stdout: %w", addr, err)
	}
	<-ctx.Done()
	return nil // the deferred Close stops the broker
}

// userFlags collects --sasl-user values. Set never fails, so that the
// flag package never prints a value (it holds a password); users checks
// them.
type userFlags []string

func (u *userFlags) String() string { return "" }

func (u *userFlags) Set(s string) error {
	*u = append(*u, s)
	return nil
}

// users parses the values as name:password, naming a bad one by its
// position, never by its text.
func (u userFlags) users() ([]broker.User, error) {
	var out []broker.User
	for i, v := range u {
		name, password, ok := strings.Cut(v, ":")
		if !ok || name == "" || password == "" {
			return nil, UsageErrorf("--sasl-user number %d is not name:password (both non-empty)", i+1)
		}
		out = append(out, broker.User{Name: name, Password: password})
	}
	return out, nil
}

// brokerTLS is the broker's TLS config as the flags say (nil for
// plaintext), and the CA file clients trust when it generated one.
func brokerTLS(host, certFile, keyFile, generate, clientCA string) (*tls.Config, string, error) {
	switch {
	case generate != "" && (certFile != "" || keyFile != ""):
		return nil, "", UsageErrorf("--tls-generate creates the broker's certificate: it cannot be used with --tls-cert-file or --tls-key-file")
	case generate != "":
		var hosts []string
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			hosts = append(hosts, host)
		}
		if name, err := os.Hostname(); err == nil {
			hosts = append(hosts, name)
		}
		g, err := broker.GenerateTLS(generate, hosts...)
		if err != nil {
			return nil, "", err
		}
		if clientCA == "" {
			return g.Config, g.CAFile, nil
		}
		c, err := broker.ServerTLS(g.CertFile, g.KeyFile, clientCA)
		return c, g.CAFile, err
	case certFile != "" || keyFile != "":
		if certFile == "" || keyFile == "" {
			return nil, "", UsageErrorf("--tls-cert-file and --tls-key-file go together: give both")
		}
		c, err := broker.ServerTLS(certFile, keyFile, clientCA)
		return c, "", err
	case clientCA != "":
		return nil, "", UsageErrorf("--tls-client-ca-file needs TLS: add --tls-generate dir, or --tls-cert-file and --tls-key-file")
	}
	return nil, "", nil
}

// clientHint tells how clients connect to the broker.
func clientHint(users []broker.User, useTLS bool, caFile string) string {
	protocol := "plaintext"
	switch {
	case len(users) > 0 && useTLS:
		protocol = "sasl_ssl"
	case len(users) > 0:
		protocol = "sasl_plaintext"
	case useTLS:
		protocol = "ssl"
	}
	hint := "clients connect with security_protocol " + protocol
	if caFile != "" {
		hint += ", tls.ca_file " + caFile
	}
	if len(users) > 0 {
		names := make([]string, len(users))
		for i, u := range users {
			names[i] = u.Name
		}
		hint += ", sasl.mechanism PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 as " + strings.Join(names, ", ")
	}
	return hint
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
