package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/tables"
)

// pages are what the generator views, the first far more than the last.
var pages = []string{"/", "/docs", "/pricing", "/blog", "/blog/actors", "/blog/tables",
	"/about", "/careers", "/docs/handlers", "/docs/tables", "/docs/modes", "/legal"}

// demo runs the app on an embedded broker with a RocksDB store in a fresh
// state directory, feeds it generated views and prints the top pages.
func demo(ctx context.Context, app *runtime.App, views *tables.Table[string, int64], args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	rate := fs.Int("rate", 200, "page views per second to generate")
	httpAddr := fs.String("http", "127.0.0.1:6066", "address of the HTTP server, or off")
	every := fs.Duration("every", 3*time.Second, "how often to print the top pages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	b, err := broker.Start(broker.Options{Topics: app.Topics(), Partitions: 4})
	if err != nil {
		return err
	}
	defer b.Close()
	// The embedded broker starts empty, so the stores must too.
	stateDir, err := os.MkdirTemp("", "eddy-pageviews-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)

	cfg := runtime.DefaultConfig(app.Name())
	cfg.Brokers = b.Addrs()
	cfg.HTTP = *httpAddr
	cfg.StateDir = stateDir
	cfg.CommitInterval = time.Second
	cfg.LogLevel = slog.LevelWarn
	fmt.Printf("pageviews: embedded broker at %s, RocksDB state in %s, %d views/s\n", b.Addrs()[0], stateDir, *rate)
	if cfg.HTTP != "off" {
		fmt.Printf("pageviews: try http://%s/tables/page_views/%%2Fdocs and http://%s/status; Ctrl-C to stop\n", cfg.HTTP, cfg.HTTP)
	}

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() { generate(ctx, cl, *rate) })
	wg.Go(func() { report(ctx, app, views, *every) })
	err = app.Run(ctx, cfg)
	cancel()
	wg.Wait()
	return err
}

// generate produces views at rate per second, Zipf-distributed over pages,
// and now and then a tombstone that resets "/legal".
func generate(ctx context.Context, cl *kgo.Client, rate int) {
	zipf := rand.NewZipf(rand.New(rand.NewPCG(1, 2)), 1.2, 1, uint64(len(pages)-1))
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range max(rate/10, 1) {
			v, _ := json.Marshal(View{User: fmt.Sprintf("user-%d", rand.IntN(1000)), At: time.Now().UnixMilli()})
			cl.Produce(ctx, &kgo.Record{Topic: "page-views", Key: []byte(pages[zipf.Uint64()]), Value: v}, nil)
		}
		if n%100 == 99 {
			cl.Produce(ctx, &kgo.Record{Topic: "page-views", Key: []byte("/legal")}, nil) // a tombstone
		}
	}
}

// report prints the top pages every interval.
func report(ctx context.Context, app *runtime.App, views *tables.Table[string, int64], every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		type row struct {
			page string
			n    int64
		}
		var rows []row
		if ok, err := runtime.ScanTable(app, views, func(page string, n int64) bool {
			rows = append(rows, row{page, n})
			return true
		}); !ok || err != nil {
			continue
		}
		sort.Slice(rows, func(i, j int) bool {
			return rows[i].n > rows[j].n || rows[i].n == rows[j].n && rows[i].page < rows[j].page
		})
		var b strings.Builder
		fmt.Fprintf(&b, "top pages at %s:", time.Now().Format("15:04:05"))
		for _, r := range rows[:min(5, len(rows))] {
			fmt.Fprintf(&b, "  %s=%d", r.page, r.n)
		}
		fmt.Println(b.String())
	}
}
