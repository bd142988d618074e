package logfloor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

func TestDemoteCanceledLogsCancelledRequestsAtDebug(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	h := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	l := slog.New(logfloor.DemoteCanceled(logfloor.New(h, slog.LevelWarn)))
	l.Error("fetch offsets failed", "err", fmt.Errorf("fetching: %w", context.Canceled)) // demoted below the floor
	l.Error("real failure", "err", errors.New("broken"))
	out := buf.String()
	if strings.Contains(out, "fetch offsets failed") || !strings.Contains(out, "real failure") {
		t.Fatalf("output:\n%s\nwant only the real failure", out)
	}
	buf.Reset()
	dbg := slog.New(logfloor.DemoteCanceled(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	dbg.Error("fetch offsets failed", "err", context.Canceled)
	if !strings.Contains(buf.String(), "level=DEBUG msg=\"fetch offsets failed\"") {
		t.Fatalf("at debug level the cancelled request is still logged, at debug: %q", buf.String())
	}
}
