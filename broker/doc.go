// Package broker runs an embedded Kafka-protocol broker in the calling
// process: franz-go's kfake, a real implementation of the Kafka wire
// protocol (groups, transactions, compaction, persistence), for
// development, demos and tests. It is what a worker starts when no brokers
// are configured, what the `broker` subcommand runs, and what users' tests
// (and runtimetest) start in-process. It is not for production: one
// process, no replication.
//
// Options.Users make it require SASL (each user may authenticate with
// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) and Options.TLS makes it speak
// TLS only: ServerTLS builds the config from a certificate and key (and a
// client CA for mutual TLS), GenerateTLS from a fresh CA it writes, so
// that the secure path can be tried and tested without a real cluster.
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
