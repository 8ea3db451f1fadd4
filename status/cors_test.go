package status_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/careervp/vprstatus/status"
)

const appOrigin = "https://app.example.com"

func TestCORS(t *testing.T) {
	f := newFixture(t)
	h := f.configured(t, status.Config{
		CORSOrigins: []string{appOrigin, "http://localhost:5173/"},
		Limiter:     newLimiter(t, 5, 1),
	})
	path := "/api/vpr/status/" + idPending
	tok := f.token(t, alice)
	withOrigin := func(r *http.Request, origin string) *http.Request {
		r.Header.Set("Origin", origin)
		return r
	}
	exposed := "ETag, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate"

	t.Run("allowed origin reads the answer and its pacing headers", func(t *testing.T) {
		for _, origin := range []string{appOrigin, "http://localhost:5173"} {
			w := serve(h, withOrigin(get(path, tok, "192.0.2.10:1"), origin))
			checkHeaders(t, w.Header(), map[string]string{
				"Access-Control-Allow-Origin":   origin,
				"Access-Control-Expose-Headers": exposed,
				"Vary":                          "Origin",
			})
		}
	})
	t.Run("a 429 is readable too", func(t *testing.T) {
		serve(h, withOrigin(get(path, tok, ""), appOrigin))
		w := serve(h, withOrigin(get(path, tok, ""), appOrigin))
		if w.Code != 429 {
			t.Fatalf("code %d, want 429", w.Code)
		}
		checkHeaders(t, w.Header(), map[string]string{
			"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": exposed, "Retry-After": "1",
		})
	})
	t.Run("other origins get no grant", func(t *testing.T) {
		w := serve(h, withOrigin(get("/nope", "", ""), "https://evil.example"))
		checkHeaders(t, w.Header(), map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "", "Vary": "Origin",
		})
	})
	t.Run("preflight", func(t *testing.T) {
		r := withOrigin(get(path, "", ""), appOrigin)
		r.Method = http.MethodOptions
		r.Header.Set("Access-Control-Request-Method", "GET")
		r.Header.Set("Access-Control-Request-Headers", "authorization, content-type, if-none-match, traceparent")
		w := serve(h, r)
		if w.Code != 204 || w.Body.Len() != 0 {
			t.Fatalf("preflight: %d %q, want an empty 204", w.Code, w.Body)
		}
		checkHeaders(t, w.Header(), map[string]string{
			"Access-Control-Allow-Origin":  appOrigin,
			"Access-Control-Allow-Methods": "GET, HEAD",
			"Access-Control-Allow-Headers": "Authorization, If-None-Match, Content-Type, traceparent, tracestate",
			"Access-Control-Max-Age":       "7200",
			"Allow":                        "GET, HEAD, OPTIONS",
			"RateLimit":                    "", // preflights are not limited
		})
		// One field line: a validator reading the first line and a cache
		// joining them all see the same list.
		if vary := w.Header().Values("Vary"); !slices.Equal(vary, []string{"Origin, Access-Control-Request-Method, Access-Control-Request-Headers"}) {
			t.Errorf("Vary %q, want one line", vary)
		}
	})
	t.Run("preflight from another origin", func(t *testing.T) {
		r := withOrigin(get(path, "", ""), "https://evil.example")
		r.Method = http.MethodOptions
		r.Header.Set("Access-Control-Request-Method", "GET")
		w := serve(h, r)
		checkHeaders(t, w.Header(), map[string]string{
			"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": "",
		})
	})
	t.Run("405 lists OPTIONS", func(t *testing.T) {
		r := get(path, tok, "")
		r.Method = http.MethodDelete
		if w := serve(h, r); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD, OPTIONS" {
			t.Fatalf("DELETE: %d, Allow %q", w.Code, w.Header().Get("Allow"))
		}
	})
	t.Run("any origin", func(t *testing.T) {
		h := f.configured(t, status.Config{CORSOrigins: []string{"*"}})
		w := serve(h, withOrigin(get(path, tok, ""), "https://anywhere.example"))
		checkHeaders(t, w.Header(), map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": exposed})
	})
	t.Run("off without origins", func(t *testing.T) {
		r := withOrigin(get(path, "", ""), appOrigin)
		r.Method = http.MethodOptions
		r.Header.Set("Access-Control-Request-Method", "GET")
		w := f.do(r)
		if w.Code != 405 || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Vary") != "" {
			t.Fatalf("preflight without CORS: %d %v", w.Code, w.Header())
		}
	})
}

func checkHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}

func TestParseOrigins(t *testing.T) {
	got, err := status.ParseOrigins(" https://app.example.com/ , ,*,http://localhost:5173,HTTPS://B.test")
	if want := []string{"https://app.example.com", "*", "http://localhost:5173", "HTTPS://B.test"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("ParseOrigins = %q, %v; want %q", got, err, want)
	}
	if got, err := status.ParseOrigins(""); err != nil || len(got) != 0 {
		t.Errorf("empty: %q, %v", got, err)
	}
	for _, bad := range []string{"app.test", "http://", "ftp://app.test", "http://app.test/path", "http://app.test?x",
		"http://app.test#x", "http://user@app.test", "null"} {
		if _, err := status.ParseOrigins("https://ok.test," + bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: %v, want an error naming it", bad, err)
		}
	}
}
