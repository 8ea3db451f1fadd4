package web_test

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"

	"github.com/careervp/vprstatus/web"
)

func TestFS(t *testing.T) {
	fsys := web.FS()
	names, err := fs.Glob(fsys, "*")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(names, " "), "demo.css demo.js index.html vprpoll.js"; got != want {
		t.Fatalf("files %q, want %q (tests and types are not served)", got, want)
	}
	read := func(name string) string {
		t.Helper()
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The module's API is a contract.
	mod := read("vprpoll.js")
	for _, name := range []string{"class VprStatusError", "function pollStatus", "function fetchResult"} {
		if !strings.Contains(mod, "export "+name) && !strings.Contains(mod, "export async "+name) {
			t.Errorf("vprpoll.js does not export %s", name)
		}
	}
	if regexp.MustCompile(`(?m)^\s*import\s`).MatchString(mod) {
		t.Error("vprpoll.js imports something: it must have no dependencies")
	}
	// The page loads only what is embedded, from its own origin.
	page := read("index.html") + read("demo.js")
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"|from "([^"]+)"`).FindAllStringSubmatch(page, -1) {
		ref := m[1] + m[2]
		if strings.HasPrefix(ref, "#") || ref == "/openapi.json" {
			continue
		}
		if _, err := fs.Stat(fsys, strings.TrimPrefix(ref, "/")); err != nil || !strings.HasPrefix(ref, "/") {
			t.Errorf("the page loads %q: not an embedded file at the site's root", ref)
		}
	}
}
