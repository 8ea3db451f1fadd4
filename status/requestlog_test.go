package status_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/ratelimit"
	"github.com/careervp/vprstatus/status"
)

// TestLogRequests: one line per request, with the fields the CDK stack's
// metric filters read, and nothing secret.
func TestLogRequests(t *testing.T) {
	f := newFixture(t)
	var logs testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	h := status.LogRequests(logger, f.configured(t, status.Config{Logger: logger}))
	aliceHash := func() string {
		sum := sha256.Sum256([]byte(alice))
		return hex.EncodeToString(sum[:8])
	}()
	tok := f.token(t, alice)
	base := "/api/vpr/status/"
	tests := []struct {
		name string
		req  *http.Request
		want map[string]any // the line's fields; nil: absent
	}{
		{"pending", get(base+idPending, tok, ""), map[string]any{
			"method": "GET", "route": "/api/vpr/status/{job_id}", "status": 202.0, "retry_after": 2.0, "user": aliceHash}},
		{"completed", get(base+idCompleted, tok, ""), map[string]any{
			"status": 200.0, "retry_after": nil, "user": aliceHash}},
		{"no credentials", get(base+idPending, "", ""), map[string]any{
			"route": "/api/vpr/status/{job_id}", "status": 401.0, "user": nil}},
		{"unknown path", get("/nope/"+idPending, tok, ""), map[string]any{"route": "/", "status": 404.0, "user": nil}},
		{"other method", func() *http.Request { r := get(base+idPending, tok, ""); r.Method = "DELETE"; return r }(),
			map[string]any{"method": "DELETE", "route": "/api/vpr/status/{job_id}", "status": 405.0}},
		{"made-up method", func() *http.Request { r := get(base+idPending, tok, ""); r.Method = "BREW"; return r }(),
			map[string]any{"method": "_OTHER", "status": 405.0}},
		{"head", func() *http.Request { r := get(base+idPending, tok, ""); r.Method = "HEAD"; return r }(),
			map[string]any{"method": "HEAD", "status": 202.0, "bytes": 0.0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(logs.String())
			w := serve(h, tt.req)
			lines := strings.Split(strings.TrimSpace(logs.String()[before:]), "\n")
			var line map[string]any
			for _, l := range lines {
				var m map[string]any
				if err := json.Unmarshal([]byte(l), &m); err != nil {
					t.Fatalf("not JSON: %q", l)
				}
				if m["msg"] == "request" {
					if line != nil {
						t.Fatalf("two request lines: %v", lines)
					}
					line = m
				}
			}
			if line == nil {
				t.Fatalf("no request line in %q", lines)
			}
			if line["level"] != "INFO" || line["bytes"] != float64(w.Body.Len()) {
				t.Errorf("level %v, bytes %v (body %d)", line["level"], line["bytes"], w.Body.Len())
			}
			if d, ok := line["duration_ms"].(float64); !ok || d < 0 {
				t.Errorf("duration_ms %v", line["duration_ms"])
			}
			for k, v := range tt.want {
				if got, ok := line[k]; v == nil && ok || v != nil && got != v {
					t.Errorf("%s = %v, want %v (line %v)", k, got, v, line)
				}
			}
			raw := logs.String()[before:]
			for _, secret := range []string{tok, "X-Amz-Signature", "sig=", idPending, idCompleted, alice, "result_url"} {
				if strings.Contains(raw, secret) {
					t.Errorf("the log holds %q: %s", secret, raw)
				}
			}
		})
	}
}

// TestLogRequestsRateLimited: a 429 names its Retry-After, and the caller
// its limiter refused.
func TestLogRequestsRateLimited(t *testing.T) {
	f := newFixture(t)
	var logs testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	lim, err := ratelimit.New(ratelimit.Options{Rate: 0.25, Burst: 1})
	if err != nil {
		t.Fatal(err)
	}
	h := status.LogRequests(logger, f.configured(t, status.Config{Logger: logger, Limiter: lim}))
	tok := f.token(t, alice)
	serve(h, get("/api/vpr/status/"+idCompleted, tok, ""))
	if w := serve(h, get("/api/vpr/status/"+idCompleted, tok, "")); w.Code != 429 {
		t.Fatalf("second request: %d, want 429", w.Code)
	}
	last := strings.Split(strings.TrimSpace(logs.String()), "\n")
	var line map[string]any
	if err := json.Unmarshal([]byte(last[len(last)-1]), &line); err != nil {
		t.Fatal(err)
	}
	if line["status"] != 429.0 || line["retry_after"] != 4.0 || line["user"] == nil {
		t.Errorf("429 line %v", line)
	}
}

// TestLogRequestsOff: above INFO there are no request lines.
func TestLogRequestsOff(t *testing.T) {
	f := newFixture(t)
	var logs testkit.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h := status.LogRequests(logger, f.configured(t, status.Config{Logger: logger}))
	if w := serve(h, get("/api/vpr/status/"+idPending, f.token(t, alice), "")); w.Code != 202 {
		t.Fatalf("%d", w.Code)
	}
	if logs.String() != "" {
		t.Errorf("logged at WARN: %s", logs.String())
	}
}
