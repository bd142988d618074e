package group

import (
	"log/slog"
	"strings"
	"testing"
)

// TestBalancer: tables with several source topics need partition p of
// every topic on one worker, so the default becomes range and the
// balancers that split topics are refused, naming the topics.
func TestBalancer(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		balancer string
		colocate bool
		want     string // the balancer's protocol name, or an error's text
	}{
		{"", false, "cooperative-sticky"},
		{"cooperative-sticky", false, "cooperative-sticky"},
		{"", true, "range"},
		{"range", true, "range"},
		{"sticky", false, "sticky"},
		{"roundrobin", false, "roundrobin"},
		{"sticky", true, `balancer "sticky" would split the partitions of a, b across workers`},
		{"roundrobin", true, `balancer "roundrobin" would split`},
		{"fair", false, `unknown balancer "fair"`},
	} {
		c := Config{Balancer: tc.balancer, Colocate: tc.colocate, Topics: []string{"a", "b"}, Logger: slog.New(slog.DiscardHandler)}
		b, err := c.balancer()
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = b.ProtocolName()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("balancer %q, colocate %v: %q; want %q", tc.balancer, tc.colocate, got, tc.want)
		}
	}
}
