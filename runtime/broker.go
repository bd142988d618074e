package runtime

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"syscall"

	"github.com/twmb/franz-go/pkg/kfake"
)

// brokerOptions configure an embedded broker.
type brokerOptions struct {
	host       string // listen host; default 127.0.0.1
	port       int    // 0: any free port
	anyPort    bool   // fall back to a free port if port is taken
	dataDir    string // keep data across restarts when set
	partitions int
	topics     []string
}

// startBroker starts kfake, a Kafka-protocol broker in this process.
func startBroker(o brokerOptions) (*kfake.Cluster, error) {
	opts := []kfake.Opt{
		kfake.NumBrokers(1), kfake.Ports(o.port),
		// Compact changelogs within seconds, not kfake's default hour.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "1000"}),
	}
	if o.host != "" && o.host != "127.0.0.1" && o.host != "localhost" {
		host := o.host
		opts = append(opts, kfake.ListenFn(func(network, addr string) (net.Listener, error) {
			_, port, _ := net.SplitHostPort(addr)
			return net.Listen(network, net.JoinHostPort(host, port))
		}))
	}
	if o.dataDir != "" {
		opts = append(opts, kfake.DataDir(o.dataDir))
	}
	if o.partitions > 0 {
		opts = append(opts, kfake.DefaultNumPartitions(o.partitions))
		if len(o.topics) > 0 {
			opts = append(opts, kfake.SeedTopics(int32(o.partitions), o.topics...))
		}
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil && o.anyPort && o.port != 0 && errors.Is(err, syscall.EADDRINUSE) {
		opts = append(opts, kfake.Ports(0)) // the last Ports wins
		c, err = kfake.NewCluster(opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("runtime: embedded broker on %s: %w", net.JoinHostPort(o.host, strconv.Itoa(o.port)), err)
	}
	return c, nil
}

// Broker is an embedded Kafka-protocol broker (franz-go's kfake) running in
// this process: for development, demos and tests, not production.
type Broker struct{ c *kfake.Cluster }

// BrokerOptions configure StartBroker. The zero value is valid.
type BrokerOptions struct {
	// Listen is the host:port to listen on. Default "127.0.0.1:0", a free
	// port.
	Listen string
	// DataDir keeps the broker's data across restarts. Default: in memory.
	DataDir string
	// Partitions of the Topics created at start and of topics created
	// later without a count. Default 8.
	Partitions int
	// Topics to create at start.
	Topics []string
}

// StartBroker starts an embedded broker; Close stops it.
func StartBroker(o BrokerOptions) (*Broker, error) {
	bo := brokerOptions{dataDir: o.DataDir, partitions: o.Partitions, topics: o.Topics}
	if bo.partitions <= 0 {
		bo.partitions = 8
	}
	if o.Listen != "" {
		host, port, err := net.SplitHostPort(o.Listen)
		if err != nil {
			return nil, fmt.Errorf("runtime: broker listen address %q: %w (want host:port)", o.Listen, err)
		}
		if bo.port, err = strconv.Atoi(port); err != nil || bo.port < 0 || bo.port > 65535 {
			return nil, fmt.Errorf("runtime: broker listen address %q: bad port %q", o.Listen, port)
		}
		bo.host = host
	}
	c, err := startBroker(bo)
	if err != nil {
		return nil, err
	}
	return &Broker{c: c}, nil
}

// Addrs returns the addresses clients connect to.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// Close stops the broker.
func (b *Broker) Close() { b.c.Close() }
