package status_test

import (
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/careervp/vprstatus/status"
)

// TestOpenAPIContractCORS validates, request and answer, what the handler
// serves with CORS on: preflights, granted and refused, and the grants on
// ordinary answers. What the document cannot say (that an allowed origin's
// preflight is granted and another's is not, that a preflight is never rate
// limited) is checked on the answers directly.
func TestOpenAPIContractCORS(t *testing.T) {
	ct := loadContract(t)
	f := newFixture(t)
	tok := f.token(t, alice)
	const (
		base    = "/api/vpr/status/"
		foreign = "https://evil.example"
		exposed = "ETag, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate"
		varies  = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
	)
	// header values of the preflight's grant, and of its absence.
	granted := map[string]string{
		"Access-Control-Allow-Methods": "GET, HEAD", "Access-Control-Allow-Headers": "Authorization, If-None-Match, Content-Type, traceparent, tracestate",
		"Access-Control-Max-Age": "7200",
	}
	refused := map[string]string{
		"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "",
		"Access-Control-Allow-Methods": "", "Access-Control-Allow-Headers": "", "Access-Control-Max-Age": "",
	}
	with := func(m map[string]string, kv ...string) map[string]string {
		out := maps.Clone(m)
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	// request builds method path with the headers kv (name, value, ...).
	request := func(method, path string, kv ...string) func() *http.Request {
		return func() *http.Request {
			r := get(path, "", "")
			r.Method = method
			for i := 0; i+1 < len(kv); i += 2 {
				r.Header.Set(kv[i], kv[i+1])
			}
			return r
		}
	}
	preflight := func(path, origin string) func() *http.Request {
		return request(http.MethodOptions, path, "Origin", origin,
			"Access-Control-Request-Method", "GET", "Access-Control-Request-Headers", "authorization,if-none-match")
	}
	// The ETag of the pending job, for a conditional GET.
	etag := f.do(get(base+idPending, tok, "")).Header().Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on the pending job")
	}

	for _, tc := range []struct {
		name    string
		origins []string // CORSOrigins; nil: CORS off
		req     func() *http.Request
		faults  []string // what the document finds wrong with the request
		code    int
		headers map[string]string // wanted, all field lines joined; "" = absent
	}{
		{name: "preflight from the allowed origin", origins: []string{appOrigin}, req: preflight(base+idPending, appOrigin),
			code: 204, headers: with(granted, "Access-Control-Allow-Origin", appOrigin, "Allow", "GET, HEAD, OPTIONS", "Vary", varies)},
		{name: "preflight from the allowed origin, spelt in capitals", origins: []string{appOrigin},
			req:  preflight(base+idPending, "HTTPS://APP.EXAMPLE.COM"),
			code: 204, headers: with(granted, "Access-Control-Allow-Origin", "HTTPS://APP.EXAMPLE.COM", "Vary", varies)},
		{name: "preflight from a foreign origin", origins: []string{appOrigin}, req: preflight(base+idPending, foreign),
			code: 204, headers: with(refused, "Allow", "GET, HEAD, OPTIONS", "Vary", varies)},
		{name: "preflight asking for another method", origins: []string{appOrigin},
			req: request(http.MethodOptions, base+idPending, "Origin", appOrigin, "Access-Control-Request-Method", "DELETE"),
			// granted all the same: the browser sees DELETE is not among the methods
			code: 204, headers: with(granted, "Access-Control-Allow-Origin", appOrigin, "Vary", varies)},
		{name: "preflight for a job id not a UUID", origins: []string{appOrigin}, req: preflight(base+"not-a-uuid", appOrigin),
			faults: []string{faultJobID}, code: 204, headers: with(granted, "Access-Control-Allow-Origin", appOrigin)},
		{name: "preflight from any origin", origins: []string{"*"}, req: preflight(base+idPending, foreign),
			code: 204, headers: with(granted, "Access-Control-Allow-Origin", "*", "Vary", varies)},
		{name: "OPTIONS from the allowed origin, not a preflight", origins: []string{appOrigin},
			req: request(http.MethodOptions, base+idPending, "Origin", appOrigin), code: 204,
			headers: with(refused, "Access-Control-Allow-Origin", appOrigin, "Access-Control-Expose-Headers", exposed,
				"Allow", "GET, HEAD, OPTIONS", "Vary", "Origin")},
		{name: "OPTIONS without Origin", origins: []string{appOrigin},
			req: request(http.MethodOptions, base+idPending), code: 204,
			headers: with(refused, "Allow", "GET, HEAD, OPTIONS", "Vary", "Origin")},
		{name: "preflight with CORS off", req: preflight(base+idPending, appOrigin),
			code: 405, headers: with(refused, "Allow", "GET, HEAD", "Vary", "")},

		{name: "GET from the allowed origin, pending", origins: []string{appOrigin},
			req:  request(http.MethodGet, base+idPending, "Authorization", "Bearer "+tok, "Origin", appOrigin),
			code: 202, headers: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": exposed, "Vary": "Origin"}},
		{name: "GET from the allowed origin, completed", origins: []string{appOrigin},
			req:  request(http.MethodGet, base+idCompleted, "Authorization", "Bearer "+tok, "Origin", appOrigin),
			code: 200, headers: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": exposed, "Vary": "Origin"}},
		{name: "conditional GET from the allowed origin", origins: []string{appOrigin},
			req:  request(http.MethodGet, base+idPending, "Authorization", "Bearer "+tok, "Origin", appOrigin, "If-None-Match", etag),
			code: 304, headers: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": exposed,
				"Vary": "Origin", "ETag": etag}},
		{name: "HEAD from the allowed origin", origins: []string{appOrigin},
			req:  request(http.MethodHead, base+idPending, "Authorization", "Bearer "+tok, "Origin", appOrigin),
			code: 202, headers: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": exposed}},
		{name: "GET without credentials from the allowed origin", origins: []string{appOrigin},
			req: request(http.MethodGet, base+idPending, "Origin", appOrigin), faults: []string{faultCredentials},
			code: 401, headers: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": exposed}},
		{name: "GET from a foreign origin", origins: []string{appOrigin},
			req:  request(http.MethodGet, base+idPending, "Authorization", "Bearer "+tok, "Origin", foreign),
			code: 202, headers: map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Expose-Headers": "", "Vary": "Origin"}},
		{name: "GET from any origin", origins: []string{"*"},
			req:  request(http.MethodGet, base+idPending, "Authorization", "Bearer "+tok, "Origin", foreign),
			code: 202, headers: map[string]string{"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": exposed}},
		{name: "PUT with CORS on", origins: []string{appOrigin},
			req: request(http.MethodPut, base+idPending, "Authorization", "Bearer "+tok, "Origin", appOrigin), faults: []string{faultMethod},
			code: 405, headers: map[string]string{"Allow": "GET, HEAD, OPTIONS", "Access-Control-Allow-Origin": appOrigin, "Vary": "Origin"}},
		{name: "unknown path with CORS on", origins: []string{appOrigin},
			req: request(http.MethodGet, "/api/vpr/jobs/"+idPending, "Origin", appOrigin), faults: []string{faultPath},
			code: 404, headers: map[string]string{"Access-Control-Allow-Origin": appOrigin, "Vary": "Origin"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := f.configured(t, status.Config{
				CORSOrigins: tc.origins,
				Limiter:     newLimiter(t, 5, 100),
				AddrLimiter: newLimiter(t, 5, 50),
			})
			r := tc.req()
			w := validated(t, ct, h, r, tc.faults, tc.code)
			checkFields(t, w.Header(), tc.headers)
			if r.Method == http.MethodOptions && tc.origins != nil {
				checkFields(t, w.Header(), map[string]string{"RateLimit": "", "RateLimit-Policy": ""})
				// The validator reads a string-typed field's first line only:
				// what it checked must be the whole field.
				if vary := w.Header().Values("Vary"); len(vary) != 1 {
					t.Errorf("Vary in %d lines %q, want one", len(vary), vary)
				}
			}
		})
	}

	// Over the limit: the 429 is readable, and preflights are not limited
	// with CORS on, but are with CORS off (OPTIONS is then any other method).
	t.Run("over the limit", func(t *testing.T) {
		h := f.configured(t, status.Config{
			CORSOrigins: []string{appOrigin},
			Limiter:     newLimiter(t, 1, 2),
			AddrLimiter: newLimiter(t, 1, 2),
		})
		for range 2 {
			serve(h, get(base+idPending, tok, ""))
		}
		r := request(http.MethodGet, base+idPending, "Authorization", "Bearer "+tok, "Origin", appOrigin)()
		w := validated(t, ct, h, r, nil, 429)
		checkFields(t, w.Header(), map[string]string{"Access-Control-Allow-Origin": appOrigin, "Access-Control-Expose-Headers": exposed})
		for range 3 {
			w = validated(t, ct, h, preflight(base+idPending, appOrigin)(), nil, 204)
			checkFields(t, w.Header(), map[string]string{"Access-Control-Allow-Origin": appOrigin, "RateLimit": ""})
		}

		off := f.configured(t, status.Config{AddrLimiter: newLimiter(t, 1, 2)})
		for range 2 {
			serve(off, preflight(base+idPending, appOrigin)())
		}
		w = validated(t, ct, off, preflight(base+idPending, appOrigin)(), nil, 429)
		checkFields(t, w.Header(), map[string]string{"Access-Control-Allow-Origin": "", "Vary": ""})
	})
}

// validated sends r to h, after checking that the document finds faults in
// it, and checks the answer's code and that the document describes it.
func validated(t *testing.T, ct *contract, h http.Handler, r *http.Request, faults []string, code int) *httptest.ResponseRecorder {
	t.Helper()
	ctx := context.Background()
	in, got, err := ct.validateRequest(ctx, r.Clone(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if want := requestFaults(r); !slices.Equal(got, want) || !slices.Equal(got, faults) {
		t.Errorf("request %s %s: the document finds %q, requestFaults %q, want %q", r.Method, r.URL, got, want, faults)
	}
	w := serve(h, r)
	if w.Code != code {
		t.Fatalf("%s %s: %d, want %d\nheaders: %v\nbody: %s", r.Method, r.URL, w.Code, code, w.Header(), w.Body)
	}
	if err := ct.validateResponse(ctx, in, w.Code, w.Header(), w.Body.Bytes()); err != nil {
		t.Errorf("answer %d to %s %s does not match the document: %v\nheaders: %v\nbody: %s",
			w.Code, r.Method, r.URL, err, w.Header(), w.Body)
	}
	return w
}

// checkFields checks header fields, all lines of each joined by ", ";
// "" wants the field absent, anyString wants it present.
func checkFields(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got := strings.Join(h.Values(k), ", ")
		if got != v && (v != anyString || got == "") {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
}
