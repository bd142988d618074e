package broker

import (
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
)

// Options configure Start. The zero value is valid.
type Options struct {
	// Listen is the host:port to listen on. Default "127.0.0.1:0", a free
	// port.
	Listen string
	// FallbackToFreePort listens on a free port of the same host when
	// Listen's port is taken, instead of failing. Default false.
	FallbackToFreePort bool
	// DataDir keeps topics, records and committed offsets across
	// restarts. Default: in memory, lost on Close.
	DataDir string
	// Partitions of the Topics created at start and of topics created
	// later without a count. Default 8.
	Partitions int
	// Topics to create at start, if missing, with Partitions partitions.
	Topics []string
	// Declared are topics to create at start, if missing, with a
	// partition count or configs of their own; a topic also in Topics is
	// created as declared here. The replication factor is always 1: the
	// broker is one node.
	Declared []Topic
	// CompactionInterval is how often compacted topics are compacted
	// (log.cleaner.backoff.ms). Default 1s.
	CompactionInterval time.Duration
	// MinSessionTimeout is the shortest session timeout a group member may
	// ask for (group.min.session.timeout.ms); a join with a shorter one is
	// refused. Default 6s, Kafka's. Tests that kill workers lower it so
	// that the group notices a dead one sooner.
	MinSessionTimeout time.Duration
	// Users, when not empty, make the broker require SASL authentication
	// as one of them; each user may authenticate with PLAIN,
	// SCRAM-SHA-256 or SCRAM-SHA-512. Default none: no authentication.
	Users []User
	// TLS, when set, makes the listener speak TLS only, with this
	// config: its certificate, and ClientAuth and ClientCAs for mutual
	// TLS. Default nil: plaintext. ServerTLS and GenerateTLS build one.
	TLS *tls.Config
}

// User is a user the broker authenticates with SASL.
type User struct {
	Name, Password string
}

// GoString keeps the password out of %#v; String out of %v.
func (u User) GoString() string {
	return fmt.Sprintf("broker.User{Name: %q, Password: \"[redacted]\"}", u.Name)
}

// String is the user's name: never the password.
func (u User) String() string { return u.Name }

// saslMechanisms are the mechanisms every user may authenticate with.
func saslMechanisms() []string { return []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} }

// Topic is a topic created at start with a partition count and configs
// of its own.
type Topic struct {
	Name string
	// Partitions of the topic; 0 takes Options.Partitions.
	Partitions int
	// Configs are topic configs. The broker keeps any, and reports them
	// when described, but acts only on some: cleanup.policy
	// (compaction), retention.ms, retention.bytes, max.message.bytes,
	// segment.bytes and delete.retention.ms.
	Configs map[string]string
}

// Broker is an embedded broker running in this process. Its methods are
// safe for concurrent use.
type Broker struct {
	c       *kfake.Cluster
	created []string
	users   []User
	tls     *tls.Config
}

// setUpTimeout bounds the requests Start makes to the broker it started.
const setUpTimeout = 15 * time.Second

// Start starts a broker and returns once clients can connect and every
// topic of o exists. Close stops it.
func Start(o Options) (*Broker, error) {
	host, port := "127.0.0.1", 0
	if o.Listen != "" {
		h, p, err := net.SplitHostPort(o.Listen)
		if err == nil {
			port, err = strconv.Atoi(p)
			if err == nil && (port < 0 || port > 65535) {
				err = errors.New("port out of range")
			}
		}
		if err != nil {
			return nil, fmt.Errorf("broker: listen address %q is not host:port (e.g. 127.0.0.1:9092, or 127.0.0.1:0 for a free port): %v", o.Listen, err)
		}
		host = cmp.Or(h, host)
	}
	if o.MinSessionTimeout < 0 {
		return nil, fmt.Errorf("broker: minimum session timeout %v is negative (leave it 0 for Kafka's 6s)", o.MinSessionTimeout)
	}
	partitions := cmp.Or(o.Partitions, 8)
	backoff := cmp.Or(o.CompactionInterval, time.Second)
	opts := []kfake.Opt{
		kfake.NumBrokers(1), kfake.Ports(port),
		kfake.DefaultNumPartitions(partitions),
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": strconv.FormatInt(backoff.Milliseconds(), 10)}),
	}
	if o.MinSessionTimeout > 0 {
		opts = append(opts, kfake.GroupMinSessionTimeout(o.MinSessionTimeout))
	}
	if host != "127.0.0.1" && host != "localhost" {
		opts = append(opts, kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, port, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, port))
		}))
	}
	if o.DataDir != "" {
		opts = append(opts, kfake.DataDir(o.DataDir))
	}
	for _, u := range o.Users {
		if u.Name == "" || u.Password == "" {
			return nil, fmt.Errorf("broker: SASL user %q: a user needs a name and a password", u.Name)
		}
		for _, m := range saslMechanisms() {
			opts = append(opts, kfake.Superuser(m, u.Name, u.Password))
		}
	}
	if len(o.Users) > 0 {
		opts = append(opts, kfake.EnableSASL())
	}
	if o.TLS != nil {
		opts = append(opts, kfake.TLS(o.TLS))
	}
	// Plain topics are seeded; declared ones, and every topic of a broker
	// reloaded from a data dir (which seeds nothing), are created by
	// requests once it runs.
	topics := o.topics(partitions)
	var plain []string
	var declared []Topic
	for _, t := range topics {
		if t.Partitions == partitions && len(t.Configs) == 0 && o.DataDir == "" {
			plain = append(plain, t.Name)
		} else {
			declared = append(declared, t)
		}
	}
	if len(plain) > 0 {
		opts = append(opts, kfake.SeedTopics(int32(partitions), plain...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil && o.FallbackToFreePort && port != 0 && errors.Is(err, syscall.EADDRINUSE) {
		opts = append(opts, kfake.Ports(0)) // the last Ports wins
		c, err = kfake.NewCluster(opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("broker: listening on %s: %w", net.JoinHostPort(host, strconv.Itoa(port)), err)
	}
	b := &Broker{c: c, users: o.Users, tls: o.TLS}
	if o.DataDir != "" || len(declared) > 0 {
		if err := b.prepare(o.DataDir != "", backoff, declared); err != nil {
			c.Close()
			return nil, err
		}
	}
	return b, nil
}

// topics returns every topic of o, each once, with its partition count.
func (o Options) topics(partitions int) []Topic {
	var out []Topic
	for _, n := range o.Topics {
		if !slices.ContainsFunc(o.Declared, func(t Topic) bool { return t.Name == n }) &&
			!slices.ContainsFunc(out, func(t Topic) bool { return t.Name == n }) {
			out = append(out, Topic{Name: n, Partitions: partitions})
		}
	}
	for _, t := range o.Declared {
		t.Partitions = cmp.Or(t.Partitions, partitions)
		out = append(out, t)
	}
	return out
}

// prepare creates the topics that do not exist. For a broker reloaded
// from a data dir, which starts its compaction timer only when a topic or
// a config changes, it first sets the compaction interval with a request,
// and remembers which topics it created.
func (b *Broker) prepare(reloaded bool, backoff time.Duration, topics []Topic) error {
	addr := b.Addrs()[0]
	cl, err := kgo.NewClient(append(b.ClientOptions(), kgo.SeedBrokers(addr))...)
	if err != nil {
		return fmt.Errorf("broker: on %s: %w", addr, err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), setUpTimeout)
	defer cancel()
	if reloaded {
		resps, err := adm.AlterBrokerConfigs(ctx, []kadm.AlterConfig{
			{Op: kadm.SetConfig, Name: "log.cleaner.backoff.ms", Value: kadm.StringPtr(strconv.FormatInt(backoff.Milliseconds(), 10))},
		})
		for _, r := range resps {
			err = cmp.Or(err, r.Err)
		}
		if err != nil {
			return fmt.Errorf("broker: on %s: set log.cleaner.backoff.ms: %w", addr, err)
		}
	}
	for _, t := range topics {
		configs := map[string]*string{}
		for k, v := range t.Configs {
			configs[k] = kadm.StringPtr(v)
		}
		r, err := adm.CreateTopic(ctx, int32(t.Partitions), 1, configs, t.Name)
		if err == nil {
			err = r.Err
			if err != nil && r.ErrMessage != "" {
				err = fmt.Errorf("%w (%s)", err, r.ErrMessage)
			}
		}
		switch {
		case err == nil && reloaded:
			b.created = append(b.created, t.Name)
		case err == nil:
		case !errors.Is(err, kerr.TopicAlreadyExists):
			return fmt.Errorf("broker: on %s: create topic %q (%d partitions, configs %v): %w", addr, t.Name, t.Partitions, t.Configs, err)
		}
	}
	return nil
}

// Addrs returns the addresses clients connect to.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Created returns the topics of Options.Topics and Options.Declared that a
// broker restarted from its data directory did not have and created.
func (b *Broker) Created() []string { return b.created }

// Cluster returns the underlying kfake cluster, for tests that inject
// faults or compact on demand.
func (b *Broker) Cluster() *kfake.Cluster { return b.c }

// Close stops the broker; with a data directory, it persists its data.
func (b *Broker) Close() { b.c.Close() }

// ClientOptions are the franz-go options of a client of this broker that
// trusts it without checking its certificate, presents the broker's own
// certificate where the broker asks for one (GenerateTLS's is valid for
// clients too), and authenticates as the first user with PLAIN: for the
// broker's own requests and for tests. They do not name the brokers.
func (b *Broker) ClientOptions() []kgo.Opt {
	var opts []kgo.Opt
	if b.tls != nil {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the broker dials itself, in this process
			Certificates:       b.tls.Certificates,
			MinVersion:         tls.VersionTLS12,
		}))
	}
	if len(b.users) > 0 {
		opts = append(opts, kgo.SASL(plain.Auth{User: b.users[0].Name, Pass: b.users[0].Password}.AsMechanism()))
	}
	return opts
}
