// Package actors runs Eddy's record processing as a tree of actors on
// protoactor-go. It is the only package that imports protoactor, and no
// protoactor type appears in its exported API.
//
// The topology is fixed:
//
//	engine actor (one per Engine; root supervisor)
//	 ├─ partition actor  topic-A/0  ── handler actor
//	 └─ partition actor  topic-A/1  ── handler actor
//
// The Engine owns one fetch loop (a goroutine polling the franz-go client)
// that hands each partition's records, as one batch, to that partition's
// actor. The partition actor owns ordering: it keeps at most one delivery
// outstanding at its handler actor, so records of a partition are handled
// strictly in offset order while partitions run in parallel. The handler
// actor runs the user's code through a Processor; a panic there is
// recovered, the handler actor is restarted by its partition actor with
// exponential backoff, and the records from the one that panicked are
// delivered again. After Config.MaxAttempts panics on one record the record
// goes to Processor.Abandon, the error path.
//
// What may be committed is decided in one place, the partition's ledger: a
// record counts as done only when its handler returned and every output it
// registered with Call.Hold (produced records, later changelog writes) was
// acknowledged. The Engine commits the ledgers' committable offsets every
// Config.CommitInterval, when partitions are revoked, and on shutdown. An
// offset is never committed past a record that was not handled.
//
// Nothing a rebalance callback or the shutdown waits for waits without a
// bound: the engine actor does no I/O in Receive (offset listings run on
// goroutines the Engine owns and report back as messages), every commit
// runs under a deadline and the commit lock is a semaphore whose waiters
// give up with their context, and timers only send messages to their
// actor.
//
// The group watch (classic group protocol only) describes the consumer group
// every few seconds and compares it with the client's member id and
// generation. A member out of a stable generation for longer than the
// rebalance timeout is not Ready, with the reason; past the rebalance timeout
// plus the session timeout Run shuts down in order and returns ErrRejoin, and
// the caller starts over with a new client, which joins as a new member. A
// wedged coordinator cannot then idle a worker silently. See Engine.Group.
//
// Backpressure: each partition counts the records fetched but not yet
// handled; past Config.MaxInFlight the partition is paused at the fetch
// level and resumed once its backlog falls to half of that, so memory stays
// bounded whatever the backlog on the broker.
package actors
