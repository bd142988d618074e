package logfloor

import (
	"context"
	"errors"
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

// DemoteCanceled returns a handler that logs at debug level the records
// whose error attribute is a cancelled context, and hands every record to
// h. A request cut short because the process is stopping (the Kafka
// client's offset fetch, when a worker leaves its group while joining) is
// no error an operator can act on.
func DemoteCanceled(h slog.Handler) slog.Handler { return demote{Handler: h} }

type demote struct{ slog.Handler }

// Enabled lets every level through to Handle, which decides once it sees
// the record's attributes.
func (d demote) Enabled(ctx context.Context, l slog.Level) bool {
	return d.Handler.Enabled(ctx, l) || d.Handler.Enabled(ctx, slog.LevelDebug)
}

func (d demote) Handle(ctx context.Context, r slog.Record) error {
	if r.Level > slog.LevelDebug {
		r.Attrs(func(a slog.Attr) bool {
			if err, ok := a.Value.Any().(error); ok && errors.Is(err, context.Canceled) {
				r.Level = slog.LevelDebug
				return false
			}
			return true
		})
	}
	if !d.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return d.Handler.Handle(ctx, r)
}

func (d demote) WithAttrs(as []slog.Attr) slog.Handler { return demote{d.Handler.WithAttrs(as)} }

func (d demote) WithGroup(name string) slog.Handler { return demote{d.Handler.WithGroup(name)} }
