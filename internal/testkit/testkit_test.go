package testkit

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// failures is a testing.TB whose Fatal ends the calling goroutine and
// keeps the message, so that a test can check how a helper fails.
type failures struct {
	testing.TB
	msg string
}

func (f *failures) Helper() {}

func (f *failures) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *failures) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// failure runs fn with a failures of t on a goroutine of its own and
// returns the message it failed with, or "" if it returned.
func failure(t *testing.T, fn func(tb testing.TB)) string {
	f := &failures{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestEventually(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	if msg := failure(t, func(tb testing.TB) {
		Eventually(tb, 10*time.Second, "the third call", func() (bool, string) { return calls.Add(1) == 3, "" })
	}); msg != "" {
		t.Errorf("Eventually failed with %q; want it to return once cond holds", msg)
	}
	msg := failure(t, func(tb testing.TB) {
		Eventually(tb, 30*time.Millisecond, "the impossible", func() (bool, string) { return false, "still nothing" })
	})
	if want := "awaiting the impossible: not within 30ms; last seen: still nothing"; msg != want {
		t.Errorf("Eventually failed with %q, want %q", msg, want)
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	var w Watch
	n := 0 // under w
	go func() {
		for range 5 {
			w.Change(func() { n++ })
		}
	}()
	// A deadline far longer than the test: only a Change can end the wait.
	w.Await(t, time.Minute, "five changes", func() (bool, string) { return n == 5, fmt.Sprint(n) })

	msg := failure(t, func(tb testing.TB) {
		w.Await(tb, 20*time.Millisecond, "a sixth change", func() (bool, string) { return n == 6, fmt.Sprintf("%d changes", n) })
	})
	if want := "awaiting a sixth change: not within 20ms; last seen: 5 changes"; msg != want {
		t.Errorf("Await failed with %q, want %q", msg, want)
	}

	gone := make(chan struct{})
	close(gone)
	msg = failure(t, func(tb testing.TB) {
		w.AwaitUnless(tb, gone, func() string { return "the writer ended" }, time.Minute, "a sixth change",
			func() (bool, string) { return n == 6, fmt.Sprintf("%d changes", n) })
	})
	if want := "awaiting a sixth change: the writer ended first; last seen: 5 changes"; msg != want {
		t.Errorf("AwaitUnless failed with %q, want %q", msg, want)
	}
}

// TestKafka runs the broker helpers against a kfake cluster.
func TestKafka(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "t"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()

	if got := Committed(t, brokers, "nobody", "t"); len(got) != 0 {
		t.Errorf("Committed of a group that does not exist = %v, want none", got)
	}
	Produce(t, brokers, &kgo.Record{Topic: "t", Partition: 2, Value: []byte("a")}, &kgo.Record{Topic: "t", Partition: 2, Value: []byte("b")})
	keyed := []*kgo.Record{{Topic: "t", Key: []byte("k"), Value: []byte("c")}, {Topic: "t", Key: []byte("k"), Value: []byte("d")}}
	ProduceKeyed(t, brokers, keyed...)
	if keyed[0].Partition != keyed[1].Partition {
		t.Errorf("ProduceKeyed put one key in partitions %d and %d", keyed[0].Partition, keyed[1].Partition)
	}
	want := map[int32]int64{0: 0, 1: 0, 2: 2}
	want[keyed[0].Partition] += 2
	if got := EndOffsets(t, brokers, "t"); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("EndOffsets = %v, want %v", got, want)
	}

	recs := Consume(t, brokers, "t", 4)
	byPartition := map[int32]string{}
	for _, r := range recs {
		byPartition[r.Partition] += string(r.Value)
	}
	if len(recs) != 4 || !strings.HasPrefix(byPartition[2], "ab") || !strings.HasSuffix(byPartition[keyed[0].Partition], "cd") {
		t.Errorf("Consume returned %d records, by partition %q; want 4, a and b in partition 2, c and d in %d",
			len(recs), byPartition, keyed[0].Partition)
	}

	var offsets kadm.Offsets
	offsets.Add(kadm.Offset{Topic: "t", Partition: 2, At: 1})
	if _, err := kadm.NewClient(NewClient(t, brokers)).CommitOffsets(t.Context(), "g", offsets); err != nil {
		t.Fatal(err)
	}
	if got := Committed(t, brokers, "g", "t"); fmt.Sprint(got) != "map[2:1]" {
		t.Errorf("Committed = %v, want map[2:1]", got)
	}

	if g := DescribeGroup(t, brokers, "nobody"); g.State != "Dead" || len(g.Members) != 0 {
		t.Errorf("DescribeGroup of a group that does not exist: state %q, members %v; want Dead, none", g.State, g.Members)
	}
	member := NewClient(t, brokers, kgo.ClientID("member-1"), kgo.ConsumerGroup("described"), kgo.ConsumeTopics("t"))
	member.PollRecords(t.Context(), 1) // joins the group; t has records
	if g := DescribeGroup(t, brokers, "described"); g.State != "Stable" || len(g.Members) != 1 || g.Members[0].ClientID != "member-1" {
		t.Errorf("DescribeGroup of a group of one member: state %q, members %+v; want Stable, one of client id member-1", g.State, g.Members)
	}

	var seen []string // under cons's lock
	cons := StartConsumer(t, brokers, func(r *kgo.Record) { seen = append(seen, string(r.Value)) }, "t")
	cons.Await(t, time.Minute, "the 4 records from the start", func() (bool, string) { return len(seen) == 4, fmt.Sprint(seen) })
	cons.Read(func() {
		slices.Sort(seen)
		if got := strings.Join(seen, ""); got != "abcd" {
			t.Errorf("the consumer read %q, want a, b, c and d", got)
		}
	})
}

// TestReadToEnd reads a compacted topic whose compaction removed the
// first record: reading a count of records up to the end offset would
// wait for it forever. LastValues folds it as compaction would.
func TestReadToEnd(t *testing.T) {
	t.Parallel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	brokers := c.ListenAddrs()
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	if _, err := kadm.NewClient(NewClient(t, brokers)).CreateTopic(t.Context(), 1, 1, compact, "log"); err != nil {
		t.Fatal(err)
	}
	if got := ReadToEnd(t, brokers, "log"); len(got) != 0 {
		t.Errorf("ReadToEnd of a topic without records = %v, want none", got)
	}
	for _, kv := range []string{"k=1", "k=2", "j=1"} { // a batch each
		k, v, _ := strings.Cut(kv, "=")
		Produce(t, brokers, &kgo.Record{Topic: "log", Key: []byte(k), Value: []byte(v)})
	}
	c.Compact()
	var got []string
	for _, r := range ReadToEnd(t, brokers, "log") {
		got = append(got, fmt.Sprintf("%d:%s=%s", r.Offset, r.Key, r.Value))
	}
	if want := "1:k=2 2:j=1"; strings.Join(got, " ") != want {
		t.Errorf("ReadToEnd after compaction = %q, want %q", got, want)
	}

	Produce(t, brokers, &kgo.Record{Topic: "log", Key: []byte("j")}) // a tombstone
	if got := LastValues(t, brokers, "log"); fmt.Sprintf("%q", got) != `map["k":"2"]` {
		t.Errorf("LastValues = %q, want k's last value, and no j after its tombstone", got)
	}
}

func TestProducePaced(t *testing.T) {
	t.Parallel()
	var calls []string // written by the stream's goroutine, read after Wait
	s := ProducePaced(t, 10, 4, time.Millisecond, func(_ context.Context, first, n int) error {
		calls = append(calls, fmt.Sprintf("%d+%d", first, n))
		return nil
	})
	s.Wait(t, time.Minute)
	if got := strings.Join(calls, " "); got != "0+4 4+4 8+2" || s.Produced() != 10 {
		t.Errorf("batches %q, %d produced; want \"0+4 4+4 8+2\", 10", got, s.Produced())
	}

	msg := failure(t, func(tb testing.TB) {
		ProducePaced(tb, 10, 4, time.Millisecond, func(context.Context, int, int) error {
			return fmt.Errorf("broker down")
		}).Wait(tb, time.Minute)
	})
	if want := "paced stream: broker down (after 0 records)"; msg != want {
		t.Errorf("Wait failed with %q, want %q", msg, want)
	}
}

func TestBackground(t *testing.T) {
	t.Parallel()
	cancelled := fmt.Errorf("cancelled")
	r := Background(t, "the loop", func(ctx context.Context) error {
		<-ctx.Done()
		return cancelled
	})
	msg := failure(t, func(tb testing.TB) { r.Wait(tb, 10*time.Millisecond) })
	if want := "the loop did not stop by itself within 10ms"; msg != want {
		t.Errorf("Wait on a function that runs on failed with %q, want %q", msg, want)
	}
	if err := r.Stop(t); err != cancelled {
		t.Errorf("Stop returned %v, want the function's result", err)
	}
	if err := r.Stop(t); err != cancelled {
		t.Errorf("a second Stop returned %v, want the function's result again", err)
	}

	done := fmt.Errorf("done")
	if err := Background(t, "the job", func(context.Context) error { return done }).Wait(t, time.Minute); err != done {
		t.Errorf("Wait returned %v, want the function's result", err)
	}
}

func TestGetJSON(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/text" {
			fmt.Fprintln(w, `{"a":1}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, `{"error":"no such key"}`)
	}))
	t.Cleanup(srv.Close)
	var v map[string]string
	if code, err := GetJSON(srv.URL+"/json", &v); code != http.StatusNotFound || err != nil || v["error"] != "no such key" {
		t.Errorf("GetJSON of a JSON 404 = %d %v, decoded %v; want 404, no error, the error message", code, err, v)
	}
	if code, err := GetJSON(srv.URL+"/text", &v); code != http.StatusOK || err == nil || !strings.Contains(err.Error(), "Content-Type") {
		t.Errorf("GetJSON of JSON served as text = %d %v; want 200 and an error naming the Content-Type", code, err)
	}
	if code, body, err := Get(srv.URL + "/text"); code != http.StatusOK || err != nil || string(body) != `{"a":1}` {
		t.Errorf("Get = %d %q %v; want 200 and the body without its newline", code, body, err)
	}
}
