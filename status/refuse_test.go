package status_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/careervp/vprstatus/status"
)

// TestRefuse: an entry point's refusal is the contract's answer, headers
// and problem body included, not a copy of it.
func TestRefuse(t *testing.T) {
	w := httptest.NewRecorder()
	status.Refuse(slog.New(slog.DiscardHandler), status.ErrBadRequest).
		ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/", nil))
	if w.Code != http.StatusBadRequest {
		t.Fatalf("code %d, want 400", w.Code)
	}
	for k, v := range map[string]string{
		"Content-Type":           "application/problem+json",
		"Cache-Control":          "no-store",
		"X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	body := decodeBody(t, w)
	for k, v := range map[string]any{"type": "about:blank", "title": "Bad Request", "status": 400.0, "error": "Bad request"} {
		if body[k] != v {
			t.Errorf("body[%q] = %v, want %v (body %v)", k, body[k], v, body)
		}
	}
}
