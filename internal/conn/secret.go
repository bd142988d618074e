package conn

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// redacted is how a Secret that is set shows.
const redacted = "[redacted]"

// Secret is a password or a token: text that is never shown. It prints
// (fmt, every verb and flag), marshals (text, JSON) and logs (slog) as
// "[redacted]" when set and as "" when not, so a configuration holding it
// can be printed, dumped or logged whole. The text is held behind a
// pointer, so that even a printer that cannot call its methods (a Secret
// in an unexported field) shows an address, not the text. The zero Secret
// is unset. A Secret is immutable; copy it and use it from any goroutine.
type Secret struct{ p *string }

// NewSecret returns a Secret holding s; the empty string gives the unset
// Secret.
func NewSecret(s string) Secret {
	if s == "" {
		return Secret{}
	}
	return Secret{p: &s}
}

// Reveal returns the text. Call it only to hand the text to what needs
// it (a SASL mechanism), never to print it.
func (s Secret) Reveal() string {
	if s.p == nil {
		return ""
	}
	return *s.p
}

// IsSet reports whether s holds text.
func (s Secret) IsSet() bool { return s.p != nil }

// String returns "[redacted]" when s is set, "" when not.
func (s Secret) String() string {
	if s.p == nil {
		return ""
	}
	return redacted
}

// GoString is the %#v form: never the text.
func (s Secret) GoString() string { return "Secret(" + strconv.Quote(s.String()) + ")" }

// Format writes s for every fmt verb as String does (quoted for %q, as
// GoString for %#v).
func (s Secret) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, s.GoString())
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(s.String()))
	default:
		_, _ = io.WriteString(f, s.String())
	}
}

// MarshalText returns what String does.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalJSON returns String's result as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// LogValue makes slog log what String returns, whatever the handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }
