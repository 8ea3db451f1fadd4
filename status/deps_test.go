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
