package runtime_test

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// TestTableCallsAddressTheCallsPartition: a handler's Scan sees its own
// partition's shard (with its uncommitted writes), and a table used
// outside a handler call says so.
func TestTableCallsAddressTheCallsPartition(t *testing.T) {
	t.Parallel()
	app := runtime.NewApp("scoped")
	seen := runtime.NewTable(app, "seen", serde.String(), serde.Int64(), tables.Options{})
	out := runtime.NewOutput(app, serde.String(), serde.String(), "sizes")
	runtime.Handle(app, runtime.HandlerFunc[string, string](func(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
		if msg.Value != "report" {
			return seen.Set(ctx, msg.Key, 1)
		}
		n := 0
		if err := seen.Scan(ctx, func(string, int64) bool { n++; return true }); err != nil {
			return err
		}
		return out.Produce(ctx, "sizes", msg.Key, strconv.Itoa(n))
	}), serde.String(), serde.String(), "in")
	d := runtimetest.Start(t, app, runtimetest.Partitions(2))
	in := runtimetest.NewInput(d, "in", serde.String(), serde.String())
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		in.SendTo(0, k, "x")
	}
	in.SendTo(1, "f", "x")
	in.SendTo(0, "r0", "report")
	in.SendTo(1, "r1", "report")
	d.Idle()
	got := map[string]string{}
	for _, m := range runtimetest.NewOutput(d, "sizes", serde.String(), serde.String()).Read() {
		got[m.Key] = m.Value
	}
	if got["r0"] != "5" || got["r1"] != "1" {
		t.Fatalf("scans counted %v; want r0: 5 (partition 0's keys) and r1: 1", got)
	}
	if _, _, err := seen.Get(context.Background(), "a"); !errors.Is(err, tables.ErrNoShard) {
		t.Fatalf("Get outside a handler call = %v; want tables.ErrNoShard", err)
	}
	if n, ok := runtimetest.Get(d, seen, "f"); !ok || n != 1 {
		t.Fatalf("runtimetest.Get(f) = %d, %v; want 1, true", n, ok)
	}
}
