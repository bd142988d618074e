package runtime

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/serde"
)

// Not parallel: it sets OTEL_* variables, which must not leak into other
// tests. Parallel tests resume only after the sequential ones finish, and
// t.Setenv restores the environment when this one does.
func TestTracingFromStandardEnvironment(t *testing.T) {
	got := make(chan string, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if len(body) > 0 {
			select {
			case got <- r.Method + " " + r.URL.Path + " " + r.Header.Get("Content-Type"):
			default:
			}
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL)
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")

	_, brokers := testCluster(t, 1, "in")
	produce(t, brokers, rec("in", 0, "k", "v"))
	j := &journal{}
	app := NewApp("otlp", WithLogger(testLogger(t)))
	Handle(app, HandlerFunc[string, string](func(*Context, *Message[string, string]) error {
		j.add("handled")
		return nil
	}), serde.String(), serde.String(), "in")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, testConfig(t, brokers)) }()
	j.await(t, 1)
	cancel() // shutdown flushes the span exporter
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	select {
	case req := <-got:
		if req != "POST /v1/traces application/x-protobuf" {
			t.Fatalf("OTLP request %q; want POST /v1/traces application/x-protobuf", req)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no spans reached the OTLP endpoint named by OTEL_EXPORTER_OTLP_ENDPOINT")
	}
}
