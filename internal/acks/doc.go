// Package acks counts asynchronous acknowledgements in flight: records
// handed to a Kafka producer whose outcome arrives later, on the client's
// goroutines. It is how Eddy waits, bounded by a context, until what it
// sent is acknowledged, and keeps the first failure: the actors ledger
// (outputs of handled records), the table flush (changelog writes) and the
// CLI producer each hold a Tracker.
package acks
