package runtime

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/modes"
	"gopkg.in/yaml.v3"
)

// Config holds the settings of a worker and of the produce, consume and topics
// subcommands.
//
// The CLI resolves it from, in increasing precedence: DefaultConfig, a YAML file
// (named by --config FILE or EDDY_CONFIG; none is read when neither is given),
// EDDY_* environment variables, and command-line flags. An environment variable
// set to the empty string counts as unset. Each field below names its default,
// YAML key, environment variable and flag; configReference renders the same
// facts as Markdown.
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

	// ClientID is the Kafka client id brokers log and apply quotas to.
	// Default: the app name.
	// YAML client_id, env EDDY_CLIENT_ID, flag --client-id.
	ClientID string

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
	// logged, counted, and restarted from its last commit. Default 5m.
	// YAML stall_timeout, env EDDY_STALL_TIMEOUT, flag --stall-timeout.
	StallTimeout time.Duration

	// SessionTimeout is how long the group waits for a silent worker (one
	// that crashed or was killed) before giving its partitions to others.
	// Default 45s; the broker bounds it (Kafka: 6s to 30m by default).
	// YAML session_timeout, env EDDY_SESSION_TIMEOUT, flag --session-timeout.
	SessionTimeout time.Duration

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

	// MaxInFlight is how many records of one partition may be fetched but not
	// yet handled before fetching that partition pauses. Default 10000; at
	// least 1.
	// YAML max_in_flight, env EDDY_MAX_IN_FLIGHT, flag --max-in-flight.
	MaxInFlight int

	// Mode is how records reach handlers: "auto" (the default) switches
	// each partition between single (one record per call) and bulk
	// (batches) on its lag; "single" or "bulk" force one.
	// YAML mode, env EDDY_MODE, flag --mode.
	Mode string

	// AutoLagHigh: in auto mode, a partition more records behind its high
	// watermark than this switches to bulk. Default 10000.
	// YAML auto.lag_high, env EDDY_AUTO_LAG_HIGH, flag --auto-lag-high.
	AutoLagHigh int

	// AutoLagLow: in auto mode, a partition in bulk fewer records behind
	// than this switches back to single. Default 1000; below AutoLagHigh.
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

// DefaultConfig returns the settings used where neither the config file, the
// environment nor a flag says otherwise. appName is the default Group and
// ClientID. It is safe to call concurrently.
func DefaultConfig(appName string) Config {
	c := Config{}
	for _, s := range configSettings() {
		s.reset(&c, appName)
	}
	return c
}

const (
	envPrefix = "EDDY_"
	envConfig = "EDDY_CONFIG"

	// appNameDefault is how the reference shows a default that is the app name.
	appNameDefault = "the app name"

	groupProtocolConsumer = "consumer"
	defaultBalancer       = "cooperative-sticky"
)

// A configLoader resolves a Config from the config file, the environment and
// the flags that bindConfig registered. It is used by one goroutine: the CLI
// calls bindConfig, parses the flag set, then calls load once.
type configLoader struct {
	fs       *flag.FlagSet
	settings []setting
	config   flagValues             // --config
	values   map[string]*flagValues // by flag name
}

// flagValues records every value a flag was given. Parsing waits for load,
// so that a bad flag is reported with every other problem, not alone by
// fs.Parse.
type flagValues []string

func (v *flagValues) String() string {
	if v == nil {
		return ""
	}
	return strings.Join(*v, ",")
}

func (v *flagValues) Set(s string) error {
	*v = append(*v, s)
	return nil
}

// last returns the value of a flag given more than once: the last one wins.
func (v flagValues) last() string { return v[len(v)-1] }

// bindConfig registers --config and one flag per setting on fs; call load
// after fs.Parse.
func bindConfig(fs *flag.FlagSet) *configLoader {
	l := &configLoader{fs: fs, settings: configSettings(), values: map[string]*flagValues{}}
	fs.Var(&l.config, "config", "YAML config `file` (env: "+envConfig+"; default: none)")
	for _, s := range l.settings {
		v := new(flagValues)
		l.values[s.flag] = v
		fs.Var(v, s.flag, flagUsage(s))
	}
	return l
}

// load resolves defaults < config file < environment < flags. Only flags the
// user set count (fs.Visit). environ holds "KEY=VALUE" strings as
// os.Environ returns them; where a key repeats, the first wins, as with
// os.Getenv. An empty value counts as unset. load reports every problem it
// finds, joined, and then returns the zero Config.
func (l *configLoader) load(appName string, environ []string) (Config, error) {
	r := &resolver{settings: l.settings, c: DefaultConfig(appName), src: map[string]string{}}
	env := envVars(environ)

	var setFlags []string
	l.fs.Visit(func(f *flag.Flag) { setFlags = append(setFlags, f.Name) })

	// The file first, so that the layers above override it.
	path, via := "", ""
	if slices.Contains(setFlags, "config") {
		path, via = l.config.last(), "--config"
	} else if i := slices.IndexFunc(env, func(kv envVar) bool { return kv.name == envConfig }); i >= 0 {
		path, via = env[i].value, envConfig
	}
	if path != "" {
		if data, err := os.ReadFile(path); err != nil {
			r.fail(via, err)
		} else {
			r.loadYAML(path, data)
		}
	}

	r.loadEnv(env)

	for _, name := range setFlags {
		i := slices.IndexFunc(l.settings, func(s setting) bool { return s.flag == name })
		if i < 0 {
			continue // --config, or a flag that is not a setting
		}
		s, values := &l.settings[i], *l.values[name]
		if s.kind != mapSetting {
			values = values[len(values)-1:]
		}
		for _, v := range values {
			r.apply(s, "--"+s.flag, v)
		}
	}

	r.validate()
	if err := errors.Join(r.errs...); err != nil {
		return Config{}, err
	}
	return r.c, nil
}

// A resolver accumulates a Config layer by layer, with every problem found.
type resolver struct {
	settings []setting
	c        Config
	src      map[string]string // setting key -> where its value came from, for errors that involve two settings
	errs     []error
}

func (r *resolver) fail(source string, err error) {
	r.errs = append(r.errs, fmt.Errorf("runtime: config: %s: %w", source, err))
}

// apply parses one textual value of s that came from source.
func (r *resolver) apply(s *setting, source, value string) {
	if s.kind != mapSetting {
		// Free-form values keep their blanks; for the rest they are noise
		// (a trailing space in an env file).
		value = strings.TrimSpace(value)
	}
	if err := s.set(&r.c, value); err != nil {
		r.fail(source, err)
		return
	}
	r.src[s.key] = source
}

// validate checks what no single setting can check alone.
func (r *resolver) validate() {
	for _, s := range []struct {
		key, flag string
		value     string
	}{{"group", "group", r.c.Group}, {"client_id", "client-id", r.c.ClientID}} {
		// Only an empty app name gets here: set rejects empty values.
		if s.value == "" {
			r.fail(s.key, fmt.Errorf("is empty: name the app, or set --%s, %s or %s in the config file",
				s.flag, envPrefix+strings.ToUpper(s.key), s.key))
		}
	}
	if r.c.AutoLagLow >= r.c.AutoLagHigh {
		r.fail(r.src["auto.lag_low"], fmt.Errorf("auto.lag_low %d must be below auto.lag_high %d (from %s)",
			r.c.AutoLagLow, r.c.AutoLagHigh, cmp.Or(r.src["auto.lag_high"], "the default")))
	}
	if r.src["bulk.max_records"] == "" {
		// Defaulted: a batch as large as max_in_flight allows.
		r.c.BulkMaxRecords = min(r.c.BulkMaxRecords, r.c.MaxInFlight)
	}
	if r.c.BulkMaxRecords > r.c.MaxInFlight {
		r.fail(r.src["bulk.max_records"], fmt.Errorf("bulk.max_records %d is more than max_in_flight %d (from %s): a batch could never fill",
			r.c.BulkMaxRecords, r.c.MaxInFlight, cmp.Or(r.src["max_in_flight"], "the default")))
	}
	if r.c.GroupProtocol == groupProtocolConsumer && r.c.Balancer != defaultBalancer {
		r.fail(r.src["balancer"], fmt.Errorf(
			"balancer %q cannot be used with group_protocol %q (from %s): the broker assigns partitions under KIP-848; "+
				"remove the balancer setting or set group_protocol to classic",
			r.c.Balancer, r.c.GroupProtocol, r.src["group_protocol"]))
	}
}

type envVar struct{ name, value string }

// envVars returns the EDDY_* variables of environ sorted by name, so that
// errors come in a stable order; where a name repeats the first wins.
func envVars(environ []string) []envVar {
	var out []envVar
	seen := map[string]bool{}
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out, envVar{name, value})
	}
	slices.SortFunc(out, func(a, b envVar) int { return cmp.Compare(a.name, b.name) })
	return out
}

func (r *resolver) loadEnv(env []envVar) {
	known := []string{envConfig}
	for _, s := range r.settings {
		if s.kind != mapSetting {
			known = append(known, s.env)
		}
	}
vars:
	for _, kv := range env {
		if kv.name == envConfig {
			continue
		}
		for i := range r.settings {
			s := &r.settings[i]
			switch {
			case s.kind == mapSetting && strings.HasPrefix(kv.name, s.env):
				name := strings.TrimPrefix(kv.name, s.env)
				if name == "" {
					r.fail(kv.name, fmt.Errorf("the setting name is empty (expected %s<NAME>=value)", s.env))
				} else if kv.value != "" {
					if err := s.put(&r.c, name, kv.value); err != nil {
						r.fail(kv.name, err)
					}
				}
				continue vars
			case kv.name == s.env:
				if kv.value != "" {
					r.apply(s, kv.name, kv.value)
				}
				continue vars
			}
		}
		hint := didYouMean(kv.name, known)
		if hint == "" {
			hint = fmt.Sprintf(" (EDDY_* variables are eddy's settings; for an app value use %sSETTING_%s)",
				envPrefix, strings.TrimPrefix(kv.name, envPrefix))
		}
		r.errs = append(r.errs, fmt.Errorf("runtime: config: unknown environment variable %q%s", kv.name, hint))
	}
}

// yamlFile is the state of reading one config file.
type yamlFile struct {
	path   string
	byKey  map[string]*setting
	groups map[string]bool // key paths that hold nested keys: "handler", "topics"
	seen   map[string]bool // key paths already read, to catch duplicates
}

func (r *resolver) loadYAML(path string, data []byte) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		r.fail(path, err)
		return
	}
	if len(doc.Content) == 0 {
		return // an empty file
	}
	root := deref(doc.Content[0])
	if isNull(root) {
		return
	}
	if root.Kind != yaml.MappingNode {
		r.fail(path, fmt.Errorf("expected a mapping of keys to values (e.g. \"group: orders\"), not a %s", kindName(root)))
		return
	}
	f := &yamlFile{path: path, byKey: map[string]*setting{}, groups: map[string]bool{}, seen: map[string]bool{}}
	for i := range r.settings {
		s := &r.settings[i]
		f.byKey[s.key] = s
		for j, c := range s.key {
			if c == '.' {
				f.groups[s.key[:j]] = true
			}
		}
	}
	r.walkYAML(f, "", root)
}

// walkYAML reads the mapping m, whose keys sit below prefix.
func (r *resolver) walkYAML(f *yamlFile, prefix string, m *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, v := m.Content[i].Value, deref(m.Content[i+1])
		if prefix != "" {
			key = prefix + "." + key
		}
		if f.seen[key] {
			r.fail(f.path, fmt.Errorf("duplicate key %q", key))
			continue
		}
		f.seen[key] = true
		switch s := f.byKey[key]; {
		case s != nil:
			r.yamlValue(f, s, v)
		case f.groups[key] && v.Kind == yaml.MappingNode:
			r.walkYAML(f, key, v)
		case f.groups[key] && isNull(v):
		case f.groups[key]:
			var below []string
			for k := range f.byKey {
				if strings.HasPrefix(k, key+".") {
					below = append(below, k)
				}
			}
			slices.Sort(below)
			r.fail(f.path+": "+key, fmt.Errorf("expected a mapping with keys %s, not a %s", strings.Join(below, ", "), kindName(v)))
		default:
			var known []string
			for _, s := range r.settings {
				known = append(known, s.key)
			}
			for k := range f.groups {
				known = append(known, k)
			}
			slices.Sort(known)
			hint := didYouMean(key, known)
			if hint == "" {
				hint = ` (values for the app's own code go under "settings")`
			}
			r.fail(f.path, fmt.Errorf("unknown key %q%s", key, hint))
		}
	}
}

// yamlValue reads the value v of the setting s.
func (r *resolver) yamlValue(f *yamlFile, s *setting, v *yaml.Node) {
	source := f.path + ": " + s.key
	switch {
	case s.kind == mapSetting && isNull(v):
	case s.kind == mapSetting && v.Kind == yaml.MappingNode:
		names := map[string]bool{}
		for i := 0; i+1 < len(v.Content); i += 2 {
			name, value := v.Content[i].Value, deref(v.Content[i+1])
			at := source + "." + name
			lower := strings.ToLower(name)
			switch {
			case names[lower]:
				r.fail(f.path, fmt.Errorf("duplicate key %q (names are case-insensitive)", s.key+"."+name))
			case value.Kind != yaml.ScalarNode:
				r.fail(at, fmt.Errorf("expected a single value (a string, number or boolean), not a %s", kindName(value)))
			default:
				if err := s.put(&r.c, name, scalarText(value)); err != nil {
					r.fail(at, err)
				}
			}
			names[lower] = true
		}
	case s.kind == mapSetting:
		r.fail(source, fmt.Errorf("expected a mapping of names to values, not a %s", kindName(v)))
	case s.kind == stepsSetting && v.Kind == yaml.SequenceNode:
		steps := make([]string, 0, len(v.Content))
		for i, item := range v.Content {
			item = deref(item)
			switch item.Kind {
			case yaml.ScalarNode:
				steps = append(steps, scalarText(item))
			case yaml.SequenceNode:
				var topics []string
				for _, t := range item.Content {
					if t = deref(t); t.Kind != yaml.ScalarNode {
						r.fail(source, fmt.Errorf("step %d: expected a list of topics, but an item is a %s", i+1, kindName(t)))
						return
					}
					topics = append(topics, scalarText(t))
				}
				steps = append(steps, strings.Join(topics, ","))
			default:
				r.fail(source, fmt.Errorf("step %d: expected a topic or a list of topics, not a %s", i+1, kindName(item)))
				return
			}
		}
		r.apply(s, source, strings.Join(steps, ";"))
	case s.kind == listSetting && v.Kind == yaml.SequenceNode:
		items := make([]string, 0, len(v.Content))
		for _, item := range v.Content {
			item = deref(item)
			if item.Kind != yaml.ScalarNode {
				r.fail(source, fmt.Errorf("expected a list of single values, but an item is a %s", kindName(item)))
				return
			}
			items = append(items, scalarText(item))
		}
		r.apply(s, source, strings.Join(items, ","))
	case v.Kind != yaml.ScalarNode:
		r.fail(source, fmt.Errorf("expected a single value, not a %s", kindName(v)))
	default:
		r.apply(s, source, scalarText(v))
	}
}

// deref follows YAML aliases (*name) to the node they stand for.
func deref(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// scalarText is the text of a scalar; null ("key:" or "key: ~") reads as empty.
func scalarText(n *yaml.Node) string {
	if isNull(n) {
		return ""
	}
	return n.Value
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	default:
		return "single value"
	}
}

// didYouMean suggests the candidate closest to got, if one is within edit
// distance 2, as ` (did you mean "x"?)`; otherwise it returns "".
func didYouMean(got string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(got, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, in bytes: keys
// and names are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// withDefaults fills the zero fields of c from DefaultConfig, so a program
// calling App.Run may set only what it needs. An empty HTTP means no HTTP
// server here (DefaultConfig's address applies only through the CLI).
func (c Config) withDefaults(appName string) Config {
	if c.HTTP == "" {
		c.HTTP = "off"
	}
	if c.BulkMaxRecords == 0 && c.MaxInFlight > 0 {
		// A batch as large as MaxInFlight allows.
		c.BulkMaxRecords = min(DefaultConfig(appName).BulkMaxRecords, c.MaxInFlight)
	}
	cv, dv := reflect.ValueOf(&c).Elem(), reflect.ValueOf(DefaultConfig(appName))
	for i := range cv.NumField() {
		if f := cv.Field(i); f.IsZero() {
			f.Set(dv.Field(i))
		}
	}
	return c
}

// modePolicy is the mode policy the settings describe.
func (c Config) modePolicy() (modes.Policy, error) {
	m, err := modes.Parse(c.Mode)
	if err != nil {
		return modes.Policy{}, fmt.Errorf("runtime: config: mode: %w", err)
	}
	p := modes.Policy{Mode: m, LagHigh: int64(c.AutoLagHigh), LagLow: int64(c.AutoLagLow), MinDwell: c.AutoMinDwell}
	if err := p.Validate(); err != nil {
		return modes.Policy{}, fmt.Errorf("runtime: config: %w", err)
	}
	return p, nil
}
