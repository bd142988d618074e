package logfloor_test

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/internal/logfloor"
)

func TestFloorDropsBelowAndKeepsTheHandlersOwnLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})
	l := slog.New(logfloor.New(h, slog.LevelWarn)).With("k", "v").WithGroup("g")
	l.Info("info")   // below the floor
	l.Warn("warn")   // above the floor, below the handler's level
	l.Error("error") // passes both
	out := buf.String()
	if strings.Contains(out, "info") || strings.Contains(out, "msg=warn") || !strings.Contains(out, "msg=error k=v") {
		t.Fatalf("output:\n%s\nwant only the error line, with its attributes", out)
	}
}
