// Package awsenv builds the service's AWS backends (the DynamoDB job store
// and the S3 result signer) from the environment the deployment sets. Both
// cmd/local (-backend aws) and cmd/lambda call Load once at start-up and
// reuse what it returns for every request.
package awsenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/careervp/vprstatus/awsfault"
	"github.com/careervp/vprstatus/dynamo"
	"github.com/careervp/vprstatus/s3result"
)

// maxAttempts is the SDK retryer's cap; its backoff is capped so that all
// attempts fit in one call's deadline.
const maxAttempts = 3

// Settings is what the service reads from its environment.
type Settings struct {
	JobsTable     string        // JOBS_TABLE_NAME, required
	ResultsBucket string        // VPR_RESULTS_BUCKET_NAME, required
	URLTTL        time.Duration // PRESIGNED_URL_TTL: Go duration ("1h") or seconds ("3600"); default 1h, at most 7 days
	CallTimeout   time.Duration // BACKEND_CALL_TIMEOUT: deadline of each AWS call, retries included; default 2s
	// Region is AWS_REGION. Empty leaves it to the SDK (shared config
	// profile); Load fails if that finds none either.
	Region string
	// Endpoints from AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_S3, each
	// falling back to AWS_ENDPOINT_URL, for local servers. Empty: AWS.
	DynamoDBEndpoint string
	S3Endpoint       string
	// ForcePathStyle is S3_FORCE_PATH_STYLE: path-style S3 URLs, which
	// local S3 servers need.
	ForcePathStyle bool
	// ForbiddenMeansGone is S3_FORBIDDEN_MEANS_GONE: read HeadObject's 403
	// as a missing result (410), for a role without s3:ListBucket. Default
	// false: a 403 is a 500 whose cause is logged (see s3result).
	ForbiddenMeansGone bool
}

// ReadSettings reads and validates Settings through getenv (os.Getenv in
// production). Each error names the variable at fault; all of them are
// returned at once (errors.Join), so that one failed start-up lists every
// setting to fix.
func ReadSettings(getenv func(string) string) (Settings, error) {
	s := Settings{
		JobsTable:     getenv("JOBS_TABLE_NAME"),
		ResultsBucket: getenv("VPR_RESULTS_BUCKET_NAME"),
		Region:        getenv("AWS_REGION"),
		URLTTL:        s3result.DefaultTTL,
		CallTimeout:   awsfault.DefaultCallTimeout,
	}
	var errs []error
	if s.JobsTable == "" {
		errs = append(errs, errors.New("JOBS_TABLE_NAME is required"))
	}
	if s.ResultsBucket == "" {
		errs = append(errs, errors.New("VPR_RESULTS_BUCKET_NAME is required"))
	}
	if v := getenv("PRESIGNED_URL_TTL"); v != "" {
		d, err := duration("PRESIGNED_URL_TTL", v)
		switch {
		case err != nil:
			errs = append(errs, err)
		case d < time.Second || d > s3result.MaxTTL:
			errs = append(errs, fmt.Errorf("PRESIGNED_URL_TTL: %q is outside 1s to 168h", v))
		default:
			s.URLTTL = d
		}
	}
	if v := getenv("BACKEND_CALL_TIMEOUT"); v != "" {
		d, err := duration("BACKEND_CALL_TIMEOUT", v)
		switch {
		case err != nil:
			errs = append(errs, err)
		case d <= 0:
			errs = append(errs, fmt.Errorf("BACKEND_CALL_TIMEOUT: %q is not positive", v))
		default:
			s.CallTimeout = d
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{
		{"S3_FORCE_PATH_STYLE", &s.ForcePathStyle},
		{"S3_FORBIDDEN_MEANS_GONE", &s.ForbiddenMeansGone},
	} {
		if v := getenv(b.name); v != "" {
			var err error
			if *b.dst, err = strconv.ParseBool(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %q is not true or false", b.name, v))
			}
		}
	}
	// The SDK's precedence: the service's own variable, then the general one.
	var badURLs []string
	for _, e := range []struct {
		dst   *string
		names []string
	}{
		{&s.DynamoDBEndpoint, []string{"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL"}},
		{&s.S3Endpoint, []string{"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"}},
	} {
		for _, name := range e.names {
			if v := getenv(name); v != "" {
				if u, err := url.Parse(v); (err != nil || u.Scheme == "" || u.Host == "") && !slices.Contains(badURLs, name) {
					badURLs = append(badURLs, name) // AWS_ENDPOINT_URL serves both: name it once
					errs = append(errs, fmt.Errorf("%s: %q is not an absolute URL", name, v))
				}
				*e.dst = v
				break
			}
		}
	}
	if len(errs) > 0 {
		return Settings{}, errors.Join(errs...)
	}
	return s, nil
}

// duration parses a Go duration, or a bare number of seconds.
func duration(name, v string) (time.Duration, error) {
	if n, err := strconv.ParseInt(v, 10, 32); err == nil { // 32 bits: cannot overflow a Duration
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a duration like 1h, 90s or 3600", name, v)
	}
	return d, nil
}

// Backends are the AWS implementations of the handler's store and signer.
type Backends struct {
	Jobs     *dynamo.JobStore // a status.JobStore
	Results  *s3result.Signer // a status.URLSigner
	Settings Settings         // as read, for a start-up log line
	// The clients under the adapters, for development tools that write
	// (cmd/local -seed); the service itself only reads through the adapters.
	DynamoDB *dynamodb.Client
	S3       *s3.Client
}

// Load reads Settings through getenv, loads the SDK's configuration and
// builds the backends.
//
// getenv supplies this service's variables, AWS_REGION and the
// AWS_ENDPOINT_URL* endpoints (applied explicitly, so a test's getenv is
// honoured). Credentials come from the SDK's default chain, which reads the
// process environment itself (in Lambda: the role's AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN).
func Load(ctx context.Context, getenv func(string) string) (*Backends, error) {
	s, err := ReadSettings(getenv)
	if err != nil {
		return nil, err
	}
	var opts []func(*config.LoadOptions) error
	if s.Region != "" {
		opts = append(opts, config.WithRegion(s.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("AWS_REGION is required")
	}
	return New(cfg, s), nil
}

// New builds the backends from an SDK configuration (credentials, region)
// and Settings, replacing cfg's retryer and HTTP client with this service's.
// Zero durations in s take their defaults.
func New(cfg aws.Config, s Settings) *Backends {
	if s.CallTimeout <= 0 {
		s.CallTimeout = awsfault.DefaultCallTimeout
	}
	if s.URLTTL <= 0 {
		s.URLTTL = s3result.DefaultTTL
	}
	cfg = cfg.Copy()
	// The SDK's retryer is the only retry layer. Capping the backoff keeps
	// maxAttempts inside one call's deadline (default 2s: waits of at most
	// 250ms); a throttled client is told to come back by Retry-After instead.
	maxBackoff := s.CallTimeout / 8
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = maxAttempts
			o.MaxBackoff = maxBackoff
		})
	}
	// Would otherwise wrap the retryer above with AWS_MAX_ATTEMPTS.
	cfg.RetryMaxAttempts = 0
	// A connect that hangs (a black-holed address) must leave time for
	// another attempt; the per-call deadline bounds everything else.
	cfg.HTTPClient = awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
		d.Timeout = s.CallTimeout / maxAttempts
	})

	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if s.DynamoDBEndpoint != "" {
			o.BaseEndpoint = aws.String(s.DynamoDBEndpoint)
		}
	})
	objects := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = s.ForcePathStyle
		if s.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(s.S3Endpoint)
		}
	})
	return &Backends{
		Jobs: dynamo.New(db, s.JobsTable, dynamo.WithCallTimeout(s.CallTimeout)),
		Results: s3result.New(objects, s.ResultsBucket, s3result.WithTTL(s.URLTTL), s3result.WithCallTimeout(s.CallTimeout),
			s3result.WithForbiddenAsGone(s.ForbiddenMeansGone)),
		Settings: s,
		DynamoDB: db,
		S3:       objects,
	}
}
