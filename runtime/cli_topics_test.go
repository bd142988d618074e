package runtime

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/eddy-streams/eddy/serde"
)

// declaringToolApp reads orders and writes orders-enriched, which it
// declares compacted with 2 partitions.
func declaringToolApp() *App {
	app := toolApp("orders", "orders-enriched")
	app.DeclareTopic("orders-enriched", TopicSpec{Partitions: 2, Configs: map[string]string{"cleanup.policy": "compact"}})
	return app
}

// kfakeAt starts a one-broker kfake cluster with the given topics, each
// seeded with its own partition count, and returns its address.
func kfakeAt(t *testing.T, topics map[string]int32) string {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1)}
	for name, n := range topics {
		opts = append(opts, kfake.SeedTopics(n, name))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func TestTopicsCreateAppTopicsAsDeclared(t *testing.T) {
	t.Parallel()
	addr := kfakeAt(t, map[string]int32{"orders": 3})
	app := declaringToolApp()
	app.DeclareTopic("orders", TopicSpec{Partitions: 6, Configs: map[string]string{"retention.ms": "3600000"}})
	r := runTool(t.Context(), app, "", []string{"EDDY_BROKERS=" + addr}, "topics", "create")
	if r.code != 0 {
		t.Fatalf("topics create: exit code %d, stderr:\n%s", r.code, r.errOut)
	}
	want := "exists orders (3 partitions, replication factor 1)\n" +
		"created orders-enriched (2 partitions, replication factor 1, cleanup.policy=compact)\n"
	if r.out != want {
		t.Errorf("topics create printed\n%q\nwant\n%q", r.out, want)
	}
	// The existing topic is left as it is, and how it differs said.
	if want := "warning: topic orders has 3 partitions, not 6; has retention.ms=604800000, not 3600000; it is left as it is"; !strings.Contains(r.errOut, want) {
		t.Errorf("stderr = %q; want it to contain %q", r.errOut, want)
	}
	d := describe(t, []string{addr}, "orders", "orders-enriched")
	if len(d["orders"].Partitions) != 3 || len(setConfigs(d["orders"])) != 0 {
		t.Errorf("orders is now %+v; want it unchanged", d["orders"])
	}
	if got := setConfigs(d["orders-enriched"]); !slices.Equal(got, []string{"cleanup.policy=compact"}) {
		t.Errorf("orders-enriched has configs %q; want cleanup.policy=compact", got)
	}
}

func TestTopicsCreateNamedTopics(t *testing.T) {
	t.Parallel()
	addr := kfakeAt(t, map[string]int32{"orders": 3})
	app := declaringToolApp()
	env := []string{"EDDY_BROKERS=" + addr, "EDDY_TOPICS_PARTITIONS=5"}

	// Names and flags in any order; the flags apply to every topic named.
	r := runTool(t.Context(), app, "", env, "topics", "create", "a", "--partitions", "4", "b",
		"--topic-config", "retention.ms=60000", "--topic-config=segment.ms=1000")
	want := "created a (4 partitions, replication factor 1, retention.ms=60000, segment.ms=1000)\n" +
		"created b (4 partitions, replication factor 1, retention.ms=60000, segment.ms=1000)\n"
	if r.code != 0 || r.out != want {
		t.Errorf("topics create a b: exit code %d, printed\n%q\nwant\n%q\nstderr:\n%s", r.code, r.out, want, r.errOut)
	}
	// A name the app declares is created as declared; another takes the
	// settings' defaults.
	r = runTool(t.Context(), app, "", env, "topics", "create", "orders-enriched", "c")
	want = "created orders-enriched (2 partitions, replication factor 1, cleanup.policy=compact)\n" +
		"created c (5 partitions, replication factor 1)\n"
	if r.code != 0 || r.out != want {
		t.Errorf("topics create orders-enriched c: exit code %d, printed\n%q\nwant\n%q\nstderr:\n%s", r.code, r.out, want, r.errOut)
	}
	// The flags over the declaration, for an existing topic: reported.
	r = runTool(t.Context(), app, "", env, "topics", "create", "orders-enriched", "--partitions", "8")
	if r.code != 0 || !strings.Contains(r.errOut, "warning: topic orders-enriched has 2 partitions, not 8") {
		t.Errorf("topics create orders-enriched --partitions 8: exit code %d, stderr:\n%s", r.code, r.errOut)
	}
	// A topic the broker cannot create fails the command, naming it.
	r = runTool(t.Context(), app, "", env, "topics", "create", "d", "--replication-factor", "3")
	if want := `cli: topics: create topic "d" (5 partitions, replication factor 3): INVALID_REPLICATION_FACTOR`; r.code != 1 || !strings.Contains(r.errOut, want) {
		t.Errorf("topics create d --replication-factor 3: exit code %d, stderr:\n%s\nwant exit code 1 and %q", r.code, r.errOut, want)
	}
}

func TestTopicsCreateFromFile(t *testing.T) {
	t.Parallel()
	addr := kfakeAt(t, map[string]int32{"audit": 1})
	dir := t.TempDir()
	path := filepath.Join(dir, "topics.yaml")
	const file = `
defaults:
  partitions: 3
  configs:
    retention.ms: 86400000
topics:
  - name: events
    partitions: 6
    configs:
      cleanup.policy: compact
  - audit
  - metrics
`
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	app := toolApp("in")
	r := runTool(t.Context(), app, "", []string{"EDDY_BROKERS=" + addr}, "topics", "create", "--file", path, "--topic-config", "segment.ms=60000")
	want := "created events (6 partitions, replication factor 1, cleanup.policy=compact, retention.ms=86400000, segment.ms=60000)\n" +
		"exists audit (1 partitions, replication factor 1)\n" +
		"created metrics (3 partitions, replication factor 1, retention.ms=86400000, segment.ms=60000)\n"
	if r.code != 0 || r.out != want {
		t.Errorf("topics create --file: exit code %d, printed\n%q\nwant\n%q\nstderr:\n%s", r.code, r.out, want, r.errOut)
	}
	if want := "warning: topic audit has 1 partitions, not 3; has retention.ms=604800000, not 86400000; has segment.ms=604800000, not 60000"; !strings.Contains(r.errOut, want) {
		t.Errorf("stderr = %q; want it to contain %q", r.errOut, want)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("topics:\n  - name: x\n    partitons: 3\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--file", bad}, 1, bad + `: line 3: unknown key "partitons" in a topic`},
		{[]string{"--file", filepath.Join(dir, "none.yaml")}, 1, "cli: topics create --file: open " + filepath.Join(dir, "none.yaml")},
		{[]string{"x", "--file", path}, 2, "topics create takes topic names or --file, not both"},
		{[]string{"x", "--partitions", "-1"}, 2, "--partitions -1 is out of range"},
		{[]string{"x", "--topic-config", "nonsense"}, 2, `"nonsense" is not name=value`},
	} {
		r := runTool(t.Context(), app, "", []string{"EDDY_BROKERS=" + addr}, append([]string{"topics", "create"}, tc.args...)...)
		if r.code != tc.code || !strings.Contains(r.errOut, tc.want) {
			t.Errorf("topics create %q: exit code %d, stderr:\n%s\nwant exit code %d and %q", tc.args, r.code, r.errOut, tc.code, tc.want)
		}
	}
}

func TestTopicsDescribe(t *testing.T) {
	t.Parallel()
	addr := kfakeAt(t, map[string]int32{"orders": 2, "orders-enriched": 1, "clicks-eu": 1, "other": 1})
	app := declaringToolApp()
	HandlePattern[string, string](app, toolHandler{}, serde.String(), serde.String(), "clicks-.*")
	produceKeyed(t, []string{addr}, rec("clicks-eu", 0, "k", "1"), rec("clicks-eu", 0, "k", "2"))
	env := []string{"EDDY_BROKERS=" + addr}

	// The app's topics: declared, outputs, and those its pattern matches.
	r := runTool(t.Context(), app, "", env, "topics", "describe")
	want := "orders: 2 partitions, replication factor 1\n" +
		"  partition 0: leader 0, replicas [0], start offset 0, end offset 0\n" +
		"  partition 1: leader 0, replicas [0], start offset 0, end offset 0\n" +
		"orders-enriched: 1 partitions, replication factor 1\n" +
		"  differs from the app's declaration: has 1 partitions, not 2; has cleanup.policy=delete, not compact\n" +
		"  partition 0: leader 0, replicas [0], start offset 0, end offset 0\n" +
		"clicks-eu: 1 partitions, replication factor 1\n" +
		"  partition 0: leader 0, replicas [0], start offset 0, end offset 2\n"
	if r.code != 0 || r.out != want {
		t.Errorf("topics describe: exit code %d, printed\n%s\nwant\n%s\nstderr:\n%s", r.code, r.out, want, r.errOut)
	}

	// Named topics; configs set on a topic, or all of them.
	mustRun(t, app, "", "topics", "create", "compacted", "--topic-config", "cleanup.policy=compact", "--partitions", "1", "--brokers", addr)
	got := mustRun(t, app, "", "topics", "describe", "compacted", "--brokers", addr)
	if want := "compacted: 1 partitions, replication factor 1\n  config cleanup.policy=compact\n" +
		"  partition 0: leader 0, replicas [0], start offset 0, end offset 0\n"; got != want {
		t.Errorf("topics describe compacted printed\n%s\nwant\n%s", got, want)
	}
	got = mustRun(t, app, "", "topics", "describe", "--all-configs", "compacted", "--brokers", addr)
	if !strings.Contains(got, "  config cleanup.policy=compact\n") || !strings.Contains(got, "  config retention.ms=604800000 (default)\n") {
		t.Errorf("topics describe --all-configs printed\n%s\nwant the set config and the defaults", got)
	}

	// A missing topic fails the command, after the others are described.
	r = runTool(t.Context(), app, "", env, "topics", "describe", "nope", "other")
	if r.code != 1 || !strings.HasPrefix(r.out, "nope: does not exist\nother: 1 partitions") ||
		!strings.Contains(r.errOut, "cli: topics missing on "+addr+": nope (create them with `") {
		t.Errorf("topics describe nope other: exit code %d, printed\n%s\nstderr:\n%s", r.code, r.out, r.errOut)
	}

	// A flag of another verb is a usage error.
	r = runTool(t.Context(), app, "", env, "topics", "describe", "--partitions", "3")
	if r.code != 2 || !strings.Contains(r.errOut, "topics describe does not take --partitions") {
		t.Errorf("topics describe --partitions 3: exit code %d, stderr:\n%s", r.code, r.errOut)
	}
}

func TestTopicsListMarksPatternTopics(t *testing.T) {
	t.Parallel()
	addr := kfakeAt(t, map[string]int32{"orders": 1, "clicks-eu": 1, "other": 1})
	app := toolApp("orders")
	HandlePattern[string, string](app, toolHandler{}, serde.String(), serde.String(), "clicks-.*")
	got := mustRun(t, app, "", "topics", "list", "--brokers", addr)
	if want := "clicks-eu\t1 partitions\t(app)\norders\t1 partitions\t(app)\nother\t1 partitions\n"; got != want {
		t.Errorf("topics list printed\n%q\nwant\n%q", got, want)
	}
}

func TestBrokerCreatesDeclaredTopics(t *testing.T) {
	t.Parallel()
	b := startToolBroker(t, declaringToolApp(), "--listen", "127.0.0.1:0", "--topics-partitions", "1")
	d := describe(t, []string{b.addr}, "orders", "orders-enriched")
	if len(d["orders"].Partitions) != 1 || len(d["orders-enriched"].Partitions) != 2 {
		t.Errorf("the broker created orders with %d partitions and orders-enriched with %d; want 1 and the declared 2",
			len(d["orders"].Partitions), len(d["orders-enriched"].Partitions))
	}
	if got := setConfigs(d["orders-enriched"]); !slices.Equal(got, []string{"cleanup.policy=compact"}) {
		t.Errorf("orders-enriched has configs %q; want cleanup.policy=compact", got)
	}
}
