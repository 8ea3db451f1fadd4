package status_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies holds status to the bottom of the import graph: the
// adapters depend on it, never the other way, so importing status must not
// link in a JWT library or the AWS SDK.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	forbidden := []string{
		"github.com/golang-jwt/",
		"github.com/MicahParks/",
		"github.com/aws/",
		"github.com/careervp/vprstatus/auth",
	}
	for dep := range strings.FieldsSeq(string(out)) {
		for _, f := range forbidden {
			if strings.HasPrefix(dep, f) {
				t.Errorf("status depends on %s", dep)
			}
		}
	}
}

// layers orders the module's packages, from the binaries down to the
// leaves. An import may point down or sideways, never up.
var layers = []struct {
	dir   string // relative to the module; a trailing "/" covers a tree
	layer int
}{
	// binaries, tools and tests
	{"cmd/", 4}, {"bench", 4}, {"bench/", 4}, {"integration", 4}, {"internal/testkit", 4},
	// the AWS wiring
	{"awsenv", 3}, {"awsenv/", 3},
	// adapters
	{"auth", 2}, {"awsfault", 2}, {"dynamo", 2}, {"fakes", 2}, {"ratelimit", 2}, {"s3result", 2}, {"tracing", 2},
	{"status", 1},
}

// TestLayers holds the module's imports to one direction: binaries, then the
// AWS wiring, then the adapters, then status, then leaves that import none
// of the module's packages.
func TestLayers(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const module = "github.com/careervp/vprstatus/"
	layerOf := func(pkg string) (int, bool) {
		dir, ok := strings.CutPrefix(pkg, module)
		if !ok {
			return 0, false // not ours
		}
		for _, l := range layers {
			if dir == l.dir || strings.HasSuffix(l.dir, "/") && strings.HasPrefix(dir, l.dir) {
				return l.layer, true
			}
		}
		return 0, true // a leaf
	}
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		from, _ := layerOf(fields[0])
		for _, imp := range fields[1:] {
			if to, ours := layerOf(imp); ours && to > from {
				t.Errorf("%s (layer %d) imports %s (layer %d): imports point down", fields[0], from, imp, to)
			}
			if _, ours := layerOf(imp); ours && from == 0 {
				t.Errorf("%s is a leaf but imports %s", fields[0], imp)
			}
		}
	}
}
