// Package proctest runs an example's binary as real processes for the
// end-to-end tests of the examples: a standalone `broker` process, `worker`
// processes killed with SIGKILL or stopped with SIGTERM, and the CLI tools.
// It is the harness DESIGN.md's multi-worker and crash tests share; what
// each example checks (its inputs, outputs and tables) stays in that
// example's tests.
//
// A test package declares its binary once and removes it after its tests:
//
//	var pageviews = proctest.NewBinary(".")
//
//	func TestMain(m *testing.M) { os.Exit(pageviews.Run(m)) }
//
// The binary is built on first use, with -race when the test binary runs
// with the race detector, so that a data race in a worker fails the test
// that ran it. Processes run with the test's environment minus EDDY_*
// variables; their output is kept for the test to await lines in and is
// logged if the test fails; a cleanup kills what is still running.
//
// Every wait has a deadline and, when it passes, fails the test saying what
// was awaited and what was last seen. Waits follow events (a line of
// output, a process exit); readiness, which has no event, is polled with a
// bound. What the tests do with Kafka (produce, read topics, committed and
// end offsets, a paced stream) and the waits they share come from
// internal/testkit, which the in-process tests use too.
//
// Only tests import this package; its functions take the test's
// *testing.T and may be called from the test's goroutine.
package proctest
