package main

// A process test of the secure path users try on a laptop: a `pageviews
// broker` that requires SASL over TLS (a CA it generates), a `pageviews
// worker` connecting with the settings a real cluster takes, and a worker
// with the wrong password, which must exit non-zero at once.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/config"
	"github.com/eddy-streams/eddy/internal/testkit"
	"github.com/eddy-streams/eddy/runtime"
)

// password is the broker user's password: no output may show it.
const password = "pv-secret-Kq72-never-shown"

func TestSecureBrokerAndWorkerProcesses(t *testing.T) {
	t.Parallel()
	const group, partitions = "secure-test", 2
	tlsDir := t.TempDir()
	b := bin.Start(t, "broker", nil, "broker", "--listen", "127.0.0.1:0", "--topics-partitions", fmt.Sprint(partitions),
		"--sasl-user", "pageviews:"+password, "--tls-generate", tlsDir)
	addr := b.AwaitLine(t, b.Stdout, regexp.MustCompile(`(?m)^broker listening on (\S+)$`), 30*time.Second, "the broker's address")[1]
	ca := filepath.Join(tlsDir, "ca.pem")

	pwFile := filepath.Join(t.TempDir(), "password")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	secure := func(pwFile string) []string {
		return []string{"--brokers", addr, "--group", group, "--security-protocol", "sasl_ssl", "--tls-ca-file", ca,
			"--sasl-mechanism", "SCRAM-SHA-256", "--sasl-username", "pageviews", "--sasl-password-file", pwFile}
	}
	w := bin.StartWorker(t, "worker", append(secure(pwFile), "--state-dir", t.TempDir(), "--table-store", "memory://",
		"--commit-interval", "200ms")...)

	// The test's client connects with the same settings, through the
	// runtime's Config (PLAIN this time).
	cfg := runtime.Config{Brokers: []string{addr}, SecurityProtocol: "sasl_ssl", TLSCAFile: ca,
		SASLMechanism: "PLAIN", SASLUsername: "pageviews", SASLPassword: config.NewSecret(password)}
	opts, err := cfg.ClientOptions()
	if err != nil {
		t.Fatal(err)
	}
	cl := testkit.NewClient(t, nil, append(opts, kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))...)
	truth := map[string]int64{}
	mustProduceViews(t, cl, truth, 0, 300)
	awaitCommittedWith(t, cl, group)
	checkExactCounts(t, truth, w)

	// A worker with the wrong password exits 1 within seconds, saying
	// why, without retrying until connect_timeout (60s here).
	wrong := filepath.Join(t.TempDir(), "wrong")
	if err := os.WriteFile(wrong, []byte("not-it-Zz91\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bad := bin.Start(t, "bad-worker", nil, append([]string{"worker", "--http", "off", "--connect-timeout", "60s"}, secure(wrong)...)...)
	st := bad.AwaitExit(t, 30*time.Second, "a worker with the wrong password")
	if st.ExitCode() != 1 {
		t.Errorf("the worker with the wrong password exited with %s, want exit status 1", st)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("the worker with the wrong password took %v to exit", took)
	}
	for _, want := range []string{"authentication failed", "SASL SCRAM-SHA-256", `user "pageviews"`} {
		if !strings.Contains(bad.Stderr.String(), want) {
			t.Errorf("the bad worker's stderr does not say %q:\n%s", want, bad.Stderr.String())
		}
	}

	w.Stop(t, 30*time.Second)
	for _, p := range []struct {
		name, out string
	}{{"worker", w.Stderr.String()}, {"bad-worker", bad.Stderr.String()}, {"broker", b.Stderr.String() + b.Stdout.String()}} {
		if strings.Contains(p.out, password) || strings.Contains(p.out, "not-it-Zz91") {
			t.Errorf("%s's output shows a password:\n%s", p.name, p.out)
		}
	}
}

// awaitCommittedWith waits, with cl, until group has committed every view
// produced so far.
func awaitCommittedWith(t *testing.T, cl *kgo.Client, group string) {
	t.Helper()
	adm := kadm.NewClient(cl)
	testkit.Eventually(t, 30*time.Second, "group "+group+" to commit every view produced", func() (bool, string) {
		ends, err := adm.ListEndOffsets(t.Context(), viewsTopic)
		if err != nil {
			return false, err.Error()
		}
		committed, err := adm.FetchOffsets(t.Context(), group)
		if err != nil {
			return false, err.Error()
		}
		var behind []string
		ends.Each(func(o kadm.ListedOffset) {
			if c, _ := committed.Lookup(viewsTopic, o.Partition); o.Offset > 0 && c.At != o.Offset {
				behind = append(behind, fmt.Sprintf("%d: committed %d of %d", o.Partition, c.At, o.Offset))
			}
		})
		slices.Sort(behind)
		return len(behind) == 0, fmt.Sprintf("partitions behind: %v", behind)
	})
}
