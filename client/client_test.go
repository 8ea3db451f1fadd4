package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/client"
)

// TestStandardLibraryOnly holds the package to its promise: importing it
// pulls in nothing outside the standard library.
func TestStandardLibraryOnly(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to list the dependencies with")
	}
	out, err := exec.Command(gobin, "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if p != "github.com/careervp/vprstatus/client" {
			t.Errorf("depends on %s, outside the standard library", p)
		}
	}
}

func TestNew(t *testing.T) {
	token := client.WithToken(func(context.Context) (string, error) { return "t", nil })
	for _, tt := range []struct {
		name string
		base string
		opts []client.Option
	}{
		{"not a URL", "http://[::1", nil},
		{"relative", "/api", nil},
		{"no host", "http:///x", nil},
		{"another scheme", "ftp://example.com", nil},
		{"a query", "http://example.com/?a=b", nil},
		{"credentials", "https://user:pass@example.com", nil},
		{"nil token func", "http://example.com", []client.Option{client.WithToken(nil)}},
		{"nil HTTP client", "http://example.com", []client.Option{client.WithHTTPClient(nil)}},
		{"min > max", "http://example.com", []client.Option{client.WithPollBounds(2*time.Second, time.Second)}},
		{"negative min", "http://example.com", []client.Option{client.WithPollBounds(-time.Second, time.Second)}},
		{"zero max", "http://example.com", []client.Option{client.WithPollBounds(0, 0)}},
		{"max beyond a day", "http://example.com", []client.Option{client.WithPollBounds(time.Second, 25*time.Hour)}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := client.New(tt.base, tt.opts...); err == nil {
				t.Errorf("New = %v, want an error", c)
			}
		})
	}
	if _, err := client.New("https://api.example.com/prod/", token, client.WithPollBounds(0, time.Second),
		client.WithUserAgent("x"), client.WithHTTPClient(http.DefaultClient)); err != nil {
		t.Errorf("New with every option: %v", err)
	}
}

func TestStatusDecodes(t *testing.T) {
	expires := time.Date(2026, 1, 2, 4, 5, 0, 0, time.UTC)
	srv := newServer(t,
		inProgress("PROCESSING", `"e1"`, "2"),
		reply(200, completedBody("https://results.example/r.json?sig=x", expires)),
		reply(200, `{"job_id":"`+jobID+`","status":"FAILED","created_at":"2026-01-02T03:04:05Z","error":"model refused","extra":1}`),
	)
	c := newClient(t, srv.URL, newClock(time.Now()))
	ctx := context.Background()

	s, err := c.Status(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if s.JobID != jobID || s.State != "PROCESSING" || !s.CreatedAt.Equal(created) || s.ETag != `"e1"` || s.RetryAfter != 2*time.Second {
		t.Errorf("202: %+v", s)
	}

	s, err = c.Status(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "COMPLETED" || s.ResultURL != "https://results.example/r.json?sig=x" || !s.ResultURLExpiresAt.Equal(expires) ||
		s.TokenUsage == nil || *s.TokenUsage != (client.TokenUsage{InputTokens: 5120, OutputTokens: 2048}) ||
		!s.CompletedAt.Equal(time.Date(2026, 1, 2, 3, 5, 0, 0, time.UTC)) || s.ETag != "" || s.RetryAfter != 0 {
		t.Errorf("200 COMPLETED: %+v", s)
	}

	s, err = c.Status(ctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "FAILED" || s.Error != "model refused" {
		t.Errorf("200 FAILED: %+v", s)
	}
	// Its JSON form is the service's body, unset fields left out.
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"job_id":"` + jobID + `","status":"FAILED","created_at":"2026-01-02T03:04:05Z","error":"model refused"}`; string(b) != want {
		t.Errorf("JSON\n%s, want\n%s", b, want)
	}
}

func TestRequestHeaders(t *testing.T) {
	ok := inProgress("PENDING", `"e"`, "2")
	t.Run("default", func(t *testing.T) {
		srv := newServer(t, ok)
		c := newClient(t, srv.URL+"/prod/", newClock(time.Now()))
		if _, err := c.Status(context.Background(), jobID); err != nil {
			t.Fatal(err)
		}
		r := srv.requests()[0]
		if r.Method != "GET" || r.URL.Path != "/prod/api/vpr/status/"+jobID {
			t.Errorf("request %s %s", r.Method, r.URL.Path)
		}
		for name, want := range map[string]string{
			"Authorization": "Bearer tok", "User-Agent": "vprstatus-client/1",
			"Accept": "application/json, application/problem+json", "If-None-Match": "",
		} {
			if got := r.Header.Get(name); got != want {
				t.Errorf("%s: %q, want %q", name, got, want)
			}
		}
	})
	t.Run("user agent", func(t *testing.T) {
		srv := newServer(t, ok, ok)
		for _, ua := range []string{"batch/2", ""} {
			c := newClient(t, srv.URL, newClock(time.Now()), client.WithUserAgent(ua))
			if _, err := c.Status(context.Background(), jobID); err != nil {
				t.Fatal(err)
			}
		}
		reqs := srv.requests()
		if got := reqs[0].Header.Get("User-Agent"); got != "batch/2" {
			t.Errorf("User-Agent %q, want batch/2", got)
		}
		if got, sent := reqs[1].Header["User-Agent"]; sent {
			t.Errorf("WithUserAgent(\"\") sent User-Agent %q", got)
		}
	})
	t.Run("no token source", func(t *testing.T) {
		srv := newServer(t, ok)
		c, err := client.New(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Status(context.Background(), jobID); err != nil {
			t.Fatal(err)
		}
		if _, sent := srv.requests()[0].Header["Authorization"]; sent {
			t.Error("Authorization sent without a token source")
		}
	})
}

// TestWaitLifecycle: a job through PENDING and PROCESSING to COMPLETED,
// with 304s, each wait what the service asked.
func TestWaitLifecycle(t *testing.T) {
	srv := newServer(t,
		inProgress("PENDING", `"p"`, "2"),
		notModified(`"p"`, "2"),
		inProgress("PROCESSING", `"q"`, "3"),
		notModified(`"q"`, "3"),
		completed(),
	)
	clk := newClock(time.Now())
	c := newClient(t, srv.URL, clk)
	var states []string
	s, err := c.Wait(context.Background(), jobID, func(s *client.Status) { states = append(states, s.State) })
	if err != nil {
		t.Fatal(err)
	}
	if s.State != "COMPLETED" || s.ResultURL == "" {
		t.Errorf("Wait = %+v", s)
	}
	if strings.Join(states, " ") != "PENDING PROCESSING COMPLETED" {
		t.Errorf("onUpdate saw %v, want each state once", states)
	}
	var inm []string
	for _, r := range srv.requests() {
		inm = append(inm, r.Header.Get("If-None-Match"))
	}
	if got, want := strings.Join(inm, " "), ` "p" "p" "q" "q"`; got != want {
		t.Errorf("If-None-Match sent: %q, want %q", got, want)
	}
	checkWaits(t, clk.Waits(), 2*time.Second, 2*time.Second, 3*time.Second, 3*time.Second)
}

func TestWaitFailedIsAResult(t *testing.T) {
	srv := newServer(t,
		inProgress("PENDING", `"p"`, "1"),
		reply(200, `{"job_id":"`+jobID+`","status":"FAILED","created_at":"2026-01-02T03:04:05Z","error":"no report"}`),
	)
	s, err := newClient(t, srv.URL, newClock(time.Now())).Wait(context.Background(), jobID, nil)
	if err != nil || s.State != "FAILED" || s.Error != "no report" {
		t.Fatalf("Wait = %+v, %v; want the FAILED status and no error", s, err)
	}
}

// TestWaitPacing: the wait after a 202 is Retry-After within the bounds, or
// the service's own 2 s when Retry-After is absent or malformed.
func TestWaitPacing(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	for _, tt := range []struct {
		name       string
		retryAfter string
		bounds     []time.Duration
		want       time.Duration
	}{
		{"as asked", "5", nil, 5 * time.Second},
		{"absent", "", nil, 2 * time.Second},
		{"zero: raised to the minimum", "0", nil, time.Second},
		{"beyond the maximum: capped", "120", nil, 30 * time.Second},
		{"too many digits to count: capped", "99999999999999999999999", nil, 30 * time.Second},
		{"an HTTP-date", start.Add(7 * time.Second).UTC().Format(http.TimeFormat), nil, 7 * time.Second},
		{"a past HTTP-date", start.Add(-time.Hour).UTC().Format(http.TimeFormat), nil, time.Second},
		{"malformed: a fraction", "1.5", nil, 2 * time.Second},
		{"malformed: negative", "-3", nil, 2 * time.Second},
		{"malformed: words", "soon", nil, 2 * time.Second},
		{"own bounds: capped", "2", []time.Duration{100 * time.Millisecond, 500 * time.Millisecond}, 500 * time.Millisecond},
		{"own bounds: raised", "1", []time.Duration{3 * time.Second, 10 * time.Second}, 3 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, inProgress("PENDING", `"p"`, tt.retryAfter), completed())
			clk := newClock(start)
			var opts []client.Option
			if tt.bounds != nil {
				opts = append(opts, client.WithPollBounds(tt.bounds[0], tt.bounds[1]))
			}
			if _, err := newClient(t, srv.URL, clk, opts...).Wait(context.Background(), jobID, nil); err != nil {
				t.Fatal(err)
			}
			checkWaits(t, clk.Waits(), tt.want)
			maxWait := 30 * time.Second
			if tt.bounds != nil {
				maxWait = tt.bounds[1]
			}
			if w := clk.Waits()[0]; w > maxWait {
				t.Errorf("waited %v, beyond the maximum %v: jitter too must stay within it", w, maxWait)
			}
		})
	}
}

// TestJitter: waits are spread over 0–10 % beyond what was asked.
func TestJitter(t *testing.T) {
	steps := []http.HandlerFunc{}
	for range 200 {
		steps = append(steps, inProgress("PENDING", `"p"`, "10"))
	}
	srv := newServer(t, append(steps, completed())...)
	clk := newClock(time.Now())
	if _, err := newClient(t, srv.URL, clk).Wait(context.Background(), jobID, nil); err != nil {
		t.Fatal(err)
	}
	waits := clk.Waits()
	want := make([]time.Duration, len(waits))
	for i := range want {
		want[i] = 10 * time.Second
	}
	checkWaits(t, waits, want...)
	distinct := map[time.Duration]bool{}
	for _, w := range waits {
		distinct[w] = true
	}
	if len(distinct) < 100 {
		t.Errorf("%d distinct waits out of %d: the jitter does not spread them", len(distinct), len(waits))
	}
}

func TestWaitRetries(t *testing.T) {
	unavailable := problem(503, "Service unavailable", "Failed to retrieve job status", "Retry-After", "1")
	tooMany := problem(429, "Too many requests", "Polling too fast; retry after the time in Retry-After", "Retry-After", "3")
	for _, tt := range []struct {
		name    string
		steps   []http.HandlerFunc
		bounds  []time.Duration
		waits   []time.Duration
		wantErr func(error) bool // nil: success
	}{
		{
			name:  "503 with Retry-After, then an answer",
			steps: []http.HandlerFunc{unavailable, unavailable, completed()},
			waits: []time.Duration{time.Second, time.Second},
		},
		{
			name:  "429 with Retry-After, then an answer",
			steps: []http.HandlerFunc{tooMany, completed()},
			waits: []time.Duration{3 * time.Second},
		},
		{
			name:    "429 five times: rate limited",
			steps:   []http.HandlerFunc{tooMany, tooMany, tooMany, tooMany, tooMany},
			waits:   []time.Duration{3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second},
			wantErr: isAPIError(429, 3*time.Second, client.ErrRateLimited),
		},
		{
			name:    "503 five times without Retry-After: backoff, then unavailable",
			steps:   repeat(5, problem(503, "Service unavailable", "Failed to retrieve job status")),
			waits:   []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
			wantErr: isAPIError(503, 0, nil),
		},
		{
			name:    "backoff capped by the maximum",
			steps:   repeat(5, problem(503, "Service unavailable", "Failed to retrieve job status")),
			bounds:  []time.Duration{time.Second, 3 * time.Second},
			waits:   []time.Duration{time.Second, 2 * time.Second, 3 * time.Second, 3 * time.Second},
			wantErr: isAPIError(503, 0, nil),
		},
		{
			name:  "429 with a malformed Retry-After: backoff",
			steps: []http.HandlerFunc{problem(429, "Too many requests", "", "Retry-After", "later"), problem(429, "Too many requests", "", "Retry-After", "later"), completed()},
			waits: []time.Duration{time.Second, 2 * time.Second},
		},
		{
			name:    "429 beyond the maximum: fails at once",
			steps:   []http.HandlerFunc{problem(429, "Too many requests", "", "Retry-After", "31")},
			wantErr: isAPIError(429, 31*time.Second, client.ErrRateLimited),
		},
		{
			name:    "503 beyond the maximum: fails at once",
			steps:   []http.HandlerFunc{problem(503, "Service unavailable", "", "Retry-After", "3600")},
			wantErr: isAPIError(503, time.Hour, nil),
		},
		{
			name:    "503 beyond its own maximum: fails at once",
			steps:   []http.HandlerFunc{unavailable},
			bounds:  []time.Duration{0, 500 * time.Millisecond},
			wantErr: isAPIError(503, time.Second, nil),
		},
		{
			name:  "429 below the minimum: raised",
			steps: []http.HandlerFunc{problem(429, "Too many requests", "", "Retry-After", "1"), completed()},
			bounds: []time.Duration{
				2 * time.Second, 10 * time.Second,
			},
			waits: []time.Duration{2 * time.Second},
		},
		{
			name: "the budget counts consecutive failures only",
			steps: []http.HandlerFunc{
				unavailable, unavailable, unavailable, unavailable,
				inProgress("PENDING", `"p"`, "2"),
				unavailable, unavailable, unavailable, unavailable,
				completed(),
			},
			waits: []time.Duration{
				time.Second, time.Second, time.Second, time.Second, 2 * time.Second,
				time.Second, time.Second, time.Second, time.Second,
			},
		},
		{
			name:  "a 304 resets the budget too",
			steps: []http.HandlerFunc{inProgress("PENDING", `"p"`, "2"), tooMany, tooMany, tooMany, tooMany, notModified(`"p"`, "2"), tooMany, tooMany, completed()},
			waits: []time.Duration{
				2 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second, 3 * time.Second,
				2 * time.Second, 3 * time.Second, 3 * time.Second,
			},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.steps...)
			clk := newClock(time.Now())
			var opts []client.Option
			if tt.bounds != nil {
				opts = append(opts, client.WithPollBounds(tt.bounds[0], tt.bounds[1]))
			}
			s, err := newClient(t, srv.URL, clk, opts...).Wait(context.Background(), jobID, nil)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Fatalf("Wait: %v", err)
			case tt.wantErr == nil && s.State != "COMPLETED":
				t.Fatalf("Wait = %+v", s)
			case tt.wantErr != nil && !tt.wantErr(err):
				t.Fatalf("Wait = %+v, %v", s, err)
			}
			checkWaits(t, clk.Waits(), tt.waits...)
			checkRequests(t, srv, len(tt.steps))
		})
	}
}

func repeat(n int, h http.HandlerFunc) []http.HandlerFunc {
	hs := make([]http.HandlerFunc, n)
	for i := range hs {
		hs[i] = h
	}
	return hs
}

// isAPIError checks for an *APIError with code and retryAfter, matching
// sentinel (nil: none of the package's).
func isAPIError(code int, retryAfter time.Duration, sentinel error) func(error) bool {
	return func(err error) bool {
		var e *client.APIError
		if !errors.As(err, &e) || e.StatusCode != code || e.RetryAfter != retryAfter {
			return false
		}
		if sentinel != nil {
			return errors.Is(err, sentinel)
		}
		for _, s := range []error{client.ErrUnauthorized, client.ErrForbidden, client.ErrNotFound, client.ErrResultGone, client.ErrRateLimited} {
			if errors.Is(err, s) {
				return false
			}
		}
		return true
	}
}
