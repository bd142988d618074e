package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eddy-streams/eddy/broker"
)

// TestMain makes the test binary the rss scenario's worker when the
// harness re-executes it (os.Executable is the test binary here).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == workerCommand {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// TestHarness runs the whole harness on a tiny workload and checks that
// both result files hold every scenario with plausible figures.
func TestHarness(t *testing.T) {
	dir := t.TempDir()
	out, md := filepath.Join(dir, "results.json"), filepath.Join(dir, "results.md")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := run(ctx, []string{
		"--records", "20000", "--runs", "1", "--restore-records", "20000", "--rss-records", "20000",
		"--latency-rate", "5000", "--latency-duration", "400ms", "--run-timeout", "1m",
		"--out", out, "--markdown", md,
	}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	t.Logf("harness output:\n%s", &stdout)

	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatalf("results.json: %v\n%s", err, raw)
	}
	if rep.Machine.Cores < 1 || rep.Machine.GoVersion == "" || rep.Machine.Date == "" {
		t.Errorf("machine = %+v; want cores, Go version and date", rep.Machine)
	}
	if rep.Settings.Kind != "custom" || rep.Settings.Records != 20000 {
		t.Errorf("settings = %+v; want a custom run of 20000 records", rep.Settings)
	}
	byName := make(map[string]result, len(rep.Scenarios))
	for _, r := range rep.Scenarios {
		byName[r.Name] = r
	}
	mdRaw, err := os.ReadFile(md)
	if err != nil {
		t.Fatal(err)
	}
	for _, sc := range scenarios() {
		r, ok := byName[sc.name]
		if !ok {
			t.Errorf("results.json lacks scenario %s", sc.name)
			continue
		}
		if len(r.RecPerSec.Runs) != 1 || !(r.RecPerSec.Median > 0) || r.Records <= 0 {
			t.Errorf("%s: records %d, rec/s %+v; want one run, rec/s > 0", sc.name, r.Records, r.RecPerSec)
		}
		if sc.baseline != "" && (r.Ratio == nil || !(*r.Ratio > 0)) {
			t.Errorf("%s: ratio to %s = %v; want one > 0", sc.name, sc.baseline, r.Ratio)
		}
		if sc.target != nil && (r.Met == nil || r.Target == "") {
			t.Errorf("%s: target %q, met %v; want both", sc.name, r.Target, r.Met)
		}
		if !strings.Contains(string(mdRaw), "| "+sc.name+" |") {
			t.Errorf("results.md lacks a row for %s:\n%s", sc.name, mdRaw)
		}
	}
	lat := byName["latency"].Figures
	if p50, p99, maxMS := lat["p50_ms"].Median, lat["p99_ms"].Median, lat["max_ms"].Median; !(p50 > 0 && p99 >= p50 && maxMS >= p99) {
		t.Errorf("latency: p50 %v, p99 %v, max %v ms; want 0 < p50 <= p99 <= max", p50, p99, maxMS)
	}
	if rss := byName["rss"].Figures["peak_rss_mib"].Median; !(rss > 1) {
		t.Errorf("rss: peak RSS %v MiB; want a worker's", rss)
	}
	if keys := byName["restore-rocksdb"].Figures["restored_keys"].Median; !(keys > 0) {
		t.Errorf("restore-rocksdb: %v keys restored; want some", keys)
	}
	if !strings.Contains(string(mdRaw), "| scenario | median rec/s | spread | baseline | ratio | target | met |") {
		t.Errorf("results.md lacks the table header:\n%s", mdRaw)
	}
}

// TestOnlySelectsBaselines checks that --only brings the baselines of the
// scenarios it selects, and refuses a pattern that selects nothing.
func TestOnlySelectsBaselines(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		only string
		want []string
	}{
		{"^rocksdb-count$", []string{"raw-rocksdb", "rocksdb-count"}},
		{"restore", []string{"raw-consume", "raw-rocksdb", "restore-memory", "restore-rocksdb"}},
		{"latency", []string{"latency"}},
	} {
		cfg, err := parseConfig([]string{"--only", tc.only}, &bytes.Buffer{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		got, err := selectScenarios(scenarios(), cfg.only)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, sc := range got {
			names = append(names, sc.name)
		}
		if strings.Join(names, " ") != strings.Join(tc.want, " ") {
			t.Errorf("--only %q selects %v; want %v", tc.only, names, tc.want)
		}
	}
	cfg, err := parseConfig([]string{"--only", "nothing-matches"}, &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := selectScenarios(scenarios(), cfg.only); err == nil {
		t.Error("--only nothing-matches selected something")
	}
}

// TestHarnessOverSASLSSL runs scenarios against external brokers that
// require SASL over TLS, reached with the settings of a config file: the
// harness's admin client and producers, the baseline consumer, the apps,
// and the rss scenario's worker process (which reads the same file).
func TestHarnessOverSASLSSL(t *testing.T) {
	dir := t.TempDir()
	g, err := broker.GenerateTLS(filepath.Join(dir, "tls"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := broker.Start(broker.Options{TLS: g.Config, Users: []broker.User{{Name: "bench", Password: "bench-pw"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("bench-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "eddy.yaml")
	yaml := fmt.Sprintf("brokers: [%s]\nsecurity_protocol: sasl_ssl\ntls: {ca_file: %s}\n"+
		"sasl: {mechanism: SCRAM-SHA-512, username: bench, password_file: %s}\n", b.Addrs()[0], g.CAFile, pw)
	if err := os.WriteFile(config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	out := filepath.Join(dir, "results.json")
	code := run(ctx, []string{"--config", config, "--only", "^(single|rss|latency)$",
		"--records", "5000", "--runs", "1", "--rss-records", "5000", "--latency-rate", "2000", "--latency-duration", "300ms",
		"--out", out, "--markdown", filepath.Join(dir, "results.md")}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range rep.Scenarios {
		names = append(names, r.Name)
		if !(r.RecPerSec.Median > 0) {
			t.Errorf("%s: rec/s %+v, want > 0", r.Name, r.RecPerSec)
		}
	}
	if got := strings.Join(names, " "); got != "raw-consume single latency rss" {
		t.Errorf("scenarios %q, want raw-consume single latency rss", got)
	}

	// Security needs external brokers: the in-process one is plaintext.
	if _, err := parseConfig(nil, &bytes.Buffer{}, []string{"EDDY_SECURITY_PROTOCOL=ssl"}); err == nil ||
		!strings.Contains(err.Error(), "security_protocol ssl needs external brokers") {
		t.Errorf("parseConfig with ssl and no brokers: %v", err)
	}
}
