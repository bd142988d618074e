package logfloor

import (
	"context"
	"log/slog"
)

// New returns a handler that drops records below min and hands the rest to
// h, which still applies its own level.
func New(h slog.Handler, min slog.Level) slog.Handler { return floor{Handler: h, min: min} }

type floor struct {
	slog.Handler
	min slog.Level
}

func (f floor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.Handler.Enabled(ctx, l)
}

func (f floor) WithAttrs(as []slog.Attr) slog.Handler {
	return floor{Handler: f.Handler.WithAttrs(as), min: f.min}
}

func (f floor) WithGroup(name string) slog.Handler {
	return floor{Handler: f.Handler.WithGroup(name), min: f.min}
}
