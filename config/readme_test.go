package config

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var updateREADME = flag.Bool("update", false, "rewrite the README's config reference from the settings table")

// TestREADMEConfigReference keeps the README's configuration table in step
// with the settings the loader knows. Regenerate it with
// `go test ./config -run README -update`.
func TestREADMEConfigReference(t *testing.T) {
	const path = "../README.md"
	const begin, end = "<!-- config reference: generated from config/settings.go; TestREADMEConfigReference keeps it in step -->\n", "<!-- end of config reference -->"
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the config reference markers")
	}
	want := Reference()
	if *updateREADME {
		s = s[:i+len(begin)] + strings.TrimSpace(want) + "\n" + s[j:]
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := s[i+len(begin) : j]; strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Fatalf("README.md's config reference is stale; run: go test ./config -run README -update")
	}
}
