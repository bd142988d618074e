package runtime

import (
	"os"
	"strings"
	"testing"
)

// TestREADMEConfigReference keeps the README's configuration table in step
// with the settings the loader knows.
func TestREADMEConfigReference(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- config reference: generated from runtime/config.go; TestREADMEConfigReference keeps it in step -->\n", "<!-- end of config reference -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatal("README.md lacks the config reference markers")
	}
	if got, want := s[i+len(begin):j], configReference(); strings.TrimSpace(got) != strings.TrimSpace(want) {
		t.Fatalf("README.md's config reference is stale; replace it with:\n%s", want)
	}
}
