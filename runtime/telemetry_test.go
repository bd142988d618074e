package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/eddy-streams/eddy/internal/cli"
	"github.com/eddy-streams/eddy/internal/faults"
	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/serde"
)

// payload is the JSON value of the telemetry tests' records.
type payload struct {
	N int `json:"n"`
}

func TestMetricsCountRecordsErrorsAndOutputs(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "in", "out")
	// Partition 0: two good records and one whose handler returns an error.
	// Partition 1: four good records, one of which panics on its first
	// attempt, and one value that is not JSON.
	produce(t, brokers,
		rec("in", 0, "a", `{"n":1}`), rec("in", 0, "bad", `{"n":2}`), rec("in", 0, "b", `{"n":3}`),
		rec("in", 1, "c", `{"n":4}`), rec("in", 1, "garbage", `not json`), rec("in", 1, "boom", `{"n":5}`),
		rec("in", 1, "d", `{"n":6}`), rec("in", 1, "e", `{"n":7}`))

	var panicked atomic.Bool
	app := NewApp("metrics", WithLogger(testLogger(t)))
	out := NewOutput(app, serde.String(), serde.JSON[payload](), "out")
	Handle(app, HandlerFunc[string, payload](func(ctx *Context, m *Message[string, payload]) error {
		switch {
		case m.Key == "bad":
			return errors.New("bad record")
		case m.Key == "boom" && panicked.CompareAndSwap(false, true):
			panic("boom, once")
		}
		return out.Produce(ctx, "out", m.Key, m.Value)
	}), serde.String(), serde.JSON[payload](), "in")
	cfg := testConfig(t, brokers)
	cfg.HTTP = freeAddr(t)
	base := "http://" + cfg.HTTP
	startApp(t, app, cfg)

	eventually(t, 30*time.Second, "every record committed", func() bool {
		c := committed(t, brokers, cfg.Group, "in")
		return c[0] == 3 && c[1] == 5
	})
	// A record's counters, latency and outputs are all recorded before its
	// offset is committed, but the commit counter is added only once the
	// commit's response is back, which may be after we saw the offsets.
	var m promMetrics
	eventually(t, 30*time.Second, "eddy_commits_total in /metrics", func() bool {
		m = scrape(t, base+"/metrics")
		v, ok := m.get("eddy_commits_total")
		return ok && v > 0
	})

	part := func(p string, extra ...string) string {
		return labelKey(append([]string{
			"messaging_consumer_group_name", cfg.Group,
			"messaging_destination_name", "in",
			"messaging_destination_partition_id", p,
			"messaging_system", "kafka",
		}, extra...)...)
	}
	// "boom" panicked once and was delivered again to a restarted handler:
	// consumed counts handler calls, so partition 1 shows 5 records + 1
	// retry.
	m.expectSeries(t, "messaging_client_consumed_messages_total", map[string]float64{
		part("0"): 3,
		part("1"): 6,
	})
	m.expectSeries(t, "eddy_messages_outcomes_total", map[string]float64{
		part("0", "eddy_outcome", "handled"):           2,
		part("0", "eddy_outcome", "skipped"):           1,
		part("0", "eddy_outcome", "dropped"):           0,
		part("0", "eddy_outcome", "skipped_tombstone"): 0,
		part("1", "eddy_outcome", "handled"):           4,
		part("1", "eddy_outcome", "skipped"):           1,
		part("1", "eddy_outcome", "dropped"):           0,
		part("1", "eddy_outcome", "skipped_tombstone"): 0,
	})
	// The panic recovered on its second attempt, so it never reached the
	// error path: panic stays 0.
	m.expectSeries(t, "eddy_messages_errors_total", map[string]float64{
		part("0", "error_type", "decode"):  0,
		part("0", "error_type", "handler"): 1,
		part("0", "error_type", "panic"):   0,
		part("1", "error_type", "decode"):  1,
		part("1", "error_type", "handler"): 0,
		part("1", "error_type", "panic"):   0,
		labelKey("error_type", "produce", "messaging_destination_name", "out", "messaging_system", "kafka"): 0,
	})
	m.expectSeries(t, "messaging_client_sent_messages_total", map[string]float64{
		labelKey("messaging_destination_name", "out", "messaging_system", "kafka"): 6,
	})
	// Only partition 1's handler restarted; partition 0 has no series.
	// Every assigned partition has a series from the start, at 0 until a
	// restart.
	m.expectSeries(t, "eddy_handler_restarts_total", map[string]float64{part("0"): 0, part("1"): 1})
	m.expectSeries(t, "eddy_consumer_lag", map[string]float64{part("0"): 0, part("1"): 0})
	m.expectSeries(t, "eddy_partition_mode", map[string]float64{
		part("0", "eddy_mode", "single"): 1,
		part("1", "eddy_mode", "single"): 1,
	})
	if v, ok := m.get("eddy_rebalances_total", "eddy_rebalance_kind", "assigned"); !ok || v != 2 {
		t.Errorf(`eddy_rebalances_total{eddy_rebalance_kind="assigned"} = %v (present %v); want 2, one per partition`, v, ok)
	}

	// The histogram is per topic. Its count is the handler calls that
	// returned: 9 calls less the one that panicked; the decode and handler
	// errors count, as their calls completed.
	topic := labelKey("messaging_consumer_group_name", cfg.Group, "messaging_destination_name", "in", "messaging_system", "kafka")
	m.expectSeries(t, "messaging_process_duration_seconds_count", map[string]float64{topic: 8})
	if v, ok := m.get("messaging_process_duration_seconds_bucket", "messaging_consumer_group_name", cfg.Group,
		"messaging_destination_name", "in", "messaging_system", "kafka", "le", "+Inf"); !ok || v != 8 {
		t.Errorf(`messaging_process_duration_seconds_bucket{le="+Inf"} = %v (present %v); want 8`, v, ok)
	}
	if v, ok := m.get("messaging_process_duration_seconds_sum", "messaging_consumer_group_name", cfg.Group,
		"messaging_destination_name", "in", "messaging_system", "kafka"); !ok || v <= 0 {
		t.Errorf("messaging_process_duration_seconds_sum = %v (present %v); want > 0", v, ok)
	}
	for name, want := range map[string]string{
		"messaging_client_consumed_messages_total": "counter",
		"eddy_messages_errors_total":               "counter",
		"eddy_consumer_lag":                        "gauge",
		"messaging_process_duration_seconds":       "histogram",
	} {
		if got := m.types[name]; got != want {
			t.Errorf("# TYPE %s = %q; want %q", name, got, want)
		}
	}
	kotelSeries := 0
	for k := range m.values {
		if strings.HasPrefix(k, "messaging_kafka_") {
			kotelSeries++
		}
	}
	if kotelSeries == 0 {
		t.Errorf("no messaging_kafka_* series from kotel in /metrics")
	}

	// /status reads the same counters as /metrics.
	var st Status
	if code := getJSON(t, base+"/status", &st); code != http.StatusOK {
		t.Fatalf("/status = %d", code)
	}
	want := RecordCounts{Consumed: 9, Handled: 6, Skipped: 2, DecodeErrors: 1, HandlerErrors: 1, Produced: 6}
	if st.Records != want {
		t.Errorf("/status records = %+v; want %+v", st.Records, want)
	}
	fromMetrics := RecordCounts{
		Consumed:          int64(m.sum("messaging_client_consumed_messages_total")),
		Handled:           int64(m.sum("eddy_messages_outcomes_total", "eddy_outcome", "handled")),
		Dropped:           int64(m.sum("eddy_messages_outcomes_total", "eddy_outcome", "dropped")),
		Skipped:           int64(m.sum("eddy_messages_outcomes_total", "eddy_outcome", "skipped")),
		TombstonesSkipped: int64(m.sum("eddy_messages_outcomes_total", "eddy_outcome", "skipped_tombstone")),
		DecodeErrors:      int64(m.sum("eddy_messages_errors_total", "error_type", "decode")),
		HandlerErrors:     int64(m.sum("eddy_messages_errors_total", "error_type", "handler")),
		Panics:            int64(m.sum("eddy_messages_errors_total", "error_type", "panic")),
		Produced:          int64(m.sum("messaging_client_sent_messages_total")),
		ProduceErrors:     int64(m.sum("eddy_messages_errors_total", "error_type", "produce")),
	}
	if st.Records != fromMetrics {
		t.Errorf("/status records = %+v; /metrics sums to %+v", st.Records, fromMetrics)
	}
}

func TestProduceFailuresCountedAsProduceErrors(t *testing.T) {
	t.Parallel()
	c, brokers := testCluster(t, 2, "in", "out")
	produce(t, brokers, rec("in", 0, "fail", "1"), rec("in", 1, "block", "2"))
	faults.FailProduces(c, nil) // after our own produce: it rejects every client's

	// A failed produce stops the app, and its HTTP server and Status with
	// it. To read the counters before that, partition 1's handler holds
	// the shutdown's drain until the test has looked; partition 0's
	// produces only once partition 1's handler is holding.
	holding, release := make(chan struct{}), make(chan struct{})
	var holdOnce, releaseOnce sync.Once
	app := NewApp("produce-errors", WithLogger(testLogger(t)))
	out := NewOutput(app, serde.String(), serde.String(), "out")
	Handle(app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		if m.Key == "block" {
			holdOnce.Do(func() { close(holding) })
			<-release
			return nil
		}
		select {
		case <-holding:
		case <-time.After(30 * time.Second):
			return errors.New("partition 1's handler never started")
		}
		return out.Produce(ctx, "out", m.Key, m.Value)
	}), serde.String(), serde.String(), "in")
	cfg := testConfig(t, brokers)
	cfg.HTTP = freeAddr(t)
	cfg.ShutdownTimeout = time.Minute // longer than the test holds the drain
	base := "http://" + cfg.HTTP
	r := startApp(t, app, cfg)
	t.Cleanup(func() { releaseOnce.Do(func() { close(release) }) }) // runs before startApp's

	produceErrs := labelKey("error_type", "produce", "messaging_destination_name", "out", "messaging_system", "kafka")
	var m promMetrics
	eventually(t, 30*time.Second, "a produce error in /metrics", func() bool {
		if _, _, err := testkit.Get(base + "/healthz"); err != nil {
			return false // not listening yet
		}
		m = scrape(t, base+"/metrics")
		return m.values["eddy_messages_errors_total"+produceErrs] >= 1
	})
	m.expectSeries(t, "messaging_client_sent_messages_total", map[string]float64{
		labelKey("messaging_destination_name", "out", "messaging_system", "kafka"): 0,
	})
	if v := m.values["eddy_messages_errors_total"+produceErrs]; v != 1 {
		t.Errorf("eddy_messages_errors_total%s = %v; want 1 (one record produced, rejected once)", produceErrs, v)
	}
	st, ok := app.Status()
	if !ok {
		t.Fatal("App.Status not available while the drain is held")
	}
	if st.Records.ProduceErrors != 1 || st.Records.Produced != 0 {
		t.Errorf("Status records = %+v; want 1 produce error and nothing produced", st.Records)
	}

	releaseOnce.Do(func() { close(release) })
	if err := r.wait(t, 30*time.Second); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("Run = %v; want the produce error", err)
	}
	if _, ok := app.Status(); ok {
		t.Errorf("App.Status available after Run returned")
	}
}

func TestTraceContinuesFromHeadersAndIntoOutputs(t *testing.T) {
	t.Parallel()
	const (
		traceID  = "4bf92f3577b34da6a3ce929d0e0e4736"
		parentID = "00f067aa0ba902b7"
	)
	_, brokers := testCluster(t, 1, "in", "out")
	traced := rec("in", 0, "traced", "1")
	traced.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + traceID + "-" + parentID + "-01")}}
	produce(t, brokers, traced, rec("in", 0, "root", "2"), rec("in", 0, "bad", "3"))

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	app := NewApp("trace", WithLogger(testLogger(t)), WithTracerProvider(tp))
	out := NewOutput(app, serde.String(), serde.String(), "out")
	Handle(app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		if m.Key == "bad" {
			return errors.New("bad record")
		}
		return out.Produce(ctx, "out", m.Key, m.Value)
	}), serde.String(), serde.String(), "in")
	cfg := testConfig(t, brokers)
	startApp(t, app, cfg)
	eventually(t, 30*time.Second, "every record committed", func() bool {
		return committed(t, brokers, cfg.Group, "in")[0] == 3
	})

	// A span ends before its record counts as handled, and the syncer
	// exports on End, so every span is in the exporter by now.
	spans := exp.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("exported %d spans; want 3, one per record: %v", len(spans), spanNames(spans))
	}
	byOffset := map[int64]tracetest.SpanStub{}
	for _, s := range spans {
		if s.Name != "process in" || s.SpanKind != trace.SpanKindConsumer {
			t.Errorf("span %q kind %v; want \"process in\" kind consumer", s.Name, s.SpanKind)
		}
		attrs := attribute.NewSet(s.Attributes...)
		for k, want := range map[attribute.Key]string{
			"messaging.system":                   "kafka",
			"messaging.destination.name":         "in",
			"messaging.destination.partition.id": "0",
			"messaging.consumer.group.name":      cfg.Group,
			"messaging.operation.name":           "process",
		} {
			if v, ok := attrs.Value(k); !ok || v.AsString() != want {
				t.Errorf("span %q attribute %s = %v; want %q", s.Name, k, v.String(), want)
			}
		}
		off, ok := attrs.Value("messaging.kafka.offset")
		if !ok || off.Type() != attribute.INT64 {
			t.Fatalf("span %q has no int64 messaging.kafka.offset: %v", s.Name, s.Attributes)
		}
		byOffset[off.AsInt64()] = s
	}

	cont, root := byOffset[0], byOffset[1]
	if failed, ok := byOffset[2]; !ok {
		t.Errorf("no span for the record whose handler failed")
	} else if failed.Status.Code != codes.Error || len(failed.Events) == 0 || failed.Events[0].Name != "exception" {
		// The record was skipped (the default policy), but it failed:
		// its span must say so.
		t.Errorf("span of the failed record: status %v, events %v; want an error status and the error recorded", failed.Status, failed.Events)
	}
	if got := cont.SpanContext.TraceID().String(); got != traceID {
		t.Errorf("span of the traced record has trace id %s; want %s from its traceparent", got, traceID)
	}
	if got := cont.Parent.SpanID().String(); got != parentID || !cont.Parent.IsRemote() {
		t.Errorf("span of the traced record has parent %s (remote %v); want remote %s", got, cont.Parent.IsRemote(), parentID)
	}
	if cont.Status.Code != codes.Unset {
		t.Errorf("span of a handled record has status %v", cont.Status)
	}
	if root.Parent.IsValid() || !root.SpanContext.IsValid() || root.SpanContext.TraceID().String() == traceID {
		t.Errorf("span of the record without traceparent: parent %v, trace %s; want a new root trace",
			root.Parent, root.SpanContext.TraceID())
	}

	// Each output carries its source's process span as parent.
	for _, o := range consumeAll(t, brokers, "out", 2) {
		src := map[string]tracetest.SpanStub{"traced": cont, "root": root}[string(o.Key)]
		var tps []string
		for _, h := range o.Headers {
			if h.Key == "traceparent" {
				tps = append(tps, string(h.Value))
			}
		}
		want := fmt.Sprintf("00-%s-%s-01", src.SpanContext.TraceID(), src.SpanContext.SpanID())
		if len(tps) != 1 || tps[0] != want {
			t.Errorf("output %q has traceparent headers %q; want exactly %q", o.Key, tps, want)
		}
	}
}

func TestNoTraceHeadersWhenTracingOff(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"} {
		if s, ok := os.LookupEnv(v); ok {
			t.Skipf("%s=%q is set in the test environment: it may turn tracing on", v, s)
		}
	}
	_, brokers := testCluster(t, 1, "in", "out")
	// Even an input that carries a trace context: with tracing off nothing
	// is extracted, so nothing is injected.
	traced := rec("in", 0, "traced", "1")
	traced.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")}}
	produce(t, brokers, traced, rec("in", 0, "plain", "2"))
	app := NewApp("notrace", WithLogger(testLogger(t)))
	out := NewOutput(app, serde.String(), serde.String(), "out")
	Handle(app, HandlerFunc[string, string](func(ctx *Context, m *Message[string, string]) error {
		return out.Produce(ctx, "out", m.Key, m.Value)
	}), serde.String(), serde.String(), "in")
	startApp(t, app, testConfig(t, brokers))
	for _, o := range consumeAll(t, brokers, "out", 2) {
		if len(o.Headers) != 0 {
			t.Errorf("output %q has headers %v with tracing off; want none", o.Key, o.Headers)
		}
	}
}

func TestJSONLogsNamePartition(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "in")
	produce(t, brokers, rec("in", 1, "k", "not json"), rec("in", 0, "boom", `{"n":1}`))
	app := NewApp("jsonlogs")
	var panicked atomic.Bool
	Handle(app, HandlerFunc[string, payload](func(_ *Context, m *Message[string, payload]) error {
		if m.Key == "boom" && !panicked.Swap(true) {
			panic("once")
		}
		return nil
	}), serde.String(), serde.JSON[payload](), "in")
	stderr := &lineWriter{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() {
		done <- runCLI(ctx, app, []string{"worker", "--brokers", strings.Join(brokers, ","), "--http", "off",
			"--log-format", "json", "--group", "g-" + t.Name()},
			cli.IO{In: strings.NewReader(""), Out: io.Discard, Err: stderr})
	}()

	var assigned, skipped, restarted []map[string]any
	stderr.await(t, "two partition assigned lines, the skipped record's warning and the restart", func(lines []string) bool {
		assigned, skipped, restarted = nil, nil, nil
		for _, l := range lines {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				continue // reported below, with every line
			}
			switch m["msg"] {
			case "partition assigned":
				assigned = append(assigned, m)
			case "skipping record after error":
				skipped = append(skipped, m)
			case "handler panicked; restarting it":
				restarted = append(restarted, m)
			}
		}
		return len(assigned) == 2 && len(skipped) == 1 && len(restarted) == 1
	})
	if m := restarted[0]; m["topic"] != "in" || m["partition"] != float64(0) || m["offset"] != float64(0) {
		t.Errorf("restart line = %v; want topic in, partition 0, offset 0", m)
	}
	sort.Slice(assigned, func(i, j int) bool {
		return fmt.Sprint(assigned[i]["partition"]) < fmt.Sprint(assigned[j]["partition"])
	})
	for i, m := range assigned {
		// JSON numbers decode as float64.
		if m["level"] != "INFO" || m["topic"] != "in" || m["partition"] != float64(i) || m["app"] != "jsonlogs" {
			t.Errorf("partition line %d = %v; want level INFO, app jsonlogs, topic in, partition %d", i, m, i)
		}
	}
	if m := skipped[0]; m["level"] != "WARN" || m["topic"] != "in" || m["partition"] != float64(1) ||
		m["offset"] != float64(0) || m["error_type"] != "decode" {
		t.Errorf("skipped record line = %v; want level WARN, topic in, partition 1, offset 0, error_type decode", m)
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("runCLI = %d after cancel; want 0. stderr:\n%s", code, strings.Join(stderr.all(), "\n"))
		}
	case <-time.After(30 * time.Second):
		t.Fatal("runCLI did not return within 30s of cancel")
	}
	for _, l := range stderr.all() {
		keys, err := jsonKeys(l)
		if err != nil {
			t.Errorf("stderr line is not a JSON object: %v: %q", err, l)
			continue
		}
		seen := map[string]bool{}
		for _, k := range keys {
			if seen[k] {
				// Log pipelines disagree on which of two values they keep.
				t.Errorf("stderr line has key %q twice: %q", k, l)
			}
			seen[k] = true
		}
		if !seen["time"] || !seen["level"] || !seen["msg"] {
			t.Errorf("stderr line lacks time, level or msg: %q", l)
		}
	}
}

// jsonKeys returns the top-level keys of the JSON object line, in order and
// with repeats.
func jsonKeys(line string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("want an object, got %v (%v)", tok, err)
	}
	var keys []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, tok.(string))
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the object")
	}
	return keys, nil
}

// lineWriter is a goroutine-safe io.Writer that keeps complete lines and
// lets a test await them.
type lineWriter struct {
	mu      sync.Mutex // guards the fields below
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced when a line is added
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	added := false
	for {
		i := strings.IndexByte(string(w.partial), '\n')
		if i < 0 {
			break
		}
		w.lines = append(w.lines, string(w.partial[:i]))
		w.partial = w.partial[i+1:]
		added = true
	}
	if added && w.changed != nil {
		close(w.changed)
		w.changed = nil
	}
	return len(p), nil
}

func (w *lineWriter) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.lines...)
}

// await blocks until cond holds for the lines written so far, failing
// after 30s.
func (w *lineWriter) await(t *testing.T, what string, cond func([]string) bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		w.mu.Lock()
		lines := append([]string(nil), w.lines...)
		if w.changed == nil {
			w.changed = make(chan struct{})
		}
		ch := w.changed
		w.mu.Unlock()
		if cond(lines) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("timed out after 30s waiting for %s; lines:\n%s", what, strings.Join(lines, "\n"))
		}
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var names []string
	for _, s := range spans {
		names = append(names, s.Name)
	}
	return names
}

// promMetrics is a parsed Prometheus text exposition: sample values by
// series (name then labelKey), and metric types by family name.
type promMetrics struct {
	values map[string]float64
	types  map[string]string
}

// scrape GETs url and parses the Prometheus text format it serves.
func scrape(t *testing.T, url string) promMetrics {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	m, err := parseProm(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return m
}

// parseProm parses the text format's sample lines, name{l="v",...} value
// [timestamp], and its # TYPE lines; other comments are ignored.
func parseProm(r io.Reader) (promMetrics, error) {
	m := promMetrics{values: map[string]float64{}, types: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "TYPE" {
			m.types[f[2]] = f[3]
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		var pairs []string
		if i := strings.IndexByte(line, '{'); i >= 0 && i < len(name) {
			name = line[:i]
			var err error
			pairs, rest, err = parseLabels(line[i+1:])
			if err != nil {
				return m, fmt.Errorf("line %q: %w", line, err)
			}
		}
		val, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			return m, fmt.Errorf("line %q: value: %w", line, err)
		}
		key := name + labelKey(pairs...)
		if _, dup := m.values[key]; dup {
			return m, fmt.Errorf("series %s appears twice", key)
		}
		m.values[key] = v
	}
	return m, sc.Err()
}

// parseLabels parses `l="v",...}` and returns the name, value pairs and
// what follows the closing brace.
func parseLabels(s string) (pairs []string, rest string, err error) {
	for {
		s = strings.TrimLeft(s, ", ")
		if strings.HasPrefix(s, "}") {
			return pairs, s[1:], nil
		}
		name, after, ok := strings.Cut(s, `="`)
		if !ok {
			return nil, "", errors.New(`label without ="`)
		}
		var v strings.Builder
		i := 0
		for ; i < len(after) && after[i] != '"'; i++ {
			if after[i] == '\\' && i+1 < len(after) {
				i++
				if after[i] == 'n' {
					v.WriteByte('\n')
					continue
				}
			}
			v.WriteByte(after[i])
		}
		if i == len(after) {
			return nil, "", errors.New("unterminated label value")
		}
		pairs = append(pairs, name, v.String())
		s = after[i+1:]
	}
}

// labelKey renders name, value pairs as a canonical {a="1",b="2"}, sorted
// by name; no pairs render as "".
func labelKey(pairs ...string) string {
	if len(pairs) == 0 {
		return ""
	}
	type kv struct{ k, v string }
	var kvs []kv
	for i := 0; i+1 < len(pairs); i += 2 {
		kvs = append(kvs, kv{pairs[i], pairs[i+1]})
	}
	sort.Slice(kvs, func(i, j int) bool { return kvs[i].k < kvs[j].k })
	var b strings.Builder
	b.WriteByte('{')
	for i, p := range kvs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s=%q", p.k, p.v)
	}
	b.WriteByte('}')
	return b.String()
}

// get returns the value of the series name with exactly the given labels.
func (m promMetrics) get(name string, pairs ...string) (float64, bool) {
	v, ok := m.values[name+labelKey(pairs...)]
	return v, ok
}

// series returns the series of name, by labelKey.
func (m promMetrics) series(name string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range m.values {
		if rest, ok := strings.CutPrefix(k, name); ok && (rest == "" || rest[0] == '{') {
			out[rest] = v
		}
	}
	return out
}

// sum adds the series of name that carry the given labels, among others.
func (m promMetrics) sum(name string, pairs ...string) float64 {
	var total float64
	for k, v := range m.series(name) {
		match := true
		for i := 0; i+1 < len(pairs); i += 2 {
			p := fmt.Sprintf("%s=%q", pairs[i], pairs[i+1])
			if !strings.Contains(k, "{"+p) && !strings.Contains(k, ","+p) {
				match = false
			}
		}
		if match {
			total += v
		}
	}
	return total
}

// expectSeries fails t unless name's series are exactly want: the same
// label sets with the same values.
func (m promMetrics) expectSeries(t *testing.T, name string, want map[string]float64) {
	t.Helper()
	got := m.series(name)
	for k, w := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s%s missing; want %v", name, k, w)
		} else if g != w {
			t.Errorf("%s%s = %v; want %v", name, k, g, w)
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s%s = %v", name, k, g)
		}
	}
}

// A bulk batch is one consumer span: a child of its first record's trace,
// linked to the other records' traces, with the batch's size and offsets.
func TestBulkBatchSpan(t *testing.T) {
	t.Parallel()
	const traceA, traceB = "4bf92f3577b34da6a3ce929d0e0e4736", "5bf92f3577b34da6a3ce929d0e0e4737"
	_, brokers := testCluster(t, 1, "in")
	first, second := rec("in", 0, "a", "1"), rec("in", 0, "b", "2")
	first.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + traceA + "-00f067aa0ba902b7-01")}}
	second.Headers = []kgo.RecordHeader{{Key: "traceparent", Value: []byte("00-" + traceB + "-00f067aa0ba902b8-01")}}
	produce(t, brokers, first, second, rec("in", 0, "c", "3"))

	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	app := NewApp("bulktrace", WithLogger(testLogger(t)), WithTracerProvider(tp))
	j := &journal{}
	Handle[string, string](app, &batcher{j: j}, serde.String(), serde.String(), "in")
	startApp(t, app, bulkConfig(t, brokers, 3, time.Hour))
	j.await(t, 1)
	eventually(t, 10*time.Second, "the batch's span to end", func() bool { return len(exp.GetSpans()) == 1 })
	s := exp.GetSpans()[0]
	attrs := attribute.NewSet(s.Attributes...)
	if v, _ := attrs.Value("messaging.batch.message_count"); v.AsInt64() != 3 {
		t.Fatalf("batch size attribute %v; want 3", v)
	}
	if v, _ := attrs.Value("eddy.batch.last_offset"); v.AsInt64() != 2 {
		t.Fatalf("last offset attribute %v; want 2", v)
	}
	if got := s.Parent.TraceID().String(); got != traceA {
		t.Fatalf("batch span's parent trace %s; want the first record's %s", got, traceA)
	}
	if len(s.Links) != 1 || s.Links[0].SpanContext.TraceID().String() != traceB {
		t.Fatalf("links %+v; want one, to the second record's trace", s.Links)
	}
}
