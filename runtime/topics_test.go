package runtime

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/internal/topics"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// declaringApp reads "in" and writes "out", and declares out and audit.
func declaringApp(name string, logger *slog.Logger) *App {
	app := NewApp(name, WithLogger(logger))
	NewOutput(app, serde.String(), serde.String(), "out")
	Handle(app, &countOnly{}, serde.String(), serde.String(), "in")
	app.DeclareTopic("out", TopicSpec{Partitions: 3, Configs: map[string]string{"cleanup.policy": "compact"}})
	app.DeclareTopic("audit", TopicSpec{Partitions: 2, Configs: map[string]string{"retention.ms": "3600000"}})
	app.DeclareTopic("in", TopicSpec{Partitions: 4})
	return app
}

// describe describes topics on brokers.
func describe(t *testing.T, brokers []string, names ...string) map[string]topics.Description {
	t.Helper()
	out := map[string]topics.Description{}
	testkit.Within(t, 30*time.Second, func(ctx context.Context) error {
		ds, err := topics.Describe(ctx, kadm.NewClient(testkit.NewClient(t, brokers)), names)
		for _, d := range ds {
			out[d.Name] = d
		}
		return err
	})
	return out
}

// setConfigs returns the configs set on a topic, as name=value.
func setConfigs(d topics.Description) []string {
	var out []string
	for _, c := range d.Configs {
		if c.Set {
			out = append(out, c.Name+"="+c.Value)
		}
	}
	return out
}

func TestCreateMissingTopicsAtStart(t *testing.T) {
	t.Parallel()
	for _, setting := range []string{"", "auto", "false"} {
		t.Run("create_missing="+setting+" leaves them missing", func(t *testing.T) {
			t.Parallel()
			_, brokers := testCluster(t, 1, "in")
			cfg := testConfig(t, brokers)
			cfg.TopicsCreateMissing = setting
			err := declaringApp("nocreate", testLogger(t)).Run(t.Context(), cfg)
			if err == nil || !strings.Contains(err.Error(), "topics missing on "+brokers[0]+": audit, out (create them with `") ||
				!strings.Contains(err.Error(), "set topics.create_missing to true") {
				t.Fatalf("Run = %v; want an error naming audit and out, and both ways to create them", err)
			}
			if d := describe(t, brokers, "out")["out"]; !d.Missing {
				t.Errorf("out exists: %+v; want it left missing", d)
			}
		})
	}

	t.Run("create_missing=true creates them as declared", func(t *testing.T) {
		t.Parallel()
		_, brokers := testCluster(t, 1, "in")
		logs := &lineWriter{}
		cfg := testConfig(t, brokers)
		cfg.TopicsCreateMissing = "true"
		cfg.TopicPartitions = 5 // for what is not declared
		app := declaringApp("create", slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
		startApp(t, app, cfg)
		logs.await(t, "the worker to start", func(lines []string) bool {
			return slices.ContainsFunc(lines, func(l string) bool { return strings.Contains(l, "worker started") })
		})

		ds := describe(t, brokers, "in", "out", "audit")
		if got := len(ds["out"].Partitions); got != 3 {
			t.Errorf("out has %d partitions; want the declared 3", got)
		}
		if got := setConfigs(ds["out"]); !slices.Equal(got, []string{"cleanup.policy=compact"}) {
			t.Errorf("out has configs %q; want cleanup.policy=compact", got)
		}
		if got := len(ds["audit"].Partitions); got != 2 {
			t.Errorf("audit has %d partitions; want the declared 2", got)
		}
		if got := len(ds["in"].Partitions); got != 1 {
			t.Errorf("in has %d partitions; want its 1 left as it is", got)
		}
		lines := strings.Join(logs.all(), "\n")
		for _, want := range []string{
			`msg="created topic" app=create topic=out spec="3 partitions, replication factor 1, cleanup.policy=compact"`,
			`msg="created topic" app=create topic=audit spec="2 partitions, replication factor 1, retention.ms=3600000"`,
			`msg="topic differs from its declaration; it is left as it is" app=create topic=in differences="has 1 partitions, not 4"`,
		} {
			if !strings.Contains(lines, want) {
				t.Errorf("the log lacks %s; it has:\n%s", want, lines)
			}
		}
	})
}

func TestEmbeddedBrokerCreatesDeclaredTopics(t *testing.T) {
	t.Parallel()
	// create_missing false does not stop the embedded broker, which starts
	// empty, from creating the app's topics.
	for _, setting := range []string{"", "false"} {
		t.Run("create_missing="+setting, func(t *testing.T) {
			t.Parallel()
			app := declaringApp("embedded", testLogger(t))
			cfg := testConfig(t, nil)
			cfg.TopicsCreateMissing = setting
			startApp(t, app, cfg)
			var w *worker
			eventually(t, 30*time.Second, "the worker to start", func() bool {
				w = app.current.Load()
				return w != nil
			})
			ds := describe(t, w.brokers, "in", "out", "audit")
			for topic, want := range map[string]int{"in": 4, "out": 3, "audit": 2} {
				if got := len(ds[topic].Partitions); got != want {
					t.Errorf("%s has %d partitions; want the declared %d", topic, got, want)
				}
			}
			if got := setConfigs(ds["audit"]); !slices.Contains(got, "retention.ms=3600000") {
				t.Errorf("audit has configs %q; want retention.ms=3600000", got)
			}
		})
	}
}

func TestDeclareTopicRefused(t *testing.T) {
	t.Parallel()
	app := NewApp("decl", WithLogger(testLogger(t)))
	Handle(app, &countOnly{}, serde.String(), serde.String(), "in")
	NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{})
	app.DeclareTopic("", TopicSpec{})
	app.DeclareTopic("a", TopicSpec{Partitions: -1})
	app.DeclareTopic("b", TopicSpec{ReplicationFactor: 1 << 16})
	app.DeclareTopic("c", TopicSpec{Configs: map[string]string{" ": "x"}})
	app.DeclareTopic("d", TopicSpec{})
	app.DeclareTopic("d", TopicSpec{})
	app.DeclareTopic("decl-counts-changelog", TopicSpec{Partitions: 3})
	err := app.Run(t.Context(), Config{Brokers: []string{"127.0.0.1:1"}})
	for _, want := range []string{
		"runtime: DeclareTopic: the topic has no name",
		`runtime: DeclareTopic("a"): Partitions -1 is out of range`,
		`runtime: DeclareTopic("b"): ReplicationFactor 65536 is out of range`,
		`runtime: DeclareTopic("c"): a config has an empty name`,
		`runtime: topic "d" is declared twice`,
		`runtime: DeclareTopic("decl-counts-changelog"): the topic is a table's changelog`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run = %v; want it to contain %q", err, want)
		}
	}
	if got := app.Topics(); !slices.Equal(got, []string{"in", "d", "decl-counts-changelog"}) {
		t.Errorf("Topics() = %q; want the handler's, then the other declared ones", got)
	}
}
