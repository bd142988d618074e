// Package testkit holds the Kafka test helpers the repository's tests
// share, so that each exists once: waiting with a deadline for state that
// has no event (Eventually, Within), state that goroutines change and a
// test awaits conditions on (Watch), clients of a test broker (NewClient),
// synchronous produces (Produce, ProduceKeyed), committed and end offsets
// (Committed, EndOffsets), a group as its coordinator sees it
// (DescribeGroup), reading records back (Consume, ReadToEnd,
// LastValues, StartConsumer), a stream produced at a steady pace
// (ProducePaced), a function such as an app's Run in the background
// (Background), an app's logs in the test's log (Logger), and reads of a
// worker's HTTP endpoints (Get, GetJSON).
//
// It serves the runtime's tests, internal/proctest (the process tests of
// the examples) and the examples' tests; what is about one app, or about
// processes, stays with them. It imports nothing of Eddy, so every test
// package can use it. Apps' users have runtime/runtimetest instead.
//
// Every wait has a deadline and, when it passes, fails the test saying what
// was awaited and what was last seen. A helper that fails the test calls
// t.Fatal, so it must run on the test's goroutine; a Watch's Change and
// Read, and the functions given to ProducePaced and StartConsumer, may run
// on any.
package testkit
