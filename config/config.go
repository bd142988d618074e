package config

import (
	"flag"
	"log/slog"
	"time"

	"github.com/eddy-streams/eddy/internal/settings"
	"github.com/eddy-streams/eddy/modes"
)

// Config holds the settings of a worker and of the produce, consume and topics
// subcommands.
//
// The CLI resolves it from, in increasing precedence: DefaultConfig, a YAML file
// (named by --config FILE or EDDY_CONFIG; none is read when neither is given),
// EDDY_* environment variables, and command-line flags. An environment variable
// set to the empty string counts as unset. Each field below names its default,
// YAML key, environment variable and flag; the README's reference renders the
// same facts from the settings table (settings.go), which is where defaults and
// checks live.
//
// A program that calls App.Run builds a Config in code: fields left at their
// zero value take their defaults (no setting accepts its zero value, so a zero
// always means "the default"), and every other value is checked by the same
// rules as a flag's.
//
// A Config is a plain value: copy it and read it from any goroutine, but do not
// write Settings while another goroutine reads it.
type Config struct {
	// Brokers are the Kafka bootstrap brokers, "host:port" each. Empty (the
	// default) starts an embedded broker in-process.
	// YAML brokers (a list or a comma-separated string), env EDDY_BROKERS and
	// flag --brokers (comma-separated).
	Brokers []string

	// Group is the consumer group id; workers with the same group share the
	// partitions. Default: the app name.
	// YAML group, env EDDY_GROUP, flag --group.
	Group string

	// HTTP is the listen address of the HTTP server (health, readiness,
	// status, metrics, table look-ups); "off" disables the server.
	// Default "127.0.0.1:6066".
	// YAML http, env EDDY_HTTP, flag --http.
	HTTP string

	// HTTPPprof serves Go's profiles (net/http/pprof) under /debug/pprof/
	// on the HTTP server, for `go tool pprof`. Off by default: profiles
	// reveal the program's internals and cost CPU while taken.
	// Default false.
	// YAML http.pprof, env EDDY_HTTP_PPROF, flag --http-pprof.
	HTTPPprof bool

	// LogLevel is the least severe level logged: debug, info, warn or error,
	// in any case. Default slog.LevelInfo.
	// YAML log_level, env EDDY_LOG_LEVEL, flag --log-level.
	LogLevel slog.Level

	// LogFormat is the log line format: "text" (logfmt) or "json".
	// Default "text".
	// YAML log_format, env EDDY_LOG_FORMAT, flag --log-format.
	LogFormat string

	// StateDir is the directory that holds table stores. Default "./state".
	// YAML state_dir, env EDDY_STATE_DIR, flag --state-dir.
	StateDir string

	// TableStore is the store URL of tables that do not set their own:
	// "rocksdb://" (under StateDir), "rocksdb:///abs/path" or "memory://".
	// Default "rocksdb://".
	// YAML table_store, env EDDY_TABLE_STORE, flag --table-store.
	TableStore string

	// TableCacheMaxEntries bounds each partition's table write-back
	// caches: past this many changed keys since the last commit, the
	// partition flushes and commits early instead of waiting for
	// CommitInterval. Default 100000.
	// YAML tables.cache_max_entries, env EDDY_TABLES_CACHE_MAX_ENTRIES,
	// flag --tables-cache-max-entries.
	TableCacheMaxEntries int

	// RocksDBMemoryLimit bounds RocksDB's memory for the whole process:
	// one block cache and memtable budget shared by every table and
	// partition. Default 256 MiB.
	// YAML stores.rocksdb.memory_limit, env EDDY_STORES_ROCKSDB_MEMORY_LIMIT,
	// flag --stores-rocksdb-memory-limit.
	RocksDBMemoryLimit int64

	// ConnectTimeout bounds how long start-up (and each tool) waits for
	// the brokers' first answers before it fails, naming them.
	// Default 15s.
	// YAML connect_timeout, env EDDY_CONNECT_TIMEOUT, flag --connect-timeout.
	ConnectTimeout time.Duration

	// ClientID is the Kafka client id brokers log and apply quotas to.
	// Default: the app name.
	// YAML client_id, env EDDY_CLIENT_ID, flag --client-id.
	ClientID string

	// SecurityProtocol is how every client (the worker's, the tools')
	// connects to the brokers: "plaintext" (the default), "ssl" (TLS),
	// "sasl_plaintext" (SASL without TLS) or "sasl_ssl" (SASL over TLS),
	// in any case. The embedded broker (no Brokers) is plaintext.
	// Default "plaintext".
	// YAML security_protocol, env EDDY_SECURITY_PROTOCOL,
	// flag --security-protocol.
	SecurityProtocol string

	// TLSCAFile is a PEM file of the certificate authorities that sign the
	// brokers' certificates. Default empty: the system's roots. Only with
	// ssl or sasl_ssl, as every TLS setting.
	// YAML tls.ca_file, env EDDY_TLS_CA_FILE, flag --tls-ca-file.
	TLSCAFile string

	// TLSCertFile is the client's certificate (PEM), for brokers that
	// require mutual TLS; with TLSKeyFile. Default empty: none.
	// YAML tls.cert_file, env EDDY_TLS_CERT_FILE, flag --tls-cert-file.
	TLSCertFile string

	// TLSKeyFile is the private key (PEM) of TLSCertFile. Default empty.
	// YAML tls.key_file, env EDDY_TLS_KEY_FILE, flag --tls-key-file.
	TLSKeyFile string

	// TLSServerName is the name the brokers' certificates must hold.
	// Default empty: each broker's host as dialled.
	// YAML tls.server_name, env EDDY_TLS_SERVER_NAME,
	// flag --tls-server-name.
	TLSServerName string

	// TLSInsecureSkipVerify accepts any broker certificate, unverified:
	// for development only; the worker and the tools log a warning at
	// every start. Default false.
	// YAML tls.insecure_skip_verify, env EDDY_TLS_INSECURE_SKIP_VERIFY,
	// flag --tls-insecure-skip-verify.
	TLSInsecureSkipVerify bool

	// SASLMechanism is how clients authenticate with sasl_plaintext or
	// sasl_ssl: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 (with SASLUsername
	// and a password), OAUTHBEARER (with SASLTokenFile) or AWS_MSK_IAM
	// (with the AWS SDK's default credential chain, resolved at each
	// authentication), in any case. Default empty: none.
	// YAML sasl.mechanism, env EDDY_SASL_MECHANISM, flag --sasl-mechanism.
	SASLMechanism string

	// SASLUsername is the user of PLAIN and SCRAM. Default empty.
	// YAML sasl.username, env EDDY_SASL_USERNAME, flag --sasl-username.
	SASLUsername string

	// SASLPassword is the password of PLAIN and SCRAM. It never shows:
	// printed, marshalled or logged it reads "[redacted]". Prefer the
	// environment or SASLPasswordFile to the flag, whose value other
	// users of the machine can see in the process list. Default empty.
	// YAML sasl.password, env EDDY_SASL_PASSWORD, flag --sasl-password.
	SASLPassword Secret

	// SASLPasswordFile is a file that holds the password of PLAIN and
	// SCRAM (a trailing newline is dropped), read at start and again
	// whenever it changes; not with SASLPassword. Default empty.
	// YAML sasl.password_file, env EDDY_SASL_PASSWORD_FILE,
	// flag --sasl-password-file.
	SASLPasswordFile string

	// SASLTokenFile is a file that holds the OAUTHBEARER token, read at
	// start and again whenever it changes, so that a process renewing
	// it keeps the clients authenticating. Default empty.
	// YAML sasl.token_file, env EDDY_SASL_TOKEN_FILE,
	// flag --sasl-token-file.
	SASLTokenFile string

	// CommitInterval is how often the offsets of finished records are
	// committed. Default 5s; must be more than 0.
	// YAML commit_interval, env EDDY_COMMIT_INTERVAL, flag --commit-interval.
	CommitInterval time.Duration

	// ShutdownTimeout bounds how long shutdown waits for in-flight work.
	// Default 30s; must be more than 0.
	// YAML shutdown_timeout, env EDDY_SHUTDOWN_TIMEOUT, flag --shutdown-timeout.
	ShutdownTimeout time.Duration

	// StallTimeout is how long a partition may go without handling a
	// record while records wait before it counts as stalled: it is then
	// logged, counted, and restarted from its last commit. Default 5m0s.
	// YAML stall_timeout, env EDDY_STALL_TIMEOUT, flag --stall-timeout.
	StallTimeout time.Duration

	// SessionTimeout is how long the group waits for a silent worker (one
	// that crashed or was killed) before giving its partitions to others.
	// Default 45s; the broker bounds it (Kafka: 6s to 30m by default).
	// YAML session_timeout, env EDDY_SESSION_TIMEOUT, flag --session-timeout.
	SessionTimeout time.Duration

	// RebalanceTimeout is how long the coordinator waits in a rebalance for
	// every worker to rejoin (Kafka's rebalance timeout, sent with each
	// join; classic protocol). It also sets the group watch's thresholds:
	// a worker that has not been in a stable group generation for longer
	// is not ready (/readyz answers 503 with the reason), and one out of
	// it for longer than RebalanceTimeout plus SessionTimeout rejoins the
	// group as a new member. Default 1m0s.
	// YAML rebalance_timeout, env EDDY_REBALANCE_TIMEOUT,
	// flag --rebalance-timeout.
	RebalanceTimeout time.Duration

	// GroupProtocol is the consumer group protocol: "classic", or "consumer"
	// for KIP-848, where the broker assigns partitions. Default "classic".
	// YAML group_protocol, env EDDY_GROUP_PROTOCOL, flag --group-protocol.
	GroupProtocol string

	// Balancer is the partition assignment strategy of the classic protocol:
	// "cooperative-sticky" (the default), "sticky", "range" or "roundrobin".
	// With GroupProtocol "consumer" it must stay the default.
	// YAML balancer, env EDDY_BALANCER, flag --balancer.
	Balancer string

	// FetchMaxWait is the longest a fetch request waits at the broker for
	// records (Kafka's fetch.max.wait.ms). A partition resumed after
	// backpressure is not in the fetch already waiting, so this also
	// bounds how long it may stall. Default 100ms.
	// YAML fetch_max_wait, env EDDY_FETCH_MAX_WAIT, flag --fetch-max-wait.
	FetchMaxWait time.Duration

	// MetadataMaxAge is how often the Kafka client refreshes what it
	// knows of the cluster's topics and partitions (Kafka's
	// metadata.max.age.ms): how soon a topic created after start that
	// matches a handler's pattern (HandlePattern) is consumed, and how
	// soon records go to partitions added to a topic. Default 5m0s;
	// from 10ms to 1h.
	// YAML metadata_max_age, env EDDY_METADATA_MAX_AGE,
	// flag --metadata-max-age.
	MetadataMaxAge time.Duration

	// StartFrom is where the worker starts reading a partition for which
	// its group has no committed offset (a new group, a new topic or
	// partition), or whose committed offset no longer exists (deleted by
	// retention): "earliest", the partition's first record (the
	// default), or "latest", only records produced from then on (Kafka's
	// auto.offset.reset). It never moves a group that has committed.
	// YAML consumer.start_from, env EDDY_CONSUMER_START_FROM,
	// flag --consumer-start-from.
	StartFrom string

	// ProducerAcks is how many replicas must have a produced record before
	// the broker acknowledges it, and so before the source record is
	// committed: "all" (the default: every in-sync replica, with
	// idempotent writes, so a retried produce is never written twice),
	// "leader" (the partition leader only) or "none" (no acknowledgement:
	// a record counts as delivered once it is written to the connection).
	// "leader" and "none" turn idempotent writes off, as Kafka requires:
	// a retry may then write a record twice, and with "none" a broker
	// failure loses records the worker has committed past.
	// YAML producer.acks, env EDDY_PRODUCER_ACKS, flag --producer-acks.
	ProducerAcks string

	// ProducerLinger is how long a partition's records wait for more
	// before their batch is sent: longer makes fewer, larger batches at
	// the cost of latency. Default 10ms (franz-go's); from 1ms to 1m.
	// YAML producer.linger, env EDDY_PRODUCER_LINGER, flag --producer-linger.
	ProducerLinger time.Duration

	// ProducerBatchMaxBytes caps a produced record batch, before
	// compression; a record larger than this fails, and stops the app.
	// Keep it at most the topics' max.message.bytes (Kafka's default
	// 1048588). Default 1000012 bytes; from 512 to 100MiB.
	// YAML producer.batch_max_bytes, env EDDY_PRODUCER_BATCH_MAX_BYTES,
	// flag --producer-batch-max-bytes.
	ProducerBatchMaxBytes int64

	// ProducerCompression is the codec of produced batches: "snappy" (the
	// default), "none", "gzip", "lz4" or "zstd". A broker too old for the
	// codec gets uncompressed batches.
	// YAML producer.compression, env EDDY_PRODUCER_COMPRESSION,
	// flag --producer-compression.
	ProducerCompression string

	// ProducerDeliveryTimeout is how long a produced record may go
	// unacknowledged, retries included, before it fails: a failed record
	// stops the app with an error naming it, rather than holding its
	// source offset while the brokers are away. Default 2m0s; at least 1s.
	// YAML producer.delivery_timeout, env EDDY_PRODUCER_DELIVERY_TIMEOUT,
	// flag --producer-delivery-timeout.
	ProducerDeliveryTimeout time.Duration

	// ProducerMaxBufferedRecords bounds the records produced but not yet
	// acknowledged. A handler that produces while the buffer is full
	// blocks in Produce until acknowledgements make room, so that a slow
	// or unavailable broker slows the handlers down rather than growing
	// memory (backpressure); the wait ends, with an error, when the
	// handler's context does (the partition is revoked or the worker
	// stops). Table changelog writes share the client's buffer of this
	// size. Default 50000.
	// YAML producer.max_buffered_records, env EDDY_PRODUCER_MAX_BUFFERED_RECORDS,
	// flag --producer-max-buffered-records.
	ProducerMaxBufferedRecords int

	// TopicsCreateMissing says whether the worker creates, at start, the
	// app's topics (its handlers' topics by name, outputs, the topics of
	// global tables and of DeclareTopic) that do not exist: "auto" (the default) creates them on
	// the embedded broker and not on a configured cluster, where a
	// missing topic is an error that names it; "true" creates them on
	// any cluster, with their declared partitions, replication factor and
	// configs (else topics.partitions and topics.replication_factor);
	// "false" never does on a configured cluster (the embedded broker
	// always starts with the app's topics).
	// YAML topics.create_missing, env EDDY_TOPICS_CREATE_MISSING,
	// flag --topics-create-missing.
	TopicsCreateMissing string

	// MaxInFlight is how many records of one partition may be fetched but not
	// yet handled before fetching that partition pauses. Default 10000; at
	// least 1.
	// YAML max_in_flight, env EDDY_MAX_IN_FLIGHT, flag --max-in-flight.
	MaxInFlight int

	// Mode is how records reach handlers: modes.Auto (the default,
	// written "auto") switches each partition between single (one record
	// per call) and bulk (batches) on its lag; modes.Single or modes.Bulk
	// force one.
	// YAML mode, env EDDY_MODE, flag --mode.
	Mode modes.Mode

	// AutoLagHigh: in auto mode, a partition more records behind its high
	// watermark than this switches to bulk. Default 10000.
	// YAML auto.lag_high, env EDDY_AUTO_LAG_HIGH, flag --auto-lag-high.
	AutoLagHigh int

	// AutoLagLow: in auto mode, a partition in bulk fewer records behind
	// than this switches back to single. Default 1000; at least 1 (a
	// partition is at most 0 behind) and below AutoLagHigh.
	// YAML auto.lag_low, env EDDY_AUTO_LAG_LOW, flag --auto-lag-low.
	AutoLagLow int

	// AutoMinDwell is the least time a partition stays in a mode before
	// auto mode switches it again. Default 10s.
	// YAML auto.min_dwell, env EDDY_AUTO_MIN_DWELL, flag --auto-min-dwell.
	AutoMinDwell time.Duration

	// BulkMaxRecords caps a bulk batch. Default 1000; at most MaxInFlight.
	// YAML bulk.max_records, env EDDY_BULK_MAX_RECORDS,
	// flag --bulk-max-records.
	BulkMaxRecords int

	// BulkMaxWait is how long a partial bulk batch waits for more records
	// before it is handled anyway. Default 500ms.
	// YAML bulk.max_wait, env EDDY_BULK_MAX_WAIT, flag --bulk-max-wait.
	BulkMaxWait time.Duration

	// Steps is a step plan: groups of topics consumed, in bulk, to the end
	// offsets captured when their step begins, one group after another,
	// with every other topic paused; after the last step every topic runs
	// in Mode. Every topic named must be consumed by a handler. Default
	// none.
	// YAML steps (a list of lists of topics), env EDDY_STEPS and flag
	// --steps ("users,products;prices").
	Steps [][]string

	// HandlerMaxAttempts is how many times a record whose handler panics is
	// tried before it goes to the error path. Default 3; at least 1.
	// YAML handler.max_attempts, env EDDY_HANDLER_MAX_ATTEMPTS,
	// flag --handler-max-attempts.
	HandlerMaxAttempts int

	// HandlerBackoff is the delay before the first restart of a failed
	// handler, doubled on each further failure. Default 100ms; at least 1ms.
	// YAML handler.backoff, env EDDY_HANDLER_BACKOFF, flag --handler-backoff.
	HandlerBackoff time.Duration

	// HandlerMaxBackoff caps the handler restart delay. Default 5s; at least 1ms.
	// YAML handler.max_backoff, env EDDY_HANDLER_MAX_BACKOFF,
	// flag --handler-max-backoff.
	HandlerMaxBackoff time.Duration

	// TopicPartitions is the partition count of topics that "topics create"
	// or the embedded broker creates. Default 8; at least 1.
	// YAML topics.partitions, env EDDY_TOPICS_PARTITIONS,
	// flag --topics-partitions.
	TopicPartitions int

	// TopicReplication is the replication factor of topics that
	// "topics create" creates. Default 1; from 1 to 32767.
	// YAML topics.replication_factor, env EDDY_TOPICS_REPLICATION_FACTOR,
	// flag --topics-replication-factor.
	TopicReplication int

	// Settings are free-form values for the app's own code. Names are
	// case-insensitive and stored lower-case, so that every layer can
	// override every other; entries merge across layers. Default empty.
	// YAML settings (a mapping of names to single values), env
	// EDDY_SETTING_<NAME>, flag --set name=value (repeatable).
	Settings map[string]string
}

// Default returns the settings used where neither the config file, the
// environment nor a flag says otherwise. appName is the default Group and
// ClientID. It is safe to call concurrently.
func Default(appName string) Config { return table(appName).Defaults() }

// Complete checks a Config given in code, as App.Run does: zero fields
// take their defaults (no setting accepts its zero value, so zero always
// means the default), the others the checks of a flag's value, then those
// of settings taken together. An empty HTTP means no HTTP server (the
// default address applies only through the command line).
func (c Config) Complete(appName string) (Config, error) {
	if c.HTTP == "" {
		c.HTTP = "off"
	}
	if err := table(appName).Complete(&c, "Config"); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Loader resolves a Config from the flags Bind registered, the config
// file and the environment. One goroutine uses it: Bind, parse the flag
// set, then Load once.
type Loader struct{ l *settings.Loader[Config] }

// Bind registers --config and the settings' flags on fs: only those of
// the settings keep accepts (by key; nil: every setting), so that a
// command shows the flags it reads. Load still reads every setting from
// the file and the environment.
func Bind(fs *flag.FlagSet, appName string, keep func(key string) bool) *Loader {
	return &Loader{table(appName).BindOnly(fs, keep)}
}

// Load resolves defaults < config file < environment < flags, once the
// flag set is parsed. environ holds "KEY=VALUE" strings as os.Environ
// returns them. It reports every problem it finds, joined.
func (l *Loader) Load(environ []string) (Config, error) { return l.l.Load(environ) }

// Reference renders the settings as Markdown: how the layers resolve,
// then one row per setting (key, variable, flag, default, description).
func Reference() string {
	return table("app").Reference(func(def string) bool { return def == appNameDefault })
}
