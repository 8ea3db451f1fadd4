package s3result_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/careervp/vprstatus/s3result"
	"github.com/careervp/vprstatus/status"
)

// fakeS3 answers HEAD /bucket/key with code and counts the calls.
func fakeS3(t *testing.T, code int) (*httptest.Server, *atomic.Int32) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodHead || r.URL.Path != "/results/jobs/1.json" {
			t.Errorf("unexpected %s %s", r.Method, r.URL.Path)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

func client(endpoint string, creds aws.Credentials) *s3.Client {
	return s3.New(s3.Options{
		Region:           "eu-west-1",
		BaseEndpoint:     aws.String(endpoint),
		UsePathStyle:     true,
		RetryMaxAttempts: 1,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return creds, nil
		}),
	})
}

var static = aws.Credentials{AccessKeyID: "AKIDSTATIC", SecretAccessKey: "secret"}

func TestSignResult(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	expiring := aws.Credentials{AccessKeyID: "ASIATEMP", SecretAccessKey: "secret", SessionToken: "token",
		CanExpire: true, Expires: now.Add(20 * time.Minute)}
	tests := []struct {
		name    string
		creds   aws.Credentials
		ttl     time.Duration
		want    time.Time
		wantKey string
	}{
		{"static credentials: now + ttl", static, 0, now.Add(time.Hour), "AKIDSTATIC"},
		{"credentials expire first", expiring, time.Hour, expiring.Expires, "ASIATEMP"},
		{"ttl ends first", expiring, 5 * time.Minute, now.Add(5 * time.Minute), "ASIATEMP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeS3(t, http.StatusOK)
			sg := s3result.New(client(srv.URL, tt.creds), "results",
				s3result.WithTTL(tt.ttl), s3result.WithClock(func() time.Time { return now }))
			got, err := sg.SignResult(context.Background(), "jobs/1.json")
			if err != nil {
				t.Fatal(err)
			}
			if !got.ExpiresAt.Equal(tt.want) {
				t.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, tt.want)
			}
			u, err := url.Parse(got.URL)
			if err != nil {
				t.Fatal(err)
			}
			q := u.Query()
			if u.Path != "/results/jobs/1.json" || !strings.HasPrefix(q.Get("X-Amz-Credential"), tt.wantKey+"/") || q.Get("X-Amz-Signature") == "" {
				t.Errorf("URL = %s", got.URL)
			}
			wantTTL := tt.ttl
			if wantTTL == 0 {
				wantTTL = s3result.DefaultTTL
			}
			if q.Get("X-Amz-Expires") != strconv.Itoa(int(wantTTL.Seconds())) {
				t.Errorf("X-Amz-Expires = %s, want %d", q.Get("X-Amz-Expires"), int(wantTTL.Seconds()))
			}
		})
	}
}

func TestSignResultErrors(t *testing.T) {
	tests := []struct {
		name          string
		code          int
		forbiddenGone bool
		want          error // nil: neither gone nor unavailable, so a 500
	}{
		{"missing object", http.StatusNotFound, false, status.ErrResultGone},
		{"missing object, 403 read as missing", http.StatusNotFound, true, status.ErrResultGone},
		// With s3:ListBucket granted, a 403 is a policy, KMS, session or
		// clock fault: a 500, never "regenerate".
		{"forbidden", http.StatusForbidden, false, nil},
		// What S3 answers a missing key to a role without s3:ListBucket,
		// where the deployment opted into reading it so.
		{"forbidden, read as missing", http.StatusForbidden, true, status.ErrResultGone},
		{"S3 unavailable", http.StatusServiceUnavailable, false, status.ErrUnavailable},
		{"throttled", http.StatusTooManyRequests, true, status.ErrUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, _ := fakeS3(t, tt.code)
			_, err := s3result.New(client(srv.URL, static), "results", s3result.WithForbiddenAsGone(tt.forbiddenGone)).
				SignResult(context.Background(), "jobs/1.json")
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("err = %v, want %v", err, tt.want)
			case tt.want == nil && (errors.Is(err, status.ErrResultGone) || errors.Is(err, status.ErrUnavailable)):
				t.Errorf("err = %v, want neither gone nor unavailable", err)
			case tt.want == nil && !strings.Contains(err.Error(), "s3:ListBucket"):
				t.Errorf("err = %v, want the likely fixes named", err)
			}
		})
	}
}

// Anything else (here: S3's own 500) must reach the handler as a 500, not a
// 410 or 503.
func TestOtherErrorIsInternal(t *testing.T) {
	srv, _ := fakeS3(t, http.StatusInternalServerError)
	_, err := s3result.New(client(srv.URL, static), "results").SignResult(context.Background(), "jobs/1.json")
	if err == nil || errors.Is(err, status.ErrResultGone) || errors.Is(err, status.ErrUnavailable) {
		t.Errorf("err = %v", err)
	}
}

func TestCallTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	start := time.Now()
	_, err := s3result.New(client(srv.URL, static), "results", s3result.WithCallTimeout(100*time.Millisecond)).
		SignResult(context.Background(), "jobs/1.json")
	if !errors.Is(err, status.ErrUnavailable) {
		t.Errorf("err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("took %v, want about 100ms", d)
	}
}

// headFunc is a HeadObjectAPI of one function.
type headFunc func(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)

func (f headFunc) HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	return f(ctx, in, optFns...)
}

func TestWithHeadObject(t *testing.T) {
	var asked string
	head := headFunc(func(_ context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
		asked = aws.ToString(in.Bucket) + "/" + aws.ToString(in.Key)
		return &s3.HeadObjectOutput{}, nil
	})
	// No server behind the endpoint: only the injected HeadObject may be asked.
	s := s3result.New(client("http://127.0.0.1:1", static), "results", s3result.WithHeadObject(head))
	u, err := s.SignResult(context.Background(), "jobs/1.json")
	if err != nil {
		t.Fatal(err)
	}
	if asked != "results/jobs/1.json" {
		t.Errorf("HeadObject asked for %q, want results/jobs/1.json", asked)
	}
	if !strings.Contains(u.URL, "/results/jobs/1.json?") || !strings.Contains(u.URL, "X-Amz-Signature=") {
		t.Errorf("URL %q is not a presigned GET of results/jobs/1.json", u.URL)
	}
}
