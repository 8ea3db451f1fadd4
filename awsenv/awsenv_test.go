package awsenv_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/careervp/vprstatus/awsenv"
)

// env is a getenv over a map.
type env map[string]string

func (e env) get(k string) string { return e[k] }

// with returns a copy of base with kv (name, value pairs) set.
func with(base env, kv ...string) env {
	e := env{}
	for k, v := range base {
		e[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		e[kv[i]] = kv[i+1]
	}
	return e
}

var minimal = env{"JOBS_TABLE_NAME": "jobs", "VPR_RESULTS_BUCKET_NAME": "results"}

func TestReadSettings(t *testing.T) {
	defaults := awsenv.Settings{JobsTable: "jobs", ResultsBucket: "results", URLTTL: time.Hour, CallTimeout: 2 * time.Second}
	tests := []struct {
		name string
		env  env
		want func(*awsenv.Settings)
	}{
		{"defaults", minimal, func(*awsenv.Settings) {}},
		{"ttl as a Go duration", with(minimal, "PRESIGNED_URL_TTL", "15m"), func(s *awsenv.Settings) { s.URLTTL = 15 * time.Minute }},
		{"ttl in seconds", with(minimal, "PRESIGNED_URL_TTL", "900"), func(s *awsenv.Settings) { s.URLTTL = 15 * time.Minute }},
		{"ttl at the SigV4 limit", with(minimal, "PRESIGNED_URL_TTL", "168h"), func(s *awsenv.Settings) { s.URLTTL = 168 * time.Hour }},
		{"call timeout", with(minimal, "BACKEND_CALL_TIMEOUT", "500ms"), func(s *awsenv.Settings) { s.CallTimeout = 500 * time.Millisecond }},
		{"path style", with(minimal, "S3_FORCE_PATH_STYLE", "true"), func(s *awsenv.Settings) { s.ForcePathStyle = true }},
		{"path style off", with(minimal, "S3_FORCE_PATH_STYLE", "0"), func(*awsenv.Settings) {}},
		{"403 means gone", with(minimal, "S3_FORBIDDEN_MEANS_GONE", "true"), func(s *awsenv.Settings) { s.ForbiddenMeansGone = true }},
		{"fips and dual-stack", with(minimal, "AWS_USE_FIPS_ENDPOINT", "true", "AWS_USE_DUALSTACK_ENDPOINT", "TRUE"), func(s *awsenv.Settings) {
			s.UseFIPS, s.UseDualStack = true, true
		}},
		{"region", with(minimal, "AWS_REGION", "eu-west-1"), func(s *awsenv.Settings) { s.Region = "eu-west-1" }},
		{"one endpoint for both", with(minimal, "AWS_ENDPOINT_URL", "http://127.0.0.1:1"), func(s *awsenv.Settings) {
			s.DynamoDBEndpoint, s.S3Endpoint = "http://127.0.0.1:1", "http://127.0.0.1:1"
		}},
		{"service endpoints win", with(minimal, "AWS_ENDPOINT_URL", "http://127.0.0.1:1",
			"AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:2", "AWS_ENDPOINT_URL_S3", "http://127.0.0.1:3"), func(s *awsenv.Settings) {
			s.DynamoDBEndpoint, s.S3Endpoint = "http://127.0.0.1:2", "http://127.0.0.1:3"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := awsenv.ReadSettings(tt.env.get)
			if err != nil {
				t.Fatal(err)
			}
			want := defaults
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestReadSettingsErrors(t *testing.T) {
	tests := []struct {
		name string
		env  env
		want string
	}{
		{"no table", env{"VPR_RESULTS_BUCKET_NAME": "results"}, "JOBS_TABLE_NAME is required"},
		{"no bucket", env{"JOBS_TABLE_NAME": "jobs"}, "VPR_RESULTS_BUCKET_NAME is required"},
		{"nothing", env{}, "JOBS_TABLE_NAME is required\nVPR_RESULTS_BUCKET_NAME is required"},
		{"everything wrong", env{"PRESIGNED_URL_TTL": "0s", "BACKEND_CALL_TIMEOUT": "soon", "S3_FORCE_PATH_STYLE": "yes please", "AWS_ENDPOINT_URL": "localhost"},
			"JOBS_TABLE_NAME is required\nVPR_RESULTS_BUCKET_NAME is required\n" + `PRESIGNED_URL_TTL: "0s" is outside 1s to 168h` + "\n" +
				`BACKEND_CALL_TIMEOUT: "soon" is not a duration like 1h, 90s or 3600` + "\n" + `S3_FORCE_PATH_STYLE: "yes please" is not true or false` + "\n" +
				`AWS_ENDPOINT_URL: "localhost" is not an absolute URL`},
		{"ttl not a duration", with(minimal, "PRESIGNED_URL_TTL", "an hour"), `PRESIGNED_URL_TTL: "an hour" is not a duration like 1h, 90s or 3600`},
		{"ttl zero", with(minimal, "PRESIGNED_URL_TTL", "0s"), `PRESIGNED_URL_TTL: "0s" is outside 1s to 168h`},
		{"ttl negative", with(minimal, "PRESIGNED_URL_TTL", "-1h"), `PRESIGNED_URL_TTL: "-1h" is outside 1s to 168h`},
		{"ttl past SigV4's limit", with(minimal, "PRESIGNED_URL_TTL", "169h"), `PRESIGNED_URL_TTL: "169h" is outside 1s to 168h`},
		{"call timeout zero", with(minimal, "BACKEND_CALL_TIMEOUT", "0"), `BACKEND_CALL_TIMEOUT: "0" is not positive`},
		{"call timeout garbage", with(minimal, "BACKEND_CALL_TIMEOUT", "soon"), `BACKEND_CALL_TIMEOUT: "soon" is not a duration like 1h, 90s or 3600`},
		{"path style garbage", with(minimal, "S3_FORCE_PATH_STYLE", "yes please"), `S3_FORCE_PATH_STYLE: "yes please" is not true or false`},
		{"403 reading garbage", with(minimal, "S3_FORBIDDEN_MEANS_GONE", "maybe"), `S3_FORBIDDEN_MEANS_GONE: "maybe" is not true or false`},
		{"fips garbage", with(minimal, "AWS_USE_FIPS_ENDPOINT", "on"), `AWS_USE_FIPS_ENDPOINT: "on" is not true or false`},
		{"endpoint not a URL", with(minimal, "AWS_ENDPOINT_URL_S3", "localhost:4568"), `AWS_ENDPOINT_URL_S3: "localhost:4568" is not an absolute URL`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := awsenv.ReadSettings(tt.env.get)
			if err == nil || err.Error() != tt.want {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// isolate keeps the developer's own AWS configuration out of Load.
func isolate(t *testing.T) {
	dir := t.TempDir()
	for _, k := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_S3"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
}

func TestLoadNeedsRegion(t *testing.T) {
	isolate(t)
	_, err := awsenv.Load(with(minimal, "AWS_ACCESS_KEY_ID", "AKID", "AWS_SECRET_ACCESS_KEY", "secret").get)
	if err == nil || err.Error() != "AWS_REGION is required" {
		t.Errorf("err = %v, want AWS_REGION is required", err)
	}
}

func TestLoad(t *testing.T) {
	isolate(t)
	b, err := awsenv.Load(with(minimal, "AWS_REGION", "eu-west-1", "PRESIGNED_URL_TTL", "10m",
		"AWS_ACCESS_KEY_ID", "AKID", "AWS_SECRET_ACCESS_KEY", "secret").get)
	if err != nil {
		t.Fatal(err)
	}
	if b.Jobs == nil || b.Results == nil || b.Settings.Region != "eu-west-1" || b.Settings.URLTTL != 10*time.Minute {
		t.Errorf("backends = %+v", b)
	}
}

func TestLoadStopsOnBadSetting(t *testing.T) {
	isolate(t)
	if _, err := awsenv.Load(env{}.get); err == nil || err.Error() != "JOBS_TABLE_NAME is required\nVPR_RESULTS_BUCKET_NAME is required\nAWS_REGION is required\nAWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (in Lambda, the function role's credentials)" {
		t.Errorf("err = %v", err)
	}
}

// TestLoadReadsOnlyGetenv: the credentials come through getenv, and nothing
// else stands in for them: not the process environment, not a profile.
func TestLoadReadsOnlyGetenv(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDPROCESS")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "process")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "config")
	if err := os.WriteFile(cfgFile, []byte("[default]\nregion = eu-west-1\naws_access_key_id = AKIDFILE\naws_secret_access_key = file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", cfgFile)
	for _, e := range []env{
		with(minimal, "AWS_REGION", "eu-west-1"),
		with(minimal, "AWS_REGION", "eu-west-1", "AWS_ACCESS_KEY_ID", "AKID"),
		with(minimal, "AWS_REGION", "eu-west-1", "AWS_SECRET_ACCESS_KEY", "secret"),
	} {
		_, err := awsenv.Load(e.get)
		if err == nil || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required") {
			t.Errorf("Load(%v) = %v, want the credentials required", e, err)
		}
	}
}

// TestLoadCredentials: the session token and account id come along, cached
// as the SDK's default chain caches credentials.
func TestLoadCredentials(t *testing.T) {
	b, err := awsenv.Load(with(minimal, "AWS_REGION", "eu-west-1", "AWS_ACCESS_KEY_ID", "ASIATEMP",
		"AWS_SECRET_ACCESS_KEY", "secret", "AWS_SESSION_TOKEN", "token", "AWS_ACCOUNT_ID", "123456789012").get)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]aws.CredentialsProvider{"s3": b.S3.Options().Credentials, "dynamodb": b.DynamoDB.Options().Credentials} {
		if _, ok := p.(*aws.CredentialsCache); !ok {
			t.Errorf("%s: credentials %T, want an *aws.CredentialsCache", name, p)
		}
		c, err := p.Retrieve(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if c.AccessKeyID != "ASIATEMP" || c.SecretAccessKey != "secret" || c.SessionToken != "token" || c.AccountID != "123456789012" || c.CanExpire {
			t.Errorf("%s: credentials %+v", name, c)
		}
	}
}

// TestLoadAsTheDefaultChain: in the environment Lambda sets, Load's clients
// send what clients from config.LoadDefaultConfig send (host, path, user
// agent, with FIPS and dual-stack endpoints or without), and presign the
// same URL.
func TestLoadAsTheDefaultChain(t *testing.T) {
	for _, tt := range []struct {
		name  string
		extra []string
	}{
		{"plain", nil},
		{"fips and dual-stack", []string{"AWS_USE_FIPS_ENDPOINT", "true", "AWS_USE_DUALSTACK_ENDPOINT", "true"}},
		{"fips", []string{"AWS_USE_FIPS_ENDPOINT", "true"}},
		{"china", []string{"AWS_REGION", "cn-north-1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			lambda := with(minimal, append([]string{
				"AWS_REGION", "eu-west-1",
				"AWS_ACCESS_KEY_ID", "ASIATEMP", "AWS_SECRET_ACCESS_KEY", "secret", "AWS_SESSION_TOKEN", "token",
			}, tt.extra...)...)
			for k, v := range lambda {
				t.Setenv(k, v) // the default chain reads the process environment
			}
			lean, err := awsenv.Load(lambda.get)
			if err != nil {
				t.Fatal(err)
			}
			s, err := awsenv.ReadSettings(lambda.get)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := config.LoadDefaultConfig(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			full := awsenv.New(cfg, s)

			lo, fo := lean.S3.Options(), full.S3.Options()
			if lo.Region != fo.Region || lo.ResponseChecksumValidation != fo.ResponseChecksumValidation ||
				lo.RequestChecksumCalculation != fo.RequestChecksumCalculation || lo.EndpointOptions != fo.EndpointOptions {
				t.Errorf("s3 options differ:\nLoad              %+v\nLoadDefaultConfig %+v", lo, fo)
			}
			if ld, fd := lean.DynamoDB.Options(), full.DynamoDB.Options(); ld.AccountIDEndpointMode != fd.AccountIDEndpointMode ||
				ld.EndpointOptions != fd.EndpointOptions || ld.DefaultsMode != fd.DefaultsMode {
				t.Errorf("dynamodb options differ:\nLoad              %+v\nLoadDefaultConfig %+v", ld, fd)
			}
			if l, f := sent(t, lean), sent(t, full); !reflect.DeepEqual(l, f) {
				t.Errorf("requests differ:\nLoad              %q\nLoadDefaultConfig %q", l, f)
			}
			if l, f := presigned(t, lean), presigned(t, full); l != f {
				t.Errorf("presigned URLs differ (date and signature aside):\nLoad              %s\nLoadDefaultConfig %s", l, f)
			}
		})
	}
}

// errSent stops a request once it is recorded.
var errSent = errors.New("recorded, not sent")

// sent returns what b's clients would send for a GetItem and a HeadObject:
// the host, path and user agent of each.
func sent(t *testing.T, b *awsenv.Backends) []string {
	t.Helper()
	var got []string
	record := func(r *http.Request) (*http.Response, error) {
		got = append(got, r.URL.Host, r.URL.Path, r.Header.Get("User-Agent"))
		return nil, errSent
	}
	ctx := context.Background()
	_, err := b.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String("jobs"), Key: map[string]types.AttributeValue{"job_id": &types.AttributeValueMemberS{Value: "j"}},
	}, func(o *dynamodb.Options) {
		o.HTTPClient = doerFunc(record)
		o.Retryer = aws.NopRetryer{}
	})
	if !errors.Is(err, errSent) {
		t.Fatalf("GetItem: %v", err)
	}
	_, err = b.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("results"), Key: aws.String("a/b.json")}, func(o *s3.Options) {
		o.HTTPClient = doerFunc(record)
		o.Retryer = aws.NopRetryer{}
	})
	if !errors.Is(err, errSent) {
		t.Fatalf("HeadObject: %v", err)
	}
	return got
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// presigned returns a GET URL presigned by b's S3 client, without its date
// and signature (the two are presigned a moment apart).
func presigned(t *testing.T, b *awsenv.Backends) string {
	t.Helper()
	req, err := s3.NewPresignClient(b.S3).PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("results"), Key: aws.String("a/b.json")})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(req.URL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Del("X-Amz-Date")
	q.Del("X-Amz-Signature")
	cred := strings.Split(q.Get("X-Amz-Credential"), "/")
	if len(cred) == 5 {
		cred[1] = "DATE"
	}
	q.Set("X-Amz-Credential", strings.Join(cred, "/"))
	u.RawQuery = q.Encode()
	return u.String()
}
