package runtime

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/serde"
	"github.com/eddy-streams/eddy/tables"
)

func TestGlobalTableSeesEveryPartitionAndFollowsUpdates(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "in", "ref")
	var ref []*kgo.Record
	for i := range 20 {
		ref = append(ref, &kgo.Record{Topic: "ref", Key: fmt.Appendf(nil, "r%d", i), Value: []byte("v1")})
	}
	produceKeyed(t, brokers, ref...) // the default partitioner spreads them over both partitions

	j := &journal{}
	app := NewApp("global", WithLogger(testLogger(t)))
	names := NewGlobalTable(app, "names", "ref", serde.String(), serde.String(), tables.Options{})
	Handle(app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		v, ok, err := names.Get(ctx, m.Key)
		if err != nil {
			return err
		}
		if m.Value == "write" {
			j.add("set: %v", errors.Is(names.Set(ctx, m.Key, "x"), tables.ErrReadOnly))
			return nil
		}
		j.add("%s=%s %v", m.Key, v, ok)
		return nil
	}), serde.String(), serde.String(), "in")

	var in []*kgo.Record
	for i := range 20 {
		in = append(in, &kgo.Record{Topic: "in", Key: fmt.Appendf(nil, "r%d", i), Value: []byte("look")})
	}
	produceKeyed(t, brokers, in...)
	cfg := testConfig(t, brokers)
	cfg.TableStore = "memory://"
	startApp(t, app, cfg)

	// Handlers start only once the global table caught up: every look-up
	// finds its key, whichever partition it is in.
	for _, e := range j.await(t, 20) {
		if !strings.HasSuffix(e, "=v1 true") {
			t.Fatalf("look-up %q: the global table was not restored before handlers ran: %v", e, j.all())
		}
	}

	// Updates to the followed topic reach the table while the app runs.
	produceKeyed(t, brokers, &kgo.Record{Topic: "ref", Key: []byte("r7"), Value: []byte("v2")})
	eventually(t, 30*time.Second, "the update of r7", func() bool {
		produceKeyed(t, brokers, &kgo.Record{Topic: "in", Key: []byte("r7"), Value: []byte("look")})
		for _, e := range j.all() {
			if e == "r7=v2 true" {
				return true
			}
		}
		return false
	})

	n := len(j.all())
	produceKeyed(t, brokers, &kgo.Record{Topic: "in", Key: []byte("r1"), Value: []byte("write")})
	if got := j.await(t, n+1); got[len(got)-1] != "set: true" {
		t.Fatalf("Set on a global table: %q; want tables.ErrReadOnly", got[len(got)-1])
	}
}
