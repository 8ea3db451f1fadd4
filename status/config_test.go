package status_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/status"
)

// configured returns a handler over f's fakes with cfg's other fields; the
// fixture's defaults fill what cfg leaves out.
func (f *fixture) configured(t testing.TB, cfg status.Config) http.Handler {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = newLogger(f.logs)
	}
	if cfg.Auth == nil {
		cfg.Auth = hmacVerifier(t)
	}
	if cfg.Jobs == nil {
		cfg.Jobs = f.jobs
	}
	if cfg.Results == nil {
		cfg.Results = f.results
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testNow }
	}
	return status.New(cfg)
}

// hmacVerifier verifies the fixture issuer's HS256 tokens, as newFixture's does.
func hmacVerifier(t testing.TB) *auth.Verifier {
	t.Helper()
	keys, err := auth.HMACSecret(testIssuer(t).Secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(keys, auth.Options{Issuer: testIss, Audiences: []string{testAud},
		Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// serve sends r to h and returns the recorded answer.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// get builds a GET of path, with a bearer token when tok is not empty, from
// the client address addr ("192.0.2.1:1234", httptest's, when empty).
func get(path, tok, addr string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	if addr != "" {
		r.RemoteAddr = addr
	}
	return r
}
