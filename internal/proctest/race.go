//go:build race

package proctest

// raceEnabled: the test binary runs with the race detector. Every package
// of a -race build has the "race" build tag, this one too, so the examples
// need no build-tagged files of their own.
const raceEnabled = true
