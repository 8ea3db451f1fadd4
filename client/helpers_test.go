package client_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/careervp/vprstatus/client"
)

const jobID = "0b7c5a39-5d8f-4bd4-9d6c-3e7c4a2f5e10"

// server answers requests with its steps in turn and records each request.
// A request beyond the last step fails the test.
type server struct {
	*httptest.Server
	t     *testing.T
	mu    sync.Mutex
	steps []http.HandlerFunc
	reqs  []*http.Request
}

func newServer(t *testing.T, steps ...http.HandlerFunc) *server {
	t.Helper()
	s := &server{t: t, steps: steps}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	n := len(s.reqs)
	s.reqs = append(s.reqs, r.Clone(context.Background()))
	s.mu.Unlock()
	if n >= len(s.steps) {
		s.t.Errorf("request %d (%s %s) beyond the %d scripted", n+1, r.Method, r.URL.Path, len(s.steps))
		http.Error(w, "unscripted", http.StatusTeapot)
		return
	}
	s.steps[n](w, r)
}

// requests returns the requests received so far.
func (s *server) requests() []*http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*http.Request(nil), s.reqs...)
}

// reply answers with code, body and header fields given as name, value
// pairs. A body starting with '{' is JSON: problem+json for an error code.
func reply(code int, body string, fields ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(fields); i += 2 {
			w.Header().Set(fields[i], fields[i+1])
		}
		if strings.HasPrefix(body, "{") {
			ct := "application/json"
			if code >= 400 {
				ct = "application/problem+json"
			}
			w.Header().Set("Content-Type", ct)
		}
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

// inProgress is a 202 in state with an ETag and Retry-After ("" for none).
func inProgress(state, etag, retryAfter string) http.HandlerFunc {
	body := fmt.Sprintf(`{"job_id":%q,"status":%q,"created_at":"2026-01-02T03:04:05Z"}`, jobID, state)
	fields := []string{"ETag", etag}
	if retryAfter != "" {
		fields = append(fields, "Retry-After", retryAfter)
	}
	return reply(http.StatusAccepted, body, fields...)
}

// notModified is a 304 with the ETag and a Retry-After.
func notModified(etag, retryAfter string) http.HandlerFunc {
	return reply(http.StatusNotModified, "", "ETag", etag, "Retry-After", retryAfter)
}

func completedBody(resultURL string, expires time.Time) string {
	return fmt.Sprintf(`{"job_id":%q,"status":"COMPLETED","created_at":"2026-01-02T03:04:05Z","completed_at":"2026-01-02T03:05:00Z",`+
		`"result_url":%q,"result_url_expires_at":%q,"token_usage":{"input_tokens":5120,"output_tokens":2048}}`,
		jobID, resultURL, expires.UTC().Format(time.RFC3339))
}

func completed() http.HandlerFunc {
	return reply(http.StatusOK, completedBody("https://results.example/r.json?X-Amz-Signature=secret", time.Date(2026, 1, 2, 4, 5, 0, 0, time.UTC)))
}

// problem is an error answer as the service writes it.
func problem(code int, errMsg, message string, fields ...string) http.HandlerFunc {
	body := fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d,"error":%q`, http.StatusText(code), code, errMsg)
	if message != "" {
		body += fmt.Sprintf(`,"message":%q`, message)
	}
	return reply(code, body+"}", fields...)
}

// clock is a fake clock whose Sleep returns at once, moving the time on,
// and records what it was asked to wait.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func newClock(start time.Time) *clock { return &clock{now: start} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *clock) Waits() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.waits...)
}

// newClient is a client of base on clk, with a fixed token.
func newClient(t *testing.T, base string, clk *clock, opts ...client.Option) *client.Client {
	t.Helper()
	opts = append([]client.Option{
		client.WithToken(func(context.Context) (string, error) { return "tok", nil }),
		client.WithClock(clk.Now, clk.Sleep),
	}, opts...)
	c, err := client.New(base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// checkWaits checks that got has one wait per want, each at least what was
// asked and at most 10 % longer (the jitter).
func checkWaits(t *testing.T, got []time.Duration, want ...time.Duration) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("waits %v, want %d of them, like %v", got, len(want), want)
	}
	for i, w := range want {
		if got[i] < w || got[i] > w+w/10 {
			t.Errorf("wait %d = %v, want %v to %v", i, got[i], w, w+w/10)
		}
	}
}

// checkRequests checks how many requests srv received.
func checkRequests(t *testing.T, srv *server, want int) {
	t.Helper()
	if got := len(srv.requests()); got != want {
		t.Errorf("%d requests, want %d", got, want)
	}
}
