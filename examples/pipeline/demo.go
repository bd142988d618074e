package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/runtime"
)

// demo runs the pipeline against an embedded broker, feeds it generated
// events and prints what it writes, until interrupted.
func demo(ctx context.Context, app *runtime.App, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	rate := fs.Int("rate", 5, "events per second to generate")
	httpAddr := fs.String("http", "127.0.0.1:6066", "address of the status server, or off")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := broker.Start(broker.Options{Topics: app.Topics(), Partitions: 4})
	if err != nil {
		return err
	}
	defer b.Close()

	cfg := runtime.DefaultConfig(app.Name())
	cfg.Brokers = b.Addrs()
	cfg.HTTP = *httpAddr
	cfg.LogLevel = slog.LevelWarn
	cfg.Settings = map[string]string{"allowed_keys": "user-1,user-2,user-3,user-4,user-5,user-6"}
	fmt.Printf("demo: embedded broker at %s; generating %d events/s with keys user-1..user-8 (user-7 and user-8 are filtered out)\n",
		b.Addrs()[0], *rate)
	if cfg.HTTP != "off" {
		fmt.Printf("demo: status at http://%s/status; Ctrl-C to stop\n", cfg.HTTP)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...), kgo.ConsumeTopics("heavy", "light"))
	if err != nil {
		return err
	}
	defer cl.Close()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { generate(ctx, cl, *rate) })
	wg.Go(func() { tail(ctx, cl) })
	err = app.Run(ctx, cfg)
	cancel()
	wg.Wait()
	return err
}

// generate produces random events at rate per second until ctx ends.
func generate(ctx context.Context, cl *kgo.Client, rate int) {
	tick := time.NewTicker(time.Second / time.Duration(max(rate, 1)))
	defer tick.Stop()
	kinds := []string{"click", "view", "purchase"}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ev := Event{Kind: kinds[rand.IntN(len(kinds))], Weight: float64(rand.IntN(2000)) / 100}
		v, _ := json.Marshal(ev)
		key := fmt.Sprintf("user-%d", 1+rand.IntN(8))
		cl.Produce(ctx, &kgo.Record{Topic: "events", Key: []byte(key), Value: v}, func(_ *kgo.Record, err error) {
			if err != nil && ctx.Err() == nil {
				fmt.Fprintln(os.Stderr, "demo: produce:", err)
			}
		})
	}
}

// tail prints what the pipeline writes until ctx ends.
func tail(ctx context.Context, cl *kgo.Client) {
	for {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachRecord(func(r *kgo.Record) {
			var e Enriched
			if json.Unmarshal(r.Value, &e) == nil {
				fmt.Printf("%-5s %-7s %-8s weight=%5.2f from %s\n", r.Topic, r.Key, e.Kind, e.Weight, e.Source)
			}
		})
	}
}
