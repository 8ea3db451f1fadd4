package status_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/status"
)

// anyString matches any non-empty string in a wanted body.
const anyString = "<any non-empty string>"

// statusCase is one request and the answer the contract requires.
type statusCase struct {
	name   string
	method string // GET when empty
	path   string
	user   string            // bearer token for this user; none when empty
	header map[string]string // extra request headers
	setup  func(f *fixture)
	code   int
	// body is the whole JSON body wanted; nil means an empty body.
	body    map[string]any
	headers map[string]string // wanted response headers ("" = must be absent)
}

func notFoundBody() map[string]any {
	return problemBody(404, "Job not found (may have expired after 10 minutes)", "")
}

func problemBody(code int, errMsg, message string) map[string]any {
	b := map[string]any{"type": "about:blank", "title": http.StatusText(code), "status": float64(code), "error": errMsg}
	if message != "" {
		b["message"] = message
	}
	return b
}

var internalBody = problemBody(500, "Internal server error", "Failed to retrieve job status")

// statusCases is every row of the contract, as seen through the real mux.
func statusCases() []statusCase {
	base := "/api/vpr/status/"
	failStore := func(err error) func(*fixture) { return func(f *fixture) { f.jobs.SetError(err) } }
	return []statusCase{
		{name: "pending", path: base + idPending, user: alice, code: 202,
			body:    map[string]any{"job_id": idPending, "status": "PENDING", "created_at": "2026-11-29T11:59:00Z"},
			headers: map[string]string{"Retry-After": "2", "ETag": anyString, "Content-Type": "application/json"}},
		{name: "processing", path: base + idProcessing, user: alice, code: 202,
			body: map[string]any{"job_id": idProcessing, "status": "PROCESSING", "created_at": "2026-11-29T11:59:00Z",
				"started_at": "2026-11-29T11:59:05Z"},
			headers: map[string]string{"Retry-After": "2", "ETag": anyString}},
		{name: "uppercase uuid", path: base + idUpper, user: alice, code: 202,
			body: map[string]any{"job_id": idUpper, "status": "PENDING", "created_at": "2026-11-29T11:59:00Z"}},
		{name: "completed", path: base + idCompleted, user: alice, code: 200,
			body: map[string]any{"job_id": idCompleted, "status": "COMPLETED", "created_at": "2026-11-29T11:59:00Z",
				"completed_at": "2026-11-29T11:59:40Z", "result_url": anyString,
				"result_url_expires_at": "2026-11-29T13:00:00Z",
				"token_usage":           map[string]any{"input_tokens": float64(1200), "output_tokens": float64(3400)}},
			headers: map[string]string{"ETag": "", "Retry-After": "", "Content-Type": "application/json"}},
		{name: "failed", path: base + idFailed, user: alice, code: 200,
			body: map[string]any{"job_id": idFailed, "status": "FAILED", "created_at": "2026-11-29T11:59:00Z",
				"error": "Model refused the request"}},
		{name: "failed without message", path: base + idFailedNoMsg, user: alice, code: 200,
			body: map[string]any{"job_id": idFailedNoMsg, "status": "FAILED", "created_at": "2026-11-29T11:59:00Z",
				"error": "Unknown error"}},

		{name: "no credentials", path: base + idPending, code: 401,
			body:    problemBody(401, "Unauthorized", "A bearer token is required"),
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="vprstatus"`}},
		{name: "invalid token", path: base + idPending, header: map[string]string{"Authorization": "Bearer a.b.c"}, code: 401,
			body:    problemBody(401, "Unauthorized", "The bearer token is invalid or expired"),
			headers: map[string]string{"WWW-Authenticate": `Bearer realm="vprstatus", error="invalid_token"`}},
		{name: "authentication before id check", path: base + "nope", code: 401,
			body: problemBody(401, "Unauthorized", "A bearer token is required")},

		{name: "id not a uuid", path: base + "not-a-uuid", user: alice, setup: failStore(errors.New("store must not be called")),
			code: 404, body: notFoundBody()},
		{name: "id without dashes", path: base + "11111111111141118111111111111111", user: alice,
			setup: failStore(errors.New("store must not be called")), code: 404, body: notFoundBody()},
		{name: "id in braces", path: base + "%7B" + idPending + "%7D", user: alice,
			setup: failStore(errors.New("store must not be called")), code: 404, body: notFoundBody()},
		{name: "id with bad hex", path: base + "1111111g-1111-4111-8111-111111111111", user: alice,
			setup: failStore(errors.New("store must not be called")), code: 404, body: notFoundBody()},
		{name: "id too long", path: base + idPending + "0", user: alice,
			setup: failStore(errors.New("store must not be called")), code: 404, body: notFoundBody()},
		{name: "id escaped slash", path: base + "11111111-1111-4111-8111%2F111111111111", user: alice,
			setup: failStore(errors.New("store must not be called")), code: 404, body: notFoundBody()},
		{name: "absent", path: base + idAbsent, user: alice, code: 404, body: notFoundBody()},
		{name: "ttl passed", path: base + idExpired, user: alice, code: 404, body: notFoundBody()},
		{name: "ttl passed, not yet deleted, read by the handler's clock", path: base + idPending, user: alice,
			setup: func(f *fixture) {
				f.jobs.Update(idPending, func(j *status.Job) { j.ExpiresAt = testNow })
			},
			code: 404, body: notFoundBody()},
		{name: "absent job of nobody is 404 not 403", path: base + idAbsent, user: bob, code: 404, body: notFoundBody()},
		{name: "foreign owner", path: base + idCompleted, user: bob, code: 403, body: problemBody(403, "Forbidden", "")},
		{name: "foreign owner of a pending job", path: base + idPending, user: bob, code: 403,
			body: problemBody(403, "Forbidden", ""), headers: map[string]string{"ETag": ""}},

		{name: "result object gone", path: base + idGone, user: alice, code: 410,
			body: problemBody(410, "Result expired or deleted", "Please regenerate the VPR")},
		{name: "completed without result_key", path: base + idNoKey, user: alice, code: 500,
			body: problemBody(500, "Result key missing", "")},
		{name: "unknown status value", path: base + idWeird, user: alice, code: 500,
			body: problemBody(500, "Unknown job status", "")},
		{name: "bad record in store", path: base + idPending, user: alice,
			setup: failStore(fmt.Errorf("decode: %w", status.ErrBadRecord)), code: 500, body: internalBody},
		{name: "store failing", path: base + idPending, user: alice,
			setup: failStore(errors.New("boom")), code: 500, body: internalBody},
		{name: "store throttled", path: base + idPending, user: alice,
			setup: func(f *fixture) { f.jobs.SetThrottled(true) }, code: 503,
			body:    problemBody(503, "Service unavailable", "Failed to retrieve job status"),
			headers: map[string]string{"Retry-After": "1"}},
		{name: "store past deadline", path: base + idPending, user: alice,
			setup: failStore(context.DeadlineExceeded), code: 503,
			body:    problemBody(503, "Service unavailable", "Failed to retrieve job status"),
			headers: map[string]string{"Retry-After": "1"}},
		{name: "signer throttled", path: base + idCompleted, user: alice,
			setup: func(f *fixture) { f.results.SetThrottled(true) }, code: 503,
			body:    problemBody(503, "Service unavailable", "Failed to retrieve job status"),
			headers: map[string]string{"Retry-After": "1"}},
		{name: "signer failing", path: base + idCompleted, user: alice,
			setup: func(f *fixture) { f.results.SetError(errors.New("boom")) }, code: 500, body: internalBody},

		{name: "if-none-match current", path: base + idPending, user: alice, code: 304,
			header:  map[string]string{"If-None-Match": currentETag},
			headers: map[string]string{"ETag": anyString, "Retry-After": "2"}},
		{name: "if-none-match weak and in a list", path: base + idProcessing, user: alice, code: 304,
			header: map[string]string{"If-None-Match": `"0000", W/` + currentETag}},
		{name: "if-none-match star", path: base + idPending, user: alice, code: 304,
			header: map[string]string{"If-None-Match": "*"}},
		{name: "if-none-match stale", path: base + idPending, user: alice, code: 202,
			header: map[string]string{"If-None-Match": `"0123456789abcdef"`},
			body:   map[string]any{"job_id": idPending, "status": "PENDING", "created_at": "2026-11-29T11:59:00Z"}},
		{name: "if-none-match never 304s a completed job", path: base + idCompleted, user: alice, code: 200,
			header: map[string]string{"If-None-Match": "*"},
			body: map[string]any{"job_id": idCompleted, "status": "COMPLETED", "created_at": "2026-11-29T11:59:00Z",
				"completed_at": "2026-11-29T11:59:40Z", "result_url": anyString,
				"result_url_expires_at": "2026-11-29T13:00:00Z",
				"token_usage":           map[string]any{"input_tokens": float64(1200), "output_tokens": float64(3400)}}},

		{name: "head pending", method: "HEAD", path: base + idPending, user: alice, code: 202,
			headers: map[string]string{"ETag": anyString, "Content-Type": "application/json"}},
		{name: "head not found", method: "HEAD", path: base + idAbsent, user: alice, code: 404,
			headers: map[string]string{"Content-Type": "application/problem+json"}},
		{name: "post", method: "POST", path: base + idPending, user: alice, code: 405,
			body: problemBody(405, "Method not allowed", ""), headers: map[string]string{"Allow": "GET, HEAD"}},
		{name: "delete", method: "DELETE", path: base + idPending, code: 405,
			body: problemBody(405, "Method not allowed", ""), headers: map[string]string{"Allow": "GET, HEAD"}},
		{name: "collection path", path: "/api/vpr/status", user: alice, code: 404, body: problemBody(404, "Not found", "")},
		{name: "empty id", path: base, user: alice, code: 404, body: problemBody(404, "Not found", "")},
		{name: "extra segment", path: base + idPending + "/x", user: alice, code: 404, body: problemBody(404, "Not found", "")},
		{name: "root", path: "/", code: 404, body: problemBody(404, "Not found", "")},
	}
}

// currentETag in a wanted request header stands for the ETag the handler
// gives the job right now.
const currentETag = "{current-etag}"

// request builds the request of c against f.
func (c statusCase) request(t testing.TB, f *fixture) *http.Request {
	t.Helper()
	method := c.method
	if method == "" {
		method = http.MethodGet
	}
	r := httptest.NewRequest(method, c.path, nil)
	if c.user != "" {
		r.Header.Set("Authorization", "Bearer "+f.token(t, c.user))
	}
	for k, v := range c.header {
		if strings.Contains(v, currentETag) {
			probe := statusCase{path: c.path, user: c.user}.request(t, f)
			v = strings.ReplaceAll(v, currentETag, f.do(probe).Header().Get("ETag"))
		}
		r.Header.Set(k, v)
	}
	return r
}

func TestStatus(t *testing.T) {
	for _, c := range statusCases() {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			w := f.do(c.request(t, f))
			checkAnswer(t, c, w)
		})
	}
}

// checkAnswer holds w to what c wants, and to what every answer must carry.
func checkAnswer(t *testing.T, c statusCase, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code != c.code {
		t.Fatalf("code = %d, want %d; body %s", w.Code, c.code, w.Body)
	}
	for k, want := range map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
		if got := w.Header().Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if c.code >= 400 {
		if got := w.Header().Get("Content-Type"); got != "application/problem+json" {
			t.Errorf("Content-Type = %q, want application/problem+json", got)
		}
	}
	for k, want := range c.headers {
		got := w.Header().Get(k)
		switch {
		case want == anyString && got == "":
			t.Errorf("header %s missing", k)
		case want != anyString && got != want:
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if c.body == nil || c.method == "HEAD" {
		if w.Body.Len() != 0 {
			t.Errorf("body = %q, want none", w.Body)
		}
		return
	}
	got := decodeBody(t, w)
	for k, want := range c.body {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("body lacks %q: %s", k, w.Body)
		case want == anyString:
			if s, _ := g.(string); s == "" {
				t.Errorf("body %q = %v, want a non-empty string", k, g)
			}
		case fmt.Sprint(g) != fmt.Sprint(want):
			t.Errorf("body %q = %v, want %v", k, g, want)
		}
	}
	for k := range got {
		if _, ok := c.body[k]; !ok {
			t.Errorf("body has unexpected member %q: %s", k, w.Body)
		}
	}
}

func TestResultURLFetches(t *testing.T) {
	f := newFixture(t)
	r := statusCase{path: "/api/vpr/status/" + idCompleted, user: alice}.request(t, f)
	w := f.do(r)
	u, _ := decodeBody(t, w)["result_url"].(string)
	if !strings.HasPrefix(u, resultURL) {
		t.Fatalf("result_url %q does not point at the results bucket", u)
	}
	get := httptest.NewRequest("GET", u, nil)
	rw := httptest.NewRecorder()
	f.results.ServeHTTP(rw, get)
	if rw.Code != 200 || rw.Body.String() != `{"vpr":"report"}` {
		t.Fatalf("fetching result_url: %d %q", rw.Code, rw.Body)
	}
}

func TestETagFollowsState(t *testing.T) {
	f := newFixture(t)
	get := func() *httptest.ResponseRecorder {
		return f.do(statusCase{path: "/api/vpr/status/" + idPending, user: alice}.request(t, f))
	}
	before := get().Header().Get("ETag")
	if again := get().Header().Get("ETag"); again != before {
		t.Fatalf("ETag not stable: %s then %s", before, again)
	}
	f.jobs.Update(idPending, func(j *status.Job) { j.State, j.StartedAt = status.Processing, "2026-11-29T11:59:30Z" })
	if after := get().Header().Get("ETag"); after == before {
		t.Fatalf("ETag %s unchanged after the job started", after)
	}
}

// panicStore panics on every read.
type panicStore struct{}

func (panicStore) Job(context.Context, string) (*status.Job, error) { panic("store bug") }

func TestPanicBecomesLogged500(t *testing.T) {
	f := newFixture(t)
	var logs testkit.Buffer
	h := status.New(status.Config{
		Logger:  newLogger(&logs),
		Auth:    staticAuth(alice),
		Jobs:    panicStore{},
		Results: f.results,
	})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/api/vpr/status/" + idPending)
	if err != nil {
		t.Fatalf("connection dropped: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 500 {
		t.Fatalf("code = %d, want 500", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "store bug") {
		t.Errorf("panic not logged: %s", logs.String())
	}
}

// The 500 of a status the service does not know logs the value, for
// whoever fixes the item; the client sees only the contract's body.
func TestUnknownStatusIsLogged(t *testing.T) {
	f := newFixture(t)
	r := httptest.NewRequest("GET", "/api/vpr/status/"+idWeird, nil)
	r.Header.Set("Authorization", "Bearer "+f.token(t, alice))
	w := f.do(r)
	if w.Code != 500 || strings.Contains(w.Body.String(), "CANCELLED") {
		t.Fatalf("%d %s, want a 500 without the value", w.Code, w.Body)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `unknown job status \"CANCELLED\"`) {
		t.Errorf("status value not logged: %s", logs)
	}
}

func TestFailuresAreLoggedWithoutSecrets(t *testing.T) {
	f := newFixture(t)
	f.jobs.SetError(errors.New("connection reset"))
	tok := f.token(t, alice)
	r := httptest.NewRequest("GET", "/api/vpr/status/"+idPending, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	if w := f.do(r); w.Code != 500 {
		t.Fatalf("code = %d, want 500", w.Code)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, "connection reset") {
		t.Errorf("cause not logged: %s", logs)
	}
	if strings.Contains(logs, tok) || strings.Contains(logs, strings.Split(tok, ".")[2]) {
		t.Errorf("token in logs: %s", logs)
	}
	// The 500 body never carries the cause.
	if w := f.do(r); strings.Contains(w.Body.String(), "connection reset") {
		t.Errorf("cause leaked to the client: %s", w.Body)
	}
}

func TestStoreDeadlineIsHonoured(t *testing.T) {
	f := newFixture(t)
	f.jobs.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	r := statusCase{path: "/api/vpr/status/" + idPending, user: alice}.request(t, f).WithContext(ctx)
	w := f.do(r)
	if w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Fatalf("slow store: %d %v, want 503 with Retry-After", w.Code, w.Header())
	}
}

func TestNewRequiresDependencies(t *testing.T) {
	f := newFixture(t)
	full := status.Config{Logger: newLogger(&testkit.Buffer{}), Auth: staticAuth(alice), Jobs: f.jobs, Results: f.results}
	for _, drop := range []string{"Logger", "Auth", "Jobs", "Results"} {
		cfg := full
		switch drop {
		case "Logger":
			cfg.Logger = nil
		case "Auth":
			cfg.Auth = nil
		case "Jobs":
			cfg.Jobs = nil
		case "Results":
			cfg.Results = nil
		}
		func() {
			defer func() {
				if v := recover(); v == nil || !strings.Contains(fmt.Sprint(v), drop) {
					t.Errorf("New without %s: panic %v, want one naming it", drop, v)
				}
			}()
			status.New(cfg)
		}()
	}
}

func TestValidJobID(t *testing.T) {
	good := []string{idPending, idUpper, "00000000-0000-0000-0000-000000000000"}
	bad := []string{"", "x", idPending[:35], idPending + "1", "{" + idPending[1:35] + "}",
		"urn:uuid:" + idPending, strings.ReplaceAll(idPending, "-", "_"), "11111111-1111-4111-8111-11111111111\x00"}
	for _, id := range good {
		if !status.ValidJobID(id) {
			t.Errorf("ValidJobID(%q) = false", id)
		}
	}
	for _, id := range bad {
		if status.ValidJobID(id) {
			t.Errorf("ValidJobID(%q) = true", id)
		}
	}
	if !slices.Equal([]bool{true}, []bool{status.ValidJobID(strings.ToLower(idUpper))}) {
		t.Error("lowercase form rejected")
	}
}

func FuzzValidJobID(f *testing.F) {
	for _, s := range []string{idPending, idUpper, "", "not-a-uuid", idPending + "0"} {
		f.Add(s)
	}
	fx := newFixture(f)
	tok := fx.token(f, alice)
	f.Fuzz(func(t *testing.T, id string) {
		ok := status.ValidJobID(id)
		if ok && len(id) != 36 {
			t.Fatalf("accepted %q of length %d", id, len(id))
		}
		// Whatever the id, the handler answers with a 4xx or the seeded job,
		// never a 5xx or a panic.
		r := httptest.NewRequest("GET", "/", nil)
		r.URL.Path = "/api/vpr/status/" + id
		r.Header.Set("Authorization", "Bearer "+tok)
		w := fx.do(r)
		if w.Code >= 500 {
			t.Fatalf("id %q: code %d", id, w.Code)
		}
	})
}

// TestUncleanPaths: ServeMux would redirect these to their clean form with
// an HTML 307 (and, behind a named stage, to a Location without the stage).
func TestUncleanPaths(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/api/vpr/status//" + idPending, "/api/vpr/./status/" + idPending,
		"/api/vpr/x/../status/" + idPending, "//api/vpr/status/" + idPending} {
		r := statusCase{path: "/", user: alice}.request(t, f)
		r.URL.Path = p
		w := f.do(r)
		if w.Code != 404 || w.Header().Get("Content-Type") != "application/problem+json" || w.Header().Get("Location") != "" {
			t.Errorf("%s: %d %v, want the JSON 404", p, w.Code, w.Header())
		}
	}
}

func TestClientGoneIsNotAWarning(t *testing.T) {
	f := newFixture(t)
	f.jobs.SetLatency(time.Hour)
	ctx, cancel := context.WithCancel(context.Background())
	r := statusCase{path: "/api/vpr/status/" + idPending, user: alice}.request(t, f).WithContext(ctx)
	time.AfterFunc(10*time.Millisecond, cancel)
	f.do(r)
	if strings.Contains(f.logs.String(), `"level":"WARN"`) || !strings.Contains(f.logs.String(), "client gone") {
		t.Errorf("logs: %s", f.logs.String())
	}
}
