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
	"unicode/utf8"

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

// bigProblem is a problem answer of 100 KiB, over the client's 64 KiB cap.
func bigProblem(code int) http.HandlerFunc {
	return answer(code, fmt.Sprintf(`{"title":%q,"status":%d,"error":"%s"}`, http.StatusText(code), code, strings.Repeat("x", 100<<10)),
		"Content-Type", "application/problem+json", "Retry-After", "1")
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
		printError(&errs, err) // as main does
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
		{"5: a redirect", []http.HandlerFunc{answer(302, "", "Location", "http://127.0.0.1:1/elsewhere")}, []string{jobID}, 5, `^$`},
		{"3: unauthorized, with bodies over the cap", []http.HandlerFunc{bigProblem(401), bigProblem(401)}, []string{jobID}, 3, `^$`},
		{"0: a 503 with a body over the cap is retried", []http.HandlerFunc{bigProblem(503), completed(&srv, "ok")}, []string{jobID}, 0, `"status":"COMPLETED"`},
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

// hostile is text a compromised server might send to a terminal: clear the
// screen, retitle the window, return to the line's start to forge one, a
// newline to start another, a bell, C1 CSI (U+009B, and as a lone byte),
// DEL, and a JavaScript line separator.
const hostile = "\x1b[2J\x1b]0;owned\x07\rvprpoll: job completed OK\nvprpoll: exit 0\u009b31m\x9b\x7f\u2028end"

// checkInert fails the test if out holds a byte or character a terminal
// would obey: ESC, BEL, CR or any other C0 but newline, DEL, C1 (as a
// character or a lone byte), or a byte that is not UTF-8. On stdout,
// U+2028 and U+2029 too.
func checkInert(t *testing.T, name, out string, stdout bool) {
	t.Helper()
	for i, r := range out {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(out[i:], "\uFFFD"):
			t.Errorf("%s: byte %#x at %d is not UTF-8", name, out[i], i)
		case r < 0x20 && r != '\n', r >= 0x7f && r <= 0x9f:
			t.Errorf("%s: control %U at %d reaches the terminal: %q", name, r, i, out)
		case stdout && (r == '\u2028' || r == '\u2029'):
			t.Errorf("%s: %U at %d", name, r, i)
		}
	}
}

// TestHostileText: server-controlled text reaches stderr and stdout
// escaped, wherever it comes from.
func TestHostileText(t *testing.T) {
	js, _ := json.Marshal(hostile) // a JSON string of it; Go leaves C1 and the lone byte raw
	str := strings.ReplaceAll(string(js), `\ufffd`, "\x9b")
	var srv *service
	for _, tt := range []struct {
		name  string
		steps []http.HandlerFunc
		args  []string
		code  int
	}{
		{"a FAILED job's error", []http.HandlerFunc{answer(200, `{"job_id":"`+jobID+`","status":"FAILED","created_at":"2026-01-02T03:04:05Z","error":`+str+`}`)}, []string{jobID}, 1},
		{"a problem's title, error and message", []http.HandlerFunc{answer(404, `{"title":`+str+`,"status":404,"error":`+str+`,"message":`+str+`}`, "Content-Type", "application/problem+json")}, []string{jobID}, 2},
		{"a problem's detail", []http.HandlerFunc{answer(403, `{"title":"Forbidden","status":403,"detail":`+str+`}`)}, []string{jobID}, 2},
		{"a 401's message", []http.HandlerFunc{
			answer(401, `{"title":"Unauthorized","status":401,"message":`+str+`}`),
			answer(401, `{"title":"Unauthorized","status":401,"message":`+str+`}`),
		}, []string{jobID}, 3},
		// The transport refuses C0 in a header field (a network error); C1 and
		// bytes that are not UTF-8 pass.
		{"a redirect's Location", []http.HandlerFunc{answer(302, "", "Location", "/x/\u009b2J\x9b31m?\u009b")}, []string{jobID}, 5},
		{"an unknown state", []http.HandlerFunc{answer(200, `{"job_id":"`+jobID+`","status":`+str+`}`)}, []string{jobID}, 5},
		{"a result, with -fetch", []http.HandlerFunc{func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{"job_id":%q,"status":"COMPLETED","result_url":%q}`, jobID, srv.URL+"/results/hostile.json")
		}}, []string{"-fetch", jobID}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv = newService(t, tt.steps...)
			srv.Config.Handler.(*http.ServeMux).HandleFunc("GET /results/hostile.json", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprint(w, "{\r\n\"headline\":"+str+"}\r\n")
			})
			code, stdout, stderr := vprpoll(t, srv, tt.args...)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr)
			}
			t.Logf("stderr:\n%sstdout:\n%s", stderr, stdout) // inert, as checked next
			checkInert(t, "stderr", stderr, false)
			checkInert(t, "stdout", stdout, true)
			// No line forged: each is a state line, or the one error line.
			var errorLines int
			for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
				switch {
				case strings.HasPrefix(l, "vprpoll: "):
					errorLines++
				case regexp.MustCompile(`^\d{4}-\d\d-\d\dT\S+ (PENDING|PROCESSING|COMPLETED|FAILED)$`).MatchString(l):
				default:
					t.Errorf("stderr line %q: neither a state nor the error", l)
				}
			}
			if want := min(tt.code, 1); errorLines != want {
				t.Errorf("%d error lines on stderr, want %d:\n%s", errorLines, want, stderr)
			}
			if tt.code != 0 && !strings.Contains(stderr, "2J") {
				t.Errorf("stderr does not show the server's text, escaped:\n%s", stderr)
			}
			if stdout != "" {
				var v map[string]any
				if err := json.Unmarshal([]byte(stdout), &v); err != nil {
					t.Errorf("stdout is not JSON: %v\n%q", err, stdout)
				}
				var sent string // what the server's JSON string decodes to
				if err := json.Unmarshal([]byte(str), &sent); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"error", "headline"} {
					if got, ok := v[k]; ok && got != sent {
						t.Errorf("stdout's %s decodes to %+q, want the server's text %+q", k, got, sent)
					}
				}
			}
		})
	}
}

func TestEscapeControls(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"plain text, ünïcödé, \uFFFD", "plain text, ünïcödé, \uFFFD"},
		{"a\nb\rc\td", `a\nb\rc\td`},
		{"\x1b[2J\x07\x00\x7f", `\x1b[2J\x07\x00\x7f`},
		{"\u0085\u009b\u009f", `\u0085\u009b\u009f`},
		{"lone \x9b and \xff", `lone \x9b and \xff`},
		{"", ""},
	} {
		if got := escapeControls(tt.in); got != tt.want {
			t.Errorf("escapeControls(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestEscapeJSON(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{`{"a":"b"}`, `{"a":"b"}`},
		{"{\r\n \"a\" : 1\r}\r\n", "{\n \"a\" : 1}\n"},
		{`{"csi":"` + "\u009b" + `","del":"` + "\x7f" + `","ls":"` + "\u2028\u2029" + `"}`, `{"csi":"\u009b","del":"\u007f","ls":"\u2028\u2029"}`},
		{`["lone ` + "\x9b" + `"]`, `["lone \ufffd"]`},
		{`["escaped \" quote ` + "\u0085" + `", "\\", "` + "\u0080" + `"]`, `["escaped \" quote \u0085", "\\", "\u0080"]`},
		{`"ünïcödé \r\n stays"`, `"ünïcödé \r\n stays"`},
	} {
		got := string(escapeJSON([]byte(tt.in)))
		if got != tt.want {
			t.Errorf("escapeJSON(%q) = %q, want %q", tt.in, got, tt.want)
		}
		var a, b any
		if json.Unmarshal([]byte(tt.in), &a) != nil || json.Unmarshal([]byte(got), &b) != nil || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("escapeJSON(%q) = %q: not the same JSON value", tt.in, got)
		}
	}
}
