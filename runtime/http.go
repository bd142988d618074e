package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"time"

	"github.com/eddy-streams/eddy/actors"
)

// httpServer serves the worker's operational routes. Later capabilities
// add routes to the same mux.
type httpServer struct {
	srv  *http.Server
	addr string
	wg   sync.WaitGroup
}

// Status is the JSON document served at /status.
type Status struct {
	App     string   `json:"app"`
	Group   string   `json:"group"`
	Brokers []string `json:"brokers"`
	Ready   bool     `json:"ready"`
	// Reason says why the worker is not ready; empty when it is.
	Reason     string                   `json:"reason,omitempty"`
	Partitions []actors.PartitionStatus `json:"partitions"`
	// Membership is the worker's place in its group: member id,
	// generation, the group's state as last described, and since when
	// the worker has not been in a stable generation (classic protocol).
	Membership actors.GroupStatus `json:"membership"`
	// Rejoins counts the times the worker gave up a membership stuck
	// out of a stable generation and rejoined as a new member.
	Rejoins int64 `json:"rejoins"`
	// Steps is the step plan's progress on this worker; absent without
	// a plan.
	Steps   *actors.StepStatus `json:"steps,omitempty"`
	Records RecordCounts       `json:"records"`
}

// RecordCounts counts what happened to records since the worker started.
type RecordCounts struct {
	Consumed          int64 `json:"consumed"`
	Handled           int64 `json:"handled"`
	Dropped           int64 `json:"dropped"`
	Skipped           int64 `json:"skipped"`
	TombstonesSkipped int64 `json:"tombstones_skipped"`
	DecodeErrors      int64 `json:"decode_errors"`
	HandlerErrors     int64 `json:"handler_errors"`
	Panics            int64 `json:"panics"`
	Produced          int64 `json:"produced"`
	ProduceErrors     int64 `json:"produce_errors"`
}

func (w *worker) status() Status {
	e := w.engine()
	ready, reason := e.Readiness()
	return Status{
		App:        w.app.name,
		Group:      w.cfg.Group,
		Brokers:    w.brokers,
		Ready:      ready,
		Reason:     reason,
		Partitions: e.Status(),
		Membership: e.Group(),
		Rejoins:    w.rejoins.Load(),
		Steps:      e.Steps(),
		Records:    RecordCounts(w.tel.Totals()),
	}
}

// serveHTTP listens on addr and serves until close.
func (w *worker) serveHTTP(addr string) (*httpServer, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		ready, reason := w.engine().Readiness()
		if ready {
			writeJSON(rw, http.StatusOK, map[string]string{"status": "ready"})
			return
		}
		writeJSON(rw, http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": reason})
	})
	mux.HandleFunc("GET /status", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, w.status())
	})
	// {key...}: keys may hold "/" (page names do), escaped as %2F or not.
	mux.HandleFunc("GET /tables/{table}/{key...}", w.serveTable)
	if h := w.tel.Handler(); h != nil {
		mux.Handle("GET /metrics", h)
	} else {
		mux.HandleFunc("GET /metrics", func(rw http.ResponseWriter, _ *http.Request) {
			writeJSON(rw, http.StatusNotFound, map[string]string{"error": "metrics go to the MeterProvider the app was given"})
		})
	}
	routes := "/healthz /readyz /status /metrics /tables/{table}/{key}"
	if w.cfg.HTTPPprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
		routes += " /debug/pprof/"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("runtime: http server on %s: %w (pick another with --http ADDR, or --http off)", addr, err)
	}
	s := &httpServer{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}, addr: ln.Addr().String()}
	s.wg.Go(func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			w.logger.Error("http server stopped", "addr", s.addr, "err", err)
		}
	})
	w.logger.Info("serving http", "addr", "http://"+s.addr, "routes", routes)
	return s, nil
}

func (s *httpServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	s.wg.Wait()
}

func writeJSON(rw http.ResponseWriter, code int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(code)
	enc := json.NewEncoder(rw)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}
