package config

import (
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/settings"
	"github.com/eddy-streams/eddy/modes"
)

// configInput is what a user hands the loader. In args, env and the wanted
// messages, {file} stands for the path of the written config file and {dir}
// for its directory.
type configInput struct {
	file       string   // YAML content; written to {dir}/app.yaml when not empty
	fileViaEnv bool     // name the file with EDDY_CONFIG instead of --config
	env        []string // "K=V"
	args       []string // flags
	app        string   // app name; "app" when empty
}

// load runs bindConfig, Parse and load as the CLI does, hermetically: the
// file lives in a temp dir and the environment is in.env, not the process's.
func (in configInput) load(t *testing.T) (Config, func(string) string, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "app.yaml")
	expand := strings.NewReplacer("{file}", path, "{dir}", dir).Replace

	var args, env []string
	if in.file != "" {
		if err := os.WriteFile(path, []byte(in.file), 0o600); err != nil {
			t.Fatal(err)
		}
		if in.fileViaEnv {
			env = append(env, "EDDY_CONFIG="+path)
		} else {
			args = append(args, "--config", path)
		}
	}
	for _, a := range in.args {
		args = append(args, expand(a))
	}
	for _, e := range in.env {
		env = append(env, expand(e))
	}
	app := in.app
	if app == "" {
		app = "app"
	}

	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := table(app).Bind(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("Parse(%q): %v", args, err)
	}
	c, err := l.Load(env)
	return c, expand, err
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	want := Config{
		Brokers:              nil,
		Group:                "orders",
		HTTP:                 "127.0.0.1:6066",
		LogLevel:             slog.LevelInfo,
		StateDir:             "./state",
		ClientID:             "orders",
		SecurityProtocol:     "plaintext",
		ConnectTimeout:       15 * time.Second,
		CommitInterval:       5 * time.Second,
		ShutdownTimeout:      30 * time.Second,
		StallTimeout:         5 * time.Minute,
		TableStore:           "rocksdb://",
		RocksDBMemoryLimit:   256 << 20,
		TableCacheMaxEntries: 100000,
		LogFormat:            "text",
		SessionTimeout:       45 * time.Second,
		RebalanceTimeout:     60 * time.Second,
		GroupProtocol:        "classic",
		Balancer:             "cooperative-sticky",
		MaxInFlight:          10000,
		FetchMaxWait:         100 * time.Millisecond,
		Mode:                 modes.Auto,
		AutoLagHigh:          10000,
		AutoLagLow:           1000,
		AutoMinDwell:         10 * time.Second,
		BulkMaxRecords:       1000,
		BulkMaxWait:          500 * time.Millisecond,
		HandlerMaxAttempts:   3,
		HandlerBackoff:       100 * time.Millisecond,
		HandlerMaxBackoff:    5 * time.Second,
		TopicPartitions:      8,
		TopicReplication:     1,
		Settings:             map[string]string{},
	}
	// The client and producer settings (kept apart, for merges).
	want.MetadataMaxAge = 5 * time.Minute
	want.StartFrom = "earliest"
	want.ProducerAcks = "all"
	want.ProducerLinger = 10 * time.Millisecond
	want.ProducerBatchMaxBytes = 1000012
	want.ProducerCompression = "snappy"
	want.ProducerDeliveryTimeout = 2 * time.Minute
	want.ProducerMaxBufferedRecords = 50000
	want.TopicsCreateMissing = "auto"
	if got := Default("orders"); !reflect.DeepEqual(got, want) {
		t.Errorf("Default(orders) =\n%+v\nwant\n%+v", got, want)
	}

	// No file, no flags, and only variables that are not eddy's or are
	// empty: the loader must give the defaults.
	in := configInput{app: "orders", env: []string{"PATH=/bin", "HOME=/root", "EDDY_CONFIG=", "EDDY_GROUP=", "XEDDY_GROUP=x"}}
	got, _, err := in.load(t)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("load with nothing set =\n%+v\nwant\n%+v", got, want)
	}
}

// TestConfigTableCoversConfig guards the one-table design: every Config field
// has a setting, and each setting's default, written as a user would write
// it, parses back to what DefaultConfig holds.
func TestConfigTableCoversConfig(t *testing.T) {
	t.Parallel()
	table := configSettings("app")
	if n := reflect.TypeFor[Config]().NumField(); n != len(table) {
		t.Errorf("Config has %d fields but the table has %d settings", n, len(table))
	}
	docs := configFieldDocs(t)
	keys, envs, flags := map[string]bool{}, map[string]bool{}, map[string]bool{"config": true}
	for _, s := range table {
		for _, u := range []struct {
			seen map[string]bool
			name string
		}{{keys, s.Key}, {envs, s.Env}, {flags, s.Flag}} {
			if u.seen[u.name] {
				t.Errorf("%q is used by two settings", u.name)
			}
			u.seen[u.name] = true
		}
		if s.Doc == "" || s.Arg == "" {
			t.Errorf("setting %q lacks doc or arg", s.Key)
		}
		// The Config field's doc comment, which godoc shows, names the
		// setting's key, variable, flag and default.
		def := Default("app")
		field := fieldOf(&def, s.Field(&def))
		doc := docs[field]
		for _, want := range []string{"YAML " + s.Key, s.Env, "--" + s.Flag} {
			if !strings.Contains(doc, want) {
				t.Errorf("the doc of Config.%s does not name %q", field, want)
			}
		}
		norm := strings.NewReplacer(" ", "", "\"", "", "`", "", "\n", "", "//", "").Replace
		if s.Default != "" && !strings.Contains(strings.ToLower(norm(doc)), strings.ToLower(norm(s.Default))) {
			t.Errorf("the doc of Config.%s does not give its default %q", field, s.Default)
		}
		if s.Kind == settings.Map {
			continue
		}
		shown := s.Default
		if shown == appNameDefault {
			shown = "app"
		}
		c := Default("app")
		if err := s.Set(&c, shown); err != nil {
			t.Errorf("setting %q: its default %q does not parse: %v", s.Key, s.Default, err)
		}
		if want := Default("app"); !reflect.DeepEqual(c, want) {
			t.Errorf("setting %q: parsing its shown default %q changes the config:\n%+v\nwant\n%+v", s.Key, s.Default, c, want)
		}
		// App.Run gives zero fields their defaults: that is unambiguous
		// only while no setting accepts its zero value as something else.
		var zero Config
		if v := s.Get(&zero); !reflect.ValueOf(s.Field(&def)).Elem().IsZero() && s.Set(&zero, v) == nil {
			t.Errorf("setting %q accepts its zero value %q, which App.Run would replace with the default %q", s.Key, v, s.Default)
		}
	}
}

// configFieldDocs returns the doc comments of Config's fields, by name,
// as config.go has them.
func configFieldDocs(t *testing.T) map[string]string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, fl := range ts.Type.(*ast.StructType).Fields.List {
			for _, name := range fl.Names {
				docs[name.Name] = fl.Doc.Text()
			}
		}
		return false
	})
	return docs
}

// fieldOf names the field of *c that ptr points to.
func fieldOf(c *Config, ptr any) string {
	v := reflect.ValueOf(c).Elem()
	for i := range v.NumField() {
		if v.Field(i).Addr().Pointer() == reflect.ValueOf(ptr).Pointer() {
			return v.Type().Field(i).Name
		}
	}
	return "?"
}

func TestConfigLayers(t *testing.T) {
	t.Parallel()
	const file = `
group: from-file
commit_interval: 10s
log_level: DEBUG
http: off
brokers:
  - a:9092
  - b:9092
handler:
  max_attempts: 7
  backoff: 1ms
topics:
  partitions: 3
  replication_factor: 3
settings:
  a: file
  b: file
  Mixed: 1
`
	fromFile := func(c *Config) {
		c.Group = "from-file"
		c.CommitInterval = 10 * time.Second
		c.LogLevel = slog.LevelDebug
		c.HTTP = "off"
		c.Brokers = []string{"a:9092", "b:9092"}
		c.HandlerMaxAttempts = 7
		c.HandlerBackoff = time.Millisecond
		c.TopicPartitions = 3
		c.TopicReplication = 3
		c.Settings = map[string]string{"a": "file", "b": "file", "mixed": "1"}
	}
	env := []string{
		"EDDY_GROUP=from-env",
		"EDDY_COMMIT_INTERVAL=20s",
		"EDDY_BROKERS=c:9092, d:9092",
		"EDDY_HANDLER_MAX_ATTEMPTS=9",
		"EDDY_SETTING_B=env",
		"EDDY_SETTING_C=env",
	}
	fromEnv := func(c *Config) {
		fromFile(c)
		c.Group = "from-env"
		c.CommitInterval = 20 * time.Second
		c.Brokers = []string{"c:9092", "d:9092"}
		c.HandlerMaxAttempts = 9
		c.Settings["b"] = "env"
		c.Settings["c"] = "env"
	}

	tests := []struct {
		name string
		in   configInput
		want func(*Config) // applied to Default("app")
	}{
		{
			name: "file beats default",
			in:   configInput{file: file},
			want: fromFile,
		},
		{
			name: "file named by EDDY_CONFIG",
			in:   configInput{file: file, fileViaEnv: true},
			want: fromFile,
		},
		{
			name: "--config beats EDDY_CONFIG",
			in:   configInput{file: file, env: []string{"EDDY_CONFIG={dir}/missing.yaml"}},
			want: fromFile,
		},
		{
			name: "env beats file",
			in:   configInput{file: file, env: env},
			want: fromEnv,
		},
		{
			name: "flag beats env",
			in: configInput{file: file, env: env, args: []string{
				"--group", "from-flag",
				"--commit-interval=30s",
				"--brokers=e:9092",
				"--handler-max-attempts", "11",
				"--set", "c=flag",
				"--set", "d=flag",
				"--set", "e=x=y",
			}},
			want: func(c *Config) {
				fromEnv(c)
				c.Group = "from-flag"
				c.CommitInterval = 30 * time.Second
				c.Brokers = []string{"e:9092"}
				c.HandlerMaxAttempts = 11
				c.Settings["c"] = "flag"
				c.Settings["d"] = "flag"
				c.Settings["e"] = "x=y"
			},
		},
		{
			name: "brokers as a comma string in the file",
			in:   configInput{file: "brokers: a:9092,b:9092 , ,c\n"},
			want: func(c *Config) { c.Brokers = []string{"a:9092", "b:9092", "c"} },
		},
		{
			name: "empty --brokers asks for the embedded broker whatever the layers below say",
			in:   configInput{file: file, env: env, args: []string{"--brokers="}},
			want: func(c *Config) { fromEnv(c); c.Brokers = nil },
		},
		{
			name: "an empty environment variable counts as unset",
			in:   configInput{file: file, env: []string{"EDDY_GROUP=", "EDDY_SETTING_A=", "EDDY_COMMIT_INTERVAL="}},
			want: fromFile,
		},
		{
			name: "the first of repeated environment variables wins, as with os.Getenv",
			in:   configInput{env: []string{"EDDY_GROUP=first", "EDDY_GROUP=second"}},
			want: func(c *Config) { c.Group = "first" },
		},
		{
			name: "the last of repeated flags wins",
			in:   configInput{args: []string{"--group", "a", "--group", "b"}},
			want: func(c *Config) { c.Group = "b" },
		},
		{
			name: "setting names are case-insensitive so env can override the file",
			in: configInput{
				file: "settings:\n  apiURL: file\n",
				env:  []string{"EDDY_SETTING_APIURL=env"},
				args: []string{"--set", "Other=flag"},
			},
			want: func(c *Config) { c.Settings = map[string]string{"apiurl": "env", "other": "flag"} },
		},
		{
			name: "consumer protocol with the default balancer",
			in:   configInput{file: "balancer: cooperative-sticky\n", env: []string{"EDDY_GROUP_PROTOCOL=Consumer"}},
			want: func(c *Config) { c.GroupProtocol = "consumer" },
		},
		{
			name: "choices and levels in any case, values trimmed",
			in:   configInput{env: []string{"EDDY_BALANCER=RoundRobin ", "EDDY_LOG_LEVEL=Warn"}, args: []string{"--http", "OFF"}},
			want: func(c *Config) { c.Balancer = "roundrobin"; c.LogLevel = slog.LevelWarn; c.HTTP = "off" },
		},
		{
			name: "YAML anchors, dotted keys and nulls",
			in: configInput{file: `
handler:
  backoff: &b 2s
  max_backoff: *b
topics.partitions: 12
brokers:
settings: ~
`},
			want: func(c *Config) {
				c.HandlerBackoff = 2 * time.Second
				c.HandlerMaxBackoff = 2 * time.Second
				c.TopicPartitions = 12
			},
		},
		{
			name: "an empty file changes nothing",
			in:   configInput{file: "# nothing yet\n"},
			want: func(*Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, _, err := tt.in.load(t)
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			want := Default("app")
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%+v\nwant\n%+v", got, want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		in    configInput
		exact string   // the whole message, when set
		want  []string // substrings of the message
		not   []string // substrings the message must not have
		lines int      // how many problems are joined, when more than one
		is    error    // errors.Is target, when set
	}{
		{
			name: "missing file named by --config",
			in:   configInput{args: []string{"--config", "{dir}/missing.yaml"}},
			want: []string{"runtime: config: --config: ", "{dir}/missing.yaml"},
			is:   fs.ErrNotExist,
		},
		{
			name: "missing file named by EDDY_CONFIG",
			in:   configInput{env: []string{"EDDY_CONFIG={dir}/missing.yaml"}},
			want: []string{"runtime: config: EDDY_CONFIG: ", "{dir}/missing.yaml"},
			is:   fs.ErrNotExist,
		},
		{
			name: "YAML syntax error",
			in:   configInput{file: "group: [unterminated\n"},
			want: []string{"runtime: config: {file}: yaml: "},
		},
		{
			name: "top level is not a mapping",
			in:   configInput{file: "- group\n"},
			exact: `runtime: config: {file}: expected a mapping of keys to values (e.g. "group: orders"), ` +
				`not a list`,
		},
		{
			name:  "unknown nested key",
			in:    configInput{file: "handler:\n  max_attemps: 5\n"},
			exact: `runtime: config: {file}: unknown key "handler.max_attemps" (did you mean "handler.max_attempts"?)`,
		},
		{
			name:  "unknown top-level key",
			in:    configInput{file: "comit_interval: 5s\n"},
			exact: `runtime: config: {file}: unknown key "comit_interval" (did you mean "commit_interval"?)`,
		},
		{
			name:  "unknown group of keys",
			in:    configInput{file: "handlr:\n  backoff: 1s\n"},
			exact: `runtime: config: {file}: unknown key "handlr" (did you mean "handler"?)`,
		},
		{
			name:  "unknown key with nothing close",
			in:    configInput{file: "database_url: x\n"},
			exact: `runtime: config: {file}: unknown key "database_url" (values for the app's own code go under "settings")`,
			not:   []string{"did you mean"},
		},
		{
			name:  "duplicate key",
			in:    configInput{file: "group: a\ngroup: b\n"},
			exact: `runtime: config: {file}: duplicate key "group"`,
		},
		{
			name:  "duplicate key, once nested and once dotted",
			in:    configInput{file: "handler:\n  backoff: 1s\nhandler.backoff: 2s\n"},
			exact: `runtime: config: {file}: duplicate key "handler.backoff"`,
		},
		{
			name:  "unknown environment variable",
			in:    configInput{env: []string{"EDDY_BROKER=a:9092"}},
			exact: `runtime: config: unknown environment variable "EDDY_BROKER" (did you mean "EDDY_BROKERS"?)`,
		},
		{
			name: "unknown environment variable with nothing close",
			in:   configInput{env: []string{"EDDY_DATABASE_URL=x"}},
			want: []string{`unknown environment variable "EDDY_DATABASE_URL"`, "EDDY_SETTING_DATABASE_URL"},
			not:  []string{"did you mean"},
		},
		{
			name:  "EDDY_SETTING_ without a name",
			in:    configInput{env: []string{"EDDY_SETTING_=x"}},
			exact: `runtime: config: EDDY_SETTING_: the setting name is empty (expected EDDY_SETTING_<NAME>=value)`,
		},
		{
			name:  "bad duration from env",
			in:    configInput{env: []string{"EDDY_COMMIT_INTERVAL=5 seconds"}},
			exact: `runtime: config: EDDY_COMMIT_INTERVAL: "5 seconds" is not a duration (e.g. 5s, 250ms)`,
		},
		{
			name:  "bad duration from a flag",
			in:    configInput{args: []string{"--commit-interval", "soon"}},
			exact: `runtime: config: --commit-interval: "soon" is not a duration (e.g. 5s, 250ms)`,
		},
		{
			name:  "bad duration from the file",
			in:    configInput{file: "commit_interval: 5 seconds\n"},
			exact: `runtime: config: {file}: commit_interval: "5 seconds" is not a duration (e.g. 5s, 250ms)`,
		},
		{
			name:  "duration with no unit",
			in:    configInput{file: "handler:\n  max_backoff: 5\n"},
			exact: `runtime: config: {file}: handler.max_backoff: "5" is not a duration (e.g. 5s, 250ms)`,
		},
		{
			name:  "null for a duration",
			in:    configInput{file: "shutdown_timeout:\n"},
			exact: `runtime: config: {file}: shutdown_timeout: "" is not a duration (e.g. 5s, 250ms)`,
		},
		{
			name:  "zero commit interval",
			in:    configInput{env: []string{"EDDY_COMMIT_INTERVAL=0s"}},
			exact: `runtime: config: EDDY_COMMIT_INTERVAL: "0s" is out of range (must be more than 0)`,
		},
		{
			name:  "zero shutdown timeout",
			in:    configInput{args: []string{"--shutdown-timeout=0"}},
			exact: `runtime: config: --shutdown-timeout: "0" is out of range (must be more than 0)`,
		},
		{
			name:  "negative backoff",
			in:    configInput{file: "handler:\n  backoff: -1s\n"},
			exact: `runtime: config: {file}: handler.backoff: "-1s" is out of range (must be at least 1ms)`,
		},
		{
			name:  "max in flight below 1",
			in:    configInput{env: []string{"EDDY_MAX_IN_FLIGHT=0"}},
			exact: `runtime: config: EDDY_MAX_IN_FLIGHT: "0" is out of range (must be at least 1)`,
		},
		{
			name:  "max attempts below 1",
			in:    configInput{file: "handler:\n  max_attempts: 0\n"},
			exact: `runtime: config: {file}: handler.max_attempts: "0" is out of range (must be at least 1)`,
		},
		{
			name:  "replication factor above what Kafka holds",
			in:    configInput{args: []string{"--topics-replication-factor", "40000"}},
			exact: `runtime: config: --topics-replication-factor: "40000" is out of range (must be from 1 to 32767)`,
		},
		{
			name:  "partitions overflowing int",
			in:    configInput{env: []string{"EDDY_TOPICS_PARTITIONS=99999999999999999999"}},
			exact: `runtime: config: EDDY_TOPICS_PARTITIONS: "99999999999999999999" is out of range (must be from 1 to 2147483647)`,
		},
		{
			name:  "not a number",
			in:    configInput{args: []string{"--handler-max-attempts=three"}},
			exact: `runtime: config: --handler-max-attempts: "three" is not a whole number`,
		},
		{
			name:  "bad log level",
			in:    configInput{env: []string{"EDDY_LOG_LEVEL=verbose"}},
			exact: `runtime: config: EDDY_LOG_LEVEL: "verbose" is not a log level (expected debug, info, warn or error)`,
		},
		{
			name:  "bad HTTP address",
			in:    configInput{args: []string{"--http", "localhost"}},
			exact: `runtime: config: --http: "localhost" is not host:port or "off" (e.g. 127.0.0.1:6066, :6066)`,
		},
		{
			name:  "bad HTTP port",
			in:    configInput{file: "http: 127.0.0.1:99999\n"},
			exact: `runtime: config: {file}: http: "127.0.0.1:99999" is not host:port or "off" (e.g. 127.0.0.1:6066, :6066)`,
		},
		{
			name: "unknown balancer, with a suggestion",
			in:   configInput{args: []string{"--balancer=round-robin"}},
			exact: `runtime: config: --balancer: "round-robin" is not one of cooperative-sticky, sticky, range, roundrobin ` +
				`(did you mean "roundrobin"?)`,
		},
		{
			name:  "unknown group protocol",
			in:    configInput{file: "group_protocol: kip848\n"},
			exact: `runtime: config: {file}: group_protocol: "kip848" is not one of classic, consumer`,
		},
		{
			name: "consumer protocol with a non-default balancer",
			in:   configInput{file: "group_protocol: consumer\n", args: []string{"--balancer", "range"}},
			exact: `runtime: config: --balancer: balancer "range" cannot be used with group_protocol "consumer" ` +
				`(from {file}: group_protocol): the broker assigns partitions under KIP-848; ` +
				`remove the balancer setting or set group_protocol to classic`,
		},
		{
			name: "consumer protocol with a non-default balancer, both from env",
			in:   configInput{env: []string{"EDDY_BALANCER=sticky", "EDDY_GROUP_PROTOCOL=consumer"}},
			want: []string{"runtime: config: EDDY_BALANCER: ", `"sticky"`, "(from EDDY_GROUP_PROTOCOL)", "KIP-848"},
		},
		{
			name:  "--set without =",
			in:    configInput{args: []string{"--set", "debug"}},
			exact: `runtime: config: --set: "debug" is not name=value`,
		},
		{
			name:  "--set without a name",
			in:    configInput{args: []string{"--set", "=x"}},
			exact: `runtime: config: --set: "=x" is not name=value`,
		},
		{
			name:  "empty group from a flag",
			in:    configInput{args: []string{"--group="}},
			exact: `runtime: config: --group: must not be empty`,
		},
		{
			name:  "a mapping where one value belongs",
			in:    configInput{file: "group:\n  name: orders\n"},
			exact: `runtime: config: {file}: group: expected a single value, not a mapping`,
		},
		{
			name: "a single value where nested keys belong",
			in:   configInput{file: "handler: 3\n"},
			exact: `runtime: config: {file}: handler: expected a mapping with keys handler.backoff, ` +
				`handler.max_attempts, handler.max_backoff, not a single value`,
		},
		{
			name:  "a list inside the brokers list",
			in:    configInput{file: "brokers:\n  - [a, b]\n"},
			exact: `runtime: config: {file}: brokers: expected a list of single values, but an item is a list`,
		},
		{
			name:  "settings that are not a mapping",
			in:    configInput{file: "settings: [a, b]\n"},
			exact: `runtime: config: {file}: settings: expected a mapping of names to values, not a list`,
		},
		{
			name:  "a nested value in settings",
			in:    configInput{file: "settings:\n  db:\n    host: x\n"},
			exact: `runtime: config: {file}: settings.db: expected a single value (a string, number or boolean), not a mapping`,
		},
		{
			name:  "settings names that differ only in case",
			in:    configInput{file: "settings:\n  url: a\n  URL: b\n"},
			exact: `runtime: config: {file}: duplicate key "settings.URL" (names are case-insensitive)`,
		},
		{
			name: "every problem at once",
			in: configInput{
				file: "handler:\n  max_attemps: 5\nmax_in_flight: lots\n",
				env:  []string{"EDDY_GRUOP=x", "EDDY_SHUTDOWN_TIMEOUT=forever"},
				args: []string{"--log-level", "loud", "--set", "novalue"},
			},
			want: []string{
				`{file}: unknown key "handler.max_attemps"`,
				`{file}: max_in_flight: "lots" is not a whole number`,
				`unknown environment variable "EDDY_GRUOP" (did you mean "EDDY_GROUP"?)`,
				`EDDY_SHUTDOWN_TIMEOUT: "forever" is not a duration`,
				`--log-level: "loud" is not a log level`,
				`--set: "novalue" is not name=value`,
			},
			lines: 6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, expand, err := tt.in.load(t)
			if err == nil {
				t.Fatalf("no error; config %+v", got)
			}
			if !reflect.DeepEqual(got, Config{}) {
				t.Errorf("with an error, load returned a non-zero config %+v", got)
			}
			msg := err.Error()
			if tt.exact != "" && msg != expand(tt.exact) {
				t.Errorf("error\n%s\nwant\n%s", msg, expand(tt.exact))
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, expand(w)) {
					t.Errorf("error\n%s\ndoes not contain %q", msg, expand(w))
				}
			}
			for _, n := range tt.not {
				if strings.Contains(msg, n) {
					t.Errorf("error\n%s\ncontains %q", msg, n)
				}
			}
			if tt.lines > 0 {
				if lines := strings.Split(msg, "\n"); len(lines) != tt.lines {
					t.Errorf("error has %d lines, want one per problem (%d):\n%s", len(lines), tt.lines, msg)
				}
			}
			for line := range strings.SplitSeq(msg, "\n") {
				if !strings.HasPrefix(line, "runtime: config: ") {
					t.Errorf("error line %q lacks the prefix", line)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// TestConfigEmptyAppName checks that a Group or ClientID left empty by an
// unnamed app is reported, not passed on to Kafka.
func TestConfigEmptyAppName(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := table("").Bind(fs)
	if err := fs.Parse([]string{"--client-id", "c"}); err != nil {
		t.Fatal(err)
	}
	_, err := l.Load(nil)
	const want = "runtime: config: group: is empty: name the app, or set --group, EDDY_GROUP or group in the config file"
	if err == nil || err.Error() != want {
		t.Fatalf("got error %v, want %q", err, want)
	}
}

func TestConfigReference(t *testing.T) {
	t.Parallel()
	ref := Reference()
	if !strings.Contains(ref, "| key | env | flag | default | description |") {
		t.Errorf("reference lacks the table header:\n%s", ref)
	}
	if !strings.Contains(ref, "`EDDY_CONFIG`") || !strings.Contains(ref, "`--config FILE`") {
		t.Errorf("reference does not say how to name the config file:\n%s", ref)
	}
	settings := configSettings("app")
	rows := 0
	for line := range strings.SplitSeq(ref, "\n") {
		if strings.HasPrefix(line, "| `") {
			rows++
		}
	}
	if rows != len(settings) {
		t.Errorf("reference has %d rows, want %d (one per setting)", rows, len(settings))
	}

	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	table("app").Bind(fs)
	if fs.Lookup("config") == nil {
		t.Error("bindConfig did not register --config")
	}
	for _, s := range settings {
		for _, want := range []string{"`" + s.Key, "`" + s.Env, "`--" + s.Flag} {
			if !strings.Contains(ref, want) {
				t.Errorf("reference lacks %s of setting %q", want, s.Key)
			}
		}
		f := fs.Lookup(s.Flag)
		if f == nil {
			t.Errorf("bindConfig did not register --%s", s.Flag)
			continue
		}
		if !strings.Contains(f.Usage, s.Env) {
			t.Errorf("usage of --%s does not name %s: %q", s.Flag, s.Env, f.Usage)
		}
	}
	for _, want := range []string{"`EDDY_SETTING_<NAME>`", "`--set name=value`", "`settings.<name>`", "| `commit_interval` | `EDDY_COMMIT_INTERVAL` | `--commit-interval` | `5s` |", "| the app name |"} {
		if !strings.Contains(ref, want) {
			t.Errorf("reference lacks %s:\n%s", want, ref)
		}
	}
}

func TestConfigModesAndSteps(t *testing.T) {
	t.Parallel()
	load := func(in configInput) Config {
		t.Helper()
		c, _, err := in.load(t)
		if err != nil {
			t.Fatalf("load: %v", err)
		}
		return c
	}
	c := load(configInput{file: "mode: bulk\nauto:\n  lag_high: 500\n  lag_low: 50\n  min_dwell: 2s\n" +
		"bulk:\n  max_records: 200\n  max_wait: 50ms\nsteps:\n  - [users, products]\n  - prices\n"})
	if c.Mode != modes.Bulk || c.AutoLagHigh != 500 || c.AutoLagLow != 50 || c.AutoMinDwell != 2*time.Second ||
		c.BulkMaxRecords != 200 || c.BulkMaxWait != 50*time.Millisecond {
		t.Fatalf("file settings not applied: %+v", c)
	}
	if want := [][]string{{"users", "products"}, {"prices"}}; !reflect.DeepEqual(c.Steps, want) {
		t.Fatalf("steps from the file = %q, want %q", c.Steps, want)
	}
	c = load(configInput{env: []string{"EDDY_STEPS=users, products ; prices"}, args: []string{"--mode", "single"}})
	if want := [][]string{{"users", "products"}, {"prices"}}; !reflect.DeepEqual(c.Steps, want) || c.Mode != modes.Single {
		t.Fatalf("steps from EDDY_STEPS = %q, mode %q", c.Steps, c.Mode)
	}
	// A defaulted batch size follows a smaller max_in_flight.
	if c := load(configInput{args: []string{"--max-in-flight", "100"}}); c.BulkMaxRecords != 100 {
		t.Fatalf("bulk.max_records = %d with max_in_flight 100; want 100", c.BulkMaxRecords)
	}
	for _, tt := range []struct {
		in   configInput
		want string
	}{
		{configInput{args: []string{"--mode", "batch"}}, `"batch" is not one of auto, single, bulk`},
		{configInput{args: []string{"--steps", "users;;prices"}}, "step 2 names no topic"},
		{configInput{file: "steps:\n  - {a: b}\n"}, "step 1: expected a topic or a list of topics, not a mapping"},
		{configInput{args: []string{"--auto-lag-high", "100", "--auto-lag-low", "100"}}, "auto.lag_low 100 must be below auto.lag_high 100"},
		{configInput{args: []string{"--max-in-flight", "100", "--bulk-max-records", "500"}}, "bulk.max_records 500 is more than max_in_flight 100"},
	} {
		_, _, err := tt.in.load(t)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want it to contain %q", tt.in, err, tt.want)
		}
	}
}

func TestConfigDottedKeyBesideScalar(t *testing.T) {
	t.Parallel()
	c, _, err := configInput{file: "http: 127.0.0.1:7000\nhttp.pprof: true\n"}.load(t)
	if err != nil {
		t.Fatal(err)
	}
	if c.HTTP != "127.0.0.1:7000" || !c.HTTPPprof {
		t.Fatalf("http = %q, http.pprof = %v; want 127.0.0.1:7000 and true", c.HTTP, c.HTTPPprof)
	}
}

func TestConfigClientSettings(t *testing.T) {
	t.Parallel()
	in := configInput{
		file: "consumer:\n  start_from: latest\nproducer:\n  acks: leader\n  linger: 50ms\n  batch_max_bytes: 64KiB\n" +
			"  compression: ZSTD\n  max_buffered_records: 100\ntopics:\n  create_missing: yes\nmetadata_max_age: 30s\n",
		env:  []string{"EDDY_PRODUCER_DELIVERY_TIMEOUT=30s"},
		args: []string{"--producer-acks", "none"},
	}
	c, _, err := in.load(t)
	if err != nil {
		t.Fatal(err)
	}
	want := Default("app")
	want.StartFrom, want.ProducerAcks, want.ProducerLinger = "latest", "none", 50*time.Millisecond
	want.ProducerBatchMaxBytes, want.ProducerCompression, want.ProducerMaxBufferedRecords = 64<<10, "zstd", 100
	want.ProducerDeliveryTimeout, want.TopicsCreateMissing, want.MetadataMaxAge = 30*time.Second, "true", 30*time.Second
	if fmt.Sprintf("%+v", c) != fmt.Sprintf("%+v", want) {
		t.Errorf("loaded\n%+v\nwant\n%+v", c, want)
	}

	for _, tc := range []struct {
		arg, want string
	}{
		{"--consumer-start-from=newest", `--consumer-start-from: "newest" is not one of earliest, latest`},
		{"--producer-acks=1", `--producer-acks: "1" is not one of all, leader, none`},
		{"--producer-linger=2m", `--producer-linger: "2m" is out of range (must be from 1ms to 1m0s)`},
		{"--producer-linger=0s", `--producer-linger: "0s" is out of range`},
		{"--producer-batch-max-bytes=256", `--producer-batch-max-bytes: "256" is out of range (must be from 512 to 100MiB)`},
		{"--producer-batch-max-bytes=1GiB", `"1GiB" is out of range`},
		{"--producer-compression=brotli", `"brotli" is not one of snappy, none, gzip, lz4, zstd`},
		{"--producer-delivery-timeout=500ms", `"500ms" is out of range (must be at least 1s)`},
		{"--producer-max-buffered-records=0", `"0" is out of range (must be at least 1)`},
		{"--topics-create-missing=maybe", `--topics-create-missing: "maybe" is not auto, true or false`},
		{"--metadata-max-age=2h", `"2h" is out of range (must be from 10ms to 1h0m0s)`},
	} {
		_, _, err := configInput{args: []string{tc.arg}}.load(t)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v; want it to contain %q", tc.arg, err, tc.want)
		}
	}
}
