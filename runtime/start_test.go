package runtime

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/modes"
	"github.com/eddy-streams/eddy/serde"
)

func TestStartFailsNamingMissingTopics(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "present")
	app := NewApp("missing", WithLogger(testLogger(t)))
	NewOutput(app, serde.String(), serde.String(), "absent-out")
	Handle(app, &countOnly{}, serde.String(), serde.String(), "present", "absent-in")
	err := app.Run(context.Background(), testConfig(t, brokers))
	if err == nil || !strings.Contains(err.Error(), "absent-in, absent-out") || !strings.Contains(err.Error(), "topics create") {
		t.Fatalf("Run = %v; want an error naming absent-in and absent-out and how to create them", err)
	}
}

func TestStartFailsNamingUnreachableBroker(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	app := NewApp("unreachable", WithLogger(testLogger(t)))
	Handle(app, &countOnly{}, serde.String(), serde.String(), "in")
	cfg := testConfig(t, []string{addr})
	cfg.ConnectTimeout = 500 * time.Millisecond
	err = app.Run(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the brokers "+addr+" within 500ms") {
		t.Fatalf("Run = %v; want an error naming %s and the connect timeout", err, addr)
	}
}

func TestRegistrationErrorsAreReportedTogether(t *testing.T) {
	t.Parallel()
	app := NewApp("bad", WithLogger(testLogger(t)))
	Handle(app, &countOnly{}, serde.String(), serde.String(), "a")
	Handle(app, &countOnly{}, serde.String(), serde.String(), "a")
	Handle[string, string](app, &countOnly{}, nil, serde.String(), "b")
	var nilHandler *countOnly
	Handle[string, string](app, nilHandler, serde.String(), serde.String(), "c")
	NewOutput[string, string](app, serde.String(), serde.String())
	err := app.Run(context.Background(), Config{Brokers: []string{"127.0.0.1:1"}})
	for _, want := range []string{`topic "a" has two handlers`, "codecs are required", "handler is nil", "NewOutput needs at least one topic"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Run = %v; want it to contain %q", err, want)
		}
	}
}

func TestKIP848GroupProtocol(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "in")
	h := &countOnly{}
	app := NewApp("kip848", WithLogger(testLogger(t)))
	Handle(app, h, serde.String(), serde.String(), "in")
	produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 1, "b", "2"), rec("in", 1, "c", "3"))
	cfg := testConfig(t, brokers)
	cfg.GroupProtocol = "consumer"
	startApp(t, app, cfg)
	eventually(t, 30*time.Second, "all records committed under KIP-848", func() bool {
		c := committed(t, brokers, cfg.Group, "in")
		return c[0] == 1 && c[1] == 2
	})
	if h.n.Load() != 3 {
		t.Fatalf("handled %d records, want 3", h.n.Load())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// getJSON fetches url and decodes its JSON answer into v, failing the
// test if it cannot, and returns the status.
func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	code, err := testkit.GetJSON(url, v)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

func TestHTTPHealthReadinessAndStatus(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 2, "in")
	produce(t, brokers, rec("in", 0, "a", "1"), rec("in", 1, "b", "2"), rec("in", 1, "c", "not-counted"))
	app := NewApp("http", WithLogger(testLogger(t)))
	Handle(app, &countOnly{}, serde.String(), serde.String(), "in")
	cfg := testConfig(t, brokers)
	cfg.HTTP = freeAddr(t)
	base := "http://" + cfg.HTTP
	startApp(t, app, cfg)

	var st Status
	eventually(t, 30*time.Second, "/status to show every record committed", func() bool {
		if _, _, err := testkit.Get(base + "/healthz"); err != nil {
			return false // not listening yet
		}
		getJSON(t, base+"/status", &st)
		return len(st.Partitions) == 2 && st.Partitions[0].Committed == 1 && st.Partitions[1].Committed == 2
	})
	var health map[string]string
	if code := getJSON(t, base+"/healthz", &health); code != 200 || health["status"] != "ok" {
		t.Fatalf("/healthz = %d %v", code, health)
	}
	var ready map[string]string
	if code := getJSON(t, base+"/readyz", &ready); code != 200 {
		t.Fatalf("/readyz = %d %v after joining", code, ready)
	}
	p := st.Partitions[1]
	if st.App != "http" || st.Group != cfg.Group || p.Topic != "in" || p.Partition != 1 || p.Next != 2 || p.Lag != 0 || p.Mode != modes.Single {
		t.Fatalf("/status = %+v", st)
	}
	if st.Records.Handled != 3 {
		t.Fatalf("/status records = %+v, want 3 handled", st.Records)
	}
}

func TestHTTPPprofIsOptIn(t *testing.T) {
	t.Parallel()
	_, brokers := testCluster(t, 1, "in")
	for _, on := range []bool{false, true} {
		app := NewApp("pprof", WithLogger(testLogger(t)))
		Handle(app, &countOnly{}, serde.String(), serde.String(), "in")
		cfg := testConfig(t, brokers)
		cfg.HTTP, cfg.HTTPPprof = freeAddr(t), on
		r := startApp(t, app, cfg)
		var resp *http.Response
		eventually(t, 30*time.Second, "the HTTP server to answer", func() bool {
			var err error
			resp, err = http.Get("http://" + cfg.HTTP + "/debug/pprof/cmdline")
			return err == nil
		})
		resp.Body.Close()
		if want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]; resp.StatusCode != want {
			t.Errorf("http.pprof %v: GET /debug/pprof/cmdline = %d, want %d", on, resp.StatusCode, want)
		}
		if err := r.stop(t); err != nil {
			t.Fatal(err)
		}
	}
}
