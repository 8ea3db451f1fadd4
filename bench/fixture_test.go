package bench_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/ratelimit"
	"github.com/careervp/vprstatus/status"
)

// The identities and jobs of the fixture.
const (
	issuerName = "https://issuer.bench"
	audience   = "vprstatus-bench"
	origin     = "https://app.example.com"
	resultBase = "https://results.bench/r/"

	alice = "user-alice"
	bob   = "user-bob"

	idPending    = "11111111-1111-4111-8111-111111111111"
	idProcessing = "22222222-2222-4222-8222-222222222222"
	idCompleted  = "33333333-3333-4333-8333-333333333333"
	idFailed     = "44444444-4444-4444-8444-444444444444"
	idBobs       = "55555555-5555-4555-8555-555555555555"
	idAbsent     = "66666666-6666-4666-8666-666666666666"
)

// The algorithms a token can be signed with, as the sub-benchmarks name them.
var algs = []struct{ name, alg string }{{"rs256", "RS256"}, {"es256", "ES256"}, {"hs256", "HS256"}}

func testIssuer(tb testing.TB) *fakes.Issuer {
	return testkit.Issuer(tb, issuerName, audience, nil)
}

// fixture is the complete handler as production wires it: a verifier behind
// the verified-token cache, per-user and per-address limiters whose limits
// are never reached, the no-op tracer, CORS, and the in-memory fakes,
// seeded with a job in every state. The clock is the real one, as in
// production: time.Now is part of what a request costs.
type fixture struct {
	iss     *fakes.Issuer
	alg     string
	jobs    *fakes.JobStore
	results *fakes.Results
	handler http.Handler
}

// fixtureOptions vary the fixture.
type fixtureOptions struct {
	// alg is what tokens are signed with: RS256 and ES256 are verified
	// through a JWKS, HS256 with the development secret, as cmd/lambda and
	// cmd/local configure them. Default RS256, as Cognito signs.
	alg string
	// cacheSize bounds the verified-token cache (0: its default, 10,000).
	cacheSize int
	// signer, when set, signs result URLs in place of the fake bucket (which
	// still holds the jobs' results).
	signer status.URLSigner
	// wrap, when set, wraps the verifier inside the cache; tests count
	// signature checks with it.
	wrap func(auth.TokenVerifier) auth.TokenVerifier
}

func newFixture(tb testing.TB, o fixtureOptions) *fixture {
	tb.Helper()
	if o.alg == "" {
		o.alg = "RS256"
	}
	iss := testIssuer(tb)
	var v auth.TokenVerifier
	v, err := auth.NewVerifier(verifierKeys(tb, iss, o.alg), auth.Options{Issuer: issuerName, Audiences: []string{audience}})
	if err != nil {
		tb.Fatal(err)
	}
	if o.wrap != nil {
		v = o.wrap(v)
	}
	results, err := fakes.NewResults(resultBase, time.Hour, nil)
	if err != nil {
		tb.Fatal(err)
	}
	f := &fixture{iss: iss, alg: o.alg, jobs: fakes.NewJobStore(nil), results: results}
	signer := o.signer
	if signer == nil {
		signer = results
	}
	f.handler = status.New(status.Config{
		Logger:         slog.New(slog.DiscardHandler),
		Auth:           auth.NewCache(v, auth.CacheOptions{Size: o.cacheSize}),
		Jobs:           f.jobs,
		Results:        signer,
		Limiter:        unlimited(tb),
		AddrLimiter:    unlimited(tb),
		TracerProvider: noop.NewTracerProvider(),
		CORSOrigins:    []string{origin},
	})
	f.seed()
	return f
}

func verifierKeys(tb testing.TB, iss *fakes.Issuer, alg string) auth.Keys {
	tb.Helper()
	var (
		keys auth.Keys
		err  error
	)
	if alg == "HS256" {
		keys, err = auth.HMACSecret(iss.Secret)
	} else {
		keys, err = auth.StaticJWKS(iss.JWKS())
	}
	if err != nil {
		tb.Fatal(err)
	}
	return keys
}

// unlimited is a limiter that never refuses: a billion requests a second,
// and a bucket of a billion.
func unlimited(tb testing.TB) *ratelimit.Limiter {
	tb.Helper()
	l, err := ratelimit.New(ratelimit.Options{Rate: 1e9, Burst: 1e9})
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// seed stores a job in every state, all alice's but one.
func (f *fixture) seed() {
	now := time.Now().UTC()
	at := func(ago time.Duration) string { return now.Add(-ago).Format(time.RFC3339) }
	created, started, completed := at(time.Minute), at(50*time.Second), at(10*time.Second)
	ttl := now.Add(24 * time.Hour)
	for _, j := range []status.Job{
		{ID: idPending, UserID: alice, State: status.Pending, CreatedAt: created, ExpiresAt: ttl},
		{ID: idProcessing, UserID: alice, State: status.Processing, CreatedAt: created, StartedAt: started, ExpiresAt: ttl},
		f.completedJob(idCompleted, alice, created, started, completed, ttl),
		{ID: idFailed, UserID: alice, State: status.Failed, CreatedAt: created, StartedAt: started, CompletedAt: completed,
			Error: "The model could not produce a report for this job description", ExpiresAt: ttl},
		f.completedJob(idBobs, bob, created, started, completed, ttl),
	} {
		f.jobs.Put(j)
	}
}

// completedJob returns a COMPLETED job of user, its result object stored.
func (f *fixture) completedJob(id, user, created, started, completed string, ttl time.Time) status.Job {
	key := "results/" + id + ".json"
	f.results.Put(key, []byte(`{"headline":"report"}`))
	return status.Job{ID: id, UserID: user, State: status.Completed, CreatedAt: created, StartedAt: started,
		CompletedAt: completed, ResultKey: key, TokenUsage: &status.TokenUsage{InputTokens: 5120, OutputTokens: 2048},
		ExpiresAt: ttl}
}

// token mints a token for user, signed with the fixture's algorithm, valid
// for a day (the cache trusts it for 5 minutes at most). jti, when set, makes it distinct from every other token.
func (f *fixture) token(tb testing.TB, user, jti string) string {
	tb.Helper()
	claims := f.iss.Claims(user, 24*time.Hour)
	if jti != "" {
		claims["jti"] = jti
	}
	tok, err := f.iss.Sign(f.alg, claims, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// request is a browser's poll of job id with tok: the request every
// benchmark sends, the floor's included.
func request(id, tok string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/api/vpr/status/"+id, nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	r.Header.Set("Origin", origin)
	r.Header.Set("Accept", "application/json")
	return r
}

// serve sends r through h into a fresh recorder.
func serve(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// discard is the ResponseWriter of every benchmark, the floor's included:
// it keeps headers and the status code, counts the body and drops it.
// reset readies it for the next request without allocating, so that what a
// benchmark measures is the handler, not the recorder.
type discard struct {
	h    http.Header
	code int
	n    int
}

func newDiscard() *discard { return &discard{h: make(http.Header)} }

func (d *discard) Header() http.Header { return d.h }

func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discard) Write(p []byte) (int, error) {
	if d.code == 0 {
		d.code = http.StatusOK
	}
	d.n += len(p)
	return len(p), nil
}

func (d *discard) reset() {
	clear(d.h)
	d.code, d.n = 0, 0
}

// jwtParser is golang-jwt's own parse-and-verify with the validation the
// verifier asks of it (algorithm, issuer, audience, exp required, iat, 30s
// leeway) and the key returned directly: the reference a cold token's cost
// is read against.
func jwtParser(iss *fakes.Issuer, alg string) (*jwt.Parser, jwt.Keyfunc) {
	p := jwt.NewParser(
		jwt.WithValidMethods([]string{alg}),
		jwt.WithIssuer(issuerName),
		jwt.WithAudience(audience),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(30*time.Second),
	)
	var key any
	switch alg {
	case "RS256":
		key = &iss.RSA.PublicKey
	case "ES256":
		key = &iss.EC.PublicKey
	case "HS256":
		key = iss.Secret
	default:
		panic(fmt.Sprintf("no key for %s", alg))
	}
	return p, func(*jwt.Token) (any, error) { return key, nil }
}
