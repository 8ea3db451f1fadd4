package awsenv_test

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"
	"time"

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
	_, err := awsenv.Load(context.Background(), minimal.get)
	if err == nil || err.Error() != "AWS_REGION is required" {
		t.Errorf("err = %v, want AWS_REGION is required", err)
	}
}

func TestLoad(t *testing.T) {
	isolate(t)
	b, err := awsenv.Load(context.Background(), with(minimal, "AWS_REGION", "eu-west-1", "PRESIGNED_URL_TTL", "10m").get)
	if err != nil {
		t.Fatal(err)
	}
	if b.Jobs == nil || b.Results == nil || b.Settings.Region != "eu-west-1" || b.Settings.URLTTL != 10*time.Minute {
		t.Errorf("backends = %+v", b)
	}
}

func TestLoadStopsOnBadSetting(t *testing.T) {
	isolate(t)
	if _, err := awsenv.Load(context.Background(), env{}.get); err == nil || err.Error() != "JOBS_TABLE_NAME is required\nVPR_RESULTS_BUCKET_NAME is required" {
		t.Errorf("err = %v", err)
	}
}
