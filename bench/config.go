package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	eddyconfig "github.com/eddy-streams/eddy/config"
	"github.com/eddy-streams/eddy/runtime"
)

// errUsage marks a bad command line.
var errUsage = errors.New("bench: usage")

// config is what one invocation of the harness runs. parseConfig fills it
// from the command line; every count is already resolved (no zero means
// "default" past parseConfig).
type config struct {
	// brokers are external bootstrap brokers; empty starts an in-process
	// kfake broker.
	brokers []string
	quick   bool
	// runs is how many times each scenario runs.
	runs int
	// records is the workload's record count.
	records int
	// restoreRecords is the length of the restore scenarios' changelog.
	restoreRecords int
	// latencyRate (records/s) and latencyDuration shape the latency
	// scenario's produce.
	latencyRate     int
	latencyDuration time.Duration
	// rssRecords is the rss scenario's backlog.
	rssRecords int
	// only selects scenarios by name (their baselines come along); nil
	// selects every one.
	only *regexp.Regexp
	// out and markdown are where the results go.
	out, markdown string
	// cpuProfile, when set, receives a CPU profile of the harness process
	// (broker, apps and baselines together; not the rss worker).
	cpuProfile string
	// runTimeout bounds one run of one scenario.
	runTimeout time.Duration
	// executable is re-executed as the rss scenario's worker.
	executable string
	// progress receives a line per run.
	progress io.Writer

	// configFile is --config: a YAML file of Eddy settings, whose
	// connection settings (with the EDDY_* variables) are conn.
	configFile string
	// conn says how to reach external brokers (security_protocol, tls.*,
	// sasl.*, client_id), as runtime.Config.Connection has it, without
	// the brokers.
	conn runtime.Config
}

// Defaults of a full run and of a quick one (--quick).
const (
	defaultRuns            = 3
	defaultRecords         = 2_000_000
	defaultRestoreRecords  = 1_000_000
	defaultLatencyRate     = 10_000
	defaultLatencyDuration = 10 * time.Second
	defaultRSSRecords      = 10_000_000

	quickRuns            = 1
	quickRecords         = 200_000
	quickRestoreRecords  = 100_000
	quickLatencyDuration = 3 * time.Second
	quickRSSRecords      = 1_000_000

	defaultRunTimeout = 10 * time.Minute
)

// parseConfig parses the harness's command line, and reads the connection
// settings from the config file and the EDDY_* variables of environ.
// Help (-h) goes to stdout and returns flag.ErrHelp; other errors wrap
// errUsage and name the flag. Progress lines will go to stdout.
func parseConfig(args []string, stdout io.Writer, environ []string) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are returned, help printed below
	var (
		cfg             config
		brokers, only   string
		latencyDuration string
	)
	fs.StringVar(&brokers, "brokers", "", "external Kafka bootstrap brokers, comma-separated (default: the config's brokers, else an in-process kfake broker)")
	fs.StringVar(&cfg.configFile, "config", "", "YAML `file` of Eddy settings (as a worker's --config; EDDY_CONFIG and EDDY_* variables apply too): "+
		"the harness, its apps and its baselines reach --brokers with its brokers and connection settings (security_protocol, tls.*, sasl.*, client_id)")
	fs.BoolVar(&cfg.quick, "quick", false, "a short run: 200,000 records, 1 run, smaller restore, latency and rss workloads")
	fs.IntVar(&cfg.runs, "runs", 0, "runs per scenario (default 3, --quick 1)")
	fs.IntVar(&cfg.records, "records", 0, "records of the workload (default 2,000,000, --quick 200,000)")
	fs.IntVar(&cfg.restoreRecords, "restore-records", 0, "records of the restore scenarios' changelog (default 1,000,000, --quick 100,000)")
	fs.IntVar(&cfg.rssRecords, "rss-records", 0, "backlog of the rss scenario (default 10,000,000, --quick 1,000,000)")
	fs.IntVar(&cfg.latencyRate, "latency-rate", defaultLatencyRate, "produce rate of the latency scenario, records/s")
	fs.StringVar(&latencyDuration, "latency-duration", "", "how long the latency scenario produces (default 10s, --quick 3s)")
	fs.StringVar(&only, "only", "", "run only the scenarios whose name matches this regular expression, and their baselines")
	fs.StringVar(&cfg.out, "out", "bench/results.json", "where the JSON results go")
	fs.StringVar(&cfg.markdown, "markdown", "bench/results.md", "where the Markdown table goes")
	fs.StringVar(&cfg.cpuProfile, "cpuprofile", "", "write a CPU profile of the harness process to this file")
	fs.DurationVar(&cfg.runTimeout, "run-timeout", defaultRunTimeout, "bound of one run of one scenario")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(stdout, "Usage: go run ./bench [flags]\n\nRuns Eddy's benchmark scenarios against baselines measured in the same run.\n\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return config{}, err
		}
		return config{}, fmt.Errorf("%w: %v (-h lists the flags)", errUsage, err)
	}
	if fs.NArg() > 0 {
		return config{}, fmt.Errorf("%w: unexpected argument %q (flags only; -h lists them)", errUsage, fs.Arg(0))
	}
	loaded, err := eddyconfig.Load("bench", cfg.configFile, environ)
	if err != nil {
		return config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	cfg.conn = loaded.Connection()
	cfg.brokers, cfg.conn.Brokers = cfg.conn.Brokers, nil
	if brokers != "" {
		cfg.brokers = nil
		for b := range strings.SplitSeq(brokers, ",") {
			if b = strings.TrimSpace(b); b != "" {
				cfg.brokers = append(cfg.brokers, b)
			}
		}
	}
	if len(cfg.brokers) == 0 && cfg.conn.SecurityProtocol != "plaintext" {
		return config{}, fmt.Errorf("%w: security_protocol %s needs external brokers (--brokers, or brokers in the config): "+
			"the in-process broker is plaintext", errUsage, cfg.conn.SecurityProtocol)
	}
	if only != "" {
		re, err := regexp.Compile(only)
		if err != nil {
			return config{}, fmt.Errorf("%w: --only %q: %v", errUsage, only, err)
		}
		cfg.only = re
	}
	if latencyDuration != "" {
		d, err := time.ParseDuration(latencyDuration)
		if err != nil {
			return config{}, fmt.Errorf("%w: --latency-duration %q: %v (want a duration such as 10s)", errUsage, latencyDuration, err)
		}
		cfg.latencyDuration = d
	}
	cfg.resolve()
	if err := cfg.validate(); err != nil {
		return config{}, err
	}
	exe, err := os.Executable()
	if err != nil {
		return config{}, fmt.Errorf("bench: find this program's executable for the rss worker: %w", err)
	}
	cfg.executable = exe
	cfg.progress = stdout
	return cfg, nil
}

// resolve replaces unset counts with the defaults of a full or quick run.
func (c *config) resolve() {
	full := func(v *int, def, quick int) {
		if *v == 0 {
			*v = def
			if c.quick {
				*v = quick
			}
		}
	}
	full(&c.runs, defaultRuns, quickRuns)
	full(&c.records, defaultRecords, quickRecords)
	full(&c.restoreRecords, defaultRestoreRecords, quickRestoreRecords)
	full(&c.rssRecords, defaultRSSRecords, quickRSSRecords)
	if c.latencyDuration == 0 {
		c.latencyDuration = defaultLatencyDuration
		if c.quick {
			c.latencyDuration = quickLatencyDuration
		}
	}
}

// kind says whether c is a full run (every default), a quick one or a
// custom one.
func (c *config) kind() string {
	def := config{quick: c.quick, latencyRate: defaultLatencyRate}
	def.resolve()
	switch {
	case c.runs != def.runs || c.records != def.records || c.restoreRecords != def.restoreRecords ||
		c.rssRecords != def.rssRecords || c.latencyRate != def.latencyRate || c.latencyDuration != def.latencyDuration:
		return "custom"
	case c.quick:
		return "quick"
	default:
		return "full"
	}
}

// validate reports the first count that cannot work.
func (c *config) validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"--runs", c.runs}, {"--records", c.records}, {"--restore-records", c.restoreRecords},
		{"--rss-records", c.rssRecords}, {"--latency-rate", c.latencyRate},
	} {
		if f.v < 1 {
			return fmt.Errorf("%w: %s is %d; it must be at least 1", errUsage, f.name, f.v)
		}
	}
	if c.latencyDuration <= 0 {
		return fmt.Errorf("%w: --latency-duration is %v; it must be more than 0", errUsage, c.latencyDuration)
	}
	if c.runTimeout <= 0 {
		return fmt.Errorf("%w: --run-timeout is %v; it must be more than 0", errUsage, c.runTimeout)
	}
	return nil
}
