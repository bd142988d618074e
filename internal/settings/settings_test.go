package settings

import (
	"flag"
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

// conf is a small configuration to exercise the generic loader; the full
// table is tested where it lives (package runtime).
type conf struct {
	Name    string
	Workers int
	Wait    time.Duration
	Tags    []string
	Extra   map[string]string
}

func table() *Table[conf] {
	return &Table[conf]{
		ErrPrefix: "test: config",
		EnvPrefix: "T_",
		FileEnv:   "T_CONFIG",
		Settings: []Setting[conf]{
			String("T_", "name", "id", "anon", func(c *conf) *string { return &c.Name }, "A name."),
			Int("T_", "pool.workers", 4, 1, 64, func(c *conf) *int { return &c.Workers }, "Workers."),
			Duration("T_", "pool.wait", time.Second, time.Millisecond, func(c *conf) *time.Duration { return &c.Wait }, "Wait."),
			Strings("T_", "tags", "a,b", "Tags.", func(c *conf) *[]string { return &c.Tags }),
			StringMap("extra", "T_X_", "x", "Extra.", func(c *conf) *map[string]string { return &c.Extra }),
		},
	}
}

func TestCompleteFillsZerosAndChecksTheRest(t *testing.T) {
	t.Parallel()
	c := conf{Workers: 8}
	if err := table().Complete(&c, "conf"); err != nil {
		t.Fatal(err)
	}
	if c.Name != "anon" || c.Workers != 8 || c.Wait != time.Second || c.Extra == nil {
		t.Fatalf("Complete gave %+v; want the defaults but for Workers 8", c)
	}
	bad := conf{Workers: 100, Wait: time.Microsecond}
	err := table().Complete(&bad, "conf")
	for _, want := range []string{
		`test: config: conf.Workers (pool.workers): "100" is out of range (must be from 1 to 64)`,
		`test: config: conf.Wait (pool.wait): "1µs" is out of range (must be at least 1ms)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Complete(%+v) = %v; want it to say %q", bad, err, want)
		}
	}
}

func TestLoadLayersAndErrors(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l := table().Bind(fs)
	if err := fs.Parse([]string{"--pool-workers", "2", "--x", "a=flag"}); err != nil {
		t.Fatal(err)
	}
	c, err := l.Load([]string{"T_NAME=env", "T_POOL_WORKERS=3", "T_X_B=env", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "env" || c.Workers != 2 || c.Extra["a"] != "flag" || c.Extra["b"] != "env" {
		t.Fatalf("Load gave %+v", c)
	}

	fs = flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	l = table().Bind(fs)
	if err := fs.Parse([]string{"--pool-wait", "soon"}); err != nil {
		t.Fatal(err)
	}
	_, err = l.Load([]string{"T_NAM=x", "T_POOL_WORKERS=0"})
	for _, want := range []string{
		`test: config: --pool-wait: "soon" is not a duration (e.g. 5s, 250ms)`,
		`test: config: unknown environment variable "T_NAM" (did you mean "T_NAME"?)`,
		`test: config: T_POOL_WORKERS: "0" is out of range (must be from 1 to 64)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Load = %v; want it to say %q", err, want)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	t.Parallel()
	candidates := []string{"handler.max_attempts", "handler.backoff", "EDDY_GROUP", "group"}
	tests := []struct {
		got, want string
	}{
		{"handler.max_attemps", ` (did you mean "handler.max_attempts"?)`},
		{"handler.bakoff", ` (did you mean "handler.backoff"?)`},
		{"EDDY_GRUOP", ` (did you mean "EDDY_GROUP"?)`}, // a swap is two edits
		{"Group", ` (did you mean "group"?)`},
		{"gp", ""}, // three edits away
		{"brokers", ""},
	}
	for _, tt := range tests {
		if got := DidYouMean(tt.got, candidates); got != tt.want {
			t.Errorf("DidYouMean(%q) = %q, want %q", tt.got, got, tt.want)
		}
	}
}

func TestSizes(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"256MiB": 256 << 20, "1 GiB": 1 << 30, "10KB": 10e3, "42": 42, "7B": 7} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1TB", "lots", "9999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) gave no error", in)
		}
	}
	if got := FormatSize(256 << 20); got != "256MiB" {
		t.Errorf("FormatSize(256MiB) = %q", got)
	}
	if got := FormatSize(math.MaxInt64); got != "9223372036854775807" {
		t.Errorf("FormatSize(max) = %q", got)
	}
}

// TestBindLeavesACallersFlag: a flag the caller defined first keeps its
// meaning, and the setting of the same name still reads the environment.
func TestBindLeavesACallersFlag(t *testing.T) {
	t.Parallel()
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	own := fs.String("name", "", "the subcommand's own --name")
	l := table().Bind(fs)
	if err := fs.Parse([]string{"--name", "mine", "--pool-workers", "2"}); err != nil {
		t.Fatal(err)
	}
	c, err := l.Load([]string{"T_NAME=env"})
	if err != nil {
		t.Fatal(err)
	}
	if *own != "mine" || c.Name != "env" || c.Workers != 2 {
		t.Fatalf("own flag %q, setting %q, workers %d; want mine, env, 2", *own, c.Name, c.Workers)
	}
}
