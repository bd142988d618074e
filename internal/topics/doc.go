// Package topics provisions Kafka topics from specs: it creates those
// missing with their partition count, replication factor and configs,
// compares those that exist with their spec (reporting, never changing,
// what differs), describes topics (partitions, replicas, configs,
// offsets), and reads the topics file of `topics create --file`.
//
// Package runtime turns an app's declared topics (App.DeclareTopic, its
// handlers' and outputs' topics) into Specs, for the worker's start
// (topics.create_missing); internal/cli uses it for `topics create` and
// `topics describe`. It imports nothing of Eddy. Table changelogs are not
// its business: internal/shards creates them with the partition count
// their tables need.
package topics
