// Package runtime is Eddy's public entry point: an App with its handlers and
// outputs, the worker that runs it in a Kafka consumer group, its
// configuration and its command line.
//
// A program builds an App in main and hands it to Main:
//
//	app := runtime.NewApp("pipeline")
//	out := runtime.NewOutput(app, serde.String(), serde.JSON[Enriched](), "heavy", "light")
//	runtime.Handle(app, &router{out: out}, serde.String(), serde.JSON[Event](), "events")
//	runtime.Main(app)
//
// Main gives the binary its subcommands: worker (run; without brokers it
// starts an embedded broker), broker, produce, consume and topics, plus any
// the app adds with App.Command. Settings come from defaults, a YAML file,
// EDDY_* environment variables and flags, in increasing precedence.
//
// A handler implements Handler[K, V] and, optionally, the hooks Starter,
// ContextDefiner, Receiver, TombstoneHandler, Finisher and ErrorHandler,
// found by interface assertion. Keys and values are decoded by serde codecs;
// a record that does not decode reaches the error path as a *DecodeError
// naming its topic, partition and offset.
//
// Delivery is at least once: a record's offset is committed only after its
// handler finished and every record it produced (Context.Produce,
// Output.Produce) was acknowledged. Records of one partition are handled in
// order, one at a time; partitions are handled in parallel. The actor
// machinery behind this lives in package actors.
package runtime
