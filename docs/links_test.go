// Package docs_test holds the repository's Markdown to its links: every
// relative link must name a file or folder that exists, and every #anchor a
// heading that the target renders on GitHub. A moved section then fails the
// tests rather than a reader.
package docs_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestLinks checks every Markdown file of the repository.
func TestLinks(t *testing.T) {
	problems, files, err := checkTree("..")
	if err != nil {
		t.Fatal(err)
	}
	if files < 5 {
		t.Fatalf("found %d Markdown files: is the test running from docs/?", files)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// TestLinksCatchesBreakage runs the checker over a made-up tree with one
// of each kind of fault beside links that are right.
func TestLinksCatchesBreakage(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("README.md", strings.Join([]string{
		"# Top",
		"## The `go run ./cmd/local` flags",
		"## Rate limits, tracing, CORS",
		"## Rate limits, tracing, CORS",
		"[ok](docs/a.md#a-heading) [ok](#the-go-run-cmdlocal-flags) [ok](#rate-limits-tracing-cors-1)",
		"[ok](docs/) [ok](docs/a.md \"title\") ![ok](docs/pic.png) [ok](https://example.com/x#y)",
		"[missing file](docs/b.md) [missing anchor](docs/a.md#nowhere) [missing here](#nothing)",
		"[anchor into code](main.go#L3) [outside](../../elsewhere.md)",
		"```sh",
		"[inside a code block](nowhere.md)",
		"```",
		"`[inside code](nowhere.md)`",
		"[ref]: docs/c.md",
	}, "\n"))
	write("docs/a.md", "# A heading\n[ok](../README.md#top)\n")
	write("docs/pic.png", "")
	write("main.go", "package main\n")

	problems, files, err := checkTree(dir)
	if err != nil {
		t.Fatal(err)
	}
	if files != 2 {
		t.Errorf("checked %d files, want 2", files)
	}
	want := []string{
		"README.md:7: docs/b.md: no such file",
		"README.md:7: docs/a.md#nowhere: no heading with that anchor in docs/a.md",
		"README.md:7: #nothing: no heading with that anchor in README.md",
		"README.md:8: main.go#L3: an anchor into a file that is not Markdown",
		"README.md:8: ../../elsewhere.md: outside the repository",
		"README.md:13: docs/c.md: no such file",
	}
	for _, w := range want {
		if !slices.Contains(problems, w) {
			t.Errorf("missing problem %q", w)
		}
	}
	if len(problems) != len(want) {
		t.Errorf("problems:\n%s\nwant exactly:\n%s", strings.Join(problems, "\n"), strings.Join(want, "\n"))
	}
}

// TestSlug holds slug to what GitHub renders for headings like ours.
func TestSlug(t *testing.T) {
	for heading, want := range map[string]string{
		"Quick start":                "quick-start",
		"`go run ./cmd/local`":       "go-run-cmdlocal",
		"Rate limits, tracing, CORS": "rate-limits-tracing-cors",
		"The AWS backends (cmd/lambda, and cmd/local -backend aws)": "the-aws-backends-cmdlambda-and-cmdlocal--backend-aws",
		"What happens when something is missing":                    "what-happens-when-something-is-missing",
		"`JOBS_TABLE_NAME` and **bold**":                            "jobs_table_name-and-bold",
		"Who answers 401":                                           "who-answers-401",
		"Links [to elsewhere](other.md)":                            "links-to-elsewhere",
		"Größe & Ünïcode":                                           "größe--ünïcode",
	} {
		if got := slug(heading); got != want {
			t.Errorf("slug(%q) = %q, want %q", heading, got, want)
		}
	}
}

// skipDirs are never walked: tools' and builds' output, and git's own.
var skipDirs = map[string]bool{".git": true, ".peers": true, "node_modules": true, "cdk.out": true, "dist": true}

// checkTree checks every .md file under root and returns its problems, each
// as "file:line: link: what is wrong", and how many files it read.
func checkTree(root string) (problems []string, files int, err error) {
	anchors := map[string]map[string]bool{} // by clean path from root
	anchorsOf := func(rel string) (map[string]bool, error) {
		if a, ok := anchors[rel]; ok {
			return a, nil
		}
		text, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			return nil, err
		}
		a := headingAnchors(string(text))
		anchors[rel] = a
		return a, nil
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && skipDirs[d.Name()] {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(d.Name(), ".md") {
			return nil
		}
		files++
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		text, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, l := range links(string(text)) {
			if why := checkLink(root, rel, l.dest, anchorsOf); why != "" {
				problems = append(problems, fmt.Sprintf("%s:%d: %s: %s", filepath.ToSlash(rel), l.line, l.dest, why))
			}
		}
		return nil
	})
	return problems, files, err
}

// checkLink says what is wrong with dest, a link in the file from (relative
// to root), or "" when it resolves.
func checkLink(root, from, dest string, anchorsOf func(string) (map[string]bool, error)) string {
	if isExternal(dest) {
		return ""
	}
	path, anchor, _ := strings.Cut(dest, "#")
	target := from
	if path != "" {
		target = filepath.Clean(filepath.Join(filepath.Dir(from), filepath.FromSlash(path)))
		if target == ".." || strings.HasPrefix(target, ".."+string(filepath.Separator)) {
			return "outside the repository"
		}
		if _, err := os.Stat(filepath.Join(root, target)); err != nil {
			return "no such file"
		}
	}
	if anchor == "" {
		return ""
	}
	if !strings.HasSuffix(target, ".md") {
		return "an anchor into a file that is not Markdown"
	}
	a, err := anchorsOf(target)
	if err != nil {
		return err.Error()
	}
	if !a[anchor] {
		return "no heading with that anchor in " + filepath.ToSlash(target)
	}
	return ""
}

// isExternal reports whether dest leaves the repository: a URL with a
// scheme (https:, mailto:) or a protocol-relative one.
func isExternal(dest string) bool {
	if strings.HasPrefix(dest, "//") {
		return true
	}
	scheme, _, ok := strings.Cut(dest, ":")
	return ok && scheme != "" && !strings.ContainsAny(scheme, "/#.")
}

type link struct {
	dest string
	line int
}

var (
	// inlineLink is [text](dest) or ![alt](dest), with an optional title.
	inlineLink = regexp.MustCompile(`!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)`)
	// refDef is a reference definition: [label]: dest.
	refDef     = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$`)
	codeSpan   = regexp.MustCompile("`+[^`]*`+")
	fenceStart = regexp.MustCompile("^\\s{0,3}(```+|~~~+)")
	atxHeading = regexp.MustCompile(`^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$`)
	htmlAnchor = regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
)

// lines yields the lines of text outside fenced code blocks, with their
// numbers.
func lines(text string, yield func(n int, line string)) {
	fence := ""
	for i, line := range strings.Split(text, "\n") {
		if m := fenceStart.FindStringSubmatch(line); m != nil {
			switch {
			case fence == "":
				fence = m[1]
				continue
			case strings.HasPrefix(m[1], fence[:1]) && len(m[1]) >= len(fence):
				fence = ""
				continue
			}
		}
		if fence == "" {
			yield(i+1, line)
		}
	}
}

// links returns the relative and absolute links of a Markdown text, outside
// code blocks and code spans.
func links(text string) []link {
	var out []link
	lines(text, func(n int, line string) {
		line = codeSpan.ReplaceAllString(line, "")
		if m := refDef.FindStringSubmatch(line); m != nil {
			out = append(out, link{m[1], n})
			return
		}
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			out = append(out, link{m[1], n})
		}
	})
	return out
}

// headingAnchors returns the anchors GitHub gives a Markdown text's headings
// (a repeated heading's second anchor ends in -1, its third in -2), and
// those of its HTML anchors.
func headingAnchors(text string) map[string]bool {
	seen := map[string]int{}
	out := map[string]bool{}
	lines(text, func(_ int, line string) {
		for _, m := range htmlAnchor.FindAllStringSubmatch(line, -1) {
			out[m[1]] = true
		}
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			return
		}
		s := slug(m[2])
		if k := seen[s]; k > 0 {
			out[fmt.Sprintf("%s-%d", s, k)] = true
		} else {
			out[s] = true
		}
		seen[s]++
	})
	return out
}

// linkText keeps the text of [text](dest) in a heading.
var linkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)

// slug is GitHub's anchor for a heading: the rendered text in lower case,
// without punctuation other than '-' and '_', with each space a '-'.
func slug(heading string) string {
	text := linkText.ReplaceAllString(heading, "$1")
	text = strings.NewReplacer("`", "", "**", "", "*", "").Replace(text)
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(text)) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}
