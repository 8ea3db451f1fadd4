package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careervp/vprstatus/client"
)

const jobID = "0b7c5a39-5d8f-4bd4-9d6c-3e7c4a2f5e10"

// service is a stand-in for the status API: the status path answers with
// its steps in turn, and /results/r.json serves a result.
type service struct {
	*httptest.Server
	mu    sync.Mutex
	steps []http.HandlerFunc
	auth  []string // the Authorization of each status request
}

func newService(t *testing.T, steps ...http.HandlerFunc) *service {
	t.Helper()
	s := &service{steps: steps}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/vpr/status/{job_id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		n := len(s.auth)
		s.auth = append(s.auth, r.Header.Get("Authorization"))
		s.mu.Unlock()
		if n >= len(s.steps) {
			t.Errorf("status request %d beyond the %d scripted", n+1, len(s.steps))
			w.WriteHeader(http.StatusTeapot)
			return
		}
		s.steps[n](w, r)
	})
	mux.HandleFunc("GET /results/r.json", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("sig") != "ok" {
			http.Error(w, "<Error><Code>AccessDenied</Code></Error>", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `{"headline":"Platform engineer"}`)
	})
	s.Server = httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s
}

func (s *service) authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

func answer(code int, body string, fields ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Set(fields[i], fields[i+1])
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

func pending(retryAfter string) http.HandlerFunc {
	return answer(202, `{"job_id":"`+jobID+`","status":"PENDING","created_at":"2026-01-02T03:04:05Z"}`, "ETag", `"p"`, "Retry-After", retryAfter)
}

// completed points at the result with signature sig ("ok" is accepted).
func completed(s **service, sig string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"job_id":%q,"status":"COMPLETED","created_at":"2026-01-02T03:04:05Z","result_url":%q,"result_url_expires_at":"2099-01-01T00:00:00Z"}`,
			jobID, (*s).URL+"/results/r.json?sig="+sig)
	}
}

func problem(code int, msg string) http.HandlerFunc {
	return answer(code, fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d,"error":%q}`, http.StatusText(code), code, msg),
		"Content-Type", "application/problem+json")
}

var failed = answer(200, `{"job_id":"`+jobID+`","status":"FAILED","created_at":"2026-01-02T03:04:05Z","error":"no report"}`)

// vprpoll runs the command against srv with a token in the environment.
func vprpoll(t *testing.T, srv *service, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs bytes.Buffer
	args = append([]string{"vprpoll", "-base", srv.URL}, args...)
	getenv := func(k string) string {
		if k == "VPR_TOKEN" {
			return "env-token"
		}
		return ""
	}
	err := run(context.Background(), args, getenv, &out, &errs)
	if err != nil {
		fmt.Fprintln(&errs, "vprpoll:", err) // as main does
	}
	return exitCode(err), out.String(), errs.String()
}

func TestExitCodes(t *testing.T) {
	var srv *service
	for _, tt := range []struct {
		name   string
		steps  []http.HandlerFunc
		args   []string
		code   int
		stdout string // a regexp
	}{
		{"0: completed", []http.HandlerFunc{completed(&srv, "ok")}, []string{jobID}, 0, `^\{"job_id":"` + jobID + `","status":"COMPLETED",.*"result_url":".*\}\n$`},
		{"0: completed, its result fetched", []http.HandlerFunc{completed(&srv, "ok")}, []string{"-fetch", jobID}, 0, `^\{"headline":"Platform engineer"\}\n$`},
		{"0: a result URL refused once, then fetched", []http.HandlerFunc{completed(&srv, "stale"), completed(&srv, "ok")}, []string{"-fetch", jobID}, 0, `^\{"headline"`},
		{"1: failed", []http.HandlerFunc{failed}, []string{jobID}, 1, `^\{"job_id":"` + jobID + `","status":"FAILED",.*"error":"no report"\}\n$`},
		{"1: failed, nothing to fetch", []http.HandlerFunc{failed}, []string{"-fetch", jobID}, 1, `"status":"FAILED"`},
		{"2: not found", []http.HandlerFunc{problem(404, "Job not found (may have expired after 10 minutes)")}, []string{jobID}, 2, `^$`},
		{"2: forbidden", []http.HandlerFunc{problem(403, "Forbidden")}, []string{jobID}, 2, `^$`},
		{"2: gone", []http.HandlerFunc{problem(410, "Result expired or deleted")}, []string{jobID}, 2, `^$`},
		{"2: gone when fetching", []http.HandlerFunc{completed(&srv, "stale"), problem(410, "Result expired or deleted")}, []string{"-fetch", jobID}, 2, `^$`},
		{"3: unauthorized", []http.HandlerFunc{problem(401, "Unauthorized"), problem(401, "Unauthorized")}, []string{jobID}, 3, `^$`},
		{"4: timeout", []http.HandlerFunc{pending("30")}, []string{"-timeout", "5s", jobID}, 4, `^$`},
		{"5: a server error", []http.HandlerFunc{problem(500, "Internal server error")}, []string{jobID}, 5, `^$`},
		{"5: a malformed answer", []http.HandlerFunc{answer(200, "<html>")}, []string{jobID}, 5, `^$`},
		{"0: help", nil, []string{"-h"}, 0, `^$`},
		{"5: no job id", nil, nil, 5, `^$`},
		{"5: two job ids", nil, []string{jobID, jobID}, 5, `^$`},
		{"5: an unknown flag", nil, []string{"-wait", jobID}, 5, `^$`},
		{"5: a negative timeout", nil, []string{"-timeout", "-1s", jobID}, 5, `^$`},
		{"5: a bad base URL", nil, []string{"-base", "ftp://x", jobID}, 5, `^$`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv = newService(t, tt.steps...)
			code, stdout, stderr := vprpoll(t, srv, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			if !regexp.MustCompile(tt.stdout).MatchString(stdout) {
				t.Errorf("stdout %q, want /%s/", stdout, tt.stdout)
			}
			if strings.Contains(stderr, "sig=") || strings.Contains(stderr, "env-token") {
				t.Errorf("stderr holds the result URL's signature or the token:\n%s", stderr)
			}
		})
	}
}

func TestNoToken(t *testing.T) {
	var out, errs bytes.Buffer
	err := run(context.Background(), []string{"vprpoll", jobID}, func(string) string { return "" }, &out, &errs)
	if code := exitCode(err); code != 3 || !strings.Contains(err.Error(), "VPR_TOKEN") {
		t.Fatalf("run = %v (exit %d), want exit 3 naming VPR_TOKEN", err, code)
	}
}

func TestTokenFlagWins(t *testing.T) {
	srv := newService(t, failed, failed)
	vprpoll(t, srv, jobID)
	vprpoll(t, srv, "-token", "flag-token", jobID)
	if got := srv.authorizations(); len(got) != 2 || got[0] != "Bearer env-token" || got[1] != "Bearer flag-token" {
		t.Errorf("Authorization sent: %q, want the variable's token, then the flag's", got)
	}
}

// TestStateLines: a line per state change on stderr, with the time and the
// wait the service asked for.
func TestStateLines(t *testing.T) {
	var srv *service
	srv = newService(t, pending("1"), completed(&srv, "ok"))
	code, stdout, stderr := vprpoll(t, srv, jobID)
	if code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 2 ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* PENDING, asked to wait 1s$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\S* COMPLETED$`).MatchString(lines[1]) {
		t.Errorf("stderr:\n%s", stderr)
	}
	var s map[string]any
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || s["status"] != "COMPLETED" {
		t.Errorf("stdout %q: %v", stdout, err)
	}
}

// TestProgressLine: on a terminal, one line rewritten in place.
func TestProgressLine(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex // the ticker reads the clock too
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return at }
	p := newProgress(&buf, true, now)
	p.update(&client.Status{State: "PENDING", RetryAfter: 2 * time.Second})
	mu.Lock()
	at = at.Add(3 * time.Second)
	mu.Unlock()
	p.update(&client.Status{State: "COMPLETED"})
	p.finish() // the ticker has stopped when it returns
	got := buf.String()
	if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") ||
		!strings.HasPrefix(got, "\r\x1b[K03:04:05 PENDING for 0s, asked to wait 2s") ||
		!strings.Contains(got, "\r\x1b[K03:04:08 COMPLETED for 0s\n") {
		t.Errorf("terminal output %q", got)
	}
	if isTerminal(&buf) {
		t.Error("a buffer counted as a terminal")
	}
}
