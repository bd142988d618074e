package config

// The settings table: one entry per Config field drives defaults, the YAML
// file, EDDY_* variables, flags, the checks of a Config given in code, and
// the README reference. The machinery is internal/settings.

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/internal/conn"
	"github.com/eddy-streams/eddy/internal/settings"
	"github.com/eddy-streams/eddy/modes"
)

const (
	envPrefix = "EDDY_"
	envConfig = "EDDY_CONFIG"

	// appNameDefault is how the reference shows a default that is the app name.
	appNameDefault = "the app name"

	groupProtocolConsumer = "consumer"
	defaultBalancer       = "cooperative-sticky"

	startEarliest = "earliest"
	startLatest   = "latest"

	acksAll    = "all"
	acksLeader = "leader"
	acksNone   = "none"

	createAuto = "auto"
)

// setting is one entry of the table.
type setting = settings.Setting[Config]

// table returns the table of settings, appName being the default
// group and client id. It builds a fresh table on each call so that no
// package state can be changed.
func table(appName string) *settings.Table[Config] {
	return &settings.Table[Config]{
		Settings:  configSettings(appName),
		ErrPrefix: "runtime: config",
		EnvPrefix: envPrefix,
		FileEnv:   envConfig,
		FileHint:  ` (values for the app's own code go under "settings")`,
		EnvHint: func(name string) string {
			return fmt.Sprintf(" (EDDY_* variables are eddy's settings; for an app value use %sSETTING_%s)",
				envPrefix, strings.TrimPrefix(name, envPrefix))
		},
		Validate: validateConfig,
	}
}

// configSettings lists the settings in the order the reference shows them.
func configSettings(appName string) []setting {
	const p = envPrefix
	return []setting{
		settings.Strings(p, "brokers", "host:port,...",
			"Kafka bootstrap brokers (host:port), comma-separated, or a list in the file. Empty starts an embedded broker in-process.",
			func(c *Config) *[]string { return &c.Brokers }),
		appNameSetting("group", appName, func(c *Config) *string { return &c.Group },
			"Consumer group id; workers with the same group share the partitions."),
		settings.Custom(p, "http", "addr", "127.0.0.1:6066",
			`Listen address of the HTTP server (health, readiness, status, metrics, tables); "off" disables it.`,
			func(c *Config) *string { return &c.HTTP }, "127.0.0.1:6066", parseHTTPAddr, func(s string) string { return s }),
		settings.Bool(p, "http.pprof", false, func(c *Config) *bool { return &c.HTTPPprof },
			"Serve Go's profiles under /debug/pprof/ on the HTTP server, for go tool pprof. Off by default: profiles reveal the program's internals."),
		settings.Custom(p, "log_level", "level", "info", "Least severe level logged: debug, info, warn or error.",
			func(c *Config) *slog.Level { return &c.LogLevel }, slog.LevelInfo, parseLogLevel,
			func(l slog.Level) string { return strings.ToLower(l.String()) }),
		settings.Choice(p, "log_format", []string{"text", "json"},
			func(c *Config) *string { return &c.LogFormat },
			"Log line format: text (logfmt) or json."),
		settings.String(p, "state_dir", "dir", "./state", func(c *Config) *string { return &c.StateDir },
			"Directory that holds table stores."),
		settings.String(p, "table_store", "url", "rocksdb://", func(c *Config) *string { return &c.TableStore },
			"Store of tables that set none: rocksdb:// (under state_dir), rocksdb:///abs/path or memory://."),
		settings.Int(p, "tables.cache_max_entries", 100000, 1, math.MaxInt, func(c *Config) *int { return &c.TableCacheMaxEntries },
			"Changed keys a partition's table caches hold before it flushes and commits early, bounding their memory."),
		settings.Size(p, "stores.rocksdb.memory_limit", 256<<20, 16<<20, func(c *Config) *int64 { return &c.RocksDBMemoryLimit },
			"Memory of RocksDB for the whole process (block cache and memtables of every table and partition), e.g. 256MiB or 1GiB."),
		settings.Duration(p, "connect_timeout", 15*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.ConnectTimeout },
			"How long start-up, and each tool, waits for the brokers' first answers before failing."),
		appNameSetting("client_id", appName, func(c *Config) *string { return &c.ClientID },
			"Kafka client id that brokers log and apply quotas to."),
		settings.Choice(p, "security_protocol", conn.Protocols, func(c *Config) *string { return &c.SecurityProtocol },
			"How every client connects to the brokers: ssl is TLS, sasl_plaintext SASL without TLS, sasl_ssl SASL over TLS. The embedded broker is plaintext."),
		optionalString("tls.ca_file", "file", func(c *Config) *string { return &c.TLSCAFile },
			"PEM file of the authorities that sign the brokers' certificates. Empty: the system's roots. TLS settings need security_protocol ssl or sasl_ssl."),
		optionalString("tls.cert_file", "file", func(c *Config) *string { return &c.TLSCertFile },
			"Client certificate (PEM) for brokers that require mutual TLS; with tls.key_file."),
		optionalString("tls.key_file", "file", func(c *Config) *string { return &c.TLSKeyFile },
			"Private key (PEM) of tls.cert_file."),
		optionalString("tls.server_name", "name", func(c *Config) *string { return &c.TLSServerName },
			"Name the brokers' certificates must hold. Empty: each broker's host as dialled."),
		settings.Bool(p, "tls.insecure_skip_verify", false, func(c *Config) *bool { return &c.TLSInsecureSkipVerify },
			"Accept any broker certificate, unverified: for development only (a warning is logged at every start)."),
		settings.Custom(p, "sasl.mechanism", "name", "",
			"How clients authenticate with sasl_plaintext or sasl_ssl: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with sasl.username and a password), OAUTHBEARER (with sasl.token_file) or AWS_MSK_IAM (the AWS default credential chain). Empty: none.",
			func(c *Config) *string { return &c.SASLMechanism }, "", parseMechanism, func(s string) string { return s }),
		optionalString("sasl.username", "user", func(c *Config) *string { return &c.SASLUsername },
			"User of PLAIN and SCRAM."),
		settings.Custom(p, "sasl.password", "password", "",
			"Password of PLAIN and SCRAM; never shown in logs, errors or /status. Prefer EDDY_SASL_PASSWORD or sasl.password_file to the flag, which the process list shows.",
			func(c *Config) *Secret { return &c.SASLPassword }, Secret{},
			func(s string) (Secret, error) { return conn.NewSecret(s), nil }, Secret.Reveal),
		optionalString("sasl.password_file", "file", func(c *Config) *string { return &c.SASLPasswordFile },
			"File holding the password of PLAIN and SCRAM (a trailing newline is dropped), read again when it changes; not with sasl.password."),
		optionalString("sasl.token_file", "file", func(c *Config) *string { return &c.SASLTokenFile },
			"File holding the OAUTHBEARER token, read again whenever it changes (a sidecar may renew it)."),
		settings.Duration(p, "commit_interval", 5*time.Second, time.Nanosecond,
			func(c *Config) *time.Duration { return &c.CommitInterval },
			"How often the offsets of finished records are committed."),
		settings.Duration(p, "shutdown_timeout", 30*time.Second, time.Nanosecond,
			func(c *Config) *time.Duration { return &c.ShutdownTimeout },
			"How long shutdown waits for in-flight work."),
		settings.Duration(p, "stall_timeout", 5*time.Minute, time.Millisecond,
			func(c *Config) *time.Duration { return &c.StallTimeout },
			"How long a partition may go without handling a record while records wait before it is restarted from its last commit."),
		settings.Duration(p, "session_timeout", 45*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.SessionTimeout },
			"How long the group waits for a silent (crashed) worker before moving its partitions."),
		settings.Duration(p, "rebalance_timeout", 60*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.RebalanceTimeout },
			"How long a rebalance waits for every worker to rejoin (classic protocol). A worker out of a stable group generation for longer is not ready (/readyz says why); for longer than this plus session_timeout it rejoins the group as a new member."),
		settings.Choice(p, "group_protocol", []string{"classic", groupProtocolConsumer},
			func(c *Config) *string { return &c.GroupProtocol },
			"Consumer group protocol; consumer is KIP-848, where the broker assigns partitions."),
		settings.Choice(p, "balancer", []string{defaultBalancer, "sticky", "range", "roundrobin"},
			func(c *Config) *string { return &c.Balancer },
			"Partition assignment strategy of the classic group protocol; must stay the default with group_protocol consumer. An app with tables and several source topics uses range in place of the default (it keeps partition p of every topic on one worker), and cannot use sticky or roundrobin."),
		settings.Duration(p, "fetch_max_wait", 100*time.Millisecond, time.Millisecond,
			func(c *Config) *time.Duration { return &c.FetchMaxWait },
			"Longest a fetch request waits at the broker for records. A partition resumed after backpressure waits for the fetch in flight, so this bounds that stall; lower means more idle fetch requests."),
		settings.DurationBetween(p, "metadata_max_age", 5*time.Minute, 10*time.Millisecond, time.Hour,
			func(c *Config) *time.Duration { return &c.MetadataMaxAge },
			"How often the Kafka client refreshes what it knows of the cluster's topics: how soon a new topic matching a handler's pattern is consumed, and new partitions are produced to."),
		settings.Choice(p, "consumer.start_from", []string{startEarliest, startLatest},
			func(c *Config) *string { return &c.StartFrom },
			"Where a partition without a committed offset (a new group, topic or partition), or whose committed offset was deleted by retention, starts: earliest (its first record) or latest (records produced from then on). A group that has committed is never moved."),
		settings.Choice(p, "producer.acks", []string{acksAll, acksLeader, acksNone},
			func(c *Config) *string { return &c.ProducerAcks },
			"Acknowledgement a produced record needs before its source record may be committed: all (every in-sync replica, with idempotent writes), leader, or none (written to the connection). leader and none turn idempotent writes off: a retry may write a record twice, and with none a broker failure loses records."),
		settings.DurationBetween(p, "producer.linger", 10*time.Millisecond, time.Millisecond, time.Minute,
			func(c *Config) *time.Duration { return &c.ProducerLinger },
			"How long a partition's produced records wait for more before their batch is sent: longer means fewer, larger batches and more latency."),
		settings.SizeBetween(p, "producer.batch_max_bytes", 1000012, 512, 100<<20,
			func(c *Config) *int64 { return &c.ProducerBatchMaxBytes },
			"Largest produced record batch before compression; a larger record fails and stops the app. Keep it at most the topics' max.message.bytes."),
		settings.Choice(p, "producer.compression", []string{"snappy", "none", "gzip", "lz4", "zstd"},
			func(c *Config) *string { return &c.ProducerCompression },
			"Compression of produced batches; a broker too old for the codec gets them uncompressed."),
		settings.Duration(p, "producer.delivery_timeout", 2*time.Minute, time.Second,
			func(c *Config) *time.Duration { return &c.ProducerDeliveryTimeout },
			"How long a produced record may go unacknowledged, retries included, before it fails and stops the app."),
		settings.Int(p, "producer.max_buffered_records", 50000, 1, math.MaxInt, func(c *Config) *int { return &c.ProducerMaxBufferedRecords },
			"Records produced but not yet acknowledged. A handler producing while the buffer is full blocks until acknowledgements make room (backpressure), so memory stays bounded; table changelog writes share the buffer."),
		settings.Custom(p, "topics.create_missing", "auto|true|false", createAuto,
			`Whether the worker creates the app's declared topics that do not exist at start, with their declared partitions, replication and configs: auto creates them on the embedded broker only (on a configured cluster a missing topic is an error), true on any cluster, false never on a configured cluster. One of auto, true, false.`,
			func(c *Config) *string { return &c.TopicsCreateMissing }, createAuto, parseCreateMissing, func(s string) string { return s }),
		settings.Int(p, "max_in_flight", 10000, 1, math.MaxInt, func(c *Config) *int { return &c.MaxInFlight },
			"Records of one partition fetched but not yet handled before fetching that partition pauses."),
		settings.Custom(p, "mode", "name", "auto",
			"How records reach handlers: auto switches each partition between single (one record per call) and bulk (batches) on its lag; single or bulk force one. One of auto, single, bulk.",
			func(c *Config) *modes.Mode { return &c.Mode }, modes.Auto, parseMode, modes.Mode.String),
		settings.Int(p, "auto.lag_high", 10000, 1, math.MaxInt, func(c *Config) *int { return &c.AutoLagHigh },
			"In auto mode, a partition more records behind its high watermark than this switches to bulk."),
		settings.Int(p, "auto.lag_low", 1000, 1, math.MaxInt, func(c *Config) *int { return &c.AutoLagLow },
			"In auto mode, a partition in bulk fewer records behind than this switches back to single; below auto.lag_high."),
		settings.Duration(p, "auto.min_dwell", 10*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.AutoMinDwell },
			"In auto mode, the least time a partition stays in a mode before switching again, so lag around a threshold cannot make it flap."),
		settings.Int(p, "bulk.max_records", 1000, 1, math.MaxInt, func(c *Config) *int { return &c.BulkMaxRecords },
			"Most records in one bulk batch; at most max_in_flight."),
		settings.Duration(p, "bulk.max_wait", 500*time.Millisecond, time.Millisecond,
			func(c *Config) *time.Duration { return &c.BulkMaxWait },
			"How long a partial bulk batch waits for more records before it is handled anyway."),
		settings.GroupList(p, "steps", "t1,t2;t3", "step", "topic",
			`Step plan: topic groups consumed (in bulk) to the end offsets captured when their step begins, one group after another, every other topic paused; then every topic in "mode". E.g. [[users, products], [prices]] in the file, "users,products;prices" as text. Empty: no steps.`,
			func(c *Config) *[][]string { return &c.Steps }),
		settings.Int(p, "handler.max_attempts", 3, 1, math.MaxInt, func(c *Config) *int { return &c.HandlerMaxAttempts },
			"How many times a record whose handler panics is tried before it goes to the error path."),
		settings.Duration(p, "handler.backoff", 100*time.Millisecond, time.Millisecond,
			func(c *Config) *time.Duration { return &c.HandlerBackoff },
			"Delay before the first restart of a failed handler, doubled on each further failure."),
		settings.Duration(p, "handler.max_backoff", 5*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.HandlerMaxBackoff },
			"Upper bound of the handler restart delay."),
		settings.Int(p, "topics.partitions", 8, 1, math.MaxInt32, func(c *Config) *int { return &c.TopicPartitions },
			`Partition count of topics that "topics create" or the embedded broker creates.`),
		settings.Int(p, "topics.replication_factor", 1, 1, math.MaxInt16, func(c *Config) *int { return &c.TopicReplication },
			`Replication factor of topics that "topics create" creates.`),
		settings.StringMap("settings", envPrefix+"SETTING_", "set",
			"Free-form values for the app's own code. Names are case-insensitive (stored lower-case); entries merge across layers.",
			func(c *Config) *map[string]string { return &c.Settings }),
	}
}

// appNameSetting is a string setting whose default is the app name.
func appNameSetting(key, appName string, field func(*Config) *string, doc string) setting {
	s := settings.String(envPrefix, key, "id", appNameDefault, field, doc)
	s.Reset = func(c *Config) { *field(c) = appName }
	return s
}

// validateConfig checks what no single setting can check alone.
func validateConfig(c *Config, from settings.Sources) []settings.Problem {
	var ps []settings.Problem
	fail := func(source string, err error) { ps = append(ps, settings.Problem{Source: source, Err: err}) }
	for _, s := range []struct {
		key, flag string
		value     string
	}{{"group", "group", c.Group}, {"client_id", "client-id", c.ClientID}} {
		// Only an empty app name gets here: the settings reject empty values.
		if s.value == "" {
			fail(s.key, fmt.Errorf("is empty: name the app, or set --%s, %s or %s in the config file",
				s.flag, envPrefix+strings.ToUpper(s.key), s.key))
		}
	}
	ps = append(ps, validateSecurity(c, from)...)
	if c.AutoLagLow >= c.AutoLagHigh {
		fail(from["auto.lag_low"], fmt.Errorf("auto.lag_low %d must be below auto.lag_high %d (from %s)",
			c.AutoLagLow, c.AutoLagHigh, cmp.Or(from["auto.lag_high"], "the default")))
	}
	if from["bulk.max_records"] == "" {
		// Defaulted: a batch as large as max_in_flight allows.
		c.BulkMaxRecords = min(c.BulkMaxRecords, c.MaxInFlight)
	}
	if c.BulkMaxRecords > c.MaxInFlight {
		fail(from["bulk.max_records"], fmt.Errorf("bulk.max_records %d is more than max_in_flight %d (from %s): a batch could never fill",
			c.BulkMaxRecords, c.MaxInFlight, cmp.Or(from["max_in_flight"], "the default")))
	}
	if c.GroupProtocol == groupProtocolConsumer && c.Balancer != defaultBalancer {
		fail(from["balancer"], fmt.Errorf(
			"balancer %q cannot be used with group_protocol %q (from %s): the broker assigns partitions under KIP-848; "+
				"remove the balancer setting or set group_protocol to classic",
			c.Balancer, c.GroupProtocol, from["group_protocol"]))
	}
	return ps
}

// parseCreateMissing reads topics.create_missing: auto, or a boolean in
// any of the spellings a bool setting takes, stored as "true" or "false".
func parseCreateMissing(s string) (string, error) {
	switch strings.ToLower(s) {
	case createAuto:
		return createAuto, nil
	case "1", "t", "true", "yes", "on":
		return "true", nil
	case "0", "f", "false", "no", "off":
		return "false", nil
	}
	return "", fmt.Errorf("%q is not auto, true or false", s)
}

func parseMode(s string) (modes.Mode, error) {
	choices := []string{"auto", "single", "bulk"}
	m, err := modes.Parse(strings.ToLower(s))
	if err != nil {
		return 0, fmt.Errorf("%q is not one of %s%s", s, strings.Join(choices, ", "), settings.DidYouMean(strings.ToLower(s), choices))
	}
	return m, nil
}

func parseHTTPAddr(s string) (string, error) {
	if strings.EqualFold(s, "off") {
		return "off", nil
	}
	_, port, err := net.SplitHostPort(s)
	if err == nil {
		_, err = strconv.ParseUint(port, 10, 16)
	}
	if err != nil {
		return "", fmt.Errorf(`%q is not host:port or "off" (e.g. 127.0.0.1:6066, :6066)`, s)
	}
	return s, nil
}

func parseLogLevel(s string) (slog.Level, error) {
	// slog's own names, in any case, with an optional offset: "warn",
	// "ERROR+4", "debug-2".
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%q is not a log level (expected debug, info, warn or error)", s)
	}
	return l, nil
}
