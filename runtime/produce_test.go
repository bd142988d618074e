package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/eddy-streams/eddy/internal/faults"
	"github.com/eddy-streams/eddy/serde"
)

func TestFailedProduceStopsAppAndHoldsCommit(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 1, "in", "out")
	produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 0, "b", "2"), rec("in", 0, "c", "3"))
	faults.FailProduces(c, nil)

	j := &journal{}
	app := NewApp("failprod", WithLogger(testLogger(t)))
	out := NewOutput[string, string](app, serde.String(), serde.String(), "out")
	Handle[string, string](app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		j.add("handled %s", m.Key)
		return out.Produce(ctx, "out", m.Key, m.Value)
	}), serde.String(), serde.String(), "in")
	cfg := testConfig(t, brokers)
	err := startApp(t, app, cfg).wait(t, 30*time.Second)
	if !errors.Is(err, kerr.TopicAuthorizationFailed) || !strings.Contains(err.Error(), "in/0@0") {
		t.Fatalf("Run = %v; want the produce error naming the source record in/0@0", err)
	}
	if len(j.all()) == 0 {
		t.Fatal("no record was handled")
	}
	// Every handler returned nil, but no output was acknowledged: nothing
	// may be committed.
	if got, ok := committed(t, brokers, cfg.Group, "in")[0]; ok && got != 0 {
		t.Fatalf("committed offset %d; want none past 0 while outputs failed", got)
	}
}
