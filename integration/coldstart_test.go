package integration_test

import (
	"archive/zip"
	"bytes"
	"cmp"
	"compress/flate"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
)

// TestColdStart measures the function's cold start under the Runtime
// Interface Emulator against a floor measured in the same run, and the size
// of the arm64 artifact. It only runs when asked, and reports with -v:
//
//	bash .ci/peers.sh
//	VPR_COLDSTART=1 go test -count=1 -run TestColdStart -v ./integration/
//
// The floor (testdata/floor) is algnhsa with a ServeMux answering a fixed
// body, built for the host with the function's flags. VPR_COLDSTART_RUNS
// sets the number of cold starts of each, per identity mode (default 15).
// Function and floor take turns, each run starting a fresh emulator and
// bootstrap, which is invoked until the first answer (the function's: a 202
// for a pending job read from dynalite), so that both see the same noise on
// a shared machine. VPR_COLDSTART_BASELINE names another host build of the
// function to take turns with them, to compare a change with its parent:
//
//	git worktree add /tmp/parent HEAD~1
//	(cd /tmp/parent && CGO_ENABLED=0 go build -tags lambda.norpc,grpcnotrace -trimpath -o /tmp/parent.bootstrap ./cmd/lambda)
//	VPR_COLDSTART=1 VPR_COLDSTART_BASELINE=/tmp/parent.bootstrap go test -count=1 -run TestColdStart -v ./integration/
//
// Reported per mode, as median, min and max:
//
//   - init: the bootstrap's init as the emulator reports it ("INIT REPORT
//     durationMs": from exec to the runtime's first /next), which is when
//     run() builds everything; the emulator starts the bootstrap only on the
//     first invocation;
//   - first answer: from starting the emulator's process to the first answer;
//   - first invoke: the first invocation's round trip, init included;
//   - each figure over the floor's, as a ratio of the medians and as the
//     median of the ratios of runs taken together;
//   - in JWT mode, the JWKS fetch within init, as the function's start-up
//     line reports it.
//
// Then the package initialisation of each (GODEBUG=inittrace=1, as many runs
// as above, taking turns), with the largest shares of all but the floor, and
// the artifact's size and largest contributors.
func TestColdStart(t *testing.T) {
	if os.Getenv("VPR_COLDSTART") != "1" {
		t.Skip("measures cold starts only when asked: VPR_COLDSTART=1 go test -count=1 -run TestColdStart -v ./integration/")
	}
	needPeers(t)
	rie, bootstrap := needLambda(t)
	floor := buildFloor(t)
	runs := 15
	if v := os.Getenv("VPR_COLDSTART_RUNS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("VPR_COLDSTART_RUNS=%q: want a positive integer", v)
		}
		runs = n
	}

	id := newID()
	putItem(t, item(id, map[string]types.AttributeValue{"status": str("PENDING")}))
	iss, err := fakes.NewIssuer("", "vpr-client-id")
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /pool/.well-known/jwks.json", iss.JWKSHandler())
	jwksSrv := httptest.NewServer(mux)
	t.Cleanup(jwksSrv.Close)
	iss.Issuer = jwksSrv.URL + "/pool"
	tok, err := iss.Token("RS256", "user-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}

	base := map[string]string{
		"JOBS_TABLE_NAME":           table,
		"VPR_RESULTS_BUCKET_NAME":   bucket,
		"AWS_REGION":                region,
		"AWS_ENDPOINT_URL_DYNAMODB": env.dynamoURL,
		"AWS_ENDPOINT_URL_S3":       env.s3URL,
		"S3_FORCE_PATH_STYLE":       "true",
		"AWS_ACCESS_KEY_ID":         "S3RVER",
		"AWS_SECRET_ACCESS_KEY":     "S3RVER",
	}
	with := func(extra map[string]string) map[string]string {
		m := maps.Clone(base)
		maps.Copy(m, extra)
		return m
	}
	path := "/api/vpr/status/" + id
	modes := []struct {
		name    string
		environ map[string]string
		event   testkit.Event
		jwks    bool
	}{
		{"gateway (AUTH_TRUST_GATEWAY=true)", with(map[string]string{"AUTH_TRUST_GATEWAY": "true"}),
			testkit.Event{Kind: "apigw-v2", Path: path, Claims: map[string]string{"sub": "user-1"}}, false},
		{"jwt (JWKS fetched at start)", with(map[string]string{"JWT_ISSUER": iss.Issuer, "JWT_AUDIENCE": iss.Audience}),
			testkit.Event{Kind: "apigw-v2", Path: path, Headers: map[string]string{"authorization": "Bearer " + tok}}, true},
	}
	// The binaries timed, the floor first; with VPR_COLDSTART_BASELINE,
	// another build of the function (the parent commit's, say) too.
	bins := []struct{ name, path string }{{"floor", floor}, {"function", bootstrap}}
	if p := os.Getenv("VPR_COLDSTART_BASELINE"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("VPR_COLDSTART_BASELINE: %v", err)
		}
		bins = append(bins, struct{ name, path string }{"baseline", p})
	}
	results := make([][][]coldRun, len(modes)) // [mode][binary][run]
	for mi := range modes {
		results[mi] = make([][]coldRun, len(bins))
	}
	for i := range runs {
		for mi, m := range modes {
			payload := m.event.Render(t)
			// Rotate which goes first, so that none is always the one
			// starting on a machine just woken (or just busied) by another.
			for k := range bins {
				bi := (i + k) % len(bins)
				results[mi][bi] = append(results[mi][bi], coldStart(t, rie, bins[bi].path, m.environ, payload))
			}
		}
	}
	for mi, m := range modes {
		t.Logf("%s: %d cold starts of each, interleaved", m.name, runs)
		for _, f := range []struct {
			name string
			get  func(coldRun) time.Duration
		}{
			{"init", func(r coldRun) time.Duration { return r.init }},
			{"first answer", func(r coldRun) time.Duration { return r.first }},
			{"first invoke", func(r coldRun) time.Duration { return r.invoke }},
		} {
			fl := collect(results[mi][0], f.get)
			for bi, b := range bins {
				ds := collect(results[mi][bi], f.get)
				line := fmt.Sprintf("  %-13s %-9s %-44s", f.name, b.name, stats(ds))
				if bi > 0 {
					paired := make([]float64, len(ds))
					for i := range ds {
						paired[i] = float64(ds[i]) / float64(fl[i])
					}
					line += fmt.Sprintf(" ÷ floor %.2f (median of paired runs %.2f)", float64(median(ds))/float64(median(fl)), medianOf(paired))
				}
				t.Log(line)
			}
		}
		if m.jwks {
			jwks := collect(results[mi][1], func(r coldRun) time.Duration { return r.jwks })
			t.Logf("  %-13s %-9s %s (within its init)", "jwks fetch", "function", stats(jwks))
		}
	}

	reportPackageInit(t, bins, runs)
	reportSize(t)
}

// buildFloor builds testdata/floor for the host as needLambda builds the
// function.
func buildFloor(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bootstrap")
	cmd := exec.Command("go", "build", "-tags", buildTags, "-trimpath", "-o", bin, "./testdata/floor")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return bin
}

type coldRun struct {
	first, init, invoke time.Duration
	jwks                time.Duration // the JWKS fetch, when the start-up line reports one
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// coldStart starts the emulator and bootstrap once and times the first
// answer to payload.
func coldStart(t *testing.T, rie, bootstrap string, environ map[string]string, payload []byte) coldRun {
	t.Helper()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	apiPort, err := freePort()
	for err == nil && apiPort == port {
		apiPort, err = freePort()
	}
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := emulatorCmd(rie, bootstrap, t.TempDir(), port, apiPort, environ)
	start := time.Now()
	p, err := launch(cmd, addr)
	if err != nil {
		t.Fatal(err)
	}
	p.graceful = true
	defer p.stop()
	em := &emulator{peer: p, url: invocationsURL(addr)}
	var r coldRun
	for {
		sent := time.Now()
		code, body, err := em.invokeRaw(payload, nil)
		if err != nil {
			// Not listening yet.
			select {
			case <-p.done:
				t.Fatalf("emulator exited: %s", p.out.String())
			default:
			}
			if time.Since(start) > 15*time.Second {
				t.Fatalf("no answer after 15s: %v\n%s", err, p.out.String())
			}
			time.Sleep(time.Millisecond)
			continue
		}
		r.first, r.invoke = time.Since(start), time.Since(sent)
		var resp testkit.ProxyResponse
		if code != http.StatusOK || json.Unmarshal(body, &resp) != nil || resp.StatusCode != http.StatusAccepted {
			t.Fatalf("first answer: %d %s\n%s", code, body, p.out.String())
		}
		break
	}
	// The emulator logs the init report before the answer, but relays
	// output asynchronously.
	deadline := time.Now().Add(5 * time.Second)
	for {
		if m := initReport.FindStringSubmatch(p.out.String()); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			r.init = time.Duration(ms * float64(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no INIT REPORT in:\n%s", p.out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, l := range em.logLines() {
		if v, ok := l["jwks_fetch"].(string); ok && l["msg"] == "starting" {
			if r.jwks, err = time.ParseDuration(v); err != nil {
				t.Fatalf("start-up line's jwks_fetch: %v", err)
			}
		}
	}
	return r
}

// reportPackageInit runs each of bins (the floor first) n times, taking
// turns, with GODEBUG=inittrace=1, and reports the time and allocations of
// their package initialisation (everything before main), and the largest
// shares of all but the floor. Run outside Lambda, each stops in main.
func reportPackageInit(t *testing.T, bins []struct{ name, path string }, n int) {
	t.Helper()
	traces := make([][]initTrace, len(bins))
	for i := range n {
		for k := range bins {
			bi := (i + k) % len(bins)
			traces[bi] = append(traces[bi], traceInit(t, bins[bi].path))
		}
	}
	t.Logf("package init (GODEBUG=inittrace=1), %d runs of each, interleaved:", n)
	fl := collect(traces[0], initTrace.total)
	for bi, b := range bins {
		ds := collect(traces[bi], initTrace.total)
		line := fmt.Sprintf("  %-9s %-44s %6d allocs  %3d packages", b.name, stats(ds), traces[bi][0].allocs(), len(traces[bi][0]))
		if bi > 0 {
			line += fmt.Sprintf("  ÷ floor %.2f", float64(median(ds))/float64(median(fl)))
		}
		t.Log(line)
	}
	for bi, b := range bins[1:] {
		type share struct {
			pkg    string
			clock  time.Duration
			allocs int
		}
		var shares []share
		for _, p := range traces[bi+1][0] {
			ds := collect(traces[bi+1], func(tr initTrace) time.Duration { return tr.clock(p.pkg) })
			shares = append(shares, share{p.pkg, median(ds), p.allocs})
		}
		slices.SortFunc(shares, func(x, y share) int { return cmp.Compare(y.clock, x.clock) })
		t.Logf("  the %s's largest shares (median ms, allocs):", b.name)
		for _, s := range shares[:min(12, len(shares))] {
			t.Logf("    %7.3f  %6d  %s", float64(s.clock)/float64(time.Millisecond), s.allocs, s.pkg)
		}
	}
}

// initTrace is one run's GODEBUG=inittrace=1 report: a line per package.
type initTrace []pkgInit

type pkgInit struct {
	pkg    string
	clock  time.Duration
	allocs int
}

func (tr initTrace) total() time.Duration {
	var d time.Duration
	for _, p := range tr {
		d += p.clock
	}
	return d
}

func (tr initTrace) allocs() int {
	n := 0
	for _, p := range tr {
		n += p.allocs
	}
	return n
}

func (tr initTrace) clock(pkg string) time.Duration {
	for _, p := range tr {
		if p.pkg == pkg {
			return p.clock
		}
	}
	return 0
}

var initLine = regexp.MustCompile(`(?m)^init (\S+) @[0-9.]+ ms, ([0-9.]+) ms clock, [0-9]+ bytes, ([0-9]+) allocs$`)

// traceInit runs bin once with GODEBUG=inittrace=1 and an empty
// environment, so that it stops in main, and parses the report.
func traceInit(t *testing.T, bin string) initTrace {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = []string{"GODEBUG=inittrace=1"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	cmd.Run() // both refuse to run outside Lambda
	var tr initTrace
	for _, m := range initLine.FindAllStringSubmatch(stderr.String(), -1) {
		ms, _ := strconv.ParseFloat(m[2], 64)
		allocs, _ := strconv.Atoi(m[3])
		tr = append(tr, pkgInit{m[1], time.Duration(ms * float64(time.Millisecond)), allocs})
	}
	if len(tr) == 0 {
		t.Fatalf("%s printed no init trace:\n%s", bin, stderr.String())
	}
	return tr
}

func collect[T any](rs []T, get func(T) time.Duration) []time.Duration {
	ds := make([]time.Duration, len(rs))
	for i, r := range rs {
		ds[i] = get(r)
	}
	return ds
}

func median(ds []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(ds))
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

func medianOf(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[len(s)/2]
}

// stats renders the median, min and max of ds.
func stats(ds []time.Duration) string {
	s := slices.Sorted(slices.Values(ds))
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond)) }
	return fmt.Sprintf("median %s  min %s  max %s", ms(median(ds)), ms(s[0]), ms(s[len(s)-1]))
}

// reportSize builds the deployable artifact as cmd/lambda's doc says, and
// the floor the same way, and reports their sizes and the artifact's zip
// (zip -9, or Go's deflate at its best compression where there is no zip
// command). Then the artifact's largest contributors by module, from a
// build that keeps its symbol table.
func reportSize(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bootstrap")
	floor := filepath.Join(t.TempDir(), "bootstrap")
	symbols := filepath.Join(t.TempDir(), "bootstrap")
	for _, b := range []struct{ out, ldflags, pkg string }{
		{bin, "-s -w", "../cmd/lambda"},
		{floor, "-s -w", "./testdata/floor"},
		{symbols, "", "../cmd/lambda"},
	} {
		cmd := exec.Command("go", "build", "-tags", buildTags, "-trimpath", "-ldflags="+b.ldflags, "-o", b.out, b.pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	}
	size := func(p string) int64 {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	zipped := filepath.Join(dir, "bootstrap.zip")
	how := "zip -9 bootstrap.zip bootstrap, in a temporary directory (the CDK zips dist/ itself)"
	if _, err := exec.LookPath("zip"); err == nil {
		cmd := exec.Command("zip", "-9", "-q", "bootstrap.zip", "bootstrap")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, out)
		}
	} else {
		// Go's deflate compresses a little less than Info-ZIP's -9.
		how = "archive/zip, deflate at flate.BestCompression (no zip command)"
		if err := zipFile(zipped, bin); err != nil {
			t.Fatal(err)
		}
	}
	mib := func(n int64) string { return fmt.Sprintf("%d bytes (%.2f MiB)", n, float64(n)/(1<<20)) }
	t.Logf("linux/arm64 bootstrap: %s", mib(size(bin)))
	t.Logf("bootstrap.zip:         %s", mib(size(zipped)))
	t.Logf("the floor, built so:   %s", mib(size(floor)))
	t.Logf("built with: CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc,grpcnotrace -trimpath -ldflags='-s -w' -o dist/bootstrap ./cmd/lambda")
	t.Logf("zipped with: %s", how)
	reportContributors(t, symbols)
}

// reportContributors reports what the modules of cmd/lambda's build
// (linux/arm64) contribute to the binary at bin: the sizes of their
// symbols in the file (code, data and read-only data; not bss), which is
// what `go tool nm -size` lists, grouped. The linker's own symbols (go:*)
// are counted apart.
func reportContributors(t *testing.T, bin string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-tags", buildTags, "-deps", "-f", "{{.ImportPath}} {{with .Module}}{{.Path}}{{end}}", "../cmd/lambda")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	module := map[string]string{} // package → module; "std" for the standard library
	for l := range strings.Lines(string(out)) {
		pkg, mod, _ := strings.Cut(strings.TrimSpace(l), " ")
		if mod == "" {
			mod = "std"
		}
		module[pkg] = mod
	}
	module["main"] = module["github.com/careervp/vprstatus/cmd/lambda"] // -trimpath or not, its symbols say main
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	bySize := map[string]int64{}
	var total int64
	for _, s := range syms {
		if s.Section == elf.SHN_UNDEF || int(s.Section) >= len(f.Sections) || f.Sections[s.Section].Type == elf.SHT_NOBITS {
			continue
		}
		group := "(the linker's: function data, strings)"
		if pkg := symbolPackage(s.Name); pkg != "" {
			group = "(other)"
			if m, ok := module[pkg]; ok {
				group = m
			}
		}
		bySize[group] += int64(s.Size)
		total += int64(s.Size)
	}
	groups := slices.SortedFunc(maps.Keys(bySize), func(a, b string) int { return cmp.Compare(bySize[b], bySize[a]) })
	t.Logf("largest contributors by module (symbol sizes: %.1f MiB of code and data in all; beside them the file holds the runtime's function tables, which grow with the code):", float64(total)/(1<<20))
	for _, g := range groups[:min(15, len(groups))] {
		t.Logf("  %6.2f MiB  %4.1f%%  %s", float64(bySize[g])/(1<<20), 100*float64(bySize[g])/float64(total), g)
	}
}

// symbolPackage returns the import path in a Go symbol's name
// ("github.com/x/y.(*T).M", "type:*github.com/x/y.T", "go:itab.*a/b.T,io.Reader"
// → a package path), or "" for the linker's own symbols.
func symbolPackage(name string) string {
	for _, p := range []string{"type:.eq.", "type:", "go:itab.", "go:info.", "go:cuinfo.", "go:interp.", "go:map.init.", "go:sha256."} {
		name = strings.TrimPrefix(name, p)
	}
	name = strings.TrimLeft(name, "*[]")
	if strings.HasPrefix(name, "go:") {
		return ""
	}
	if i := strings.IndexAny(name, "([,"); i >= 0 {
		name = name[:i]
	}
	slash := strings.LastIndex(name, "/")
	dot := strings.Index(name[slash+1:], ".")
	if dot < 0 {
		return ""
	}
	// The linker escapes dots in a path's last element (v1%2e0%2e0).
	pkg, err := url.PathUnescape(name[:slash+1+dot])
	if err != nil {
		return name[:slash+1+dot]
	}
	return pkg
}

// zipFile writes a zip at dst holding src as "bootstrap", executable.
func zipFile(dst, src string) error {
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	zw := zip.NewWriter(out)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) {
		return flate.NewWriter(w, flate.BestCompression)
	})
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return err
	}
	h, err := zip.FileInfoHeader(fi)
	if err != nil {
		return err
	}
	h.Name, h.Method = "bootstrap", zip.Deflate
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, in); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return out.Close()
}
