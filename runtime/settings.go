package runtime

// The settings table: one entry per setting drives defaults, the YAML
// file, EDDY_* variables, flags and the README reference.

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"
)

// settingKind says what shapes a setting's value may take.
type settingKind int

const (
	scalarSetting settingKind = iota // one value
	listSetting                      // a YAML list, or a comma-separated string
	mapSetting                       // name=value entries, merged across layers
	stepsSetting                     // a YAML list of lists, or "a,b;c"
)

// A setting describes one configuration value. configSettings lists them all;
// that one table drives defaults, the YAML file, the environment, flags and the
// Markdown reference, so adding a setting is adding an entry there.
type setting struct {
	key  string // YAML key path, nested keys joined with ".": "handler.max_attempts"
	env  string // environment variable; for a mapSetting the prefix that precedes the name
	flag string // flag name, without dashes
	arg  string // what a value looks like, for flag usage: "duration"
	doc  string // one or two sentences for flag usage and the reference
	def  string // the default, as a user would write it (or appNameDefault)
	kind settingKind

	// reset stores the default into c.
	reset func(c *Config, appName string)
	// set parses a value written as text (env var, flag, YAML scalar) into c.
	// Its error describes the value and what is expected; the caller adds
	// where the value came from.
	set func(c *Config, s string) error
	// put stores one entry of a mapSetting.
	put func(c *Config, name, value string) error
}

// configSettings returns the table of settings, in the order the reference
// lists them. It builds a fresh table on each call so that no package state
// can be changed.
func configSettings() []setting {
	return []setting{
		newSetting(listSetting, "brokers", "host:port,...", "",
			"Kafka bootstrap brokers (host:port), comma-separated, or a list in the file. Empty starts an embedded broker in-process.",
			func(c *Config, _ string) { c.Brokers = nil },
			func(c *Config, s string) error { c.Brokers = splitList(s); return nil }),
		appNameSetting("group", "id", func(c *Config) *string { return &c.Group },
			"Consumer group id; workers with the same group share the partitions."),
		newSetting(scalarSetting, "http", "addr", "127.0.0.1:6066",
			`Listen address of the HTTP server (health, readiness, status, metrics, tables); "off" disables it.`,
			func(c *Config, _ string) { c.HTTP = "127.0.0.1:6066" },
			func(c *Config, s string) error {
				a, err := parseHTTPAddr(s)
				if err == nil {
					c.HTTP = a
				}
				return err
			}),
		newSetting(scalarSetting, "log_level", "level", "info",
			"Least severe level logged: debug, info, warn or error.",
			func(c *Config, _ string) { c.LogLevel = slog.LevelInfo },
			func(c *Config, s string) error {
				l, err := parseLogLevel(s)
				if err == nil {
					c.LogLevel = l
				}
				return err
			}),
		choiceSetting("log_format", []string{"text", "json"},
			func(c *Config) *string { return &c.LogFormat },
			"Log line format: text (logfmt) or json."),
		stringSetting("state_dir", "dir", "./state", func(c *Config) *string { return &c.StateDir },
			"Directory that holds table stores."),
		stringSetting("table_store", "url", "rocksdb://", func(c *Config) *string { return &c.TableStore },
			"Store of tables that set none: rocksdb:// (under state_dir), rocksdb:///abs/path or memory://."),
		intSetting("tables.cache_max_entries", 100000, 1, math.MaxInt, func(c *Config) *int { return &c.TableCacheMaxEntries },
			"Changed keys a partition's table caches hold before it flushes and commits early, bounding their memory."),
		sizeSetting("stores.rocksdb.memory_limit", 256<<20, 16<<20, func(c *Config) *int64 { return &c.RocksDBMemoryLimit },
			"Memory of RocksDB for the whole process (block cache and memtables of every table and partition), e.g. 256MiB or 1GiB."),
		appNameSetting("client_id", "id", func(c *Config) *string { return &c.ClientID },
			"Kafka client id that brokers log and apply quotas to."),
		durationSetting("commit_interval", 5*time.Second, time.Nanosecond,
			func(c *Config) *time.Duration { return &c.CommitInterval },
			"How often the offsets of finished records are committed."),
		durationSetting("shutdown_timeout", 30*time.Second, time.Nanosecond,
			func(c *Config) *time.Duration { return &c.ShutdownTimeout },
			"How long shutdown waits for in-flight work."),
		durationSetting("stall_timeout", 5*time.Minute, time.Millisecond,
			func(c *Config) *time.Duration { return &c.StallTimeout },
			"How long a partition may go without handling a record while records wait before it is restarted from its last commit."),
		durationSetting("session_timeout", 45*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.SessionTimeout },
			"How long the group waits for a silent (crashed) worker before moving its partitions."),
		choiceSetting("group_protocol", []string{"classic", groupProtocolConsumer},
			func(c *Config) *string { return &c.GroupProtocol },
			"Consumer group protocol; consumer is KIP-848, where the broker assigns partitions."),
		choiceSetting("balancer", []string{defaultBalancer, "sticky", "range", "roundrobin"},
			func(c *Config) *string { return &c.Balancer },
			"Partition assignment strategy of the classic group protocol; must stay the default with group_protocol consumer. An app with tables and several source topics uses range in place of the default (it keeps partition p of every topic on one worker), and cannot use sticky or roundrobin."),
		durationSetting("fetch_max_wait", 100*time.Millisecond, time.Millisecond,
			func(c *Config) *time.Duration { return &c.FetchMaxWait },
			"Longest a fetch request waits at the broker for records. A partition resumed after backpressure waits for the fetch in flight, so this bounds that stall; lower means more idle fetch requests."),
		intSetting("max_in_flight", 10000, 1, math.MaxInt, func(c *Config) *int { return &c.MaxInFlight },
			"Records of one partition fetched but not yet handled before fetching that partition pauses."),
		choiceSetting("mode", []string{"auto", "single", "bulk"},
			func(c *Config) *string { return &c.Mode },
			"How records reach handlers: auto switches each partition between single (one record per call) and bulk (batches) on its lag; single or bulk force one."),
		intSetting("auto.lag_high", 10000, 1, math.MaxInt, func(c *Config) *int { return &c.AutoLagHigh },
			"In auto mode, a partition more records behind its high watermark than this switches to bulk."),
		intSetting("auto.lag_low", 1000, 0, math.MaxInt, func(c *Config) *int { return &c.AutoLagLow },
			"In auto mode, a partition in bulk fewer records behind than this switches back to single; below auto.lag_high."),
		durationSetting("auto.min_dwell", 10*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.AutoMinDwell },
			"In auto mode, the least time a partition stays in a mode before switching again, so lag around a threshold cannot make it flap."),
		intSetting("bulk.max_records", 1000, 1, math.MaxInt, func(c *Config) *int { return &c.BulkMaxRecords },
			"Most records in one bulk batch; at most max_in_flight."),
		durationSetting("bulk.max_wait", 500*time.Millisecond, time.Millisecond,
			func(c *Config) *time.Duration { return &c.BulkMaxWait },
			"How long a partial bulk batch waits for more records before it is handled anyway."),
		stepsSettingEntry(),
		intSetting("handler.max_attempts", 3, 1, math.MaxInt, func(c *Config) *int { return &c.HandlerMaxAttempts },
			"How many times a record whose handler panics is tried before it goes to the error path."),
		durationSetting("handler.backoff", 100*time.Millisecond, time.Millisecond,
			func(c *Config) *time.Duration { return &c.HandlerBackoff },
			"Delay before the first restart of a failed handler, doubled on each further failure."),
		durationSetting("handler.max_backoff", 5*time.Second, time.Millisecond,
			func(c *Config) *time.Duration { return &c.HandlerMaxBackoff },
			"Upper bound of the handler restart delay."),
		intSetting("topics.partitions", 8, 1, math.MaxInt32, func(c *Config) *int { return &c.TopicPartitions },
			`Partition count of topics that "topics create" or the embedded broker creates.`),
		intSetting("topics.replication_factor", 1, 1, math.MaxInt16, func(c *Config) *int { return &c.TopicReplication },
			`Replication factor of topics that "topics create" creates.`),
		settingsMap(),
	}
}

// newSetting derives the environment variable and flag names from key:
// "handler.max_attempts" becomes EDDY_HANDLER_MAX_ATTEMPTS and
// --handler-max-attempts.
func newSetting(kind settingKind, key, arg, def, doc string, reset func(*Config, string), set func(*Config, string) error) setting {
	return setting{
		key:   key,
		env:   envPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
		flag:  strings.NewReplacer(".", "-", "_", "-").Replace(key),
		arg:   arg,
		doc:   doc,
		def:   def,
		kind:  kind,
		reset: reset,
		set:   set,
	}
}

func durationSetting(key string, def, least time.Duration, field func(*Config) *time.Duration, doc string) setting {
	bound := "at least " + least.String()
	switch least {
	case 0:
		bound = "0 or more"
	case time.Nanosecond:
		bound = "more than 0"
	}
	return newSetting(scalarSetting, key, "duration", def.String(), doc+" Must be "+bound+".",
		func(c *Config, _ string) { *field(c) = def },
		func(c *Config, s string) error {
			d, err := time.ParseDuration(s)
			if err != nil {
				return fmt.Errorf("%q is not a duration (e.g. 5s, 250ms)", s)
			}
			if d < least {
				return fmt.Errorf("%q is out of range (must be %s)", s, bound)
			}
			*field(c) = d
			return nil
		})
}

func intSetting(key string, def, least, most int, field func(*Config) *int, doc string) setting {
	bound := fmt.Sprintf("at least %d", least)
	if most != math.MaxInt {
		bound = fmt.Sprintf("from %d to %d", least, most)
	}
	return newSetting(scalarSetting, key, "int", strconv.Itoa(def), doc+" Must be "+bound+".",
		func(c *Config, _ string) { *field(c) = def },
		func(c *Config, s string) error {
			n, err := strconv.Atoi(s)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return fmt.Errorf("%q is not a whole number", s)
			}
			if err != nil || n < least || n > most {
				return fmt.Errorf("%q is out of range (must be %s)", s, bound)
			}
			*field(c) = n
			return nil
		})
}

// sizeSetting accepts a byte size: a whole number with an optional unit
// (KiB, MiB, GiB, or KB, MB, GB).
func sizeSetting(key string, def, least int64, field func(*Config) *int64, doc string) setting {
	return newSetting(scalarSetting, key, "size", formatSize(def), doc+" At least "+formatSize(least)+".",
		func(c *Config, _ string) { *field(c) = def },
		func(c *Config, s string) error {
			n, err := parseSize(s)
			if err != nil {
				return err
			}
			if n < least {
				return fmt.Errorf("%q is out of range (must be at least %s)", s, formatSize(least))
			}
			*field(c) = n
			return nil
		})
}

func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(num), strings.ToUpper(u.suffix)) {
			num, mult = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("%q is not a size (e.g. 256MiB, 1GiB, 1048576)", s)
	}
	return n * mult, nil
}

func formatSize(n int64) string {
	switch {
	case n%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", n>>20)
	default:
		return strconv.FormatInt(n, 10)
	}
}

// choiceSetting accepts one of choices, in any case; the first is the default.
func choiceSetting(key string, choices []string, field func(*Config) *string, doc string) setting {
	return newSetting(scalarSetting, key, "name", choices[0], doc+" One of "+strings.Join(choices, ", ")+".",
		func(c *Config, _ string) { *field(c) = choices[0] },
		func(c *Config, s string) error {
			v := strings.ToLower(s)
			if !slices.Contains(choices, v) {
				return fmt.Errorf("%q is not one of %s%s", s, strings.Join(choices, ", "), didYouMean(v, choices))
			}
			*field(c) = v
			return nil
		})
}

// stringSetting accepts any text but the empty string.
func stringSetting(key, arg, def string, field func(*Config) *string, doc string) setting {
	return newSetting(scalarSetting, key, arg, def, doc,
		func(c *Config, _ string) { *field(c) = def },
		func(c *Config, s string) error {
			if s == "" {
				return errors.New("must not be empty")
			}
			*field(c) = s
			return nil
		})
}

// appNameSetting is a stringSetting whose default is the app name.
func appNameSetting(key, arg string, field func(*Config) *string, doc string) setting {
	s := stringSetting(key, arg, appNameDefault, field, doc)
	s.reset = func(c *Config, appName string) { *field(c) = appName }
	return s
}

// stepsSettingEntry is the step plan: in YAML a list of steps, each a list
// of topics (or one topic); as text, steps separated by ";" and topics by
// ",": "users,products;prices".
func stepsSettingEntry() setting {
	return newSetting(stepsSetting, "steps", "t1,t2;t3", "",
		`Step plan: topic groups consumed (in bulk) to the end offsets captured when their step begins, one group after another, every other topic paused; then every topic in "mode". E.g. [[users, products], [prices]] in the file, "users,products;prices" as text. Empty: no steps.`,
		func(c *Config, _ string) { c.Steps = nil },
		func(c *Config, s string) error {
			steps, err := parseSteps(s)
			if err == nil {
				c.Steps = steps
			}
			return err
		})
}

// parseSteps reads "a,b;c" as [[a b] [c]].
func parseSteps(s string) ([][]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var steps [][]string
	for i, part := range strings.Split(s, ";") {
		topics := splitList(part)
		if len(topics) == 0 {
			return nil, fmt.Errorf("%q: step %d names no topic (steps are separated by ';', topics by ',')", s, i+1)
		}
		steps = append(steps, topics)
	}
	return steps, nil
}

// settingsMap is the free-form Settings map. Its environment variables are
// EDDY_SETTING_<NAME> and its flag is the repeatable --set name=value.
func settingsMap() setting {
	put := func(c *Config, name, value string) error {
		if name == "" {
			return errors.New("the setting name is empty")
		}
		c.Settings[strings.ToLower(name)] = value
		return nil
	}
	return setting{
		key:   "settings",
		env:   envPrefix + "SETTING_",
		flag:  "set",
		arg:   "name=value",
		doc:   "Free-form values for the app's own code. Names are case-insensitive (stored lower-case); entries merge across layers.",
		kind:  mapSetting,
		reset: func(c *Config, _ string) { c.Settings = map[string]string{} },
		set: func(c *Config, s string) error {
			name, value, ok := strings.Cut(s, "=")
			if !ok || strings.TrimSpace(name) == "" {
				return fmt.Errorf("%q is not name=value", s)
			}
			return put(c, strings.TrimSpace(name), value)
		},
		put: put,
	}
}

// splitList splits a comma-separated list, dropping blanks around and between
// items.
func splitList(s string) []string {
	var out []string
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
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
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("%q is not a log level (expected debug, info, warn or error)", s)
}
