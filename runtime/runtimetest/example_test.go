package runtimetest_test

import (
	"fmt"
	"strings"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/runtime/runtimetest"
	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

// shouter writes each greeting upper-cased to "shouts".
type shouter struct {
	out *runtime.Output[string, string]
}

func (s *shouter) OnMessage(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
	return s.out.Produce(ctx, "shouts", msg.Key, strings.ToUpper(msg.Value))
}

// Send records to a handler, wait until they are handled, and read what it
// produced.
func Example() {
	app := runtime.NewApp("shouter")
	out := runtime.NewOutput(app, serde.String(), serde.String(), "shouts")
	runtime.Handle(app, &shouter{out: out}, serde.String(), serde.String(), "greetings")

	d, err := runtimetest.New(app) // in a test: runtimetest.Start(t, app)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := runtimetest.NewInput(d, "greetings", serde.String(), serde.String())
	in.Send("ann", "hello")
	in.Send("bob", "hi")
	d.Idle()

	for _, m := range runtimetest.NewOutput(d, "shouts", serde.String(), serde.String()).Read() {
		fmt.Println(m.Key, m.Value)
	}
	fmt.Println("committed:", d.Committed("greetings")[0])
	// Output:
	// ann HELLO
	// bob HI
	// committed: 2
}

// counter counts the words it sees in a table.
type counter struct {
	counts *tables.Table[string, int64]
}

func (c *counter) OnMessage(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
	for _, w := range strings.Fields(msg.Value) {
		n, _, err := c.counts.Get(ctx, w)
		if err != nil {
			return err
		}
		if err := c.counts.Set(ctx, w, n+1); err != nil {
			return err
		}
	}
	return nil
}

// Read a table once the records are handled.
func Example_table() {
	app := runtime.NewApp("words")
	counts := runtime.NewTable(app, "counts", serde.String(), serde.Int64(), tables.Options{})
	runtime.Handle(app, &counter{counts: counts}, serde.String(), serde.String(), "lines")

	d, err := runtimetest.New(app)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := runtimetest.NewInput(d, "lines", serde.String(), serde.String())
	in.Send("", "to be or not to be")
	d.Idle()

	for _, w := range []string{"to", "be", "or", "question"} {
		n, ok := runtimetest.Get(d, counts, w)
		fmt.Println(w, n, ok)
	}
	// Output:
	// to 2 true
	// be 2 true
	// or 1 true
	// question 0 false
}

// picky fails on negative amounts; the app's default error policy skips
// such records.
func picky(_ *runtime.Context, msg *runtime.Message[string, int64]) error {
	if msg.Value < 0 {
		return fmt.Errorf("negative amount %d", msg.Value)
	}
	return nil
}

// See how each record's handling ended.
func ExampleDriver_Outcomes() {
	app := runtime.NewApp("picky")
	runtime.Handle(app, runtime.HandlerFunc[string, int64](picky), serde.String(), serde.Int64(), "amounts")

	d, err := runtimetest.New(app)
	if err != nil {
		panic(err)
	}
	defer d.Close()
	in := runtimetest.NewInput(d, "amounts", serde.String(), serde.Int64())
	in.Send("a", 5)
	in.Send("b", -1)
	in.SendTombstone("c")
	d.Idle()

	for _, o := range d.Outcomes() {
		fmt.Printf("%s@%d %s %v\n", o.Key, o.Offset, o.Outcome, o.Err)
	}
	// Output:
	// a@0 handled <nil>
	// b@1 skipped negative amount -1
	// c@2 skipped-tombstone <nil>
}
