package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/runtime"
)

// harness is what every scenario shares: the brokers, an admin client,
// the workload, a temporary directory, and the topics loaded so far. It
// is used by one goroutine, the harness's.
type harness struct {
	cfg     config
	brokers []string
	admin   *kadm.Client
	work    *workload
	// tmp holds state directories and RocksDB databases; removed at the end.
	tmp string
	// id makes the names of this invocation's topics, groups and apps
	// unique, so that runs against external brokers never share one.
	id string
	// topics were created by the harness and are deleted at the end.
	topics []string
	// records is the workload topic once loaded, "" before.
	records string
	// closeBroker stops the in-process broker; nil with external brokers.
	closeBroker func()

	// conn is how the harness's clients and apps reach the brokers: the
	// brokers and the connection settings (config.conn); clientOpts are
	// its franz-go options.
	conn       runtime.Config
	clientOpts []kgo.Opt
}

// runHarness runs the selected scenarios and writes the results.
func runHarness(ctx context.Context, cfg config) (err error) {
	selected, err := selectScenarios(scenarios(), cfg.only)
	if err != nil {
		return err
	}
	if cfg.cpuProfile != "" {
		stop, err := startCPUProfile(cfg.cpuProfile)
		if err != nil {
			return err
		}
		defer func() { err = errors.Join(err, stop()) }()
	}
	started := time.Now()
	h, err := newHarness(ctx, cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, h.close()) }()
	results := make([]result, 0, len(selected))
	for _, sc := range selected {
		r, err := h.runScenario(ctx, sc)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	rep := newReport(cfg, results, time.Since(started))
	if err := rep.write(cfg.out, cfg.markdown); err != nil {
		return err
	}
	fmt.Fprintf(cfg.progress, "\n%s\nwrote %s and %s in %s\n", rep.markdown(), cfg.out, cfg.markdown, time.Since(started).Round(time.Second))
	return nil
}

// startCPUProfile profiles this process into path until the returned func
// is called.
func startCPUProfile(path string) (stop func() error, err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("bench: cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			return fmt.Errorf("bench: cpu profile: %w", err)
		}
		return nil
	}, nil
}

// newHarness starts the broker (unless cfg names brokers) and what the
// scenarios share. The caller closes it.
func newHarness(ctx context.Context, cfg config) (_ *harness, err error) {
	h := &harness{cfg: cfg, work: newWorkload(), id: strconv.FormatInt(time.Now().UnixNano(), 36), brokers: cfg.brokers}
	var cluster *kfake.Cluster
	if len(h.brokers) == 0 {
		if cluster, err = startBroker(); err != nil {
			return nil, err
		}
		h.brokers = cluster.ListenAddrs()
	}
	defer func() {
		if err != nil && cluster != nil {
			cluster.Close()
		}
	}()
	h.conn = cfg.conn
	h.conn.Brokers = h.brokers
	if h.clientOpts, err = h.conn.ClientOptions(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	cl, err := kgo.NewClient(h.options()...)
	if err != nil {
		return nil, fmt.Errorf("bench: admin client: %w", err)
	}
	h.admin = kadm.NewClient(cl)
	if err := cl.Ping(ctx); err != nil {
		cl.Close()
		return nil, fmt.Errorf("bench: brokers %s cannot be reached: %w", strings.Join(h.brokers, ","), err)
	}
	if h.tmp, err = os.MkdirTemp("", "eddy-bench-"); err != nil {
		cl.Close()
		return nil, fmt.Errorf("bench: temporary directory: %w", err)
	}
	if cluster != nil {
		h.closeBroker = cluster.Close
	}
	return h, nil
}

// options are the options of a client of the brokers followed by opts.
func (h *harness) options(opts ...kgo.Opt) []kgo.Opt {
	return append(append([]kgo.Opt(nil), h.clientOpts...), opts...)
}

// startBroker starts the in-process kfake broker with what would surprise
// a benchmark turned off: no retention (a backlog is not trimmed while it
// waits) and compaction only after a day (a changelog holds every record
// written to it, so a restore replays what it was given).
func startBroker() (*kfake.Cluster, error) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.BrokerConfigs(map[string]string{
		"log.retention.ms":       "-1",
		"log.retention.bytes":    "-1",
		"log.cleaner.backoff.ms": strconv.Itoa(int((24 * time.Hour).Milliseconds())),
	}))
	if err != nil {
		return nil, fmt.Errorf("bench: in-process broker: %w", err)
	}
	return c, nil
}

// close deletes the topics the harness created on external brokers, stops
// the in-process broker, and removes the temporary directory.
func (h *harness) close() error {
	var err error
	if h.closeBroker == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = h.deleteTopics(ctx, h.topics...)
		cancel()
	}
	h.admin.Close()
	if h.closeBroker != nil {
		h.closeBroker()
	}
	if rmErr := os.RemoveAll(h.tmp); rmErr != nil {
		err = errors.Join(err, fmt.Errorf("bench: remove %s: %w", h.tmp, rmErr))
	}
	return err
}

// name returns a name for a topic, group or app of this invocation:
// "eddy-bench-<id>-" and parts joined by "-".
func (h *harness) name(parts ...any) string {
	var b strings.Builder
	b.WriteString("eddy-bench-")
	b.WriteString(h.id)
	for _, p := range parts {
		fmt.Fprintf(&b, "-%v", p)
	}
	return b.String()
}

// tempDir creates a new directory in the harness's temporary directory.
func (h *harness) tempDir(name string) (string, error) {
	dir, err := os.MkdirTemp(h.tmp, name+"-")
	if err != nil {
		return "", fmt.Errorf("bench: temporary directory: %w", err)
	}
	return dir, nil
}

// removeDir removes a directory made by tempDir.
func (h *harness) removeDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("bench: remove %s: %w", dir, err)
	}
	return nil
}

// createTopic creates a topic of 8 partitions with the brokers' default
// replication factor; compact makes it a compacted topic, as changelogs
// are.
func (h *harness) createTopic(ctx context.Context, topic string, compact bool) error {
	var configs map[string]*string
	if compact {
		policy := "compact"
		configs = map[string]*string{"cleanup.policy": &policy}
	}
	resp, err := h.admin.CreateTopic(ctx, partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("bench: create topic %s: %w", topic, err)
	}
	h.topics = append(h.topics, topic)
	return nil
}

// deleteTopics deletes topics; deleting none is a no-op.
func (h *harness) deleteTopics(ctx context.Context, topics ...string) error {
	if len(topics) == 0 {
		return nil
	}
	resps, err := h.admin.DeleteTopics(ctx, topics...)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("bench: delete topics %s: %w", strings.Join(topics, ", "), err)
	}
	h.topics = slices.DeleteFunc(h.topics, func(t string) bool { return slices.Contains(topics, t) })
	return nil
}

// endOffsets returns the sum of topic's end offsets: the records written
// to it.
func (h *harness) endOffsets(ctx context.Context, topic string) (int64, error) {
	ends, err := partitionEnds(ctx, h.admin, topic)
	var n int64
	for _, e := range ends {
		n += e
	}
	return n, err
}

// recordsTopic returns the workload topic, loading it on first use with
// cfg.records records.
func (h *harness) recordsTopic(ctx context.Context) (string, error) {
	if h.records != "" {
		return h.records, nil
	}
	topic := h.name("records")
	if _, err := h.load(ctx, topic, h.cfg.records, false, false); err != nil {
		return "", err
	}
	h.records = topic
	return topic, nil
}

// load creates topic and writes n records of the workload to it (see
// produce), saying so on the progress output. It returns the number of
// distinct keys written.
func (h *harness) load(ctx context.Context, topic string, n int, compact, byIndex bool) (keys int, err error) {
	if err := h.createTopic(ctx, topic, compact); err != nil {
		return 0, err
	}
	took, keys, err := h.produce(ctx, topic, n, byIndex)
	if err != nil {
		return 0, fmt.Errorf("bench: load: %w", err)
	}
	fmt.Fprintf(h.cfg.progress, "loaded %s records into %s in %.1fs\n", formatCount(n), topic, took.Seconds())
	return keys, nil
}
