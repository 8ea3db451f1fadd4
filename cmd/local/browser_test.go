package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// TestBrowser runs vprpoll.js and the demo page in a real Chromium against
// cmd/local: a page on a second loopback origin uses the server across
// origins (CORS, preflights, exposed headers, bodiless 304s), and the demo
// page at / takes a job through its lifecycle. Polling runs in real time
// (the server's clock decides the states), so jobs are short.
//
// Without Chromium it skips, unless VPR_REQUIRE_BROWSER=1. With VPR_ARTIFACTS
// naming a folder it saves a screenshot of the demo page there, demo.png
// (the README's).
func TestBrowser(t *testing.T) {
	execPath := chromium(t)
	began := time.Now()
	t.Cleanup(func() { t.Logf("browser test: %v", time.Since(began).Round(100*time.Millisecond)) })

	// The frontend's origin: a page served by another server, which also
	// plays a hostile status server under /hostile/.
	var elsewhere atomic.Int32 // requests that followed a redirect
	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir("testdata")))
	mux.Handle("/hostile/{kind}/", hostile(t))
	mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) })
	page := httptest.NewServer(mux)
	t.Cleanup(page.Close)
	base, _ := startLocal(t, "-cors-origins", page.URL)
	browser := startBrowser(t, execPath)

	t.Run("a page on another origin", func(t *testing.T) {
		t.Parallel()
		tab, exceptions := newTab(t, browser, 40*time.Second)
		if err := chromedp.Do(tab, chromedp.Navigate(page.URL+"/crossorigin.html")); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[scenarioResult](
			fmt.Sprintf("window.scenario(%q)", base), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("scenario: %v", err)
		}
		checkScenario(t, got)
		if ex := exceptions(); len(ex) > 0 {
			t.Errorf("uncaught exceptions in the page: %q", ex)
		}
	})

	t.Run("a hostile status server", func(t *testing.T) {
		t.Parallel()
		tab, exceptions := newTab(t, browser, 40*time.Second)
		if err := chromedp.Do(tab, chromedp.Navigate(page.URL+"/hostile.html")); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[map[string]hostileOutcome](
			fmt.Sprintf("window.hostile(%q)", base), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("hostile: %v", err)
		}
		checkHostile(t, got)
		if n := elsewhere.Load(); n != 0 {
			t.Errorf("%d requests followed a status request's redirect", n)
		}
		if ex := exceptions(); len(ex) > 0 {
			t.Errorf("uncaught exceptions in the page: %q", ex)
		}
	})

	t.Run("the demo page", func(t *testing.T) {
		t.Parallel()
		tab, exceptions := newTab(t, browser, 40*time.Second)
		err := chromedp.Do(tab,
			chromedp.EmulateViewport(1200, 900),
			chromedp.Navigate(base+"/"),
			// Long enough to see a 304 and each state, polling every 2 s.
			chromedp.SetValue(chromedp.ID("pending-for"), "3s"),
			chromedp.SetValue(chromedp.ID("processing-for"), "2s"),
			chromedp.Click(chromedp.CSS(`#create button[type=submit]`)),
			chromedp.WaitVisible(chromedp.CSS(`#outcome[data-outcome="COMPLETED"] .report`)),
		)
		if err != nil {
			t.Fatalf("COMPLETED: %v", err)
		}
		text, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("main")))
		if err != nil {
			t.Fatal(err)
		}
		var missing []string
		for _, want := range []string{"PENDING", "unchanged", "PROCESSING", "COMPLETED", "the report", "Platform engineer", `"default";q=10;w=2`} {
			if !strings.Contains(text, want) {
				missing = append(missing, want)
			}
		}
		if len(missing) > 0 {
			t.Errorf("the page does not show %q:\n%s", missing, text)
		}
		rows, err := chromedp.Run(tab, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll("#polls tbody tr")].map((tr) => tr.dataset.status)`))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(rows, "304") || rows[len(rows)-1] != "200" {
			t.Errorf("the poll log's answers: %q, want a 304 among them and a 200 last", rows)
		}
		if strings.Contains(text, "signature=") {
			t.Error("the page shows a result URL")
		}
		screenshot(t, tab, "demo")

		// A refusal reads as what the user should do.
		err = chromedp.Do(tab,
			chromedp.Click(chromedp.CSS(`[data-scenario="gone"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#outcome[data-outcome="error:gone"]`)),
		)
		if err != nil {
			t.Fatalf("410: %v", err)
		}
		advice, err := chromedp.Run(tab, chromedp.Text(chromedp.ID("outcome")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(advice, "Regenerate the report") {
			t.Errorf("410 advice: %q", advice)
		}
		if ex := exceptions(); len(ex) > 0 {
			t.Errorf("uncaught exceptions in the page: %q", ex)
		}
	})
}

// scenarioResult is what testdata/crossorigin.html's scenario returns.
type scenarioResult struct {
	Final        string
	ReportForJob bool
	Requests     []pageRequest
	Refused      []pageRequest
	NotFound     string
	Forbidden    string
	Unauthorized string
	Deleted      int
	Gone         string
	ResultGone   string
}

// pageRequest is one request vprpoll made, as the page saw it. Times are
// the page's performance.now(), in milliseconds.
type pageRequest struct {
	Path            string
	Sent, Answered  float64
	Status          int
	IfNoneMatch     string
	ETag            string
	RetryAfter      string
	RateLimit       string
	RateLimitPolicy string
	WWWAuthenticate string
}

func checkScenario(t *testing.T, got scenarioResult) {
	t.Helper()
	if got.Final != "COMPLETED" || !got.ReportForJob {
		t.Errorf("final %q, report for the job: %v", got.Final, got.ReportForJob)
	}
	for name, c := range map[string][2]string{
		"unknown job":                {got.NotFound, "not_found"},
		"someone else's job":         {got.Forbidden, "forbidden"},
		"a bad token":                {got.Unauthorized, "unauthorized"},
		"a deleted result":           {got.Gone, "gone"},
		"the deleted result's URL":   {got.ResultGone, "not_found"},
		"deleting the result (code)": {strconv.Itoa(got.Deleted), "204"},
	} {
		if c[0] != c[1] {
			t.Errorf("%s: %s, want %s", name, c[0], c[1])
		}
	}
	if len(got.Refused) != 1 || !strings.HasPrefix(got.Refused[0].WWWAuthenticate, "Bearer ") {
		t.Errorf("the 401's WWW-Authenticate is not readable: %+v", got.Refused)
	}

	var polls []pageRequest
	results := 0
	for _, r := range got.Requests {
		if strings.HasPrefix(r.Path, "/api/vpr/status/") {
			polls = append(polls, r)
		} else if strings.HasPrefix(r.Path, "/_local/results/") && r.Status == 200 {
			results++
		}
	}
	if results != 1 {
		t.Errorf("%d result fetches answered 200 across origins, want 1: %+v", results, got.Requests)
	}
	var notModified int
	for i, p := range polls {
		t.Logf("poll %d at %6.0f ms: %d ETag %s If-None-Match %s Retry-After %s RateLimit %s",
			i, p.Sent, p.Status, p.ETag, p.IfNoneMatch, p.RetryAfter, p.RateLimit)
		if p.RateLimit == "" || p.RateLimitPolicy == "" {
			t.Errorf("poll %d: the RateLimit fields are not readable", i)
		}
		if i == 0 {
			continue
		}
		prev := polls[i-1]
		if p.IfNoneMatch != prev.ETag {
			t.Errorf("poll %d sent If-None-Match %q, want the last ETag %q", i, p.IfNoneMatch, prev.ETag)
		}
		if p.Status == http.StatusNotModified {
			notModified++
		}
		// Never sooner than the previous answer's Retry-After allowed (less
		// the browser's coarsening of performance.now).
		ra, err := strconv.Atoi(prev.RetryAfter)
		if err != nil {
			t.Errorf("poll %d: the previous answer's Retry-After %q is not readable", i, prev.RetryAfter)
			continue
		}
		if waited := p.Sent - prev.Answered; waited < float64(ra)*1000-1 {
			t.Errorf("poll %d came %.0f ms after a %d answer asking for %d s", i, waited, prev.Status, ra)
		}
	}
	if notModified == 0 {
		t.Errorf("no 304 in %d polls", len(polls))
	}
	if last := polls[len(polls)-1]; last.Status != 200 {
		t.Errorf("the last poll answered %d", last.Status)
	}
}

// hostileOutcome is how one call of testdata/hostile.html ended.
type hostileOutcome struct {
	Code, Message, Cause string
	Status               int
	Ms                   float64
}

// hostile serves /hostile/{kind}/…: a status server that misbehaves in the
// way kind says.
func hostile(t *testing.T) http.Handler {
	const jobID = "11111111-1111-4111-8111-111111111111"
	spaces := []byte(strings.Repeat(" ", 32<<10))
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	member := gz.Bytes() // 1 MiB of zeros; sent again and again, a bomb
	// endless writes chunk until the client hangs up (a GiB at most).
	endless := func(w http.ResponseWriter, chunk []byte) {
		for sent := 0; sent < 1<<30; sent += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
		t.Error("the browser read a GiB of an endless body")
	}
	answer := func(w http.ResponseWriter, code int, body string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		io.WriteString(w, body)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A stalled answer ends when the browser hangs up, or after 30 s.
		stalled, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		defer cancel()
		switch r.PathValue("kind") {
		case "redirect":
			http.Redirect(w, r, "/elsewhere?sig=secret", http.StatusFound)
		case "endless":
			w.WriteHeader(http.StatusAccepted)
			endless(w, spaces)
		case "gzip":
			w.Header().Set("Content-Encoding", "gzip")
			w.WriteHeader(http.StatusAccepted)
			endless(w, member)
		case "drip":
			w.WriteHeader(http.StatusAccepted)
			for {
				w.Write([]byte(" "))
				http.NewResponseController(w).Flush()
				select {
				case <-stalled.Done():
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		case "silent":
			<-stalled.Done()
		case "contradicts":
			answer(w, http.StatusAccepted, `{"job_id":"`+jobID+`","status":"COMPLETED","result_url":"https://results.example/r.json","result_url_expires_at":"2999-01-01T00:00:00Z"}`)
		case "otherjob":
			answer(w, http.StatusAccepted, `{"job_id":"22222222-2222-4222-8222-222222222222","status":"PENDING","created_at":"2026-01-02T03:04:05Z"}`)
		case "dataurl":
			answer(w, http.StatusOK, `{"job_id":"`+jobID+`","status":"COMPLETED","result_url":"data:application/json,{}","result_url_expires_at":"2999-01-01T00:00:00Z"}`)
		default:
			http.NotFound(w, r)
		}
	})
}

// checkHostile judges what testdata/hostile.html saw: each misbehaviour is
// the error the module's rules say, in about the time they allow.
func checkHostile(t *testing.T, got map[string]hostileOutcome) {
	t.Helper()
	const requestTimeout = 300.0 // ms, as the page asks
	for kind, want := range map[string]struct {
		code, message string
		minMs, maxMs  float64
	}{
		// An opaque redirect: no status, no Location to read.
		"redirect":    {"server", "redirected: not followed", 0, 5000},
		"endless":     {"server", "over 65536 bytes", 0, 5000},
		"gzip":        {"server", "over 65536 bytes", 0, 5000},
		"drip":        {"network", "requestTimeoutMs (300 ms)", 5*requestTimeout - 50, 20000},
		"silent":      {"network", "requestTimeoutMs (300 ms)", 5*requestTimeout - 50, 20000},
		"contradicts": {"server", "a COMPLETED state, which a 202 does not carry", 0, 5000},
		"otherjob":    {"server", "job_id of another job", 0, 5000},
		"dataurl":     {"server", "unusable result_url", 0, 5000},
		"aborted":     {"the abort's reason", "", 0, 2000},
		"bigResult":   {"server", "maxResultBytes", 0, 5000},
	} {
		o, ok := got[kind]
		t.Logf("%s: %s after %.0f ms: %s", kind, o.Code, o.Ms, o.Message)
		switch {
		case !ok:
			t.Errorf("%s: no outcome", kind)
		case o.Code != want.code || !strings.Contains(o.Message, want.message):
			t.Errorf("%s: %s %q, want %s with %q", kind, o.Code, o.Message, want.code, want.message)
		case o.Ms < want.minMs || o.Ms > want.maxMs:
			t.Errorf("%s: ended after %.0f ms, want %.0f to %.0f", kind, o.Ms, want.minMs, want.maxMs)
		}
		if strings.Contains(o.Message, "secret") {
			t.Errorf("%s: the message holds a query: %q", kind, o.Message)
		}
	}
}

// chromium returns the browser to run, or skips the test without one (fails
// it when VPR_REQUIRE_BROWSER=1).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const msg = "no Chromium (chromium, chromium-browser or google-chrome) on PATH: apt-get install chromium"
	if os.Getenv("VPR_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + " (VPR_REQUIRE_BROWSER=1)")
	}
	t.Skip(msg + "; VPR_REQUIRE_BROWSER=1 makes this a failure")
	return ""
}

// startBrowser starts a headless Chromium that makes no connection of its
// own (this machine's network is closed), and returns its context.
func startBrowser(t *testing.T, execPath string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(execPath),
		chromedp.Headless,
		chromedp.NoSandbox, // as root, Chromium refuses its sandbox
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(cancel)
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting %s: %v", execPath, err)
	}
	return browser
}

// newTab opens a tab that gives up after timeout, and returns it with a func
// listing the uncaught exceptions (and unhandled rejections) of its pages.
func newTab(t *testing.T, browser context.Context, timeout time.Duration) (context.Context, func() []string) {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tab, cancelTimeout := context.WithTimeout(tab, timeout)
	t.Cleanup(cancelTimeout)
	var mu sync.Mutex
	var seen []string
	events := chromedp.Events(tab, runtime.ExceptionThrown)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			d := ev.ExceptionDetails
			desc := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				desc += " " + d.Exception.Description
			}
			mu.Lock()
			seen = append(seen, desc)
			mu.Unlock()
		}
	}()
	return tab, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), seen...)
	}
}

// screenshot saves the whole page as $VPR_ARTIFACTS/name.png, when
// VPR_ARTIFACTS is set.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	dir := os.Getenv("VPR_ARTIFACTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}
