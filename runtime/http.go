package runtime

import (
	"fmt"
	"net/http"

	"github.com/eddy-streams/eddy/actors"
	"github.com/eddy-streams/eddy/internal/httpserver"
)

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
	e := w.member.Engine()
	ready, reason := e.Readiness()
	return Status{
		App:        w.app.name,
		Group:      w.cfg.Group,
		Brokers:    w.brokers,
		Ready:      ready,
		Reason:     reason,
		Partitions: e.Status(),
		Membership: e.Group(),
		Rejoins:    w.member.Rejoins(),
		Steps:      e.Steps(),
		Records:    RecordCounts(w.tel.Totals()),
	}
}

// serveHTTP listens on addr and serves the worker's routes until Close.
func (w *worker) serveHTTP(addr string) (*httpserver.Server, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		writeJSON(rw, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		ready, reason := w.member.Engine().Readiness()
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
		httpserver.Pprof(mux)
		routes += " /debug/pprof/"
	}
	s, err := httpserver.Start(addr, mux, w.logger)
	if err != nil {
		return nil, fmt.Errorf("runtime: %w", err)
	}
	w.logger.Info("serving http", "addr", "http://"+s.Addr(), "routes", routes)
	return s, nil
}

// writeJSON answers with v as JSON.
func writeJSON(rw http.ResponseWriter, code int, v any) { httpserver.WriteJSON(rw, code, v) }
