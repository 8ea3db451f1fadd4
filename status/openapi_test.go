package status_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/status"
)

// The contract test: every case of statusCases() goes through the handler
// and through an OpenAPI validator (kin-openapi's openapi3filter), request and
// answer, so status/openapi.json and the code cannot drift apart.

// What the document finds wrong with a request, if anything.
const (
	faultPath        = "path not in the document"
	faultMethod      = "method not in the document"
	faultCredentials = "no bearer token"
	faultJobID       = "job_id not a UUID"
)

// contract is the loaded document with what validating against it takes.
type contract struct {
	doc    *openapi3.T
	router routers.Router
	opts   *openapi3filter.Options
}

// loadContract loads and validates the embedded document.
func loadContract(t testing.TB) *contract {
	t.Helper()
	ctx := context.Background()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(status.OpenAPI())
	if err != nil {
		t.Fatalf("loading the OpenAPI document: %v", err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("the OpenAPI document is invalid: %v", err)
	}
	// kin-openapi asserts only the formats it has a validator for. It has
	// none for "uri" by default. "uuid" is left unasserted on purpose: job
	// ids are checked by the JobId pattern alone, which is what validators
	// that treat formats as annotations rely on.
	doc.SetStringFormatValidator("uri", openapi3.NewCallbackValidator(func(s string) error {
		if u, err := url.Parse(s); err != nil || !u.IsAbs() {
			return errors.New("not an absolute URI")
		}
		return nil
	}))
	// The router matches a request's scheme and host against servers when
	// there are any, and the tests' requests go to none of them: route with
	// a copy that has none, so that paths and methods alone decide.
	routed := *doc
	routed.Servers = nil
	router, err := gorillamux.NewRouter(&routed)
	if err != nil {
		t.Fatalf("routing the OpenAPI document: %v", err)
	}
	return &contract{
		doc:    doc,
		router: router,
		opts: &openapi3filter.Options{
			AuthenticationFunc:      bearerPresent,
			IncludeResponseStatus:   true, // an undocumented status code is drift too
			MultiError:              true,
			SchemaValidationOptions: doc.GetSchemaValidationOptions(),
		},
	}
}

// bearerPresent accepts any request that carries a bearer token: whether the
// token verifies is for the handler to say, and the document lists the 401
// it answers when it does not.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if s := in.SecurityScheme; s.Type != "http" || !strings.EqualFold(s.Scheme, "bearer") {
		return in.NewError(fmt.Errorf("security scheme %q is %s %s, not http bearer", in.SecuritySchemeName, s.Type, s.Scheme))
	}
	scheme, token, _ := strings.Cut(in.RequestValidationInput.Request.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(token) == "" {
		return in.NewError(errors.New("no bearer token"))
	}
	return nil
}

// validateRequest validates r against the document and returns the input to
// validate its answer with, and what the document found wrong with r (nil
// for a valid request). The faults come in the order the validator finds
// them: credentials, then the path's parameters, then the operation's.
//
// A request to a path or with a method the document has no operation for
// cannot be validated as a request; its answer is validated against the
// component responses the document names for it (see info.description):
// NotFound for any other path, MethodNotAllowed for any other method, and
// TooManyRequests for either.
func (ct *contract) validateRequest(ctx context.Context, r *http.Request) (*openapi3filter.RequestValidationInput, []string, error) {
	route, params, err := ct.router.FindRoute(r)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		in, err := ct.unrouted(r, map[int]string{http.StatusNotFound: "NotFound", http.StatusTooManyRequests: "TooManyRequests"})
		return in, []string{faultPath}, err
	case errors.Is(err, routers.ErrMethodNotAllowed):
		in, err := ct.unrouted(r, map[int]string{http.StatusMethodNotAllowed: "MethodNotAllowed", http.StatusTooManyRequests: "TooManyRequests"})
		return in, []string{faultMethod}, err
	case err != nil:
		return nil, nil, fmt.Errorf("routing: %w", err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: ct.opts}
	err = openapi3filter.ValidateRequest(ctx, in)
	if err == nil {
		return in, nil, nil
	}
	var errs []error
	if me, ok := err.(openapi3.MultiError); ok {
		errs = me
	} else {
		errs = []error{err}
	}
	var faults []string
	for _, err := range errs {
		var sec *openapi3filter.SecurityRequirementsError
		var req *openapi3filter.RequestError
		var fault string
		switch {
		case errors.As(err, &sec):
			fault = faultCredentials
		case errors.As(err, &req) && req.Parameter != nil && req.Parameter.In == "path" && req.Parameter.Name == "job_id":
			fault = faultJobID
		default:
			return in, faults, fmt.Errorf("unexpected request validation error: %w", err)
		}
		if !slices.Contains(faults, fault) {
			faults = append(faults, fault)
		}
	}
	return in, faults, nil
}

// unrouted is the input to validate the answer to an unrouted request with:
// an operation whose only answers are the named component responses.
func (ct *contract) unrouted(r *http.Request, answers map[int]string) (*openapi3filter.RequestValidationInput, error) {
	var opts []openapi3.NewResponsesOption
	for code, name := range answers {
		ref := ct.doc.Components.Responses[name]
		if ref == nil || ref.Value == nil {
			return nil, fmt.Errorf("the document has no response #/components/responses/%s", name)
		}
		opts = append(opts, openapi3.WithStatus(code, ref))
	}
	route := &routers.Route{
		Spec:      ct.doc,
		Path:      r.URL.Path,
		PathItem:  &openapi3.PathItem{},
		Method:    r.Method,
		Operation: &openapi3.Operation{Responses: openapi3.NewResponses(opts...)},
	}
	return &openapi3filter.RequestValidationInput{Request: r, Route: route, Options: ct.opts}, nil
}

// validateResponse validates an answer, status, headers and body, to the
// request of in.
func (ct *contract) validateResponse(ctx context.Context, in *openapi3filter.RequestValidationInput, code int, header http.Header, body []byte) error {
	if in.Request.Method == http.MethodHead || code == http.StatusNotModified || code == http.StatusNoContent {
		return ct.validateBodiless(ctx, in, code, header, body)
	}
	res := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 code,
		Header:                 header,
		Options:                ct.opts,
	}
	res.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(ctx, res)
}

// validateBodiless validates an answer that has no body: one to a HEAD
// request, a 304, or a 204 (the CORS preflight's). openapi3filter.ValidateResponse
// does not look at the first two at all (it returns nil for them), and checks
// a 204's headers but not that it has no body, so this checks them itself,
// using the library's header decoding and schema validation for each
// documented header.
func (ct *contract) validateBodiless(ctx context.Context, in *openapi3filter.RequestValidationInput, code int, header http.Header, body []byte) error {
	ref := in.Route.Operation.Responses.Status(code)
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("status %d is not documented for %s %s", code, in.Route.Method, in.Route.Path)
	}
	documented := ref.Value
	if len(body) != 0 {
		return fmt.Errorf("%d answer to %s has a body: %q", code, in.Request.Method, body)
	}
	// A HEAD answer carries the Content-Type of the body GET would send.
	switch ctype := header.Get("Content-Type"); {
	case len(documented.Content) == 0 && ctype != "":
		return fmt.Errorf("%d answer has Content-Type %q but the document gives it no content", code, ctype)
	case len(documented.Content) != 0 && documented.Content.Get(ctype) == nil:
		return fmt.Errorf("%d answer has Content-Type %q, not one the document lists", code, ctype)
	}
	for _, name := range slices.Sorted(maps.Keys(documented.Headers)) {
		h := documented.Headers[name]
		if h == nil || h.Value == nil {
			return fmt.Errorf("header %s of the %d answer is not resolved", name, code)
		}
		p := h.Value.Parameter
		p.Name, p.In = name, openapi3.ParameterInHeader
		// The answer's headers, seen as those of a request.
		hr := &http.Request{Method: in.Request.Method, URL: in.Request.URL, Header: header.Clone()}
		hin := &openapi3filter.RequestValidationInput{Request: hr, Route: in.Route, Options: ct.opts}
		if err := openapi3filter.ValidateParameter(ctx, hin, &p); err != nil {
			return fmt.Errorf("%d answer, header %s: %w", code, name, err)
		}
	}
	return nil
}

// requestFaults is what the document must find wrong with the request r,
// worked out without the document: a path or method it has no operation for,
// no credentials (GET and HEAD; a CORS preflight carries none), a job id
// status.ValidJobID refuses. An OPTIONS request that is not a CORS
// preflight is no fault: the handler answers it 204 too. This pins the
// document's UUID pattern to the handler's own check on every case. The
// order is validateRequest's.
func requestFaults(r *http.Request) []string {
	id, ok := strings.CutPrefix(r.URL.EscapedPath(), "/api/vpr/status/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return []string{faultPath}
	}
	var faults []string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.Header.Get("Authorization") == "" {
			faults = append(faults, faultCredentials)
		}
	case http.MethodOptions:
	default:
		return []string{faultMethod}
	}
	if id, err := url.PathUnescape(id); err != nil || !status.ValidJobID(id) {
		faults = append(faults, faultJobID)
	}
	return faults
}

// TestOpenAPIContract sends every case of the handler's table tests through
// the validator. Requests the document calls invalid are expected, case by
// case, and their answers are validated all the same.
func TestOpenAPIContract(t *testing.T) {
	ct := loadContract(t)
	ctx := context.Background()
	cases := statusCases()
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			r := c.request(t, f)
			want := requestFaults(r)
			// The validator gets a copy: the handler must see the request as sent.
			in, got, err := ct.validateRequest(ctx, r.Clone(ctx))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Errorf("request %s %s: the document finds %q, want %q", r.Method, r.URL, got, want)
			}
			w := f.do(r)
			if err := ct.validateResponse(ctx, in, w.Code, w.Header(), w.Body.Bytes()); err != nil {
				t.Errorf("answer %d to %s %s does not match the document: %v\nheaders: %v\nbody: %s",
					w.Code, r.Method, r.URL, err, w.Header(), w.Body)
			}
			// The same case as deployed: token cache and both limiters on,
			// so the answers carry the RateLimit fields the document describes.
			r = c.request(t, f)
			w = serve(f.configured(t, status.Config{
				Auth:        auth.NewCache(hmacVerifier(t), auth.CacheOptions{Now: func() time.Time { return testNow }}),
				Limiter:     newLimiter(t, 5, 100),
				AddrLimiter: newLimiter(t, 5, 50),
			}), r)
			if w.Header().Get("RateLimit") == "" {
				t.Errorf("no RateLimit field with limiters on: %v", w.Header())
			}
			if err := ct.validateResponse(ctx, in, w.Code, w.Header(), w.Body.Bytes()); err != nil {
				t.Errorf("with limiters, answer %d to %s %s does not match the document: %v\nheaders: %v\nbody: %s",
					w.Code, r.Method, r.URL, err, w.Header(), w.Body)
			}
		})
	}
}

// TestOpenAPIContractOverTheLimit validates the 429s of a user over the
// limit and of an address flooding garbage tokens.
func TestOpenAPIContractOverTheLimit(t *testing.T) {
	ct := loadContract(t)
	ctx := context.Background()
	f := newFixture(t)
	h := f.configured(t, status.Config{
		Auth:        auth.NewCache(hmacVerifier(t), auth.CacheOptions{Now: func() time.Time { return testNow }}),
		Limiter:     newLimiter(t, 1, 2),
		AddrLimiter: newLimiter(t, 1, 2),
	})
	for name, tok := range map[string]string{"user": f.token(t, alice), "address": "a.b.c"} {
		t.Run(name, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			var in *openapi3filter.RequestValidationInput
			for range 3 {
				r := get("/api/vpr/status/"+idPending, tok, "")
				var err error
				if in, _, err = ct.validateRequest(ctx, r.Clone(ctx)); err != nil {
					t.Fatal(err)
				}
				w = serve(h, r)
			}
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("third request: %d, want 429", w.Code)
			}
			if err := ct.validateResponse(ctx, in, w.Code, w.Header(), w.Body.Bytes()); err != nil {
				t.Errorf("429 does not match the document: %v\nheaders: %v\nbody: %s", err, w.Header(), w.Body)
			}
		})
	}
}

// TestOpenAPIDocument checks the document itself: it loads and validates
// (loadContract), and it describes what every answer carries.
func TestOpenAPIDocument(t *testing.T) {
	ct := loadContract(t)
	doc := ct.doc
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi = %q, want 3.1.0", doc.OpenAPI)
	}

	b := status.OpenAPI()
	b[0] ^= 0xff
	if status.OpenAPI()[0] == b[0] {
		t.Error("OpenAPI() hands out the embedded document itself")
	}

	const path = "/api/vpr/status/{job_id}"
	item := doc.Paths.Value(path)
	if item == nil {
		t.Fatalf("no path %s", path)
	}
	if ops := slices.Sorted(maps.Keys(item.Operations())); !slices.Equal(ops, []string{"GET", "HEAD", "OPTIONS"}) {
		t.Errorf("operations of %s: %v, want GET, HEAD and OPTIONS", path, ops)
	}
	id := item.Parameters.GetByInAndName("path", "job_id")
	if id == nil || !id.Required || id.Schema == nil || id.Schema.Value.Pattern == "" {
		t.Errorf("job_id is not a required path parameter with a pattern")
	}
	// The pattern alone says what status.ValidJobID says, about the ids of
	// the cases (TestOpenAPIContract) and about every id one edit away from
	// a valid one.
	re, err := regexp.Compile(doc.Components.Schemas["JobId"].Value.Pattern)
	if err != nil {
		t.Fatalf("JobId pattern: %v", err)
	}
	ids := []string{"", idPending + "\n", "\n" + idPending, strings.Repeat("0", 36), strings.Repeat("-", 36)}
	for i := range len(idPending) + 1 {
		for _, ch := range []string{"-", "0", "a", "F", "g", "G", "{", "/", " ", "\x00", "é"} {
			ids = append(ids, idPending[:i]+ch+idPending[i:], idUpper[:i]+ch+idUpper[i:])
			if i < len(idPending) {
				ids = append(ids, idPending[:i]+ch+idPending[i+1:], idUpper[:i]+ch+idUpper[i+1:])
			}
		}
		if i < len(idPending) {
			ids = append(ids, idPending[:i]+idPending[i+1:])
		}
	}
	for _, id := range ids {
		if got, want := re.MatchString(id), status.ValidJobID(id); got != want {
			t.Errorf("JobId pattern matches %q: %v, ValidJobID says %v", id, got, want)
		}
	}

	if s := doc.Components.SecuritySchemes["bearerAuth"]; s == nil || s.Value.Type != "http" || s.Value.Scheme != "bearer" {
		t.Error("no http bearer security scheme bearerAuth")
	} else if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Error("bearerAuth is not required of every operation")
	}
	// The CORS preflight carries no credentials: it requires none. It is
	// told apart by the two headers every browser preflight carries, which
	// are parameters, but not required ones: OPTIONS without them is
	// answered 204 all the same.
	if op := item.Options; op != nil {
		if op.Security == nil || len(*op.Security) != 0 {
			t.Error("OPTIONS does not waive the security requirement (security: [])")
		}
		for _, name := range []string{"Origin", "Access-Control-Request-Method"} {
			if p := op.Parameters.GetByInAndName("header", name); p == nil || p.Required {
				t.Errorf("OPTIONS: header %s is not an optional parameter", name)
			}
		}
	}

	// What the linters ask of a document (.ci/openapi-lint.sh): where it is
	// served, whom to ask, its license, and a tag the document defines on
	// every operation.
	var local, deployed bool
	for _, s := range doc.Servers {
		local = local || s.URL == "http://127.0.0.1:8080" // cmd/local's default -addr
		if strings.Contains(s.URL, "{") {
			deployed = true
			for name, v := range s.Variables {
				if v == nil || v.Default == "" || !strings.Contains(s.URL, "{"+name+"}") {
					t.Errorf("server %s: variable %s has no default, or is not in the URL", s.URL, name)
				}
			}
		}
	}
	if !local || !deployed {
		t.Errorf("servers %v: want the local server and a templated deployed one", doc.Servers)
	}
	if doc.Info.Contact == nil || doc.Info.License == nil || doc.Info.License.Name == "" {
		t.Error("info has no contact or no license")
	}
	for method, op := range item.Operations() {
		if len(op.Tags) == 0 {
			t.Errorf("%s has no tags", method)
		}
		for _, tag := range op.Tags {
			if doc.Tags.Get(tag) == nil {
				t.Errorf("%s: tag %q is not defined at the top", method, tag)
			}
		}
	}

	wantCodes := map[string][]string{
		"GET":     {"200", "202", "304", "401", "403", "404", "410", "429", "500", "503"},
		"HEAD":    {"200", "202", "304", "401", "403", "404", "410", "429", "500", "503"},
		"OPTIONS": {"204", "405", "429"}, // 405 and 429 where CORS is off
	}
	responses := map[string]*openapi3.Response{}
	for method, op := range item.Operations() {
		if codes := slices.Sorted(maps.Keys(op.Responses.Map())); !slices.Equal(codes, wantCodes[method]) {
			t.Errorf("%s answers %v, want %v", method, codes, wantCodes[method])
		}
		for code, r := range op.Responses.Map() {
			responses[method+" "+code] = r.Value
		}
	}
	for name, r := range doc.Components.Responses {
		responses["#/components/responses/"+name] = r.Value
	}
	for _, name := range []string{"NotFound", "MethodNotAllowed"} {
		if doc.Components.Responses[name] == nil {
			t.Errorf("no #/components/responses/%s for requests outside the paths", name)
		}
	}
	// Headers every answer carries, or may carry where rate limiting or CORS
	// is on; the preflight's 204 is never rate limited, and always varies.
	every := map[string]bool{
		"Cache-Control": true, "X-Content-Type-Options": true, "RateLimit": false, "RateLimit-Policy": false,
		"Access-Control-Allow-Origin": false, "Access-Control-Expose-Headers": false, "Vary": false,
	}
	preflight := map[string]bool{"OPTIONS 204": true, "#/components/responses/Preflight": true}
	for where, r := range responses {
		for name, required := range every {
			h := r.Headers[name]
			switch {
			case preflight[where] && (name == "RateLimit" || name == "RateLimit-Policy"):
				if h != nil {
					t.Errorf("%s: %s documented, but preflights are not rate limited", where, name)
				}
			case h == nil:
				t.Errorf("%s: no %s header", where, name)
			case preflight[where] && name == "Vary":
				if !h.Value.Required {
					t.Errorf("%s: header Vary not documented as required", where)
				}
			case h.Value.Required != required:
				t.Errorf("%s: header %s required = %v, want %v", where, name, h.Value.Required, required)
			}
		}
		if preflight[where] && len(r.Content) != 0 {
			t.Errorf("%s: documented with a body", where)
		}
	}
	for where, name := range map[string]string{
		"GET 202": "Retry-After", "GET 304": "ETag", "GET 429": "Retry-After", "GET 503": "Retry-After",
		"GET 401": "WWW-Authenticate", "#/components/responses/MethodNotAllowed": "Allow", "OPTIONS 204": "Allow",
	} {
		if r := responses[where]; r == nil {
			t.Errorf("no %s answer", where)
		} else if h := r.Headers[name]; h == nil || !h.Value.Required {
			t.Errorf("%s: header %s not documented as required", where, name)
		}
	}
	for _, name := range []string{"Access-Control-Allow-Methods", "Access-Control-Allow-Headers", "Access-Control-Max-Age"} {
		if r := responses["OPTIONS 204"]; r != nil && (r.Headers[name] == nil || r.Headers[name].Value.Required) {
			t.Errorf("OPTIONS 204: %s not documented as an optional header (a refused preflight has none)", name)
		}
	}
	for where, r := range responses {
		if !strings.HasPrefix(where, "GET 4") && !strings.HasPrefix(where, "GET 5") {
			continue
		}
		if mt := r.Content.Get("application/problem+json"); mt == nil || len(r.Content) != 1 {
			t.Errorf("%s: not application/problem+json only", where)
		}
	}
}

// TestOpenAPIContractCatchesDrift: the document is strict enough to refuse
// answers that drift from it. Each case is a representative mutation of a
// valid answer, which the harness must accept as a control: a body member
// added or missing, a pacing header missing or malformed, a body where there
// must be none, an error in the wrong media type, an undocumented status,
// and CORS exposing less than a poller needs.
func TestOpenAPIContractCatchesDrift(t *testing.T) {
	ct := loadContract(t)
	const (
		pending   = `{"job_id":"11111111-1111-4111-8111-111111111111","status":"PENDING","created_at":"2026-11-29T11:59:00Z"}`
		completed = `{"job_id":"33333333-3333-4333-8333-333333333333","status":"COMPLETED","created_at":"2026-11-29T11:59:00Z",` +
			`"result_url":"https://results.test/r/x","result_url_expires_at":"2026-11-29T13:00:00Z"}`
		notFound = `{"type":"about:blank","title":"Not Found","status":404,"error":"Not found"}`
	)
	// header returns the headers of a valid answer of contentType, with kv
	// set on top ("" deletes).
	header := func(contentType string, kv ...string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{"Content-Type": contentType, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"} {
			if v != "" {
				h.Set(k, v)
			}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Del(kv[i])
			if kv[i+1] != "" {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	const json, problem = "application/json", "application/problem+json"
	paced := []string{"Retry-After", "2", "ETag", `"x"`}
	granted := []string{"Access-Control-Allow-Origin", appOrigin, "Vary", "Origin",
		"Access-Control-Expose-Headers", "ETag, Retry-After, RateLimit, RateLimit-Policy, WWW-Authenticate"}
	tests := []struct {
		name   string
		valid  bool
		code   int
		header http.Header
		body   string
	}{
		{"pending", true, 202, header(json, paced...), pending},
		{"completed", true, 200, header(json), completed},
		{"not modified", true, 304, header("", paced...), ""},
		{"not found", true, 404, header(problem), notFound},
		{"granted to a page", true, 202, header(json, append(paced, granted...)...), pending},

		{"202 with an extra member", false, 202, header(json, paced...), strings.Replace(pending, `{`, `{"progress":50,`, 1)},
		{"202 without created_at", false, 202, header(json, paced...), `{"job_id":"11111111-1111-4111-8111-111111111111","status":"PENDING"}`},
		{"202 without Retry-After", false, 202, header(json, "ETag", `"x"`), pending},
		{"202 with a malformed RateLimit", false, 202, header(json, append(paced, "RateLimit", "7")...), pending},
		{"200 completed without result_url", false, 200, header(json), strings.Replace(completed, `"result_url":"https://results.test/r/x",`, "", 1)},
		{"304 with a body", false, 304, header("", paced...), pending},
		{"error as application/json", false, 404, header(json), notFound},
		{"undocumented status", false, 418, header(problem), `{"type":"about:blank","title":"I'm a teapot","status":418,"error":"x"}`},
		{"exposing less to a page", false, 202, header(json, append(append(paced, granted...), "Access-Control-Expose-Headers", "Retry-After")...), pending},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/api/vpr/status/"+idPending, nil)
		r.Header.Set("Authorization", "Bearer x")
		in, _, err := ct.validateRequest(context.Background(), r)
		if err != nil {
			t.Fatalf("request: %v", err)
		}
		err = ct.validateResponse(context.Background(), in, tt.code, tt.header, []byte(tt.body))
		switch {
		case tt.valid && err != nil:
			t.Errorf("%s: rejected: %v", tt.name, err)
		case !tt.valid && err == nil:
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

// TestOpenAPIRequests checks the request side on its own: the document
// refuses exactly what the handler cannot serve.
func TestOpenAPIRequests(t *testing.T) {
	ct := loadContract(t)
	ctx := context.Background()
	for _, tc := range []struct {
		method, path, auth, inm string
		want                    []string
	}{
		{"GET", "/api/vpr/status/" + idPending, "Bearer x", "", nil},
		{"HEAD", "/api/vpr/status/" + idUpper, "bearer x", `W/"a", "b"`, nil},
		{"GET", "/api/vpr/status/" + idPending, "", "*", []string{faultCredentials}},
		{"GET", "/api/vpr/status/" + idPending, "Basic eDp5", "", []string{faultCredentials}},
		{"GET", "/api/vpr/status/" + idPending, "Bearer ", "", []string{faultCredentials}},
		{"GET", "/api/vpr/status/urn:uuid:" + idPending, "Bearer x", "", []string{faultJobID}},
		{"GET", "/api/vpr/status/" + strings.ReplaceAll(idPending, "-", ""), "", "", []string{faultCredentials, faultJobID}},
		{"PATCH", "/api/vpr/status/" + idPending, "Bearer x", "", []string{faultMethod}},
		// OPTIONS needs no credentials, and not even Origin and
		// Access-Control-Request-Method (TestOpenAPIContractCORS sends those).
		{"OPTIONS", "/api/vpr/status/" + idPending, "", "", nil},
		{"OPTIONS", "/api/vpr/status/not-a-uuid", "Bearer x", "", []string{faultJobID}},
		{"GET", "/api/vpr/jobs/" + idPending, "Bearer x", "", []string{faultPath}},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		if tc.inm != "" {
			r.Header.Set("If-None-Match", tc.inm)
		}
		_, got, err := ct.validateRequest(ctx, r)
		if err != nil {
			t.Errorf("%s %s: %v", tc.method, tc.path, err)
		} else if !slices.Equal(got, tc.want) {
			t.Errorf("%s %s (Authorization %q): faults %q, want %q", tc.method, tc.path, tc.auth, got, tc.want)
		}
	}
	// A malformed If-None-Match is refused too.
	r := httptest.NewRequest("GET", "/api/vpr/status/"+idPending, nil)
	r.Header.Set("Authorization", "Bearer x")
	r.Header.Set("If-None-Match", "abc")
	if _, _, err := ct.validateRequest(ctx, r); err == nil {
		t.Error("If-None-Match abc accepted")
	}
}
