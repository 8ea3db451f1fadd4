package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/awsenv"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/status"
	"github.com/careervp/vprstatus/tracing"
)

const (
	jobPending   = "11111111-1111-4111-8111-111111111111"
	jobCompleted = "33333333-3333-4333-8333-333333333333"
	testIssuer   = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test"
	testAudience = "client-1"
)

type lambdaFixture struct {
	iss  *fakes.Issuer
	jobs *fakes.JobStore
	logs *bytes.Buffer
}

func newLambdaFixture(t *testing.T) *lambdaFixture {
	t.Helper()
	iss, err := fakes.NewIssuer(testIssuer, testAudience)
	if err != nil {
		t.Fatal(err)
	}
	f := &lambdaFixture{iss: iss, jobs: fakes.NewJobStore(nil), logs: &bytes.Buffer{}}
	f.jobs.Put(status.Job{ID: jobPending, UserID: "alice", State: status.Pending, CreatedAt: "2026-11-29T11:59:00Z"})
	f.jobs.Put(status.Job{ID: jobCompleted, UserID: "alice", State: status.Completed, CreatedAt: "2026-11-29T11:59:00Z",
		CompletedAt: "2026-11-29T11:59:40Z", ResultKey: "r.json"})
	return f
}

func (f *lambdaFixture) handler(t *testing.T, authn status.Authenticator) lambda.Handler {
	t.Helper()
	results, err := fakes.NewResults("https://bucket.test/", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	results.Put("r.json", []byte(`{}`))
	logger := slog.New(invocationAttrs{slog.NewJSONHandler(f.logs, nil)})
	return newHandler(logger, nil, status.Config{Logger: logger, Auth: authn, Jobs: f.jobs, Results: results})
}

func (f *lambdaFixture) jwtAuth(t *testing.T) status.Authenticator {
	t.Helper()
	keys, err := auth.StaticJWKS(f.iss.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(keys, auth.Options{Issuer: testIssuer, Audiences: []string{testAudience}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (f *lambdaFixture) bearer(t *testing.T, user string) map[string]string {
	t.Helper()
	tok, err := f.iss.Token("RS256", user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"authorization": "Bearer " + tok}
}

func invoke(t *testing.T, h lambda.Handler, payload []byte) testkit.ProxyResponse {
	t.Helper()
	out, err := h.Invoke(context.Background(), payload)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	var p testkit.ProxyResponse
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("answer %s: %v", out, err)
	}
	return p
}

func TestEventShapes(t *testing.T) {
	f := newLambdaFixture(t)
	jwtH := f.handler(t, f.jwtAuth(t))
	gwH := f.handler(t, auth.NewGateway(gatewayClaims, auth.GatewayOptions{}))
	alice := map[string]string{"sub": "alice", "iss": testIssuer}
	for _, c := range []struct {
		name     string
		h        lambda.Handler
		ev       testkit.Event
		code     int
		status   string
		wantHead map[string]string
	}{
		{"http api, $default stage, bearer", jwtH,
			testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}, 202, "PENDING",
			map[string]string{"Retry-After": "2", "Cache-Control": "no-store"}},
		{"http api, named stage", jwtH,
			testkit.Event{Kind: "apigw-v2", Stage: "prod", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}, 202, "PENDING", nil},
		{"http api, stage named like the first path segment", jwtH,
			testkit.Event{Kind: "apigw-v2", Stage: "api", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}, 202, "PENDING", nil},
		{"http api, custom domain, named stage", jwtH,
			testkit.Event{Kind: "apigw-v2", Stage: "api", Domain: "api.careervp.test", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}, 202, "PENDING", nil},
		{"rest api, stage named like the first path segment", jwtH,
			testkit.Event{Kind: "apigw-v1", Stage: "api", Path: "/api/vpr/status/" + jobCompleted, Headers: f.bearer(t, "alice")}, 200, "COMPLETED", nil},
		{"rest api", jwtH,
			testkit.Event{Kind: "apigw-v1", Path: "/api/vpr/status/" + jobCompleted, Headers: f.bearer(t, "alice")}, 200, "COMPLETED",
			map[string]string{"Content-Type": "application/json"}},
		{"function url", jwtH,
			testkit.Event{Kind: "function-url", Path: "/api/vpr/status/" + jobCompleted, Headers: f.bearer(t, "alice")}, 200, "COMPLETED", nil},
		{"bad token", jwtH,
			testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/" + jobPending, Headers: map[string]string{"authorization": "Bearer x.y.z"}}, 401, "",
			map[string]string{"WWW-Authenticate": `Bearer realm="vprstatus", error="invalid_token"`}},
		{"no token", jwtH,
			testkit.Event{Kind: "apigw-v1", Path: "/api/vpr/status/" + jobPending}, 401, "",
			map[string]string{"WWW-Authenticate": `Bearer realm="vprstatus"`}},
		{"foreign owner", jwtH,
			testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "bob")}, 403, "", nil},
		{"head", jwtH,
			testkit.Event{Kind: "apigw-v2", Method: "HEAD", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}, 202, "", nil},
		{"post", jwtH,
			testkit.Event{Kind: "apigw-v2", Method: "POST", Path: "/api/vpr/status/" + jobPending}, 405, "",
			map[string]string{"Allow": "GET, HEAD"}},
		{"malformed escape in path", jwtH,
			testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/%zz"}, 400, "", map[string]string{"Content-Type": "application/problem+json"}},
		{"gateway: http api claims", gwH,
			testkit.Event{Kind: "apigw-v2", Stage: "prod", Path: "/api/vpr/status/" + jobPending, Claims: alice}, 202, "PENDING", nil},
		{"gateway: rest api claims", gwH,
			testkit.Event{Kind: "apigw-v1", Path: "/api/vpr/status/" + jobCompleted, Claims: alice}, 200, "COMPLETED", nil},
		{"gateway: other user's claims", gwH,
			testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/" + jobPending, Claims: map[string]string{"sub": "bob"}}, 403, "", nil},
		{"gateway: no claims, bearer ignored", gwH,
			testkit.Event{Kind: "function-url", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}, 401, "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := invoke(t, c.h, c.ev.Render(t))
			if p.StatusCode != c.code {
				t.Fatalf("statusCode = %d, want %d; body %s", p.StatusCode, c.code, p.Body)
			}
			if c.status != "" {
				var body map[string]any
				if err := json.Unmarshal([]byte(p.Body), &body); err != nil {
					t.Fatalf("body %q: %v", p.Body, err)
				}
				if body["status"] != c.status {
					t.Errorf("status = %v, want %s", body["status"], c.status)
				}
			}
			if c.ev.Method == "HEAD" && p.Body != "" {
				t.Errorf("HEAD answered with a body: %q", p.Body)
			}
			for k, want := range c.wantHead {
				if got := p.Header(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestLogsCarryInvocationIDs(t *testing.T) {
	f := newLambdaFixture(t)
	f.jobs.SetError(errors.New("store exploded"))
	h := f.handler(t, f.jwtAuth(t))
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-123"})
	//lint:ignore SA1029 aws-lambda-go uses this very string key.
	ctx = context.WithValue(ctx, "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	ev := testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}
	if _, err := h.Invoke(ctx, ev.Render(t)); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(bytes.SplitN(f.logs.Bytes(), []byte("\n"), 2)[0], &line); err != nil {
		t.Fatalf("log %q: %v", f.logs, err)
	}
	if line["request_id"] != "req-123" || line["trace_id"] != "1-5759e988-bd862e3fe1be46a994272793" {
		t.Errorf("log line lacks ids: %v", line)
	}
	// The request's own line, after the cause of its 500.
	var req map[string]any
	for l := range bytes.Lines(f.logs.Bytes()) {
		if err := json.Unmarshal(l, &req); err == nil && req["msg"] == "request" {
			break
		}
		req = nil
	}
	if req == nil || req["request_id"] != "req-123" || req["status"] != 500.0 || req["route"] != "/api/vpr/status/{job_id}" {
		t.Errorf("request line %v in\n%s", req, f.logs)
	}
	if tok := ev.Headers["authorization"]; strings.Contains(f.logs.String(), strings.TrimPrefix(tok, "Bearer ")) {
		t.Error("token logged")
	}
}

func TestAuthenticatorConfig(t *testing.T) {
	jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/pool/.well-known/jwks.json" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"keys":[]}`))
	}))
	defer jwks.Close()
	ok := map[string]string{"JWT_ISSUER": jwks.URL + "/pool", "JWT_AUDIENCE": "a, b"}
	for _, c := range []struct {
		name     string
		env      map[string]string
		wantMode string
		wantErr  string
	}{
		{"nothing", nil, "", "no identity configured"},
		{"issuer only", map[string]string{"JWT_ISSUER": "https://x"}, "", "JWT_AUDIENCE is required"},
		{"audience only", map[string]string{"JWT_AUDIENCE": "a"}, "", "JWT_ISSUER is required"},
		{"bad trust flag", map[string]string{"AUTH_TRUST_GATEWAY": "maybe"}, "", "AUTH_TRUST_GATEWAY"},
		{"trust off, nothing else", map[string]string{"AUTH_TRUST_GATEWAY": "false"}, "", "no identity configured"},
		{"gateway", map[string]string{"AUTH_TRUST_GATEWAY": "true"}, "gateway", ""},
		{"jwt with default jwks url", ok, "jwt", ""},
		{"jwks unreachable", map[string]string{"JWT_ISSUER": "https://x", "JWT_AUDIENCE": "a", "JWKS_URL": "http://127.0.0.1:1/jwks"}, "", "jwks"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			env := maps.Clone(c.env)
			id, err := readIdentity(func(k string) string { return env[k] })
			if err == nil {
				_, err = id.authenticator(ctx, slog.New(slog.DiscardHandler))
			}
			mode := id.mode
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, c.wantErr)
				}
				return
			}
			if err != nil || mode != c.wantMode {
				t.Fatalf("mode %q, err %v; want %q", mode, err, c.wantMode)
			}
		})
	}
}

// TestRefusesToStartWithoutIdentity: one clear log line, no handler started.
func TestRefusesToStartWithoutIdentity(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"JOBS_TABLE_NAME": "jobs", "VPR_RESULTS_BUCKET_NAME": "b", "AWS_REGION": "eu-west-1", "AWS_LAMBDA_RUNTIME_API": runtimeAPI}
	started := false
	err := run(context.Background(), func(k string) string { return env[k] }, &out, func(lambda.Handler) { started = true })
	if !errors.Is(err, errNoIdentity) || started {
		t.Fatalf("run = %v, started %v; want errNoIdentity and no start", err, started)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "refusing to start") || !strings.Contains(lines[0], "JWT_ISSUER") {
		t.Fatalf("want one clear line naming the settings, got:\n%s", out.String())
	}
}

func TestRefusesToStartWithoutBackendSettings(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"AUTH_TRUST_GATEWAY": "true", "AWS_REGION": "eu-west-1", "AWS_LAMBDA_RUNTIME_API": runtimeAPI}
	err := run(context.Background(), func(k string) string { return env[k] }, &out, func(lambda.Handler) { t.Error("started") })
	if err == nil || !strings.Contains(out.String(), "JOBS_TABLE_NAME is required") {
		t.Fatalf("run = %v; log %s", err, out.String())
	}
}

func TestBadLogLevel(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"LOG_LEVEL": "loud", "AWS_LAMBDA_RUNTIME_API": runtimeAPI}
	if err := run(context.Background(), func(k string) string { return env[k] }, &out, nil); err == nil {
		t.Fatal("run accepted LOG_LEVEL=loud")
	}
	if !strings.Contains(out.String(), "LOG_LEVEL") {
		t.Errorf("log does not name LOG_LEVEL: %s", out.String())
	}
}

func TestMain(m *testing.M) {
	// AWS settings of the developer's shell must not leak into these tests.
	for _, k := range []string{"AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"} {
		os.Unsetenv(k)
	}
	os.Exit(m.Run())
}

// TestSpansFollowTheInvocation: with tracing on, each invocation's server
// span is exported before Invoke returns, under the trace Lambda gave the
// invocation when the event itself carries no trace header.
func TestSpansFollowTheInvocation(t *testing.T) {
	f := newLambdaFixture(t)
	var spans bytes.Buffer
	tr, err := tracing.NewLocal(context.Background(), tracing.LocalStdout, &spans)
	if err != nil {
		t.Fatal(err)
	}
	results, err := fakes.NewResults("https://bucket.test/", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewJSONHandler(f.logs, nil))
	h := newHandler(logger, tr, status.Config{Logger: logger, Auth: f.jwtAuth(t), Jobs: f.jobs, Results: results,
		TracerProvider: tr.TracerProvider, Propagator: tr.Propagator})
	//lint:ignore SA1029 aws-lambda-go uses this very string key.
	ctx := context.WithValue(context.Background(), "x-amzn-trace-id", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1")
	ev := testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/" + jobPending, Headers: f.bearer(t, "alice")}
	if _, err := h.Invoke(ctx, ev.Render(t)); err != nil {
		t.Fatal(err)
	}
	type exported struct {
		Name        string
		SpanContext struct{ TraceID string }
		Parent      struct{ SpanID string }
	}
	var span exported
	for dec := json.NewDecoder(&spans); span.Name != "GET /api/vpr/status/{job_id}"; {
		span = exported{}
		if err := dec.Decode(&span); err != nil {
			t.Fatalf("no server span exported by the time Invoke returned: %v", err)
		}
	}
	if span.Name != "GET /api/vpr/status/{job_id}" || span.SpanContext.TraceID != "5759e988bd862e3fe1be46a994272793" ||
		span.Parent.SpanID != "53995c3f42cd8ad8" {
		t.Errorf("span %+v: want the route's name under Lambda's trace and segment", span)
	}
}

// runtimeAPI is where Lambda's Runtime API would be: its variable is how the
// function knows it runs in Lambda.
const runtimeAPI = "127.0.0.1:9001"

// lambdaEnv is what Lambda and the deployment set, in gateway mode.
func lambdaEnv(extra map[string]string) map[string]string {
	env := map[string]string{
		"JOBS_TABLE_NAME": "jobs", "VPR_RESULTS_BUCKET_NAME": "b", "AWS_REGION": "eu-west-1",
		"AWS_ACCESS_KEY_ID": "ASIATEMP", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_SESSION_TOKEN": "token",
		"AUTH_TRUST_GATEWAY": "true", "AWS_LAMBDA_RUNTIME_API": runtimeAPI, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
	}
	maps.Copy(env, extra)
	for k, v := range env {
		if v == "" {
			delete(env, k)
		}
	}
	return env
}

// jwksServer serves an issuer's key set until tb ends.
func jwksServer(tb testing.TB) *httptest.Server {
	tb.Helper()
	iss, err := fakes.NewIssuer(testIssuer, testAudience)
	if err != nil {
		tb.Fatal(err)
	}
	srv := httptest.NewServer(iss.JWKSHandler())
	tb.Cleanup(srv.Close)
	return srv
}

// TestRefusesToStartWithoutCredentials: the function reads its role's
// credentials from the environment Lambda sets, and nothing else.
func TestRefusesToStartWithoutCredentials(t *testing.T) {
	var out bytes.Buffer
	env := lambdaEnv(map[string]string{"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": ""})
	err := run(context.Background(), func(k string) string { return env[k] }, &out, func(lambda.Handler) { t.Error("started") })
	if err == nil || !strings.Contains(out.String(), "refusing to start") || !strings.Contains(out.String(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("run = %v; log %s", err, out.String())
	}
}

// TestStartupLine: run starts with no network call in gateway mode, and
// with the JWKS fetch timed in JWT mode.
func TestStartupLine(t *testing.T) {
	jwks := jwksServer(t)
	for _, c := range []struct {
		mode string
		env  map[string]string
	}{
		{"gateway", lambdaEnv(map[string]string{"CORS_ORIGINS": "https://app.example.com, http://localhost:5173/"})},
		{"jwt", lambdaEnv(map[string]string{"AUTH_TRUST_GATEWAY": "", "JWT_ISSUER": testIssuer, "JWT_AUDIENCE": testAudience, "JWKS_URL": jwks.URL,
			"CORS_ORIGINS": "https://app.example.com,http://localhost:5173"})},
	} {
		t.Run(c.mode, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel() // stops the JWKS refresher
			var out bytes.Buffer
			started := false
			if err := run(ctx, func(k string) string { return c.env[k] }, &out, func(lambda.Handler) { started = true }); err != nil || !started {
				t.Fatalf("run = %v, started %v; log %s", err, started, out.String())
			}
			var line map[string]any
			if err := json.Unmarshal(out.Bytes(), &line); err != nil || line["msg"] != "starting" {
				t.Fatalf("want one start-up line, got %s", out.String())
			}
			if line["identity"] != c.mode || line["presigner"] != "fast" {
				t.Errorf("identity %v, presigner %v; want %s, fast", line["identity"], line["presigner"], c.mode)
			}
			if line["gc_percent"] != float64(awsenv.GCPercent) || line["memory_limit"] != float64(192<<20) {
				t.Errorf("gc_percent %v, memory_limit %v; want %d and three quarters of 256 MiB", line["gc_percent"], line["memory_limit"], awsenv.GCPercent)
			}
			if origins, _ := line["cors_origins"].([]any); len(origins) != 2 || origins[0] != "https://app.example.com" {
				t.Errorf("cors_origins %v, want the two set", line["cors_origins"])
			}
			fetch, ok := line["jwks_fetch"].(string)
			if ok != (c.mode == "jwt") {
				t.Fatalf("jwks_fetch %v in %s mode", line["jwks_fetch"], c.mode)
			}
			if d, err := time.ParseDuration(fetch); ok && (err != nil || d <= 0) {
				t.Errorf("jwks_fetch %q is not a duration", fetch)
			}
		})
	}
}

// BenchmarkRun is run's own share of a cold start, everything it builds
// before handing the handler to Lambda, for profiling:
//
//	go test -run '^$' -bench BenchmarkRun -cpuprofile cpu.out ./cmd/lambda/
//	go tool pprof -top cpu.out
//
// A loop measures run warm: what only the first call in a process pays
// (package initialisation, first uses of caches) is GODEBUG=inittrace=1's
// and TestColdStart's to report.
func BenchmarkRun(b *testing.B) {
	jwks := jwksServer(b)
	for _, c := range []struct {
		mode string
		env  map[string]string
	}{
		{"gateway", lambdaEnv(nil)},
		{"jwt", lambdaEnv(map[string]string{"AUTH_TRUST_GATEWAY": "", "JWT_ISSUER": testIssuer, "JWT_AUDIENCE": testAudience, "JWKS_URL": jwks.URL})},
	} {
		b.Run(c.mode, func(b *testing.B) {
			b.ReportAllocs()
			getenv := func(k string) string { return c.env[k] }
			for b.Loop() {
				ctx, cancel := context.WithCancel(context.Background())
				if err := run(ctx, getenv, io.Discard, func(lambda.Handler) {}); err != nil {
					b.Fatal(err)
				}
				cancel() // stops the JWKS refresher
			}
		})
	}
}

// TestRefusesWithEverySettingAtOnce: one JSON line names every missing or
// malformed setting, so a deployment is fixed in one go, not one per restart.
func TestRefusesWithEverySettingAtOnce(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{
		"AWS_LAMBDA_RUNTIME_API": runtimeAPI,
		"LOG_LEVEL":              "loud",
		"CORS_ORIGINS":           "https://app.example.com,app.example.com",
		"RATE_LIMIT_RPS":         "fast",
		"PRESIGNED_URL_TTL":      "forever",
	}
	err := run(context.Background(), func(k string) string { return env[k] }, &out, func(lambda.Handler) { t.Error("started") })
	if err == nil {
		t.Fatal("started")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var line map[string]any
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &line) != nil || line["level"] != "ERROR" {
		t.Fatalf("want one JSON line at ERROR, got:\n%s", out.String())
	}
	msg, _ := line["msg"].(string)
	for _, want := range []string{"refusing to start", "LOG_LEVEL", "JWT_ISSUER", "JOBS_TABLE_NAME", "VPR_RESULTS_BUCKET_NAME",
		"PRESIGNED_URL_TTL", "AWS_REGION", "AWS_ACCESS_KEY_ID", "RATE_LIMIT_RPS", `CORS_ORIGINS: "app.example.com"`} {
		if !strings.Contains(msg, want) {
			t.Errorf("the line does not name %s: %s", want, msg)
		}
	}
}

// TestOutsideLambda: started by hand, the bootstrap says how to run the
// service locally, as JSON like its other lines.
func TestOutsideLambda(t *testing.T) {
	var out bytes.Buffer
	env := lambdaEnv(map[string]string{"AWS_LAMBDA_RUNTIME_API": ""})
	err := run(context.Background(), func(k string) string { return env[k] }, &out, func(lambda.Handler) { t.Error("started") })
	if !errors.Is(err, errNotInLambda) {
		t.Fatalf("run = %v, want errNotInLambda", err)
	}
	var line map[string]any
	if err := json.Unmarshal(out.Bytes(), &line); err != nil || !strings.Contains(fmt.Sprint(line["msg"]), "go run ./cmd/local") {
		t.Fatalf("want one JSON line saying how to run it locally, got %s", out.String())
	}
}
