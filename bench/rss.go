package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	eddyconfig "github.com/eddy-streams/eddy/config"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
)

// workerCommand is the hidden subcommand that makes this binary the rss
// scenario's worker.
const workerCommand = "worker"

// backlog is the rss scenario's data: config.rssRecords records of the
// workload in a topic of their own, loaded before the first run and
// deleted after the last.
type backlog struct{ topic string }

func (b *backlog) prepare(ctx context.Context, h *harness) error {
	topic := h.name("rss")
	if _, err := h.load(ctx, topic, h.cfg.rssRecords, false, false); err != nil {
		return err
	}
	b.topic = topic
	return nil
}

func (b *backlog) finish(ctx context.Context, h *harness) error {
	if b.topic == "" {
		return nil
	}
	err := h.deleteTopics(ctx, b.topic)
	b.topic = ""
	return err
}

// run is one run of the rss scenario: this binary, re-executed as a
// worker process whose app counts records with a stateless handler, works
// off the backlog from the broker in this process and exits once it
// handled all of it. The figure is the worker's peak RSS, which it reads
// itself (VmHWM) as it exits; its records/s is the worker's own, from the
// start of its app to the last record handled.
//
// The child's rusage (ru_maxrss) would not do: Linux carries the
// high-water mark of the memory a process had before exec into it, and Go
// starts children with vfork semantics, so a child's ru_maxrss is at
// least this process's RSS at the fork, broker and backlog included (2.5
// GiB instead of 0.2 GiB with 10,000,000 records).
func (b *backlog) run(ctx context.Context, h *harness, i int) (measurement, error) {
	args := []string{workerCommand, "--brokers", strings.Join(h.brokers, ","), "--topic", b.topic,
		"--group", h.name("rss", i), "--records", strconv.Itoa(h.cfg.rssRecords)}
	if h.cfg.configFile != "" {
		// The child reads the connection settings as the parent did: the
		// file, and the EDDY_* variables it inherits.
		args = append(args, "--config", h.cfg.configFile)
	}
	cmd := exec.CommandContext(ctx, h.cfg.executable, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return measurement{}, fmt.Errorf("worker process: %w; its output: %s", err, tail(stderr.String()))
	}
	var rep workerReport
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return measurement{}, fmt.Errorf("worker process: its report %q: %w", tail(stdout.String()), err)
	}
	return measurement{
		records: rep.Records,
		elapsed: time.Duration(rep.Seconds * float64(time.Second)),
		figures: map[string]float64{"peak_rss_mib": float64(rep.PeakRSS) / (1 << 20)},
	}, nil
}

// tail returns the end of a process's output, enough to show an error.
func tail(s string) string {
	const keep = 2000
	s = strings.TrimSpace(s)
	if len(s) > keep {
		s = "..." + s[len(s)-keep:]
	}
	return s
}

// workerReport is what the worker prints on stdout when it is done.
type workerReport struct {
	Records int64   `json:"records"`
	Seconds float64 `json:"seconds"`
	// PeakRSS is the worker's peak resident set size in bytes.
	PeakRSS int64 `json:"peak_rss_bytes"`
}

// runWorker is the worker subcommand: an app that counts the records of
// --topic with a stateless handler (bytes codecs) in group --group, and
// stops once it handled --records of them, printing a workerReport.
func runWorker(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet(workerCommand, flag.ContinueOnError)
	fs.SetOutput(stderr)
	brokers := fs.String("brokers", "", "bootstrap brokers, comma-separated (required)")
	topic := fs.String("topic", "", "the topic to work off (required)")
	group := fs.String("group", "", "the consumer group and app name (required)")
	records := fs.Int("records", 0, "records to handle before exiting (required)")
	timeout := fs.Duration("timeout", defaultRunTimeout, "give up after this long")
	configFile := fs.String("config", "", "YAML `file` of Eddy settings whose connection settings reach --brokers (with EDDY_* variables)")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: worker: %v", errUsage, err)
	}
	if *brokers == "" || *topic == "" || *group == "" || *records < 1 {
		return fmt.Errorf("%w: worker: --brokers, --topic, --group and --records are required", errUsage)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	loaded, err := eddyconfig.Load(*group, *configFile, os.Environ())
	if err != nil {
		return fmt.Errorf("%w: worker: %v", errUsage, err)
	}
	conn := loaded.Connection()
	conn.Brokers = strings.Split(*brokers, ",")
	opts, err := conn.ClientOptions()
	if err != nil {
		return fmt.Errorf("bench: worker: %w", err)
	}
	cd, err := topicCountdown(ctx, opts, *topic)
	if err != nil {
		return fmt.Errorf("bench: worker: %w", err)
	}
	if cd.total() != int64(*records) {
		return fmt.Errorf("bench: worker: %s holds %d records, not the %d expected", *topic, cd.total(), *records)
	}
	app := runtime.NewApp(*group)
	runtime.Handle(app, countingHandler(cd), serde.Bytes(), serde.Bytes(), *topic)
	handled, _, err := consume(ctx, app, appConfig(conn, *group, "", ""), cd)
	if err != nil {
		return fmt.Errorf("bench: worker: %w", err)
	}
	peak, err := procKiB("/proc/self/status", "VmHWM")
	if err != nil {
		return fmt.Errorf("bench: worker: peak RSS: %w", err)
	}
	return json.NewEncoder(stdout).Encode(workerReport{Records: int64(*records), Seconds: handled.Seconds(), PeakRSS: peak << 10})
}

// topicCountdown returns a countdown of the records of topic, asking the
// brokers with a client of its own, of opts.
func topicCountdown(ctx context.Context, opts []kgo.Opt, topic string) (*countdown, error) {
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("admin client: %w", err)
	}
	defer cl.Close()
	ends, err := partitionEnds(ctx, kadm.NewClient(cl), topic)
	if err != nil {
		return nil, err
	}
	return newCountdown(ends), nil
}
