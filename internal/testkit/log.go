package testkit

import (
	"log/slog"
	"strings"
	"testing"
)

// Logger returns a logger that writes records at level and above to the
// test's log, where they show with the test's output when it fails (or
// runs with -v).
func Logger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: level}))
}

// logWriter writes each line slog writes as one line of the test's log.
type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
