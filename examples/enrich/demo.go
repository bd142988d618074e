package main

import (
	"context"
	"encoding/json"
	"errors"
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

// demo produces users and orders to an embedded broker, then runs the app
// with the steps [[users]] and a RocksDB store in a fresh state directory
// until every order is enriched, and prints a summary.
func demo(ctx context.Context, app *runtime.App, j *joiner, args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	nUsers := fs.Int("users", 1000, "users to produce; the last 2% are deleted again with a tombstone")
	nOrders := fs.Int("orders", 5000, "orders to produce; about 1 in 20 is for a user who never existed")
	httpAddr := fs.String("http", "off", "address of the HTTP server (e.g. 127.0.0.1:6066), or off")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *nUsers < 1 || *nOrders < 1 {
		return fmt.Errorf("demo: --users and --orders must be at least 1")
	}
	b, err := broker.Start(broker.Options{Topics: app.Topics(), Partitions: 4})
	if err != nil {
		return err
	}
	defer b.Close()
	// The embedded broker starts empty, so the stores must too.
	stateDir, err := os.MkdirTemp("", "eddy-enrich-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(stateDir)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addrs()...),
		kgo.ConsumeTopics(enrichedTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	fmt.Printf("enrich: embedded broker at %s, RocksDB state in %s\n", b.Addrs()[0], stateDir)

	// Everything is produced before the worker starts: the users step has
	// every profile to load before the first order is joined.
	in, err := produceInput(ctx, cl, *nUsers, *nOrders)
	if err != nil {
		return err
	}
	fmt.Printf("enrich: produced %d users (%d of them deleted again) and %d orders (%d of users who never existed)\n",
		*nUsers, in.deleted, *nOrders, in.strangers)

	cfg := runtime.DefaultConfig(app.Name())
	cfg.Brokers = b.Addrs()
	cfg.HTTP = *httpAddr
	cfg.StateDir = stateDir
	cfg.CommitInterval = time.Second
	cfg.LogLevel = slog.LevelWarn
	cfg.Steps = defaultSteps
	fmt.Printf("enrich: running the worker with steps %v: users are loaded before any order is joined\n", cfg.Steps)

	start := time.Now()
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	pollCtx, stopPolling := context.WithCancel(ctx)
	defer stopPolling()
	var runErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		runErr = app.Run(runCtx, cfg)
		stopPolling() // the worker stopped on its own: nothing more will come
	})
	s, err := awaitEnriched(pollCtx, cl, in, *nOrders)
	took := time.Since(start)
	stop()
	wg.Wait()
	if err = errors.Join(runErr, err); err != nil {
		return err
	}

	fmt.Printf("enrich: %d orders enriched in %v:\n", *nOrders, took.Round(time.Millisecond))
	fmt.Printf("  %d joined with their user's profile\n", s.joined)
	fmt.Printf("  %d with profile_missing (%d expected: %d of users who never existed, %d of deleted users); the joiner counted %d\n",
		s.missing, in.expectMissing, in.strangers, in.expectMissing-in.strangers, j.missing.Load())
	if s.missedKnown == 0 {
		fmt.Println("  none of an existing user without its profile: the users step loaded every profile first")
	}
	fmt.Println("enrich: a few records of " + enrichedTopic + ":")
	for _, r := range s.samples {
		fmt.Printf("  %s\t%s\n", r.Key, r.Value)
	}
	if s.missedKnown > 0 || s.missing != in.expectMissing {
		return fmt.Errorf("demo: %d orders without a profile, %d of them of existing users; want the %d of unknown users only",
			s.missing, s.missedKnown, in.expectMissing)
	}
	return nil
}

// input is what the demo produced.
type input struct {
	known         map[string]bool // users with a profile when the worker starts
	deleted       int             // users deleted with a tombstone
	strangers     int             // orders of users who never existed
	expectMissing int             // orders of users without a profile
}

// produceInput produces nUsers profiles, tombstones for the last 2% of
// them, then nOrders orders, each keyed by its user id.
func produceInput(ctx context.Context, cl *kgo.Client, nUsers, nOrders int) (input, error) {
	in := input{known: map[string]bool{}}
	rng := rand.New(rand.NewPCG(1, 2))
	tiers := []string{"free", "pro", "enterprise"}
	var recs []*kgo.Record
	for i := range nUsers {
		id := fmt.Sprintf("user-%d", i)
		v, _ := json.Marshal(Profile{Name: fmt.Sprintf("User %d", i), Email: id + "@example.com", Tier: tiers[rng.IntN(len(tiers))]})
		recs = append(recs, &kgo.Record{Topic: usersTopic, Key: []byte(id), Value: v})
		in.known[id] = true
	}
	for i := nUsers - nUsers/50; i < nUsers; i++ {
		id := fmt.Sprintf("user-%d", i)
		recs = append(recs, &kgo.Record{Topic: usersTopic, Key: []byte(id)}) // a tombstone
		delete(in.known, id)
		in.deleted++
	}
	items := []string{"book", "lamp", "kettle", "chair", "plant"}
	for i := range nOrders {
		// One in twenty for a user past the last one: a stranger.
		u := rng.IntN(nUsers + max(nUsers/20, 1))
		id := fmt.Sprintf("user-%d", u)
		o := Order{OrderID: fmt.Sprintf("order-%d", i), UserID: id, Amount: float64(rng.IntN(10000)) / 100, Item: items[rng.IntN(len(items))]}
		v, _ := json.Marshal(o)
		recs = append(recs, &kgo.Record{Topic: ordersTopic, Key: []byte(id), Value: v})
		if u >= nUsers {
			in.strangers++
		}
		if !in.known[id] {
			in.expectMissing++
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return input{}, fmt.Errorf("demo: producing users and orders: %w", err)
	}
	return in, nil
}

// summary is what awaitEnriched read.
type summary struct {
	joined, missing int
	missedKnown     int // orders of known users written without a profile
	samples         []*kgo.Record
}

// awaitEnriched reads enriched-orders until it has seen nOrders distinct
// orders, and sums them up.
func awaitEnriched(ctx context.Context, cl *kgo.Client, in input, nOrders int) (summary, error) {
	var s summary
	seen := map[string]bool{} // at least once: an order may come out twice
	for len(seen) < nOrders {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return s, fmt.Errorf("demo: %d of %d orders enriched when the worker stopped", len(seen), nOrders)
		}
		var err error
		fs.EachRecord(func(r *kgo.Record) {
			var e Enriched
			if derr := json.Unmarshal(r.Value, &e); derr != nil {
				err = fmt.Errorf("%s/%d@%d: %w", r.Topic, r.Partition, r.Offset, derr)
				return
			}
			if seen[e.Order.OrderID] {
				return
			}
			seen[e.Order.OrderID] = true
			if e.ProfileMissing {
				s.missing++
				if in.known[e.Order.UserID] {
					s.missedKnown++
				}
			} else {
				s.joined++
			}
			// Two joined orders and one with its profile missing.
			if n := len(s.samples); n < 3 && (e.ProfileMissing == (n == 2)) {
				s.samples = append(s.samples, r)
			}
		})
		if err != nil {
			return s, fmt.Errorf("demo: reading %s: %w", enrichedTopic, err)
		}
	}
	return s, nil
}
