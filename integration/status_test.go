package integration_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/awsenv"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/status"
)

// service is the real handler over real HTTP, with AWS backends.
type service struct {
	url  string
	iss  *fakes.Issuer
	logs *testkit.Buffer
}

// serve runs status.New over b, authenticating HS256 tokens from a fresh
// issuer. b's signer must presign on its fast path, as in production, so
// that the URLs fetched from s3rver are that path's.
func serve(t *testing.T, b *awsenv.Backends) *service {
	t.Helper()
	if name, why := b.Results.Presigner(); name != "fast" {
		t.Fatalf("result URLs presigned by %s (%s), not the fast path", name, why)
	}
	iss, err := fakes.NewIssuer("https://issuer.test", "vpr-client")
	if err != nil {
		t.Fatal(err)
	}
	keys, err := auth.HMACSecret(iss.Secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(keys, auth.Options{Issuer: iss.Issuer, Audiences: []string{iss.Audience}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.Buffer{}
	h := status.New(status.Config{
		Logger:  slog.New(slog.NewTextHandler(logs, nil)),
		Auth:    v,
		Jobs:    b.Jobs,
		Results: b.Results,
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &service{url: srv.URL, iss: iss, logs: logs}
}

// backends are the AWS adapters pointed at the peers, built the way Load
// builds them.
func backends(s awsenv.Settings) *awsenv.Backends {
	if s.DynamoDBEndpoint == "" {
		s.DynamoDBEndpoint = env.dynamoURL
	}
	if s.S3Endpoint == "" {
		s.S3Endpoint = env.s3URL
	}
	s.JobsTable, s.ResultsBucket, s.ForcePathStyle = table, bucket, true
	return awsenv.New(aws.Config{Region: region, Credentials: creds}, s)
}

// answer is a decoded response.
type answer struct {
	code   int
	header http.Header
	body   map[string]any
}

// poll GETs the status of job id as user.
func (s *service) poll(t *testing.T, id, user string) answer {
	t.Helper()
	tok, err := s.iss.Token("HS256", user, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, s.url+"/api/vpr/status/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode, header: resp.Header}
	if err := json.NewDecoder(resp.Body).Decode(&a.body); err != nil {
		t.Fatalf("%d answer is not JSON: %v", resp.StatusCode, err)
	}
	return a
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
func num(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

// item is a job record as the worker writes it, for id, with attrs set
// (a nil value removes the attribute).
func item(id string, attrs map[string]types.AttributeValue) map[string]types.AttributeValue {
	it := map[string]types.AttributeValue{
		"job_id":     str(id),
		"user_id":    str("user-1"),
		"created_at": str("2026-03-01T12:00:00Z"),
		// The job's inputs: large, and never projected.
		"input": str(strings.Repeat("cv text ", 2000)),
	}
	for k, v := range attrs {
		if v == nil {
			delete(it, k)
		} else {
			it[k] = v
		}
	}
	return it
}

func putItem(t *testing.T, it map[string]types.AttributeValue) {
	t.Helper()
	if _, err := env.db.PutItem(context.Background(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: it}); err != nil {
		t.Fatal(err)
	}
}

func putObject(t *testing.T, key, body string) {
	t.Helper()
	_, err := env.s3.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader(body), ContentType: aws.String("application/json"),
	})
	if err != nil {
		t.Fatal(err)
	}
}

// fetch GETs a presigned URL, as the frontend would.
func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// wantFields checks that body has (at least) the fields of want.
func wantFields(t *testing.T, body, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if !reflect.DeepEqual(body[k], v) {
			t.Errorf("%s = %#v, want %#v (body %v)", k, body[k], v, body)
		}
	}
}

// TestStatus covers every contract row that depends on the job store or the
// result signer, over real HTTP, with dynalite and s3rver behind them.
func TestStatus(t *testing.T) {
	needPeers(t)
	svc := serve(t, backends(awsenv.Settings{}))
	now := time.Now()
	const result = `{"vpr":{"summary":"a strong candidate"},"version":1}`

	tests := []struct {
		name    string
		attrs   map[string]types.AttributeValue
		absent  bool   // no item at all
		object  string // result object stored at result_key, if any
		deleted bool   // and deleted again
		caller  string // default user-1, the owner
		code    int
		fields  map[string]any
		check   func(t *testing.T, svc *service, id string, a answer)
	}{
		{
			name:   "pending",
			attrs:  map[string]types.AttributeValue{"status": str("PENDING"), "ttl": num(now.Add(10 * time.Minute).Unix())},
			code:   http.StatusAccepted,
			fields: map[string]any{"status": "PENDING", "created_at": "2026-03-01T12:00:00Z"},
			check: func(t *testing.T, _ *service, _ string, a answer) {
				if a.header.Get("Retry-After") == "" || a.header.Get("ETag") == "" {
					t.Errorf("202 without Retry-After or ETag: %v", a.header)
				}
			},
		},
		{
			name:   "processing",
			attrs:  map[string]types.AttributeValue{"status": str("PROCESSING"), "started_at": str("2026-03-01T12:00:05Z")},
			code:   http.StatusAccepted,
			fields: map[string]any{"status": "PROCESSING", "started_at": "2026-03-01T12:00:05Z"},
		},
		{
			name: "completed",
			attrs: map[string]types.AttributeValue{
				"status": str("COMPLETED"), "completed_at": str("2026-03-01T12:01:00Z"),
				"token_usage": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"input_tokens": num(1200), "output_tokens": num(3400)}},
			},
			object: result,
			code:   http.StatusOK,
			fields: map[string]any{
				"status": "COMPLETED", "completed_at": "2026-03-01T12:01:00Z",
				"token_usage": map[string]any{"input_tokens": 1200.0, "output_tokens": 3400.0},
			},
			check: func(t *testing.T, _ *service, _ string, a answer) {
				exp, err := time.Parse(time.RFC3339, fmt.Sprint(a.body["result_url_expires_at"]))
				if err != nil || exp.Before(now.Add(59*time.Minute)) || exp.After(time.Now().Add(time.Hour)) {
					t.Errorf("result_url_expires_at = %v, want about now + 1h", a.body["result_url_expires_at"])
				}
				code, body := fetch(t, fmt.Sprint(a.body["result_url"]))
				if code != http.StatusOK || body != result {
					t.Errorf("GET result_url = %d %q, want 200 with the result", code, body)
				}
			},
		},
		{
			name:   "failed",
			attrs:  map[string]types.AttributeValue{"status": str("FAILED"), "error": str("model refused the input")},
			code:   http.StatusOK,
			fields: map[string]any{"status": "FAILED", "error": "model refused the input"},
		},
		{
			name:   "failed without an error",
			attrs:  map[string]types.AttributeValue{"status": str("FAILED")},
			code:   http.StatusOK,
			fields: map[string]any{"status": "FAILED", "error": "Unknown error"},
		},
		{
			name:   "ttl passed",
			attrs:  map[string]types.AttributeValue{"status": str("COMPLETED"), "ttl": num(now.Add(-time.Minute).Unix())},
			object: result,
			code:   http.StatusNotFound,
			fields: map[string]any{"error": "Job not found (may have expired after 10 minutes)"},
		},
		{
			name:   "no such job",
			absent: true,
			code:   http.StatusNotFound,
			fields: map[string]any{"error": "Job not found (may have expired after 10 minutes)"},
		},
		{
			name:   "another user's job",
			attrs:  map[string]types.AttributeValue{"status": str("COMPLETED")},
			object: result,
			caller: "user-2",
			code:   http.StatusForbidden,
			fields: map[string]any{"error": "Forbidden"},
		},
		{
			name:    "result object deleted",
			attrs:   map[string]types.AttributeValue{"status": str("COMPLETED")},
			object:  result,
			deleted: true,
			code:    http.StatusGone,
			fields:  map[string]any{"error": "Result expired or deleted", "message": "Please regenerate the VPR"},
		},
		{
			name:   "completed without result_key",
			attrs:  map[string]types.AttributeValue{"status": str("COMPLETED"), "result_key": nil},
			code:   http.StatusInternalServerError,
			fields: map[string]any{"error": "Result key missing"},
		},
		{
			name:   "unknown status",
			attrs:  map[string]types.AttributeValue{"status": str("CANCELLED")},
			code:   http.StatusInternalServerError,
			fields: map[string]any{"error": "Unknown job status"},
		},
		{
			name:   "no user_id",
			attrs:  map[string]types.AttributeValue{"status": str("PENDING"), "user_id": nil},
			code:   http.StatusInternalServerError,
			fields: map[string]any{"error": "Internal server error"},
			check:  loggedBadRecord,
		},
		{
			name:   "no status",
			attrs:  map[string]types.AttributeValue{},
			code:   http.StatusInternalServerError,
			fields: map[string]any{"error": "Internal server error"},
			check:  loggedBadRecord,
		},
		{
			name:   "undecodable item",
			attrs:  map[string]types.AttributeValue{"status": str("PENDING"), "ttl": str("tomorrow")},
			code:   http.StatusInternalServerError,
			fields: map[string]any{"error": "Internal server error"},
			check:  loggedBadRecord,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			id := newID()
			key := "results/user-1/" + id + ".json"
			if !tt.absent {
				attrs := map[string]types.AttributeValue{"result_key": str(key)}
				for k, v := range tt.attrs {
					attrs[k] = v
				}
				putItem(t, item(id, attrs))
			}
			if tt.object != "" {
				putObject(t, key, tt.object)
			}
			if tt.deleted {
				if _, err := env.s3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err != nil {
					t.Fatal(err)
				}
			}
			caller := tt.caller
			if caller == "" {
				caller = "user-1"
			}
			a := svc.poll(t, id, caller)
			if a.code != tt.code {
				t.Fatalf("status = %d, want %d; body %v", a.code, tt.code, a.body)
			}
			if tt.code < 300 {
				wantFields(t, a.body, map[string]any{"job_id": id})
			}
			wantFields(t, a.body, tt.fields)
			if tt.check != nil {
				tt.check(t, svc, id, a)
			}
		})
	}
}

// loggedBadRecord checks that a 500 for a malformed item was logged with its
// cause (the client only sees "Internal server error").
func loggedBadRecord(t *testing.T, svc *service, id string, _ answer) {
	t.Helper()
	for _, line := range strings.Split(svc.logs.String(), "\n") {
		if strings.Contains(line, id) && strings.Contains(line, status.ErrBadRecord.Error()) && strings.Contains(line, "status=500") {
			return
		}
	}
	t.Errorf("no 500 log line for %s naming %q:\n%s", id, status.ErrBadRecord, svc.logs.String())
}

// Presigned URLs of keys with characters S3 wants escaped fetch the object
// they name. s3rver does not check signatures: this proves the routing and
// the escaping of the fast path's URLs; s3result's tests prove the
// signatures equal the SDK's.
func TestResultURLOddKeys(t *testing.T) {
	needPeers(t)
	svc := serve(t, backends(awsenv.Settings{}))
	for _, k := range []string{
		"results/user-1/odd key+~!'()*&=;,@$ü.json",
		"results/user-1/%41%2F?#[].json",
		"results/user-1/résumé/日本語.json",
	} {
		t.Run(k, func(t *testing.T) {
			id := newID()
			key := k + "/" + id
			putItem(t, item(id, map[string]types.AttributeValue{"status": str("COMPLETED"), "result_key": str(key)}))
			putObject(t, key, `{"key":`+strconv.Quote(key)+`}`)
			a := svc.poll(t, id, "user-1")
			if a.code != http.StatusOK {
				t.Fatalf("status = %d, body %v", a.code, a.body)
			}
			if code, body := fetch(t, fmt.Sprint(a.body["result_url"])); code != http.StatusOK || body != `{"key":`+strconv.Quote(key)+`}` {
				t.Errorf("GET result_url = %d %q", code, body)
			}
		})
	}
}

// A presigned URL works until its ttl passes, and s3rver refuses it after.
func TestResultURLExpires(t *testing.T) {
	needPeers(t)
	t.Parallel()
	svc := serve(t, backends(awsenv.Settings{URLTTL: time.Second}))
	id := newID()
	key := "results/user-1/" + id + ".json"
	putItem(t, item(id, map[string]types.AttributeValue{"status": str("COMPLETED"), "result_key": str(key)}))
	putObject(t, key, `{"vpr":{}}`)

	a := svc.poll(t, id, "user-1")
	if a.code != http.StatusOK {
		t.Fatalf("status = %d, body %v", a.code, a.body)
	}
	u := fmt.Sprint(a.body["result_url"])
	if code, _ := fetch(t, u); code != http.StatusOK {
		t.Fatalf("fresh URL: %d, want 200", code)
	}
	exp, err := time.Parse(time.RFC3339, fmt.Sprint(a.body["result_url_expires_at"]))
	if err != nil {
		t.Fatal(err)
	}
	// X-Amz-Date has whole seconds: wait until a second past the end.
	time.Sleep(time.Until(exp.Add(2 * time.Second)))
	if code, body := fetch(t, u); code != http.StatusForbidden {
		t.Errorf("expired URL: %d %s, want 403", code, body)
	}
}

// A dependency that refuses connections or never answers gets a 503 with
// Retry-After, within a bounded time: never a 500, never a hang.
func TestUnavailable(t *testing.T) {
	needPeers(t)
	const callTimeout = 300 * time.Millisecond
	refused := "http://" + closedAddr(t)
	silent := "http://" + silentAddr(t)
	tests := []struct {
		name       string
		dynamo, s3 string // endpoints; empty: the real peer
		status     string // of the job seeded in the real table
	}{
		{"DynamoDB refuses connections", refused, "", "PENDING"},
		{"DynamoDB never answers", silent, "", "PENDING"},
		{"S3 refuses connections", "", refused, "COMPLETED"},
		{"S3 never answers", "", silent, "COMPLETED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			svc := serve(t, backends(awsenv.Settings{DynamoDBEndpoint: tt.dynamo, S3Endpoint: tt.s3, CallTimeout: callTimeout}))
			id := newID()
			key := "results/user-1/" + id + ".json"
			putItem(t, item(id, map[string]types.AttributeValue{"status": str(tt.status), "result_key": str(key)}))
			putObject(t, key, `{}`)

			start := time.Now()
			a := svc.poll(t, id, "user-1")
			took := time.Since(start)
			if a.code != http.StatusServiceUnavailable {
				t.Fatalf("status = %d, want 503; body %v", a.code, a.body)
			}
			if a.header.Get("Retry-After") == "" {
				t.Error("503 without Retry-After")
			}
			wantFields(t, a.body, map[string]any{"error": "Service unavailable"})
			// One call's deadline, plus slack for -race on two cores.
			if took > callTimeout+time.Second {
				t.Errorf("took %v, want at most the %v call deadline", took, callTimeout)
			}
		})
	}
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentAddr is a loopback address that accepts connections and never
// answers, like a dependency that hangs.
func silentAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// Load, given only the environment a deployment sets (in Lambda, the process
// environment, credentials included; here through getenv alone, with the
// process environment's own AWS settings cleared), builds backends that work.
func TestLoad(t *testing.T) {
	needPeers(t)
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_PROFILE": "", "AWS_CONFIG_FILE": dir + "/config", "AWS_SHARED_CREDENTIALS_FILE": dir + "/credentials",
		// Set only through getenv below, so Load must apply them itself.
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
		"AWS_REGION": "", "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_DYNAMODB": "", "AWS_ENDPOINT_URL_S3": "",
	} {
		t.Setenv(k, v)
	}
	vars := map[string]string{
		"AWS_ACCESS_KEY_ID":         "S3RVER",
		"AWS_SECRET_ACCESS_KEY":     "S3RVER",
		"JOBS_TABLE_NAME":           table,
		"VPR_RESULTS_BUCKET_NAME":   bucket,
		"PRESIGNED_URL_TTL":         "15m",
		"AWS_REGION":                region,
		"AWS_ENDPOINT_URL":          env.s3URL,
		"AWS_ENDPOINT_URL_DYNAMODB": env.dynamoURL,
		"S3_FORCE_PATH_STYLE":       "true",
	}
	b, err := awsenv.Load(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	svc := serve(t, b)
	id := newID()
	key := "results/user-1/" + id + ".json"
	putItem(t, item(id, map[string]types.AttributeValue{"status": str("COMPLETED"), "result_key": str(key)}))
	putObject(t, key, `{"vpr":{}}`)

	start := time.Now()
	a := svc.poll(t, id, "user-1")
	if a.code != http.StatusOK {
		t.Fatalf("status = %d, body %v", a.code, a.body)
	}
	exp, _ := time.Parse(time.RFC3339, fmt.Sprint(a.body["result_url_expires_at"]))
	// The answer has whole seconds, so allow a second either side.
	if d := exp.Sub(start); d < 15*time.Minute-time.Second || d > 15*time.Minute+time.Second {
		t.Errorf("result_url_expires_at %v is not 15m after the request", exp)
	}
	if code, body := fetch(t, fmt.Sprint(a.body["result_url"])); code != http.StatusOK || body != `{"vpr":{}}` {
		t.Errorf("GET result_url = %d %q", code, body)
	}
}

// A 403 from S3 on HeadObject (here: s3rver refusing a key it does not know,
// as S3 refuses a role a policy denies) is a logged 500 naming the likely
// fixes, not a 410 that tells users to regenerate; S3_FORBIDDEN_MEANS_GONE
// restores that reading for a role without s3:ListBucket.
func TestForbiddenHead(t *testing.T) {
	needPeers(t)
	t.Parallel()
	id := newID()
	key := "results/user-1/" + id + ".json"
	putItem(t, item(id, map[string]types.AttributeValue{"status": str("COMPLETED"), "result_key": str(key)}))
	putObject(t, key, `{"vpr":{}}`)
	for _, tt := range []struct {
		name     string
		gone     bool
		wantCode int
	}{
		{"default", false, http.StatusInternalServerError},
		{"S3_FORBIDDEN_MEANS_GONE", true, http.StatusGone},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := backends(awsenv.Settings{ForbiddenMeansGone: tt.gone})
			// dynalite takes any key; s3rver answers 403 to all but its own.
			b = awsenv.New(aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider("AKIDUNKNOWN", "wrong", "")}, b.Settings)
			svc := serve(t, b)
			a := svc.poll(t, id, "user-1")
			if a.code != tt.wantCode {
				t.Fatalf("status %d %v, want %d", a.code, a.body, tt.wantCode)
			}
			if tt.gone {
				return
			}
			if !strings.Contains(svc.logs.String(), "level=ERROR") || !strings.Contains(svc.logs.String(), "s3:ListBucket") {
				t.Errorf("no ERROR line naming the fixes:\n%s", svc.logs.String())
			}
		})
	}
}
