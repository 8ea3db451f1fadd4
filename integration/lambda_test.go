package integration_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/golang-jwt/jwt/v5"

	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
)

// The function as deployed: cmd/lambda built for the host, run by the AWS
// Lambda Runtime Interface Emulator with dynalite and s3rver behind it,
// invoked with API Gateway HTTP API (2.0, $default and a named stage), REST
// API (1.0) and function URL events.

const lambdaResult = `{"vpr":{"summary":"proved under the emulator"},"version":1}`

// Contract bodies.
const (
	msgNotFound = "Job not found (may have expired after 10 minutes)"
	realm       = `Bearer realm="vprstatus"`
	realmBadTok = `Bearer realm="vprstatus", error="invalid_token"`
)

// lambdaJobs are job ids seeded in every state the contract knows, owned by
// user-1 unless said otherwise.
type lambdaJobs struct {
	pending, processing, completed, failed string
	expired                                string // ttl passed
	foreign                                string // owned by user-2
	deleted                                string // completed, result object deleted
	noKey                                  string // completed without result_key
}

func seedLambdaJobs(t *testing.T) lambdaJobs {
	t.Helper()
	now := time.Now()
	j := lambdaJobs{
		pending: newID(), processing: newID(), completed: newID(), failed: newID(),
		expired: newID(), foreign: newID(), deleted: newID(), noKey: newID(),
	}
	key := func(id string) string { return "results/user-1/" + id + ".json" }
	for id, attrs := range map[string]map[string]types.AttributeValue{
		j.pending:    {"status": str("PENDING"), "ttl": num(now.Add(10 * time.Minute).Unix())},
		j.processing: {"status": str("PROCESSING"), "started_at": str("2026-03-01T12:00:05Z")},
		j.completed: {
			"status": str("COMPLETED"), "completed_at": str("2026-03-01T12:01:00Z"),
			"token_usage": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"input_tokens": num(1200), "output_tokens": num(3400)}},
		},
		j.failed:  {"status": str("FAILED"), "error": str("model refused the input")},
		j.expired: {"status": str("COMPLETED"), "ttl": num(now.Add(-time.Minute).Unix())},
		j.foreign: {"status": str("PENDING"), "user_id": str("user-2")},
		j.deleted: {"status": str("COMPLETED")},
		j.noKey:   {"status": str("COMPLETED"), "result_key": nil},
	} {
		all := map[string]types.AttributeValue{"result_key": str(key(id))}
		for k, v := range attrs {
			all[k] = v
		}
		putItem(t, item(id, all))
	}
	for _, id := range []string{j.completed, j.expired, j.deleted} {
		putObject(t, key(id), lambdaResult)
	}
	if _, err := env.s3.DeleteObject(t.Context(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key(j.deleted))}); err != nil {
		t.Fatal(err)
	}
	return j
}

// lambdaPeers are counting forwarders in front of dynalite and s3rver, and
// an HTTP(S)_PROXY that counts (and refuses) any request the function makes
// off loopback: together they show what the function contacts, and when.
type lambdaPeers struct {
	dynamo, s3, outside *counter
}

func newLambdaPeers(t *testing.T) *lambdaPeers {
	t.Helper()
	return &lambdaPeers{
		dynamo:  newCounter(t, strings.TrimPrefix(env.dynamoURL, "http://")),
		s3:      newCounter(t, strings.TrimPrefix(env.s3URL, "http://")),
		outside: newCounter(t, ""),
	}
}

// environ is the function's configuration, as the stack sets it, pointed at
// the peers, with s3rver's credentials.
func (p *lambdaPeers) environ() map[string]string {
	return map[string]string{
		"JOBS_TABLE_NAME":           table,
		"VPR_RESULTS_BUCKET_NAME":   bucket,
		"PRESIGNED_URL_TTL":         "15m",
		"AWS_REGION":                region,
		"AWS_ENDPOINT_URL_DYNAMODB": "http://" + p.dynamo.addr,
		"AWS_ENDPOINT_URL_S3":       "http://" + p.s3.addr,
		"S3_FORCE_PATH_STYLE":       "true",
		"AWS_ACCESS_KEY_ID":         "S3RVER",
		"AWS_SECRET_ACCESS_KEY":     "S3RVER",
		// The cases run back to back, from one source address.
		"RATE_LIMIT_RPS":   "1000",
		"RATE_LIMIT_BURST": "1000",
		// Loopback is never proxied; anything else would be counted here.
		"HTTP_PROXY":  "http://" + p.outside.addr,
		"HTTPS_PROXY": "http://" + p.outside.addr,
	}
}

// lambdaCase is one contract row, sent as one event.
type lambdaCase struct {
	name   string
	method string            // default GET
	id     string            // job id in the path
	token  string            // bearer token; none when empty
	claims map[string]string // authorizer claims (gateway mode)
	header map[string]string // more request headers
	code   int
	want   map[string]string // response headers, exact
	has    []string          // response headers present, any value
	hasnt  []string          // response headers absent
	body   map[string]any    // members of the JSON body
	check  func(t *testing.T, p testkit.ProxyResponse, body map[string]any)
}

// eventShape is how a request reaches the function.
type eventShape struct{ name, kind, stage string }

var allShapes = []eventShape{
	{"http api $default", "apigw-v2", ""},
	{"http api stage prod", "apigw-v2", "prod"},
	{"rest api", "apigw-v1", "prod"},
	{"function url", "function-url", ""},
}

func (c lambdaCase) event(shape eventShape) testkit.Event {
	h := map[string]string{}
	for k, v := range c.header {
		h[k] = v
	}
	if c.token != "" {
		h["authorization"] = "Bearer " + c.token
	}
	return testkit.Event{Kind: shape.kind, Stage: shape.stage, Method: c.method, Path: "/api/vpr/status/" + c.id, Headers: h, Claims: c.claims}
}

// run invokes the case in shape and checks the answer: the case's own
// expectations and what every answer carries.
func (c lambdaCase) run(t *testing.T, em *emulator, shape eventShape) testkit.ProxyResponse {
	t.Helper()
	p := em.invoke(t, c.event(shape).Render(t))
	if p.StatusCode != c.code {
		t.Fatalf("statusCode = %d, want %d; headers %v; body %s", p.StatusCode, c.code, p.Headers, p.Body)
	}
	if p.IsBase64Encoded {
		t.Errorf("isBase64Encoded for a JSON answer")
	}
	want := map[string]string{"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}
	switch {
	case c.code == http.StatusNotModified:
	case c.code < 300:
		want["Content-Type"] = "application/json"
	default:
		want["Content-Type"] = "application/problem+json"
	}
	for k, v := range c.want {
		want[k] = v
	}
	for k, v := range want {
		if got := p.Header(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	for _, k := range c.has {
		if p.Header(k) == "" {
			t.Errorf("no %s header: %v", k, p.Headers)
		}
	}
	for _, k := range c.hasnt {
		if v := p.Header(k); v != "" {
			t.Errorf("%s = %q, want none", k, v)
		}
	}
	if c.method == http.MethodHead || c.code == http.StatusNotModified {
		if p.Body != "" {
			t.Errorf("%d answer to %s has a body: %q", c.code, c.method, p.Body)
		}
		return p
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(p.Body), &body); err != nil {
		t.Fatalf("body %q: %v", p.Body, err)
	}
	if c.code < 300 {
		wantFields(t, body, map[string]any{"job_id": c.id})
	} else {
		wantFields(t, body, map[string]any{"status": float64(c.code), "title": http.StatusText(c.code)})
	}
	wantFields(t, body, c.body)
	if c.check != nil {
		c.check(t, p, body)
	}
	return p
}

// contractRows are the rows every identity mode shares; as makes a case an
// authenticated request by user-1 or user-2, in the mode's own way.
func contractRows(j lambdaJobs, etag string, as func(user string, c lambdaCase) lambdaCase) []lambdaCase {
	pendingHeads := map[string]string{"Retry-After": "2"}
	return []lambdaCase{
		as("user-1", lambdaCase{name: "pending", id: j.pending, code: 202, want: pendingHeads, has: []string{"ETag"},
			body: map[string]any{"status": "PENDING", "created_at": "2026-03-01T12:00:00Z"}}),
		as("user-1", lambdaCase{name: "processing", id: j.processing, code: 202, want: pendingHeads, has: []string{"ETag"},
			body: map[string]any{"status": "PROCESSING", "started_at": "2026-03-01T12:00:05Z"}}),
		as("user-1", lambdaCase{name: "completed", id: j.completed, code: 200, hasnt: []string{"ETag", "Retry-After"},
			body: map[string]any{
				"status": "COMPLETED", "completed_at": "2026-03-01T12:01:00Z",
				"token_usage": map[string]any{"input_tokens": 1200.0, "output_tokens": 3400.0},
			},
			check: checkResultURL}),
		as("user-1", lambdaCase{name: "failed", id: j.failed, code: 200,
			body: map[string]any{"status": "FAILED", "error": "model refused the input"}}),
		as("user-1", lambdaCase{name: "unknown job", id: newID(), code: 404, body: map[string]any{"error": msgNotFound}}),
		as("user-1", lambdaCase{name: "malformed id", id: "not-a-uuid", code: 404, body: map[string]any{"error": msgNotFound}}),
		as("user-1", lambdaCase{name: "ttl passed", id: j.expired, code: 404, body: map[string]any{"error": msgNotFound}}),
		as("user-1", lambdaCase{name: "foreign owner", id: j.foreign, code: 403, body: map[string]any{"error": "Forbidden"}}),
		as("user-2", lambdaCase{name: "another user's job", id: j.pending, code: 403, body: map[string]any{"error": "Forbidden"}}),
		as("user-1", lambdaCase{name: "result deleted", id: j.deleted, code: 410,
			body: map[string]any{"error": "Result expired or deleted", "message": "Please regenerate the VPR"}}),
		as("user-1", lambdaCase{name: "no result_key", id: j.noKey, code: 500, body: map[string]any{"error": "Result key missing"}}),
		as("user-1", lambdaCase{name: "if-none-match", id: j.pending, header: map[string]string{"If-None-Match": etag},
			code: 304, want: map[string]string{"ETag": etag, "Retry-After": "2"}}),
		as("user-1", lambdaCase{name: "if-none-match stale", id: j.pending, header: map[string]string{"If-None-Match": `"0000"`},
			code: 202, want: map[string]string{"ETag": etag}}),
		as("user-1", lambdaCase{name: "head", method: http.MethodHead, id: j.pending, code: 202, want: map[string]string{"ETag": etag}}),
		{name: "post", method: http.MethodPost, id: j.pending, code: 405, want: map[string]string{"Allow": "GET, HEAD"},
			body: map[string]any{"error": "Method not allowed"}},
	}
}

// checkResultURL fetches a 200's result_url from s3rver, as the frontend
// would, and checks its expiry (PRESIGNED_URL_TTL=15m).
func checkResultURL(t *testing.T, _ testkit.ProxyResponse, body map[string]any) {
	t.Helper()
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(body["result_url_expires_at"]))
	if d := time.Until(exp); err != nil || d < 14*time.Minute || d > 15*time.Minute+time.Second {
		t.Errorf("result_url_expires_at = %v, want about now + 15m", body["result_url_expires_at"])
	}
	if code, got := fetch(t, fmt.Sprint(body["result_url"])); code != http.StatusOK || got != lambdaResult {
		t.Errorf("GET result_url = %d %q, want 200 with the result", code, got)
	}
}

// pendingETag asks for a pending job once, for the ETag If-None-Match sends.
func pendingETag(t *testing.T, em *emulator, c lambdaCase) string {
	t.Helper()
	p := em.invoke(t, c.event(allShapes[0]).Render(t))
	if p.StatusCode != http.StatusAccepted || p.Header("ETag") == "" {
		t.Fatalf("pending job: %d, ETag %q", p.StatusCode, p.Header("ETag"))
	}
	return p.Header("ETag")
}

// TestLambdaJWT: bearer tokens verified against the issuer's JWKS, fetched
// from loopback at start-up, for every contract row in every event shape,
// and every kind of bad token.
func TestLambdaJWT(t *testing.T) {
	needPeers(t)
	needLambda(t)
	jobs := seedLambdaJobs(t)

	iss, err := fakes.NewIssuer("", "vpr-client-id")
	if err != nil {
		t.Fatal(err)
	}
	var jwksHits atomic.Int64
	mux := http.NewServeMux()
	jwks := iss.JWKSHandler()
	mux.HandleFunc("GET /pool/.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		jwksHits.Add(1)
		jwks.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.Issuer = srv.URL + "/pool" // JWKS_URL is left to default to <issuer>/.well-known/jwks.json

	peers := newLambdaPeers(t)
	environ := peers.environ()
	environ["JWT_ISSUER"] = iss.Issuer
	environ["JWT_AUDIENCE"] = iss.Audience
	environ["LOG_LEVEL"] = "info"
	em := startEmulator(t, environ)

	var tokens []string // every token sent, none of which may be logged
	token := func(alg, sub string, ttl time.Duration) string {
		tok, err := iss.Token(alg, sub, ttl)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
		return tok
	}
	signed := func(i *fakes.Issuer, alg string, claims jwt.MapClaims) string {
		tok, err := i.Sign(alg, claims, nil)
		if err != nil {
			t.Fatal(err)
		}
		tokens = append(tokens, tok)
		return tok
	}
	user1, user2 := token("RS256", "user-1", time.Hour), token("RS256", "user-2", time.Hour)

	// The first invocation starts the bootstrap: it fetches the JWKS, which
	// its configuration needs, and contacts nothing else.
	t.Run("start-up", func(t *testing.T) {
		c := lambdaCase{id: jobs.pending, code: 401, want: map[string]string{"WWW-Authenticate": realm}}
		c.run(t, em, allShapes[0])
		if n := jwksHits.Load(); n != 1 {
			t.Errorf("JWKS fetched %d times by the first answer, want once", n)
		}
		if d, s, o := peers.dynamo.conns.Load(), peers.s3.conns.Load(), peers.outside.conns.Load(); d+s+o != 0 {
			t.Errorf("start-up contacted DynamoDB %d, S3 %d, off-loopback %d times; want none", d, s, o)
		}
	})

	etag := pendingETag(t, em, lambdaCase{id: jobs.pending, token: user1})
	bearer := func(user string, c lambdaCase) lambdaCase {
		c.token = map[string]string{"user-1": user1, "user-2": user2}[user]
		return c
	}
	rows := contractRows(jobs, etag, bearer)

	foreign, err := fakes.NewIssuer(iss.Issuer, iss.Audience) // same kid, another key
	if err != nil {
		t.Fatal(err)
	}
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := iss.Claims("user-1", time.Hour)
		edit(c)
		return c
	}
	none := func(c jwt.MapClaims) string {
		enc := func(v any) string {
			b, _ := json.Marshal(v)
			return base64.RawURLEncoding.EncodeToString(b)
		}
		tok := enc(map[string]string{"alg": "none", "typ": "JWT"}) + "." + enc(c) + "."
		tokens = append(tokens, tok)
		return tok
	}
	rows = append(rows,
		lambdaCase{name: "es256 token", id: jobs.pending, token: token("ES256", "user-1", time.Hour), code: 202,
			body: map[string]any{"status": "PENDING"}},
		lambdaCase{name: "no token", id: jobs.pending, code: 401, want: map[string]string{"WWW-Authenticate": realm},
			body: map[string]any{"error": "Unauthorized"}},
	)
	for name, tok := range map[string]string{
		"garbage token":         "not-a-jwt",
		"three garbage parts":   "x.y.z",
		"expired token":         token("RS256", "user-1", -time.Hour),
		"wrong audience":        signed(iss, "RS256", claims(func(c jwt.MapClaims) { c["aud"] = "another-client" })),
		"wrong issuer":          signed(iss, "RS256", claims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })),
		"alg none":              none(claims(func(jwt.MapClaims) {})),
		"signed by foreign key": signed(foreign, "RS256", claims(func(jwt.MapClaims) {})),
		"hs256 (no such key)":   token("HS256", "user-1", time.Hour),
	} {
		rows = append(rows, lambdaCase{name: name, id: jobs.pending, token: tok, code: 401,
			want: map[string]string{"WWW-Authenticate": realmBadTok},
			body: map[string]any{"error": "Unauthorized"}})
	}

	for _, shape := range allShapes {
		t.Run(shape.name, func(t *testing.T) {
			for _, c := range rows {
				t.Run(c.name, func(t *testing.T) { c.run(t, em, shape) })
			}
		})
	}

	// A 500 is logged as one JSON line carrying the invocation's request id
	// (the emulator takes it from X-Amzn-RequestId).
	t.Run("log ids", func(t *testing.T) {
		const (
			reqID = "it-request-500"
			root  = "1-5759e988-bd862e3fe1be46a994272793"
		)
		ev := lambdaCase{id: jobs.noKey, token: user1}.event(allShapes[0])
		p := em.invokeWith(t, ev.Render(t), http.Header{
			"X-Amzn-Requestid": {reqID},
			"X-Amzn-Trace-Id":  {"Root=" + root + ";Parent=53995c3f42cd8ad8;Sampled=1"},
		})
		if p.StatusCode != http.StatusInternalServerError {
			t.Fatalf("statusCode = %d, want 500", p.StatusCode)
		}
		line := waitLogLine(t, em, func(l map[string]any) bool { return l["request_id"] == reqID })
		wantFields(t, line, map[string]any{"level": "ERROR", "msg": "request failed", "status": 500.0})
		// aws-lambda-rie (at the pinned version) does not hand the invoke's
		// X-Amzn-Trace-Id to the runtime (its no-op tracer renders no
		// Lambda-Runtime-Trace-Id), so there is no trace id to log here;
		// cmd/lambda's unit tests cover it. If one arrives, it must be right.
		if id, ok := line["trace_id"]; ok && id != root {
			t.Errorf("trace_id = %v, want %s", id, root)
		}
		if !strings.Contains(fmt.Sprint(line["err"]), "result_key") {
			t.Errorf("err = %v, want the cause", line["err"])
		}
	})

	t.Run("no token logged", func(t *testing.T) {
		out := em.out.String()
		for _, tok := range tokens {
			if strings.Contains(out, tok) {
				t.Fatalf("a bearer token is in the function's output")
			}
		}
	})
}

// waitLogLine waits (the emulator relays output asynchronously) for the
// bootstrap's JSON log line that match picks.
func waitLogLine(t *testing.T, em *emulator, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		for _, l := range em.logLines() {
			if match(l) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no such log line in:\n%s", em.out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLambdaGateway: AUTH_TRUST_GATEWAY=true, the claims of API Gateway's
// authorizer (HTTP API JWT authorizer, REST API Cognito authorizer) name the
// caller; a function URL carries none.
func TestLambdaGateway(t *testing.T) {
	needPeers(t)
	needLambda(t)
	jobs := seedLambdaJobs(t)
	peers := newLambdaPeers(t)
	environ := peers.environ()
	environ["AUTH_TRUST_GATEWAY"] = "true"
	environ["LOG_LEVEL"] = "debug"
	em := startEmulator(t, environ)

	iss, err := fakes.NewIssuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_test", "vpr-client-id")
	if err != nil {
		t.Fatal(err)
	}
	user1Token, err := iss.Token("RS256", "user-1", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	claimsOf := func(user string) map[string]string {
		return map[string]string{
			"sub": user, "iss": iss.Issuer, "aud": iss.Audience, "token_use": "id",
			"cognito:username": user, "exp": "1795957200", "iat": "1795953600",
		}
	}
	noClaims := lambdaCase{name: "function url, bearer ignored", id: jobs.pending, token: user1Token, code: 401,
		want: map[string]string{"WWW-Authenticate": realm}, body: map[string]any{"error": "Unauthorized"}}
	functionURL := allShapes[3]

	// In gateway mode start-up needs no network at all.
	t.Run("start-up", func(t *testing.T) {
		noClaims.run(t, em, functionURL)
		if d, s, o := peers.dynamo.conns.Load(), peers.s3.conns.Load(), peers.outside.conns.Load(); d+s+o != 0 {
			t.Errorf("start-up contacted DynamoDB %d, S3 %d, off-loopback %d times; want none", d, s, o)
		}
	})

	byClaims := func(user string, c lambdaCase) lambdaCase {
		c.claims = claimsOf(user)
		return c
	}
	etag := pendingETag(t, em, byClaims("user-1", lambdaCase{id: jobs.pending}))
	rows := contractRows(jobs, etag, byClaims)
	rows = append(rows,
		lambdaCase{name: "no claims", id: jobs.pending, code: 401, want: map[string]string{"WWW-Authenticate": realm}},
		lambdaCase{name: "claims without sub", id: jobs.pending, claims: map[string]string{"email": "a@example.com"}, code: 401,
			want: map[string]string{"WWW-Authenticate": realmBadTok}},
	)
	// A function URL has no authorizer: every request is a 401, whatever it
	// carries, except those refused before identity matters.
	for _, shape := range allShapes {
		t.Run(shape.name, func(t *testing.T) {
			for _, c := range rows {
				if shape.kind == "function-url" && c.method != http.MethodPost {
					c = lambdaCase{name: c.name, method: c.method, id: c.id, claims: c.claims, token: user1Token, code: 401,
						want: map[string]string{"WWW-Authenticate": realm}}
				}
				t.Run(c.name, func(t *testing.T) { c.run(t, em, shape) })
			}
		})
	}

	t.Run("peers reached", func(t *testing.T) {
		// Otherwise "no connections at start-up" would prove nothing.
		if peers.dynamo.conns.Load() == 0 || peers.s3.conns.Load() == 0 {
			t.Errorf("DynamoDB %d, S3 %d connections: the forwarders are not in the path",
				peers.dynamo.conns.Load(), peers.s3.conns.Load())
		}
		if n := peers.outside.conns.Load(); n != 0 {
			t.Errorf("%d requests off loopback", n)
		}
	})
}

// TestLambdaRefusesToStart: without identity configuration the bootstrap
// exits at start-up with one clear line, and the emulator reports the
// failed init instead of an answer.
func TestLambdaRefusesToStart(t *testing.T) {
	needLambda(t)
	em := startEmulator(t, map[string]string{
		"JOBS_TABLE_NAME":         table,
		"VPR_RESULTS_BUCKET_NAME": bucket,
		"AWS_REGION":              region,
		"AWS_ACCESS_KEY_ID":       "S3RVER",
		"AWS_SECRET_ACCESS_KEY":   "S3RVER",
		// Nothing listens there: refusing must not need the backends.
		"AWS_ENDPOINT_URL": "http://" + closedAddr(t),
	})
	ev := testkit.Event{Kind: "apigw-v2", Path: "/api/vpr/status/" + newID(), Claims: map[string]string{"sub": "user-1"}}
	code, body, err := em.invokeRaw(ev.Render(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	if code != http.StatusBadGateway {
		t.Errorf("emulator answered %d %q, want 502 for a failed init", code, body)
	}
	// The emulator relays output asynchronously: wait for its verdict, then
	// stop it so that all output is in.
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(em.out.String(), "Runtime.ExitError") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	em.stop()
	out := em.out.String()
	if !strings.Contains(out, "Runtime.ExitError") {
		t.Errorf("emulator did not report Runtime.ExitError:\n%s", out)
	}
	var refusals []string
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "refusing to start") {
			refusals = append(refusals, l)
		}
	}
	if len(refusals) != 1 {
		t.Fatalf("%d lines say refusing to start, want 1:\n%s", len(refusals), out)
	}
	line := refusals[0]
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		t.Errorf("refusal is not a JSON log line: %q", line)
	}
	if rec["level"] != "ERROR" {
		t.Errorf("refusal logged at %v, want ERROR", rec["level"])
	}
	for _, name := range []string{"JWT_ISSUER", "AUTH_TRUST_GATEWAY"} {
		if !strings.Contains(fmt.Sprint(rec["msg"]), name) {
			t.Errorf("refusal does not name %s: %s", name, line)
		}
	}
}
