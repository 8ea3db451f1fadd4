// Package awsenv builds the service's AWS backends (the DynamoDB job store
// and the S3 result signer) from the environment the deployment sets, and
// sizes the garbage collector for the function's memory (TuneGC).
// cmd/lambda calls Load once at start-up and reuses what it returns for
// every request; cmd/local (-backend aws) loads the SDK's default
// configuration itself and calls New.
//
// This package does not import the SDK's config loader: whatever a binary
// links has its packages initialised on every cold start, used or not, and
// the loader's credential sources (STS, SSO, sign-in) are a large share of
// that, which a Lambda function never needs.
package awsenv

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/logging"

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
	// Region is AWS_REGION, which Load requires. cmd/local leaves an
	// empty one to the SDK's default chain (a shared config profile).
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
	// UseFIPS and UseDualStack are the SDK's AWS_USE_FIPS_ENDPOINT and
	// AWS_USE_DUALSTACK_ENDPOINT: FIPS 140 or IPv6-capable endpoints for
	// both services. Read here, so that Load honours them as the SDK's
	// config loader would.
	UseFIPS      bool
	UseDualStack bool
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
		{"AWS_USE_FIPS_ENDPOINT", &s.UseFIPS},
		{"AWS_USE_DUALSTACK_ENDPOINT", &s.UseDualStack},
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

// Load reads Settings, the region and the credentials through getenv (in
// Lambda: os.Getenv) and builds the backends. It reads no file and makes no
// network call.
//
// The credentials are the ones AWS Lambda gives a function's role in its
// environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN (and AWS_ACCOUNT_ID, if set), which is where the SDK's
// default chain finds them in Lambda too; Load refuses to start without
// them. The chain's other sources (shared config and credentials files,
// profiles, SSO, web identity, container and instance credentials) are for
// development machines: cmd/local's.
func Load(getenv func(string) string) (*Backends, error) {
	// Every fault at once: the settings', the region's, the credentials'.
	s, settingsErr := ReadSettings(getenv)
	var regionErr error
	if getenv("AWS_REGION") == "" {
		regionErr = errors.New("AWS_REGION is required")
	}
	creds, credsErr := envCredentials(getenv)
	if err := errors.Join(settingsErr, regionErr, credsErr); err != nil {
		return nil, err
	}
	return New(aws.Config{
		Region:      s.Region,
		Credentials: creds,
		// What config.LoadDefaultConfig sets when nothing configures them,
		// so that the clients behave as they did when loaded that way (the
		// tests compare the two).
		Logger:                     logging.NewStandardLogger(os.Stderr),
		DefaultsMode:               aws.DefaultsModeLegacy,
		AccountIDEndpointMode:      aws.AccountIDEndpointModePreferred,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
	}, s), nil
}

// envCredentials returns the credentials in the environment, in a cache as
// the SDK's default chain returns its own (s3result reads them per request).
func envCredentials(getenv func(string) string) (aws.CredentialsProvider, error) {
	creds := aws.Credentials{
		AccessKeyID:     getenv("AWS_ACCESS_KEY_ID"),
		SecretAccessKey: getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken:    getenv("AWS_SESSION_TOKEN"),
		AccountID:       getenv("AWS_ACCOUNT_ID"),
		Source:          "EnvConfigCredentials", // the default chain's name for them
	}
	if !creds.HasKeys() {
		return nil, errors.New("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required (in Lambda, the function role's credentials)")
	}
	return aws.NewCredentialsCache(credentials.StaticCredentialsProvider{
		Value:  creds,
		Source: []aws.CredentialSource{aws.CredentialSourceEnvVars},
	}), nil
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
		endpointOptions(s, &o.EndpointOptions.UseFIPSEndpoint, &o.EndpointOptions.UseDualStackEndpoint)
	})
	objects := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = s.ForcePathStyle
		if s.S3Endpoint != "" {
			o.BaseEndpoint = aws.String(s.S3Endpoint)
		}
		endpointOptions(s, &o.EndpointOptions.UseFIPSEndpoint, &o.EndpointOptions.UseDualStackEndpoint)
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

// endpointOptions turns FIPS and dual-stack endpoints on where s asks for
// them, and otherwise leaves what the configuration's sources said.
func endpointOptions(s Settings, fips *aws.FIPSEndpointState, dualStack *aws.DualStackEndpointState) {
	if s.UseFIPS {
		*fips = aws.FIPSEndpointStateEnabled
	}
	if s.UseDualStack {
		*dualStack = aws.DualStackEndpointStateEnabled
	}
}
