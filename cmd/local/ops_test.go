package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/status"
)

// logLines returns the JSON lines logged so far.
func logLines(t *testing.T, logs string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for l := range strings.Lines(logs) {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", l)
		}
		lines = append(lines, m)
	}
	return lines
}

// TestRequestLogs: one JSON line per request, API and development endpoints
// alike, under the id sent back as X-Request-Id; refused origins at DEBUG.
func TestRequestLogs(t *testing.T) {
	base, _, logs := startLocalLogs(t, "-log-level", "DEBUG", "-cors-origins", "http://app.test")
	tok := mintToken(t, base, "alice")
	resp, body := call(t, "POST", base+"/_local/jobs", "", `{"user_id":"alice","pending_for":"1m"}`)
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	id := decodeJSON(t, body)["job_id"].(string)
	resp, _ = call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
	if resp.StatusCode != 202 {
		t.Fatalf("poll: %d", resp.StatusCode)
	}
	pollID := resp.Header.Get("X-Request-Id")
	req, _ := http.NewRequest("POST", base+"/_local/token", strings.NewReader(`{"sub":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://evil.test")
	refused, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	refused.Body.Close()
	if refused.StatusCode != 403 {
		t.Fatalf("foreign origin: %d, want 403", refused.StatusCode)
	}

	// And a page of that origin polling the API.
	req, _ = http.NewRequest("GET", base+"/api/vpr/status/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Origin", "http://evil.test")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("API answer to a foreign origin: %v %v", err, resp.Header)
	} else {
		resp.Body.Close()
	}

	sum := sha256.Sum256([]byte("alice"))
	refusals := 0
	var poll, token, jobs, cors map[string]any
	for _, l := range logLines(t, logs.String()) {
		switch {
		case l["msg"] == "request" && l["request_id"] == pollID:
			poll = l
		case l["msg"] == "request" && l["route"] == "/_local/token" && l["status"] == 200.0:
			token = l
		case l["msg"] == "request" && l["route"] == "/_local/jobs":
			jobs = l
		case l["msg"] == "cors origin refused":
			cors = l
			refusals++
		}
	}
	if poll == nil || poll["route"] != "/api/vpr/status/{job_id}" || poll["status"] != 202.0 || poll["method"] != "GET" ||
		poll["retry_after"] != 2.0 || poll["user"] != hex.EncodeToString(sum[:8]) || pollID == "" {
		t.Errorf("poll line %v (X-Request-Id %q)", poll, pollID)
	}
	if token == nil || jobs == nil || jobs["status"] != 201.0 || token["method"] != "POST" {
		t.Errorf("development endpoints' lines: %v, %v", token, jobs)
	}
	if cors == nil || cors["level"] != "DEBUG" || cors["origin"] != "http://evil.test" || refusals != 2 {
		t.Errorf("refused origin lines: %d, the last %v; want the development endpoint's and the API's", refusals, cors)
	}
	if strings.Contains(logs.String(), tok) {
		t.Error("a token was logged")
	}
}

// TestRequestLogsOff: -log-level WARN turns the request lines off.
func TestRequestLogsOff(t *testing.T) {
	base, _, logs := startLocalLogs(t, "-log-level", "WARN")
	mintToken(t, base, "alice")
	if strings.Contains(logs.String(), `"msg":"request"`) {
		t.Errorf("request lines at WARN:\n%s", logs)
	}
}

// TestExpiredJobsAreFreed: after 100,000 jobs with a 1 s ttl have expired,
// the sweep has deleted them and their results, and the heap is back within
// a few MiB of where it started.
func TestExpiredJobsAreFreed(t *testing.T) {
	if testing.Short() {
		t.Skip("makes 100,000 jobs")
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	mib := func(b uint64) float64 { return float64(b) / (1 << 20) }
	jobs := fakes.NewJobStore(nil)
	results, err := fakes.NewResults("http://127.0.0.1/_local/results/", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	start := heap()
	r := newJobRunner(context.Background(), slog.New(slog.DiscardHandler), jobs, results, options{jobTTL: time.Second})
	defer r.close()
	const n = 100_000
	var ids []string // a few, to check on: all of them would weigh on the heap
	for i := range n {
		// At most maxWorkers at once, as POST /_local/jobs allows: the
		// runtime keeps the space of every goroutine that ever ran at once.
		for r.live.Load() >= maxWorkers {
			time.Sleep(time.Millisecond)
		}
		id := r.start("demo-user", status.Completed, "", 0, 0)
		if i < 10 || i == n-1 {
			ids = append(ids, id)
		}
	}
	for r.live.Load() > 0 {
		time.Sleep(10 * time.Millisecond)
	}
	full := heap()
	if _, err := jobs.Job(context.Background(), ids[len(ids)-1]); err != nil && full-start < 20<<20 {
		t.Fatalf("the jobs took %.1f MiB, or expired before they were counted: the measure is off", mib(full-start))
	}
	deadline := time.Now().Add(10 * time.Second)
	end := heap()
	for end > start+3<<20 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		end = heap()
	}
	t.Logf("heap: %.1f MiB at start, %.1f MiB with %d jobs, %.1f MiB after they expired", mib(start), mib(full), n, mib(end))
	if end > start+3<<20 {
		t.Errorf("%.1f MiB still held after the jobs expired, want under 3 MiB", mib(end-start))
	}
	for _, id := range ids[:10] {
		if _, err := jobs.Job(context.Background(), id); err == nil {
			t.Errorf("job %s still there", id)
		}
		if _, err := results.SignResult(context.Background(), "results/"+id+".json"); err == nil {
			t.Errorf("result of %s still there", id)
		}
	}
	runtime.KeepAlive(r)
}

// TestOtherMethodsGetProblems: every development path answers a wrong
// method with a problem+json 405 and Allow, as the API does.
func TestOtherMethodsGetProblems(t *testing.T) {
	base, _ := startLocal(t)
	for _, path := range []string{"/healthz", "/openapi.json", "/", "/vprpoll.js", "/_local/token", "/_local/jobs"} {
		resp, body := call(t, "PUT", base+path, "", "")
		if resp.StatusCode != 405 || resp.Header.Get("Allow") == "" || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("PUT %s: %d, Allow %q, %s %s", path, resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"), body)
		}
	}
}
