package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// report is the content of results.json.
type report struct {
	Machine   machine  `json:"machine"`
	Settings  settings `json:"settings"`
	Scenarios []result `json:"scenarios"`
	// Seconds is how long the whole invocation took.
	Seconds float64 `json:"seconds"`
}

// machine describes where the figures were measured.
type machine struct {
	Cores int `json:"cores"`
	// MemoryBytes is MemTotal from /proc/meminfo; 0 where there is none.
	MemoryBytes int64  `json:"memory_bytes"`
	GoVersion   string `json:"go_version"`
	GOOS        string `json:"goos"`
	GOARCH      string `json:"goarch"`
	// Date is when the run started, RFC 3339.
	Date string `json:"date"`
}

// settings are the workload's parameters.
type settings struct {
	// Kind is "full" (every default), "quick" (--quick) or "custom".
	Kind            string  `json:"kind"`
	Quick           bool    `json:"quick"`
	Runs            int     `json:"runs"`
	Records         int     `json:"records"`
	RestoreRecords  int     `json:"restore_records"`
	RSSRecords      int     `json:"rss_records"`
	LatencyRate     int     `json:"latency_rate"`
	LatencySeconds  float64 `json:"latency_seconds"`
	Partitions      int     `json:"partitions"`
	DistinctKeys    int     `json:"distinct_keys"`
	KeyBytes        int     `json:"key_bytes"`
	ValueBytes      int     `json:"value_bytes"`
	ExternalBrokers bool    `json:"external_brokers"`
}

// result is one scenario's figures.
type result struct {
	Name string `json:"name"`
	// Records is the records of one run.
	Records int64 `json:"records"`
	// RecPerSec are the records/s of the runs, with their median and range.
	RecPerSec spread `json:"rec_per_sec"`
	Baseline  string `json:"baseline,omitempty"`
	// Ratio is this median over the baseline's median.
	Ratio *float64 `json:"ratio,omitempty"`
	// Target is what issue 6 asks; Met whether the median (of the ratio
	// or of the target's figure) satisfies it.
	Target string `json:"target,omitempty"`
	Met    *bool  `json:"met,omitempty"`
	// Figures are the scenario's further numbers (see figureFormats).
	Figures map[string]spread `json:"figures,omitempty"`

	target *target
}

// spread is one number over the runs.
type spread struct {
	Runs   []float64 `json:"runs"`
	Median float64   `json:"median"`
	Min    float64   `json:"min"`
	Max    float64   `json:"max"`
}

// newSpread summarizes vs, which must not be empty.
func newSpread(vs []float64) spread {
	s := slices.Sorted(slices.Values(vs))
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return spread{Runs: vs, Median: med, Min: s[0], Max: s[len(s)-1]}
}

// summarize turns sc's runs into its result; ratios and targets come
// later, in newReport, once the baselines are known.
func summarize(sc scenario, ms []measurement) result {
	r := result{Name: sc.name, Records: ms[0].records, Baseline: sc.baseline, target: sc.target}
	rates := make([]float64, len(ms))
	figs := make(map[string][]float64)
	for i, m := range ms {
		rates[i] = m.rate()
		for k, v := range m.figures {
			figs[k] = append(figs[k], v)
		}
	}
	r.RecPerSec = newSpread(rates)
	if len(figs) > 0 {
		r.Figures = make(map[string]spread, len(figs))
		for k, vs := range figs {
			r.Figures[k] = newSpread(vs)
		}
	}
	return r
}

// newReport computes the ratios and targets of results and describes the
// machine.
func newReport(cfg config, results []result, took time.Duration) report {
	rep := report{
		Machine: machine{
			Cores: goruntime.NumCPU(), MemoryBytes: memTotal(), GoVersion: goruntime.Version(),
			GOOS: goruntime.GOOS, GOARCH: goruntime.GOARCH, Date: time.Now().Add(-took).Format(time.RFC3339),
		},
		Settings: settings{
			Kind: cfg.kind(), Quick: cfg.quick, Runs: cfg.runs, Records: cfg.records, RestoreRecords: cfg.restoreRecords,
			RSSRecords: cfg.rssRecords, LatencyRate: cfg.latencyRate, LatencySeconds: cfg.latencyDuration.Seconds(),
			Partitions: partitions, DistinctKeys: distinctKeys, KeyBytes: keyLen, ValueBytes: valueLen,
			ExternalBrokers: len(cfg.brokers) > 0,
		},
		Seconds: took.Seconds(),
	}
	medians := make(map[string]float64, len(results))
	for _, r := range results {
		medians[r.Name] = r.RecPerSec.Median
	}
	for _, r := range results {
		if base, ok := medians[r.Baseline]; ok && base > 0 {
			ratio := r.RecPerSec.Median / base
			r.Ratio = &ratio
		}
		if t := r.target; t != nil {
			r.Target = t.text
			if v, ok := r.targetValue(); ok {
				met := t.met(v)
				r.Met = &met
			}
		}
		rep.Scenarios = append(rep.Scenarios, r)
	}
	return rep
}

// targetValue returns the number r's target bounds: the ratio, or the
// median of a figure.
func (r result) targetValue() (float64, bool) {
	if r.target.figure == "ratio" {
		if r.Ratio == nil {
			return 0, false
		}
		return *r.Ratio, true
	}
	f, ok := r.Figures[r.target.figure]
	return f.Median, ok
}

// memTotal returns the machine's memory from /proc/meminfo, or 0 where
// there is none.
func memTotal() int64 {
	kib, err := procKiB("/proc/meminfo", "MemTotal")
	if err != nil {
		return 0
	}
	return kib << 10
}

// procKiB returns the value of the line "key: N kB" of a /proc file such
// as /proc/meminfo or /proc/self/status (Linux).
func procKiB(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != key {
			continue
		}
		num, _ := strings.CutSuffix(strings.TrimSpace(v), " kB")
		kib, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("%s: %s %q: %w", path, key, v, err)
		}
		return kib, nil
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return 0, fmt.Errorf("%s has no %s", path, key)
}

// write writes the JSON and Markdown results, each through a temporary
// file renamed into place, so that an interrupted run leaves the previous
// results whole.
func (rep report) write(jsonPath, mdPath string) error {
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode results: %w", err)
	}
	if err := writeFile(jsonPath, append(js, '\n')); err != nil {
		return err
	}
	return writeFile(mdPath, []byte(rep.markdown()))
}

// writeFile replaces path's content with data.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	return nil
}

// markdown renders the results as a table for BENCHMARKS.md, under a line
// naming the machine, the date and the workload.
func (rep report) markdown() string {
	var b bytes.Buffer
	m, s := rep.Machine, rep.Settings
	kind := map[string]string{"full": "Full run", "quick": "Quick run (`--quick`)"}[s.Kind]
	if kind == "" {
		kind = "Custom run"
	}
	date, _, _ := strings.Cut(m.Date, "T")
	broker := "in-process kfake broker"
	if s.ExternalBrokers {
		broker = "external brokers"
	}
	fmt.Fprintf(&b, "%s, %s: %d cores, %.1f GiB, %s %s/%s, %s; %s records, %d run(s) per scenario, %.0fs in all.\n\n",
		kind, date, m.Cores, float64(m.MemoryBytes)/(1<<30), m.GoVersion, m.GOOS, m.GOARCH, broker,
		formatCount(s.Records), s.Runs, rep.Seconds)
	b.WriteString("| scenario | median rec/s | spread | baseline | ratio | target | met | notes |\n")
	b.WriteString("| --- | ---: | --- | --- | ---: | --- | --- | --- |\n")
	for _, r := range rep.Scenarios {
		ratio, met := "", ""
		if r.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *r.Ratio)
		}
		if r.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*r.Met]
		}
		fmt.Fprintf(&b, "| %s | %s | %s..%s | %s | %s | %s | %s | %s |\n",
			r.Name, formatRate(r.RecPerSec.Median), formatRate(r.RecPerSec.Min), formatRate(r.RecPerSec.Max),
			r.Baseline, ratio, r.Target, met, r.notes())
	}
	return b.String()
}

// notes renders r's records per run and its figures' medians.
func (r result) notes() string {
	medians := make(map[string]float64, len(r.Figures))
	for k, f := range r.Figures {
		medians[k] = f.Median
	}
	return formatCount(int(r.Records)) + " records" + formatFigures(medians)
}
