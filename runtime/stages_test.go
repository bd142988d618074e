package runtime

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
)

// wrongTombstone has an OnTombstone for another value type: a hook that
// would never be called.
type wrongTombstone struct{ countOnly }

func (*wrongTombstone) OnTombstone(*Context, *Message[string, int64]) error { return nil }

// valueHooks declares its hooks on the pointer but is registered as a
// value, whose method set lacks them.
type valueHooks struct{}

func (valueHooks) OnMessage(*Context, *Message[string, string]) error { return nil }
func (*valueHooks) OnError(*Context, *Record, error) error            { return nil }

func TestHandleRefusesHooksItWouldIgnore(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		register func(*App)
		want     []string
	}{
		{
			name: "hook with another value type",
			register: func(app *App) {
				Handle[string, string](app, &wrongTombstone{}, serde.String(), serde.String(), "in")
			},
			want: []string{
				"runtime: Handle(*runtime.wrongTombstone, [in]): method OnTombstone has the signature " +
					"func(*runtime.Context, *runtime.Message[string,int64]) error, so it is not the OnTombstone hook, which must be " +
					"func(*runtime.Context, *runtime.Message[string,string]) error",
			},
		},
		{
			name: "hook on the pointer of a handler given as a value",
			register: func(app *App) {
				Handle[string, string](app, valueHooks{}, serde.String(), serde.String(), "in")
			},
			want: []string{"method OnError is declared on *runtime.valueHooks, but the handler was registered as a runtime.valueHooks value",
				"register a pointer (&runtime.valueHooks{...})"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			app := NewApp("strict")
			tc.register(app)
			err := app.Run(t.Context(), Config{Brokers: []string{"127.0.0.1:1"}})
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("Run: %v\nwant it to say %q", err, w)
				}
			}
		})
	}
}

// upper is a stage that upper-cases values and drops "skip".
var upper = StageFunc[string, string](func(_ *Context, msg *Message[string, string]) (*Message[string, string], error) {
	if msg.Value == "skip" {
		return nil, nil
	}
	msg.Value = strings.ToUpper(msg.Value)
	return msg, nil
})

func TestStagesFilterAndTransformBeforeTheHandler(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	j := &journal{}
	app := NewApp("stages", WithLogger(testLogger(t)))
	keys := DropKeys[string, string]("bot-1").FromSetting("blocked")
	Handle(app, WithStages[string, string](&hooked{j: j}, keys, upper), serde.String(), serde.String(), "in")
	produce(t, brokers,
		rec("in", 0, "a", "one"),
		rec("in", 0, "bot-1", "code"),                  // dropped by the key given in code
		rec("in", 0, "bot-2", "setting"),               // dropped by the key from the setting
		rec("in", 0, "b", "skip"),                      // dropped by the stage
		&kgo.Record{Topic: "in", Key: []byte("bot-1")}, // a tombstone: dropped too
		rec("in", 0, "c", "two"))
	cfg := testConfig(t, brokers)
	cfg.Settings = map[string]string{"blocked": "bot-2, bot-3"}
	startApp(t, app, cfg)

	got := strings.Join(j.await(t, 16), "\n")
	want := strings.Join([]string{
		"define a", "receive a", "message a ONE+seen v-a", "finished a handled",
		"define bot-1", "finished bot-1 dropped",
		"define bot-2", "finished bot-2 dropped",
		"define b", "finished b dropped",
		"define bot-1", "finished bot-1 dropped",
		"define c", "receive c", "message c TWO+seen v-c", "finished c handled",
	}, "\n")
	if got != want {
		t.Fatalf("calls:\n%s\nwant:\n%s", got, want)
	}
	st, _ := app.Status()
	if st.Records.Dropped != 4 || st.Records.Handled != 2 {
		t.Fatalf("records %+v; want 4 dropped and 2 handled", st.Records)
	}
}

func TestKeyFilterSettingThatDoesNotParseStopsTheStart(t *testing.T) {
	t.Parallel()
	app := NewApp("filter")
	Handle(app, WithStages[int64, string](HandlerFunc[int64, string](func(*Context, *Message[int64, string]) error { return nil }),
		KeepKeys[int64, string](1, 2).FromSetting("Allowed")), serde.Int64(), serde.String(), "in")
	cfg := Config{Brokers: []string{"127.0.0.1:1"}, Settings: map[string]string{"allowed": "3,four"}}
	err := app.Run(context.Background(), cfg)
	if want := `runtime: key filter: setting "allowed": "four" is not a int64`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Run: %v; want it to say %q", err, want)
	}
}

func TestKeyFilterPasses(t *testing.T) {
	t.Parallel()
	keep := KeepKeys[string, int]("a")
	drop := DropKeys[string, int]("a")
	if !keep.passes("a") || keep.passes("b") || drop.passes("a") || !drop.passes("b") {
		t.Fatal("KeepKeys passes only its keys and DropKeys all others")
	}
	if err := drop.FromSetting("more").OnStart(context.Background(), Config{Settings: map[string]string{"more": "b, ,c"}}); err != nil {
		t.Fatal(err)
	}
	if drop.passes("b") || drop.passes("c") || !drop.passes("d") {
		t.Fatal("keys from the setting are not in the set")
	}
}
