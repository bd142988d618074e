// Package cli is the command line of an app binary: the runner that picks
// a subcommand, and the development tools every binary carries (broker,
// produce, consume, topics). Package runtime assembles the binary: its
// worker subcommand, these tools and the app's own commands, and hands the
// tools an Env with the app's topics and a parser for its settings.
//
// Every tool reads IO.In, writes its data to IO.Out and human messages to
// IO.Err, and takes brokers, client options and topic settings from the
// resolved configuration (flags, EDDY_* environment, config file), so that
// the same flags work for every subcommand and every client a tool makes
// connects the way the worker's does.
package cli
