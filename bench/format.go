package main

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// figureFormat says how the results show one figure.
type figureFormat struct {
	name   string // the JSON key
	format string // a fmt format of one value, with the unit; %s for a rate
}

// figureFormats are the figures scenarios report besides records/s, in
// the order the results show them.
func figureFormats() []figureFormat {
	return []figureFormat{
		{"p50_ms", "p50 %.2f ms"},
		{"p99_ms", "p99 %.2f ms"},
		{"max_ms", "max %.2f ms"},
		{"peak_rss_mib", "peak RSS %.0f MiB"},
		{"handled_rec_per_sec", "handled %s rec/s"},
		{"changelog_per_record", "%.2f changelog records/record"},
		{"restored_keys", "%.0f keys restored"},
		{"heap_mib", "heap %.0f MiB"},
	}
}

// formatFigures renders figures as "; "-prefixed parts in figureFormats'
// order; a figure not in figureFormats is shown by name.
func formatFigures(figures map[string]float64) string {
	var b strings.Builder
	known := make(map[string]bool)
	for _, f := range figureFormats() {
		known[f.name] = true
		v, ok := figures[f.name]
		if !ok {
			continue
		}
		b.WriteString("; ")
		if strings.Contains(f.format, "%s") {
			fmt.Fprintf(&b, f.format, formatRate(v))
		} else {
			fmt.Fprintf(&b, f.format, v)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(figures)) {
		if !known[k] {
			fmt.Fprintf(&b, "; %s %g", k, figures[k])
		}
	}
	return b.String()
}

// formatRate shows a rate with three significant digits and a k or M
// suffix: 4.52M, 312k, 9.98k, 850.
func formatRate(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', digitsAfter(v/1e6), 64) + "M"
	case v >= 1e3:
		return strconv.FormatFloat(v/1e3, 'f', digitsAfter(v/1e3), 64) + "k"
	default:
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
}

// digitsAfter returns how many decimals give v (from 1 to 999) three
// significant digits.
func digitsAfter(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	default:
		return 2
	}
}

// formatCount shows n with thousands separators: 2,000,000.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
