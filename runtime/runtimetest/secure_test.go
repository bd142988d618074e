package runtimetest_test

import (
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/config"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// counter counts records per key in a table and writes the count to "out".
func counterApp() (*runtime.App, *tables.Table[string, int64]) {
	app := runtime.NewApp("counter")
	counts := runtime.NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{})
	out := runtime.NewOutput(app, serde.String(), serde.Int64(), "out")
	runtime.Handle(app, runtime.HandlerFunc[string, string](func(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
		n, _, err := counts.Get(ctx, msg.Key)
		if err != nil {
			return err
		}
		if err := counts.Set(ctx, msg.Key, n+1); err != nil {
			return err
		}
		return out.Produce(ctx, "out", msg.Key, n+1)
	}), serde.String(), serde.String(), "in")
	return app, counts
}

// secure makes the driver's broker require SASL over TLS and the app
// connect accordingly; password is what the app presents.
func secure(t *testing.T, password string) []runtimetest.Option {
	g, err := broker.GenerateTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return []runtimetest.Option{
		runtimetest.BrokerOptions(func(o *broker.Options) {
			o.TLS = g.Config
			o.Users = []broker.User{{Name: "tester", Password: "tester-pw"}}
		}),
		runtimetest.Configure(func(c *runtime.Config) {
			c.SecurityProtocol, c.TLSCAFile = "sasl_ssl", g.CAFile
			c.SASLMechanism, c.SASLUsername, c.SASLPassword = "SCRAM-SHA-256", "tester", config.NewSecret(password)
		}),
	}
}

// TestSecureBroker runs an app with a table on a broker that requires
// SASL over TLS: the app and the driver's own clients (inputs, outputs,
// offsets) connect as the app's settings say.
func TestSecureBroker(t *testing.T) {
	t.Parallel()
	app, counts := counterApp()
	d := runtimetest.Start(t, app, append(secure(t, "tester-pw"), runtimetest.Partitions(2))...)
	in := runtimetest.NewInput(d, "in", serde.String(), serde.String())
	for _, k := range []string{"a", "b", "a", "a"} {
		in.Send(k, "x")
	}
	d.Idle()
	if n, ok := runtimetest.Get(d, counts, "a"); !ok || n != 3 {
		t.Errorf("counts[a] = %d (found %t), want 3", n, ok)
	}
	if got := runtimetest.NewOutput(d, "out", serde.String(), serde.Int64()).Read(); len(got) != 4 {
		t.Errorf("read %d outputs, want 4", len(got))
	}
	var committed int64
	for _, o := range d.Committed("in") {
		committed += o
	}
	if committed != 4 {
		t.Errorf("committed %d records of in, want 4", committed)
	}
}

// TestSecureBrokerWrongPassword: an app that cannot authenticate does not
// start, and New says why.
func TestSecureBrokerWrongPassword(t *testing.T) {
	t.Parallel()
	app, _ := counterApp()
	d, err := runtimetest.New(app, secure(t, "not-the-password")...)
	if err == nil {
		d.Close()
		t.Fatal("New started an app with the wrong password")
	}
	if !strings.Contains(err.Error(), "authentication failed") || strings.Contains(err.Error(), "not-the-password") {
		t.Errorf("New: %v; want an authentication failure that does not show the password", err)
	}
}
