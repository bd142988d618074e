package layout

import (
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/eddy-streams/eddy/"

// allowed maps each package (a trailing /* covers the packages below it)
// to the Eddy packages its non-test files may import, as docs/design.md's
// package map says. A package missing here fails the test: add it to the
// design first.
var allowed = map[string][]string{
	"runtime":             {"actors", "broker", "config", "modes", "serde", "tables", "internal/*", "stores", "stores/*"},
	"config":              {"internal/settings", "internal/conn", "modes"},
	"runtime/runtimetest": {"runtime", "broker", "config", "tables", "serde"},
	"actors":              {"modes", "internal/acks", "internal/logfloor"},
	"modes":               {},
	"tables":              {"internal/shards", "serde"},
	"internal/shards":     {"actors", "stores", "stores/backends", "internal/acks"},
	"stores":              {},
	"stores/memory":       {"stores"},
	"stores/rocksdb":      {"stores"},
	"stores/storetest":    {"stores"},
	"stores/backends":     {"stores", "stores/memory", "stores/rocksdb"},
	"serde":               {},
	"broker":              {},
	"internal/settings":   {},
	"internal/conn":       {},
	"internal/cli":        {"broker", "internal/acks", "internal/topics"},
	"internal/group":      {"actors", "internal/logfloor"},
	"internal/httpserver": {},
	"internal/topics":     {},
	"internal/telemetry":  {"actors", "modes"},
	"internal/acks":       {},
	"internal/logfloor":   {},
	"internal/faults":     {},
	"internal/proctest":   {"internal/testkit"},
	"internal/testkit":    {},
	"internal/layout":     {},
	"examples/*":          {"runtime", "runtime/runtimetest", "config", "tables", "serde", "broker", "modes"},
	"bench":               {"runtime", "config", "tables", "serde", "modes", "stores", "stores/backends"},
}

// onlyIn names third-party packages that one Eddy package alone may use.
var onlyIn = map[string][]string{
	"github.com/asynkron/protoactor-go": {"actors"},
	"github.com/linxGnu/grocksdb":       {"stores/rocksdb", "bench"},
	"github.com/aws/aws-sdk-go-v2":      {"internal/conn"},
}

func matches(patterns []string, pkg string) bool {
	for _, p := range patterns {
		if p == pkg || strings.HasSuffix(p, "/*") && strings.HasPrefix(pkg, strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

func TestImportsFollowThePackageMap(t *testing.T) {
	cmd := exec.Command("go", "list", "-json", module+"...")
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	n := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		n++
		pkg := strings.TrimPrefix(p.ImportPath, module)
		var rule []string
		found := false
		for k, v := range allowed {
			if matches([]string{k}, pkg) {
				rule, found = v, true
			}
		}
		if !found {
			t.Errorf("package %s is not in the package map (internal/layout and docs/design.md)", pkg)
			continue
		}
		for _, imp := range p.Imports {
			if dep, ok := strings.CutPrefix(imp, module); ok && !matches(rule, dep) {
				t.Errorf("%s imports %s, which the package map does not allow", pkg, dep)
			}
			for third, users := range onlyIn {
				if strings.HasPrefix(imp, third) && !slices.Contains(users, pkg) {
					t.Errorf("%s imports %s, which only %v may", pkg, imp, users)
				}
			}
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Fatalf("go list found %d packages; the module has more", n)
	}
}
