package runtime_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/broker"
	"github.com/eddy-streams/eddy/runtime"
	"github.com/eddy-streams/eddy/serde"
)

// shout upper-cases greetings; the example stops the app after three.
type shout struct {
	seen   int
	cancel context.CancelFunc
}

func (s *shout) OnMessage(ctx *runtime.Context, msg *runtime.Message[string, string]) error {
	fmt.Printf("%s says %s\n", msg.Key, strings.ToUpper(msg.Value))
	if s.seen++; s.seen == 3 {
		s.cancel()
	}
	return nil
}

// An app with one handler, run against an embedded broker.
func Example() {
	b, err := broker.Start(broker.Options{Topics: []string{"greetings"}, Partitions: 1})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	seed(b.Addrs(), "greetings", "ann:hello", "bob:hi", "cy:hey")

	ctx, cancel := context.WithCancel(context.Background())
	app := runtime.NewApp("shouter", runtime.WithLogger(slog.New(slog.DiscardHandler)))
	runtime.Handle(app, &shout{cancel: cancel}, serde.String(), serde.String(), "greetings")
	if err := app.Run(ctx, runtime.Config{Brokers: b.Addrs()}); err != nil {
		panic(err)
	}
	// Output:
	// ann says HELLO
	// bob says HI
	// cy says HEY
}

// seed produces key:value pairs to topic.
func seed(brokers []string, topic string, kvs ...string) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(brokers...))
	if err != nil {
		panic(err)
	}
	defer cl.Close()
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, ":")
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: topic, Key: []byte(k), Value: []byte(v)}).FirstErr(); err != nil {
			panic(err)
		}
	}
}

// A handler for every topic whose whole name matches a pattern: views is
// not one of them.
func ExampleHandlePattern() {
	b, err := broker.Start(broker.Options{Topics: []string{"clicks-eu", "clicks-us", "views"}, Partitions: 1})
	if err != nil {
		panic(err)
	}
	defer b.Close()
	seed(b.Addrs(), "clicks-eu", "ann:home")
	seed(b.Addrs(), "clicks-us", "bob:cart")
	seed(b.Addrs(), "views", "cy:home")

	ctx, cancel := context.WithCancel(context.Background())
	var seen atomic.Int32 // partitions are handled in parallel
	app := runtime.NewApp("clicks", runtime.WithLogger(slog.New(slog.DiscardHandler)))
	runtime.HandlePattern(app, runtime.HandlerFunc[string, string](func(_ *runtime.Context, msg *runtime.Message[string, string]) error {
		fmt.Printf("%s: %s clicked %s\n", msg.Record.Topic, msg.Key, msg.Value)
		if seen.Add(1) == 2 {
			cancel()
		}
		return nil
	}), serde.String(), serde.String(), "clicks-.*")
	if err := app.Run(ctx, runtime.Config{Brokers: b.Addrs()}); err != nil {
		panic(err)
	}
	// Unordered output:
	// clicks-eu: ann clicked home
	// clicks-us: bob clicked cart
}
