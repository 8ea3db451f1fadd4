package status_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/status"
)

// The fixed instant every fixture lives at.
var testNow = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

const (
	alice     = "user-alice"
	bob       = "user-bob"
	urlTTL    = time.Hour
	testIss   = "https://issuer.test"
	testAud   = "vprstatus-test"
	resultURL = "https://results.test/r/"
)

// Job ids of the seeded jobs.
const (
	idPending     = "11111111-1111-4111-8111-111111111111"
	idProcessing  = "22222222-2222-4222-8222-222222222222"
	idCompleted   = "33333333-3333-4333-8333-333333333333"
	idFailed      = "44444444-4444-4444-8444-444444444444"
	idFailedNoMsg = "55555555-5555-4555-8555-555555555555"
	idExpired     = "66666666-6666-4666-8666-666666666666"
	idGone        = "77777777-7777-4777-8777-777777777777"
	idNoKey       = "88888888-8888-4888-8888-888888888888"
	idWeird       = "99999999-9999-4999-8999-999999999999"
	idAbsent      = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
	idUpper       = "BBBBBBBB-BBBB-4BBB-8BBB-BBBBBBBBBBBB"
)

// fixture is the handler on fakes, seeded with a job in every state.
type fixture struct {
	jobs    *fakes.JobStore
	results *fakes.Results
	iss     *fakes.Issuer
	handler http.Handler
	logs    *testkit.Buffer
}

func testIssuer(t testing.TB) *fakes.Issuer {
	return testkit.Issuer(t, testIss, testAud, func() time.Time { return testNow })
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	now := func() time.Time { return testNow }
	iss := testIssuer(t)
	keys, err := auth.HMACSecret(iss.Secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(keys, auth.Options{Issuer: testIss, Audiences: []string{testAud}, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	results, err := fakes.NewResults(resultURL, urlTTL, now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		jobs:    fakes.NewJobStore(now),
		results: results,
		iss:     iss,
		logs:    &testkit.Buffer{},
	}
	f.handler = status.New(status.Config{
		Logger:  slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Auth:    v,
		Jobs:    f.jobs,
		Results: f.results,
		Now:     now,
	})
	f.seed()
	return f
}

func (f *fixture) seed() {
	created, started, completed := "2026-11-29T11:59:00Z", "2026-11-29T11:59:05Z", "2026-11-29T11:59:40Z"
	ttl := testNow.Add(10 * time.Minute)
	for _, j := range []status.Job{
		{ID: idPending, UserID: alice, State: status.Pending, CreatedAt: created, ExpiresAt: ttl},
		{ID: idProcessing, UserID: alice, State: status.Processing, CreatedAt: created, StartedAt: started, ExpiresAt: ttl},
		{ID: idCompleted, UserID: alice, State: status.Completed, CreatedAt: created, StartedAt: started, CompletedAt: completed,
			ResultKey: "results/" + idCompleted + ".json", TokenUsage: &status.TokenUsage{InputTokens: 1200, OutputTokens: 3400}, ExpiresAt: ttl},
		{ID: idFailed, UserID: alice, State: status.Failed, CreatedAt: created, Error: "Model refused the request", ExpiresAt: ttl},
		{ID: idFailedNoMsg, UserID: alice, State: status.Failed, CreatedAt: created},
		{ID: idExpired, UserID: alice, State: status.Completed, CreatedAt: created, ResultKey: "results/expired.json",
			ExpiresAt: testNow.Add(-time.Second)},
		{ID: idGone, UserID: alice, State: status.Completed, CreatedAt: created, CompletedAt: completed, ResultKey: "results/gone.json"},
		{ID: idNoKey, UserID: alice, State: status.Completed, CreatedAt: created, CompletedAt: completed},
		{ID: idWeird, UserID: alice, State: "CANCELLED", CreatedAt: created},
		{ID: idUpper, UserID: alice, State: status.Pending, CreatedAt: created},
	} {
		f.jobs.Put(j)
	}
	f.results.Put("results/"+idCompleted+".json", []byte(`{"vpr":"report"}`))
	f.results.Put("results/expired.json", []byte(`{}`))
}

// token returns a valid bearer token for user.
func (f *fixture) token(t testing.TB, user string) string {
	t.Helper()
	tok, err := f.iss.Token("HS256", user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// do sends r through the handler and returns the recorded answer.
func (f *fixture) do(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	f.handler.ServeHTTP(w, r)
	return w
}

// decodeBody decodes a JSON body into a map.
func decodeBody(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", w.Body.String(), err)
	}
	return m
}

func newLogger(w *testkit.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// staticAuth authenticates every request as one user.
type staticAuth string

func (s staticAuth) Authenticate(*http.Request) (string, error) { return string(s), nil }
