package conn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// holder is how a Secret travels: in an exported field, in an unexported
// one, and behind a pointer.
type holder struct {
	Password Secret
	hidden   Secret
	Ptr      *Secret
}

func TestSecretNeverShows(t *testing.T) {
	t.Parallel()
	const text = "hunter2-s3cret"
	s := NewSecret(text)
	h := holder{Password: s, hidden: s, Ptr: &s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10s", "%-8v", "%T %v"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, h), fmt.Sprintf(verb, &h), fmt.Sprintf(verb, []any{s, h}))
	}
	outs = append(outs, fmt.Sprint(s, h), fmt.Sprintln(s, h), s.String(), s.GoString())
	for _, v := range []any{s, h, &h, map[string]Secret{"k": s}} {
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, string(js))
	}
	txt, _ := s.MarshalText()
	outs = append(outs, string(txt))
	var buf bytes.Buffer
	for _, l := range []*slog.Logger{slog.New(slog.NewTextHandler(&buf, nil)), slog.New(slog.NewJSONHandler(&buf, nil))} {
		l.Info("config", "password", s, "holder", h, "ptr", &h, slog.Any("any", s))
	}
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, text) || strings.Contains(o, fmt.Sprintf("%x", text)) || strings.Contains(o, fmt.Sprintf("%X", text)) {
			t.Errorf("the secret shows in %q", o)
		}
	}
	if !strings.Contains(fmt.Sprintf("%+v", h), redacted) || !strings.Contains(buf.String(), redacted) {
		t.Errorf("a set secret should show as %s: %+v, %s", redacted, h, buf.String())
	}
	if s.Reveal() != text || !s.IsSet() {
		t.Errorf("Reveal() = %q, IsSet() = %t; want the text", s.Reveal(), s.IsSet())
	}
	var zero Secret
	if zero.IsSet() || zero.String() != "" || NewSecret("").IsSet() {
		t.Error("the zero Secret and NewSecret(\"\") should be unset and show as empty")
	}
}
