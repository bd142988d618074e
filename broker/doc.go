// Package broker runs an embedded Kafka-protocol broker in the calling
// process: franz-go's kfake, a real implementation of the Kafka wire
// protocol (groups, transactions, compaction, persistence), for
// development, demos and tests. It is what a worker starts when no brokers
// are configured, what the `broker` subcommand runs, and what users' tests
// (and runtimetest) start in-process. It is not for production: one
// process, no replication.
//
// Unlike a bare kfake cluster, a Broker compacts compacted topics every
// second (Kafka's default of an hour would hide compaction from anyone
// trying it out) and creates the topics it is given, with their own
// partition counts and configs where declared (Options.Declared),
// including after a restart from a data directory.
//
// The kfake it runs is a patched copy (third_party/kfake, see its
// PATCHES.md): upstream's classic group coordinator wedged groups whose
// members died or left mid-rebalance. coordinator_test.go guards the
// patch with plain franz-go consumers.
package broker
