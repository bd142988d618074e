// Command pipeline is Eddy's source-processor-sink example. It reads JSON
// events from the topic "events", drops those whose key is not in the
// configured set, enriches the rest, and writes each to "heavy" or "light"
// depending on its weight, keyed by the input key.
//
// Settings (config file "settings:", EDDY_SETTING_<NAME>, or --set name=value):
//
//	allowed_keys     comma-separated keys to keep; empty keeps every key
//	heavy_threshold  weight from which an event is heavy; default 10
//
// Run it with nothing installed:
//
//	go run ./examples/pipeline demo      # embedded broker and generated events
//	go run ./examples/pipeline worker    # embedded broker, send your own events
package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
)

// Event is what arrives on "events".
type Event struct {
	Kind   string  `json:"kind"`
	Weight float64 `json:"weight"`
}

// Enriched is what the pipeline writes to "heavy" and "light".
type Enriched struct {
	Kind      string    `json:"kind"`
	Weight    float64   `json:"weight"`
	Class     string    `json:"class"`
	Source    string    `json:"source"`
	Processed time.Time `json:"processed"`
}

// router is the handler: a key filter (DidReceive), enrichment and a
// dynamic output topic (OnMessage).
type router struct {
	out       *runtime.Output[string, Enriched]
	allowed   map[string]bool // nil: every key
	threshold float64
}

// OnStart reads the settings once, before any record.
func (r *router) OnStart(_ context.Context, cfg runtime.Config) error {
	r.threshold = 10
	if v, ok := cfg.Settings["heavy_threshold"]; ok {
		t, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return fmt.Errorf("setting heavy_threshold: %q is not a number", v)
		}
		r.threshold = t
	}
	if v := cfg.Settings["allowed_keys"]; v != "" {
		r.allowed = map[string]bool{}
		for _, k := range strings.Split(v, ",") {
			r.allowed[strings.TrimSpace(k)] = true
		}
	}
	return nil
}

// DidReceive drops records whose key is not allowed.
func (r *router) DidReceive(_ *runtime.Context, msg *runtime.Message[string, Event]) (*runtime.Message[string, Event], error) {
	if r.allowed != nil && !r.allowed[msg.Key] {
		return nil, nil
	}
	return msg, nil
}

// OnMessage enriches the event and routes it by weight.
func (r *router) OnMessage(ctx *runtime.Context, msg *runtime.Message[string, Event]) error {
	e := Enriched{
		Kind:      msg.Value.Kind,
		Weight:    msg.Value.Weight,
		Class:     "light",
		Source:    fmt.Sprintf("%s/%d@%d", msg.Record.Topic, msg.Record.Partition, msg.Record.Offset),
		Processed: time.Now().UTC(),
	}
	if e.Weight >= r.threshold {
		e.Class = "heavy"
	}
	return r.out.Produce(ctx, e.Class, msg.Key, e)
}

// newApp builds the pipeline app.
func newApp() *runtime.App {
	app := runtime.NewApp("pipeline")
	out := runtime.NewOutput(app, serde.String(), serde.JSON[Enriched](), "heavy", "light")
	runtime.Handle(app, &router{out: out}, serde.String(), serde.JSON[Event](), "events")
	return app
}

func main() {
	app := newApp()
	app.Command("demo", "run the pipeline on an embedded broker with generated events", func(ctx context.Context, args []string) error {
		return demo(ctx, app, args)
	})
	runtime.Main(app)
}
