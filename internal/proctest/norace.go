//go:build !race

package proctest

// raceEnabled: the test binary runs without the race detector.
const raceEnabled = false
