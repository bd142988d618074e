package runtime

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// recorder is a handler that records "<handler> <topic>:<key>" for each
// record.
func recorder(name string, j *journal) HandlerFunc[string, string] {
	return func(_ *Context, m *Message[string, string]) error {
		j.add("%s %s:%s", name, m.Record.Topic, m.Key)
		return nil
	}
}

func TestHandlePatternPicksUpNewTopics(t *testing.T) {
	t.Parallel()
	for _, protocol := range []string{"classic", "consumer"} {
		t.Run(protocol, func(t *testing.T) {
			t.Parallel()
			testHandlePatternPicksUpNewTopics(t, protocol)
		})
	}
}

func testHandlePatternPicksUpNewTopics(t *testing.T, protocol string) {
	_, brokers := testCluster(t, 1, "events-a", "events-special", "other")
	produce(t, brokers, rec("events-a", 0, "a1", "v"), rec("events-special", 0, "s1", "v"), rec("other", 0, "o1", "v"))

	j := &journal{}
	app := NewApp("patterns", WithLogger(testLogger(t)))
	HandlePattern[string, string](app, recorder("pattern", j), serde.String(), serde.String(), "events-.*")
	// A topic registered by name keeps its own handler, though the pattern
	// matches it.
	Handle[string, string](app, recorder("special", j), serde.String(), serde.String(), "events-special", "other")
	cfg := testConfig(t, brokers)
	cfg.MetadataMaxAge = 100 * time.Millisecond // so that the new topics below are found at once
	cfg.GroupProtocol = protocol
	startApp(t, app, cfg)

	got := j.await(t, 3)
	slices.Sort(got)
	if want := []string{"pattern events-a:a1", "special events-special:s1", "special other:o1"}; !slices.Equal(got, want) {
		t.Fatalf("handled %q; want %q", got, want)
	}

	// Topics created while the worker runs: the one the pattern matches is
	// consumed, the one it matches only part of is not.
	testkit.Within(t, 30*time.Second, func(ctx context.Context) error {
		resps, err := kadm.NewClient(testkit.NewClient(t, brokers)).CreateTopics(ctx, 1, 1, nil, "my-events-c", "events-b")
		if err == nil {
			err = resps.Error()
		}
		return err
	})
	produce(t, brokers, rec("my-events-c", 0, "c1", "v"), rec("events-b", 0, "b1", "v"))
	if got := j.await(t, 4); got[3] != "pattern events-b:b1" {
		t.Fatalf("handled %q; want the record of the new topic events-b handled by the pattern's handler", got)
	}
	// my-events-c was found by the same metadata refresh as events-b, so
	// had the pattern matched it, it would be assigned with it.
	st, ok := app.Status()
	if !ok {
		t.Fatal("the app is not running")
	}
	var assigned []string
	for _, p := range st.Partitions {
		assigned = append(assigned, fmt.Sprintf("%s/%d", p.Topic, p.Partition))
	}
	slices.Sort(assigned)
	if want := []string{"events-a/0", "events-b/0", "events-special/0", "other/0"}; !slices.Equal(assigned, want) {
		t.Errorf("assigned %q; want %q: the pattern matches whole topic names", assigned, want)
	}
	eventually(t, 30*time.Second, "events-b committed", func() bool {
		return committed(t, brokers, cfg.Group, "events-b")[0] == 1
	})
	if c := committed(t, brokers, cfg.Group, "my-events-c"); len(c) > 0 {
		t.Errorf("my-events-c has committed offsets %v; want none", c)
	}
}

func TestHandlePatternRefused(t *testing.T) {
	t.Parallel()
	h := recorder("h", &journal{})
	for _, tc := range []struct {
		name  string
		build func(app *App)
		cfg   func(*Config)
		want  string
	}{
		{"invalid regular expression", func(app *App) {
			HandlePattern[string, string](app, h, serde.String(), serde.String(), "events-(")
		}, nil, `runtime: HandlePattern(runtime.HandlerFunc[string,string], "events-("): not a regular expression: error parsing regexp`},
		{"empty pattern", func(app *App) {
			HandlePattern[string, string](app, h, serde.String(), serde.String(), "")
		}, nil, `the pattern is empty`},
		{"pattern registered twice", func(app *App) {
			HandlePattern[string, string](app, h, serde.String(), serde.String(), "a.*")
			HandlePattern[string, string](app, h, serde.String(), serde.String(), "a.*")
		}, nil, `runtime: pattern "a.*" has two handlers`},
		{"nil codec", func(app *App) {
			HandlePattern[string, string](app, h, nil, serde.String(), "a.*")
		}, nil, `HandlePattern(runtime.HandlerFunc[string,string], "a.*"): key and value codecs are required`},
		{"table", func(app *App) {
			HandlePattern[string, string](app, h, serde.String(), serde.String(), "a.*")
			NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{})
		}, nil, `app "refused" has pattern subscriptions (["a.*"]) and tables`},
		{"steps", func(app *App) {
			HandlePattern[string, string](app, h, serde.String(), serde.String(), "a.*")
			Handle[string, string](app, h, serde.String(), serde.String(), "b")
		}, func(c *Config) { c.Steps = [][]string{{"b"}} }, `runtime: steps: app "refused" has pattern subscriptions`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := NewApp("refused", WithLogger(testLogger(t)))
			tc.build(app)
			cfg := Config{Brokers: []string{"127.0.0.1:1"}, HTTP: "off"}
			if tc.cfg != nil {
				tc.cfg(&cfg)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			if err := app.Run(ctx, cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Run = %v; want an error containing %q", err, tc.want)
			}
		})
	}
}
