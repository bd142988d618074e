// Package group is a worker's membership in its consumer group: the Kafka
// client a worker consumes and produces with, and the actors.Engine that
// runs on it, together a session. When the engine gives up on a group
// generation it cannot get into (actors.ErrRejoin), the Member closes the
// session's client without waiting on the group and starts a new session,
// which joins as a new member; what outlives sessions (table stores,
// telemetry, the HTTP server) belongs to the runtime.
//
// It also owns how the group client is built: what it consumes (topics,
// and regular expressions of topics, anchored to whole names) and where a
// partition without a commit starts, the balancer (range where tables need
// partition p of every source topic on one worker), session, rebalance and
// heartbeat timing, the fetch wait, metadata refreshes, the producer
// (acks and idempotence, linger, batch size, compression, delivery
// timeout, buffer bound) and the client's log; the app's own options come
// last. Package runtime fills a Config from its settings.
package group
