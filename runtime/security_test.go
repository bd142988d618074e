package runtime

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/eddy-streams/eddy/config"
	"github.com/eddy-streams/eddy/serde"
)

// TestRunNeverShowsThePassword: the errors of App.Run over a Config with a
// password (a password file missing, a mechanism that does not exist), and
// a panic's error holding the Config, never show it (package config tests
// the Config itself).
func TestRunNeverShowsThePassword(t *testing.T) {
	t.Parallel()
	const password = "pw-8f3kq-never-shown"
	c := DefaultConfig("app")
	c.Brokers = []string{"kafka:9093"}
	c.SecurityProtocol, c.SASLMechanism, c.SASLUsername, c.SASLPassword = "sasl_ssl", "PLAIN", "app", config.NewSecret(password)
	outs := []string{(&PanicError{Value: c}).Error()}
	bad := c
	bad.SASLPasswordFile = "/nonexistent/password"
	var buf bytes.Buffer
	app := NewApp("app", WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	Handle(app, HandlerFunc[string, string](func(*Context, *Message[string, string]) error { return nil }),
		serde.String(), serde.String(), "in")
	for _, cfg := range []Config{bad, func() Config { c := c; c.SASLMechanism = "plain-ish"; return c }()} {
		err := app.Run(context.Background(), cfg)
		if err == nil {
			t.Fatalf("Run(%v) gave no error", cfg)
		}
		outs = append(outs, err.Error(), fmt.Sprintf("%+v", err))
	}
	outs = append(outs, buf.String())
	for _, o := range outs {
		if strings.Contains(o, password) || strings.Contains(o, fmt.Sprintf("%x", password)) {
			t.Errorf("the password shows in %s", o)
		}
	}
}
