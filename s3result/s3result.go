// Package s3result hands out presigned GET URLs for VPR result objects in S3.
//
// # Presigning
//
// s3.PresignClient runs the client's whole middleware stack and its endpoint
// rules for every URL, most of the cost of a poll that returns one. Yet for
// one bucket and one client, all that differs from URL to URL is the key,
// the credentials and the time. So New resolves the bucket's endpoint once,
// with the client's own EndpointResolverV2 and the parameters the client
// binds for GetObject, and takes the signing name and region from the
// endpoint's auth scheme. Each URL is then the SDK's own v4.Signer
// PresignHTTP over the endpoint and the key escaped as the SDK's serializer
// escapes it, with the query parameters the SDK adds (x-id=GetObject, and
// X-Amz-Checksum-Mode=ENABLED when the client validates response
// checksums), signed as the S3 client signs (UNSIGNED-PAYLOAD, the path not
// escaped again) with the client's credentials. No cryptography or
// canonicalisation of its own: the result is PresignGetObject's URL, byte
// for byte, which the tests check over keys and configurations.
//
// Where the client's configuration is one this cannot reproduce exactly —
// anonymous credentials, a FIPS pseudo-region, S3 Express, an ARN for a
// bucket, an endpoint with headers or another auth scheme than SigV4, an
// EndpointResolverV2 or AuthSchemeResolver other than the SDK's, middleware
// or interceptors on the client — New decides so once and the Signer presigns through
// s3.PresignClient as before. Signer.Presigner says which, and why, for a
// start-up log line.
package s3result

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/careervp/vprstatus/awsenv/fault"
	"github.com/careervp/vprstatus/status"
)

// HeadObjectAPI is the one S3 call the signer makes over the network;
// *s3.Client implements it.
type HeadObjectAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Defaults.
const (
	DefaultTTL         = time.Hour
	DefaultCallTimeout = 2 * time.Second // HeadObject, retries included
)

// Signer is a status.URLSigner over one bucket.
type Signer struct {
	head    HeadObjectAPI
	creds   aws.CredentialsProvider
	bucket  string
	bucketp *string // &bucket, for every HeadObjectInput
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time

	// Exactly one of fast and sdk is set, by New: fast unless the client's
	// configuration rules it out, for the reason in why, or noFast asks.
	fast   *fastPresigner
	sdk    *s3.PresignClient
	why    string
	noFast bool
}

var _ status.URLSigner = (*Signer)(nil)

// Option tunes a Signer.
type Option func(*Signer)

// WithTTL sets how long a URL is valid (default DefaultTTL).
func WithTTL(d time.Duration) Option {
	return func(s *Signer) {
		if d > 0 {
			s.ttl = d
		}
	}
}

// WithCallTimeout sets the deadline of each HeadObject (default
// DefaultCallTimeout).
func WithCallTimeout(d time.Duration) Option {
	return func(s *Signer) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithClock sets the clock that stamps result_url_expires_at and, when the
// fast path presigns, the signature (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(s *Signer) {
		if now != nil {
			s.now = now
		}
	}
}

// WithHeadObject sets what checks that a result exists (default: the
// client given to New), leaving presigning to that client. Tests and
// benchmarks use it to answer HeadObject without a network while the URL is
// presigned for real.
func WithHeadObject(api HeadObjectAPI) Option {
	return func(s *Signer) {
		if api != nil {
			s.head = api
		}
	}
}

// WithSDKPresigner makes the signer presign every URL through
// s3.PresignClient, as it does when the client's configuration rules out
// the fast path: to compare the two, and a way back should the fast path
// ever be wrong.
func WithSDKPresigner() Option {
	return func(s *Signer) { s.noFast = true }
}

// New returns a signer for objects in bucket. It signs with client's
// credentials provider (an aws.CredentialsCache when built from an
// aws.Config, so reading it per request is cheap), and decides here how it
// presigns (see the package documentation, and Presigner).
func New(client *s3.Client, bucket string, opts ...Option) *Signer {
	s := &Signer{
		head:    client,
		creds:   client.Options().Credentials,
		bucket:  bucket,
		bucketp: aws.String(bucket),
		ttl:     DefaultTTL,
		timeout: DefaultCallTimeout,
		now:     time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	if s.noFast {
		s.why = "WithSDKPresigner"
	} else {
		s.fast, s.why = newFastPresigner(client, bucket, s.ttl)
	}
	if s.fast == nil {
		s.sdk = s3.NewPresignClient(client)
	}
	return s
}

// Presigner names what presigns s's URLs, for a start-up log line: "fast"
// (the endpoint resolved by New and the SDK's v4.Signer), or "sdk"
// (s3.PresignClient, per URL) with the reason New ruled the fast path out.
func (s *Signer) Presigner() (name, reason string) {
	if s.fast != nil {
		return "fast", ""
	}
	return "sdk", s.why
}

// SignResult checks that the object at key exists (presigning checks
// nothing) and returns a URL for it.
func (s *Signer) SignResult(ctx context.Context, key string) (status.SignedURL, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.head.HeadObject(ctx, &s3.HeadObjectInput{Bucket: s.bucketp, Key: aws.String(key)})
	if err != nil {
		if notFound(err) {
			return status.SignedURL{}, fmt.Errorf("%w: s3 %s: %w", status.ErrResultGone, key, err)
		}
		return status.SignedURL{}, fault.Classify(fmt.Errorf("s3: head %s: %w", key, err))
	}

	now := s.now()
	expires := now.Add(s.ttl)
	var creds aws.Credentials
	if s.creds != nil {
		if creds, err = s.creds.Retrieve(ctx); err != nil {
			return status.SignedURL{}, fault.Classify(fmt.Errorf("s3: credentials: %w", err))
		}
		// A presigned URL dies with the temporary credentials that signed it.
		if creds.CanExpire && creds.Expires.Before(expires) {
			expires = creds.Expires
		}
	}
	var u string
	if s.fast != nil {
		u, err = s.fast.presign(ctx, creds, key, now)
	} else {
		u, err = s.presignSDK(ctx, key, creds)
	}
	if err != nil {
		return status.SignedURL{}, fault.Classify(fmt.Errorf("s3: presign %s: %w", key, err))
	}
	return status.SignedURL{URL: u, ExpiresAt: expires}, nil
}

// presignSDK presigns through s3.PresignClient, with creds unless the
// client has none.
func (s *Signer) presignSDK(ctx context.Context, key string, creds aws.Credentials) (string, error) {
	opts := []func(*s3.PresignOptions){s3.WithPresignExpires(s.ttl)}
	if s.creds != nil {
		// Sign with exactly these credentials, so a refresh between their
		// reading and the signature cannot make the reported expiry wrong.
		fixed := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
		opts = append(opts, s3.WithPresignClientFromClientOptions(func(o *s3.Options) { o.Credentials = fixed }))
	}
	req, err := s.sdk.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}, opts...)
	if err != nil {
		return "", err
	}
	return req.URL, nil
}

// notFound reports whether err says the object does not exist. HEAD answers
// have no body, so S3's 404 arrives as code NotFound, not NoSuchKey.
//
// A 403 counts too. The function's role holds s3:GetObject and nothing else
// (least privilege: no s3:ListBucket), and to such a caller S3 answers a
// missing key with 403 rather than 404, so that the caller learns nothing
// about what the bucket holds. The cost: a role that lost its GetObject
// grant also reads as "result gone" (410); the cause is logged with it.
func notFound(err error) bool {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey", "Forbidden", "AccessDenied":
			return true
		}
	}
	var resp interface{ HTTPStatusCode() int }
	return errors.As(err, &resp) && resp.HTTPStatusCode() == http.StatusForbidden
}
