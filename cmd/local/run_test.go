package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/internal/testkit"
)

// startLocal runs the command on a free port and returns its base URL and
// what it printed. The server is shut down, and run's result checked, at cleanup.
func startLocal(t *testing.T, args ...string) (string, *testkit.Buffer) {
	t.Helper()
	base, stdout, _ := startLocalLogs(t, args...)
	return base, stdout
}

// startLocalLogs is startLocal, also returning what the command logged.
func startLocalLogs(t *testing.T, args ...string) (string, *testkit.Buffer, *testkit.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr testkit.Buffer
	done := make(chan error, 1)
	args = append([]string{"local", "-addr", "127.0.0.1:0"}, args...)
	go func() { done <- run(ctx, args, func(string) string { return "" }, &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(15 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	re := regexp.MustCompile(`listening on (http://\S+)`)
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			waitHealthy(t, m[1])
			return m[1], &stdout, &stderr
		}
		select {
		case err := <-done:
			t.Fatalf("run returned early: %v; stderr: %s", err, stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
	}
	t.Fatalf("no listening line; stdout: %s", stdout.String())
	return "", nil, nil
}

func waitHealthy(t *testing.T, base string) {
	t.Helper()
	for range 100 {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("never healthy")
}

func call(t *testing.T, method, u, token, body string) (*http.Response, []byte) {
	t.Helper()
	var kv []string
	if token != "" {
		kv = append(kv, "Authorization", "Bearer "+token)
	}
	if body != "" {
		// The development endpoints take JSON only (415 otherwise).
		kv = append(kv, "Content-Type", "application/json")
	}
	return send(t, method, u, body, kv...)
}

func decodeJSON(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return m
}

func mintToken(t *testing.T, base, sub string) string {
	t.Helper()
	resp, b := call(t, "POST", base+"/_local/token", "", `{"sub":"`+sub+`"}`)
	if resp.StatusCode != 200 {
		t.Fatalf("token: %d %s", resp.StatusCode, b)
	}
	tok, _ := decodeJSON(t, b)["token"].(string)
	if tok == "" {
		t.Fatalf("no token in %s", b)
	}
	return tok
}

// TestLifecycle: create a job, poll it through 202s to a 200, fetch the result.
func TestLifecycle(t *testing.T) {
	for _, outcome := range []string{"COMPLETED", "FAILED"} {
		t.Run(outcome, func(t *testing.T) {
			base, _ := startLocal(t, "-pending-for", "150ms", "-processing-for", "150ms", "-rate-limit-rps", "1000", "-rate-limit-burst", "1000")
			tok := mintToken(t, base, "frontend-dev")
			resp, b := call(t, "POST", base+"/_local/jobs", "", `{"user_id":"frontend-dev","outcome":"`+outcome+`"}`)
			if resp.StatusCode != 201 {
				t.Fatalf("create: %d %s", resp.StatusCode, b)
			}
			id, _ := decodeJSON(t, b)["job_id"].(string)
			seen := map[string]bool{}
			var final map[string]any
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				resp, b := call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
				body := decodeJSON(t, b)
				st, _ := body["status"].(string)
				seen[st] = true
				switch resp.StatusCode {
				case 202:
					if resp.Header.Get("Retry-After") == "" || resp.Header.Get("ETag") == "" {
						t.Fatalf("202 without Retry-After or ETag: %v", resp.Header)
					}
					continue
				case 200:
					final = body
				default:
					t.Fatalf("poll: %d %s", resp.StatusCode, b)
				}
				break
			}
			if final == nil {
				t.Fatal("job never finished")
			}
			if !seen["PENDING"] || !seen["PROCESSING"] || final["status"] != outcome {
				t.Fatalf("states seen %v, final %v", seen, final)
			}
			if outcome == "FAILED" {
				if final["error"] == "" {
					t.Fatalf("failed job without error: %v", final)
				}
				return
			}
			u, _ := final["result_url"].(string)
			if !strings.HasPrefix(u, base+"/_local/results/") {
				t.Fatalf("result_url %q does not point back at the server", u)
			}
			resp, b = call(t, "GET", u, "", "")
			if resp.StatusCode != 200 || decodeJSON(t, b)["job_id"] != id {
				t.Fatalf("result: %d %s", resp.StatusCode, b)
			}
			// Tampering with the URL is refused as S3 would.
			pu, _ := url.Parse(u)
			q := pu.Query()
			q.Set("expires", "99999999999")
			pu.RawQuery = q.Encode()
			if resp, _ := call(t, "GET", pu.String(), "", ""); resp.StatusCode != 403 {
				t.Fatalf("tampered URL: %d, want 403", resp.StatusCode)
			}
			// Someone else's token is refused.
			other := mintToken(t, base, "someone-else")
			if resp, _ := call(t, "GET", base+"/api/vpr/status/"+id, other, ""); resp.StatusCode != 403 {
				t.Fatalf("foreign user: %d, want 403", resp.StatusCode)
			}
		})
	}
}

func TestResultURLExpires(t *testing.T) {
	base, out := startLocal(t, "-url-ttl", "1s")
	tok := tokenFromWelcome(t, out.String())
	id := regexp.MustCompile(`# COMPLETED\n.*/api/vpr/status/(\S+)`).FindStringSubmatch(out.String())[1]
	_, b := call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
	u, _ := decodeJSON(t, b)["result_url"].(string)
	if resp, _ := call(t, "GET", u, "", ""); resp.StatusCode != 200 {
		t.Fatalf("fresh URL: %d", resp.StatusCode)
	}
	time.Sleep(2 * time.Second)
	if resp, b := call(t, "GET", u, "", ""); resp.StatusCode != 403 {
		t.Fatalf("expired URL: %d %s, want 403", resp.StatusCode, b)
	}
}

func tokenFromWelcome(t *testing.T, out string) string {
	t.Helper()
	m := regexp.MustCompile(`export TOKEN=(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no token in welcome text:\n%s", out)
	}
	return m[1]
}

// TestWelcomeCommandsWork runs each printed curl command's request.
func TestWelcomeCommandsWork(t *testing.T) {
	base, out := startLocal(t)
	tok := tokenFromWelcome(t, out.String())
	want := map[string]int{"PENDING": 202, "PROCESSING": 202, "COMPLETED": 200, "FAILED": 200}
	re := regexp.MustCompile(`# (\w+)\n\s+curl -i -H "Authorization: Bearer \$TOKEN" (\S+)`)
	found := 0
	for _, m := range re.FindAllStringSubmatch(out.String(), -1) {
		found++
		resp, b := call(t, "GET", m[2], tok, "")
		if resp.StatusCode != want[m[1]] || decodeJSON(t, b)["status"] != m[1] {
			t.Errorf("%s: %d %s", m[1], resp.StatusCode, b)
		}
	}
	if found != 4 {
		t.Fatalf("found %d demo commands, want 4:\n%s", found, out)
	}
	if !strings.Contains(out.String(), base+"/openapi.json") {
		t.Errorf("welcome text does not name the API description")
	}
	resp, b := call(t, "GET", base+"/openapi.json", "", "")
	if doc := decodeJSON(t, b); resp.StatusCode != 200 || doc["openapi"] != "3.1.0" {
		t.Errorf("/openapi.json: %d, openapi = %v", resp.StatusCode, doc["openapi"])
	}
	if !strings.Contains(out.String(), base) {
		t.Errorf("welcome text does not name %s", base)
	}
}

func TestDevEndpointsRejectBadInput(t *testing.T) {
	base, _ := startLocal(t)
	for _, c := range []struct{ path, body string }{
		{"/_local/token", `{}`},
		{"/_local/token", `not json`},
		{"/_local/token", `{"sub":"x","admin":true}`},
		{"/_local/token", `{"sub":"` + strings.Repeat("x", 5000) + `"}`},
		{"/_local/jobs", `{"user_id":"u","outcome":"PENDING"}`},
		{"/_local/jobs", `{"outcome":"COMPLETED"}`},
		{"/_local/jobs", `{"user_id":"u","pending_for":"forever"}`},
		{"/_local/jobs", `{"user_id":"u","processing_for":"-1s"}`},
	} {
		if resp, b := call(t, "POST", base+c.path, "", c.body); resp.StatusCode != 400 {
			t.Errorf("%s %s: %d %s, want 400", c.path, c.body, resp.StatusCode, b)
		}
	}
	// Huge headers are refused by the server, not parsed.
	req, _ := http.NewRequest("GET", base+"/api/vpr/status/x", nil)
	req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 64<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("64 KiB header: %d, want 431", resp.StatusCode)
	}
}

func TestFlagErrors(t *testing.T) {
	for _, args := range [][]string{
		{"local", "-addr"},
		{"local", "-url-ttl", "0s"},
		{"local", "-pending-for", "-1s"},
		{"local", "extra"},
		{"local", "-addr", "256.0.0.1:99999"},
	} {
		var out testkit.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &out); err == nil {
			t.Errorf("run %v succeeded", args)
		}
	}
}

func TestAWSBackendNeedsSettings(t *testing.T) {
	var out testkit.Buffer
	err := run(context.Background(), []string{"local", "-addr", "127.0.0.1:0", "-backend", "aws"},
		func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "JOBS_TABLE_NAME") {
		t.Fatalf("run = %v, want an error naming JOBS_TABLE_NAME", err)
	}
	if err := run(context.Background(), []string{"local", "-backend", "sqlite"}, func(string) string { return "" }, &out, &out); err == nil {
		t.Fatal("run accepted -backend sqlite")
	}
}

func TestRateLimitFlags(t *testing.T) {
	base, out := startLocal(t, "-rate-limit-rps", "1", "-rate-limit-burst", "3")
	tok := tokenFromWelcome(t, out.String())
	id := regexp.MustCompile(`# PENDING\n.*/api/vpr/status/(\S+)`).FindStringSubmatch(out.String())[1]
	var codes []int
	var last *http.Response
	for range 4 {
		resp, _ := call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
		codes = append(codes, resp.StatusCode)
		last = resp
	}
	if fmt.Sprint(codes) != "[202 202 202 429]" {
		t.Fatalf("codes = %v, want three 202s then a 429", codes)
	}
	if last.Header.Get("Retry-After") != "1" || last.Header.Get("RateLimit-Policy") != `"default";q=3;w=3` {
		t.Errorf("429 headers: %v", last.Header)
	}
	// Another user has a bucket of their own.
	other := mintToken(t, base, "someone-else")
	if resp, _ := call(t, "GET", base+"/api/vpr/status/"+id, other, ""); resp.StatusCode != 403 {
		t.Errorf("other user: %d, want 403 (their own bucket, not demo-user's)", resp.StatusCode)
	}
}

func TestTraceStdout(t *testing.T) {
	base, out := startLocal(t, "-trace", "stdout")
	tok := tokenFromWelcome(t, out.String())
	id := regexp.MustCompile(`# COMPLETED\n.*/api/vpr/status/(\S+)`).FindStringSubmatch(out.String())[1]
	call(t, "GET", base+"/api/vpr/status/"+id, tok, "")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), `"Name":"GET /api/vpr/status/{job_id}"`) {
		if time.Now().After(deadline) {
			t.Fatalf("no server span on stdout:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	spans := out.String()[strings.Index(out.String(), "Health: "):] // after the welcome text, which names the token
	if strings.Contains(spans, tok) || strings.Contains(spans, "demo-user") || strings.Contains(spans, "signature=") {
		t.Errorf("a span holds the token, the user id or a signed URL:\n%s", spans)
	}
}

func TestRefusesRemoteAddrs(t *testing.T) {
	var out testkit.Buffer
	err := run(context.Background(), []string{"local", "-addr", "0.0.0.0:0"}, func(string) string { return "" }, &out, &out)
	if err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("run on 0.0.0.0 = %v, want a refusal naming loopback", err)
	}
}

func TestDevEndpointsWantALoopbackHost(t *testing.T) {
	base, _ := startLocal(t)
	for host, want := range map[string]int{"evil.example:8080": 403, "localhost": 200, "127.0.0.1:1": 200, "[::1]:8080": 200} {
		req, _ := http.NewRequest("POST", base+"/_local/token", strings.NewReader(`{"sub":"x"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("Host %s: %d, want %d", host, resp.StatusCode, want)
		}
	}
}

func TestUncleanPathsGetTheJSON404(t *testing.T) {
	base, _ := startLocal(t)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"/api/vpr/status//x", "/api/./vpr/status/x", "//healthz"} {
		resp, err := client.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 404 || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: %d %s, want the JSON 404", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}
