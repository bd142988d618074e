package topics

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// admin starts a kfake cluster of brokers brokers with topics seeded (of
// partitions partitions) and returns an admin client of it.
func admin(t *testing.T, brokers int, partitions int32, seeded ...string) *kadm.Client {
	adm, _ := adminClient(t, brokers, partitions, seeded...)
	return adm
}

// adminClient is admin that also returns the client under it.
func adminClient(t *testing.T, brokers int, partitions int32, seeded ...string) (*kadm.Client, *kgo.Client) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(brokers)}
	if len(seeded) > 0 {
		opts = append(opts, kfake.SeedTopics(partitions, seeded...))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl), cl
}

func ctx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureCreatesMissingAndComparesExisting(t *testing.T) {
	t.Parallel()
	adm := admin(t, 3, 3, "orders")
	specs := []Spec{
		{Name: "orders", Partitions: 6, Configs: map[string]string{"retention.ms": "86400000", "cleanup.policy": "delete"}},
		{Name: "events", Partitions: 4, Replication: 3, Configs: map[string]string{"cleanup.policy": "compact"}},
		{Name: "audit"}, // everything from the defaults
	}
	d := Defaults{Partitions: 2, Replication: 1}

	// Without create: the missing ones are reported, nothing is created.
	rs, err := Ensure(ctx(t), adm, specs, d, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := []State{rs[0].State, rs[1].State, rs[2].State}; !reflect.DeepEqual(got, []State{Exists, Missing, Missing}) {
		t.Fatalf("states %v; want exists, missing, missing", got)
	}
	want := []Diff{{"partitions", "3", "6"}, {"retention.ms", "604800000", "86400000"}}
	if !reflect.DeepEqual(rs[0].Diffs, want) {
		t.Errorf("orders differs by %v; want %v (cleanup.policy=delete is kfake's default, no difference)", rs[0].Diffs, want)
	}
	if s := rs[0].Diffs[0].String() + "; " + rs[0].Diffs[1].String(); s != "has 3 partitions, not 6; has retention.ms=604800000, not 86400000" {
		t.Errorf("diffs read %q", s)
	}

	rs, err = Ensure(ctx(t), adm, specs, d, true)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].State != Exists || rs[1].State != Created || rs[2].State != Created {
		t.Fatalf("results %+v; want orders left as it is, events and audit created", rs)
	}
	if got := rs[1].Created.String(); got != "4 partitions, replication factor 3, cleanup.policy=compact" {
		t.Errorf("events created with %q", got)
	}
	if got := rs[2].Created.String(); got != "2 partitions, replication factor 1" {
		t.Errorf("audit created with %q", got)
	}

	// As the brokers have them now.
	ds, err := Describe(ctx(t), adm, []string{"events", "audit", "nope"})
	if err != nil {
		t.Fatal(err)
	}
	ev := ds[0]
	if len(ev.Partitions) != 4 || ev.Replication != 3 || ev.Err != nil {
		t.Errorf("events described as %+v; want 4 partitions of 3 replicas", ev)
	}
	var set []string
	for _, c := range ev.Configs {
		if c.Set {
			set = append(set, c.Name+"="+c.Value)
		}
	}
	if !reflect.DeepEqual(set, []string{"cleanup.policy=compact"}) {
		t.Errorf("events has configs set %q; want cleanup.policy=compact", set)
	}
	if len(ds[1].Partitions) != 2 || ds[1].Replication != 1 {
		t.Errorf("audit described as %+v; want 2 partitions of 1 replica", ds[1])
	}
	if !ds[2].Missing {
		t.Errorf("nope described as %+v; want missing", ds[2])
	}

	// Again: everything exists and matches, but orders.
	rs, err = Ensure(ctx(t), adm, specs, d, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rs[1:] {
		if r.State != Exists || len(r.Diffs) > 0 {
			t.Errorf("%s: %+v; want it to exist as specified", r.Spec.Name, r)
		}
	}
}

func TestEnsureReportsWhatCannotBeCreated(t *testing.T) {
	t.Parallel()
	adm := admin(t, 1, 1)
	rs, err := Ensure(ctx(t), adm, []Spec{{Name: "wide", Partitions: 1, Replication: 3}}, Defaults{}, true)
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].State != Failed || rs[0].Err == nil || !strings.Contains(rs[0].Err.Error(), `topics: create topic "wide" (1 partitions, replication factor 3): INVALID_REPLICATION_FACTOR`) {
		t.Errorf("result %+v; want the create's failure, naming the topic and its spec", rs[0])
	}
}

func TestDescribeOffsets(t *testing.T) {
	t.Parallel()
	adm, cl := adminClient(t, 1, 2, "events")
	recs := []*kgo.Record{{Topic: "events", Partition: 1, Value: []byte("a")}, {Topic: "events", Partition: 1, Value: []byte("b")}}
	cl2, err := kgo.NewClient(kgo.SeedBrokers(cl.OptValue(kgo.SeedBrokers).([]string)...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl2.Close()
	if err := cl2.ProduceSync(ctx(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, err := adm.DeleteRecords(ctx(t), kadm.Offsets{"events": {1: {At: 1}}}); err != nil {
		t.Fatal(err)
	}
	ds, err := Describe(ctx(t), adm, []string{"events"})
	if err != nil {
		t.Fatal(err)
	}
	want := []PartitionInfo{{Partition: 0, Leader: 0, Replicas: []int32{0}, Start: 0, End: 0}, {Partition: 1, Leader: 0, Replicas: []int32{0}, Start: 1, End: 2}}
	if !reflect.DeepEqual(ds[0].Partitions, want) {
		t.Errorf("partitions %+v; want %+v", ds[0].Partitions, want)
	}
}

func TestParseFile(t *testing.T) {
	t.Parallel()
	const good = `
defaults:
  partitions: 6
  configs:
    retention.ms: 604800000
topics:
  - name: events
    partitions: 12
    replication_factor: 3
    configs:
      cleanup.policy: compact
  - audit
`
	specs, err := ParseFile("t.yaml", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []Spec{
		{Name: "events", Partitions: 12, Replication: 3, Configs: map[string]string{"retention.ms": "604800000", "cleanup.policy": "compact"}},
		{Name: "audit", Partitions: 6, Configs: map[string]string{"retention.ms": "604800000"}},
	}
	if !reflect.DeepEqual(specs, want) {
		t.Errorf("ParseFile =\n%+v\nwant\n%+v", specs, want)
	}

	for _, tc := range []struct{ file, want string }{
		{"", `t.yaml: no topics`},
		{"topics:\n  - name: a\n    partitons: 3\n", `unknown key "partitons" in a topic`},
		{"defaults:\n  replicas: 3\ntopics: [a]\n", `field replicas not found`},
		{"topics:\n  - a\n  - a\n", `topic "a" is listed twice`},
		{"topics:\n  - partitions: 3\n", `topic 1: it has no name`},
		{"topics:\n  - name: a\n    partitions: -1\n", `partitions -1 is out of range`},
		{"topics:\n  - [a]\n", `a topic is a name or a mapping`},
		{"topics: [a]\ndefaults:\n  name: x\n", `a name has no place in the defaults`},
	} {
		if _, err := ParseFile("t.yaml", []byte(tc.file)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFile(%q) = %v; want an error containing %q", tc.file, err, tc.want)
		}
	}
}
