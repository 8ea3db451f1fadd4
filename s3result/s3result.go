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

	"github.com/careervp/vprstatus/awsfault"
	"github.com/careervp/vprstatus/status"
)

// HeadObjectAPI is the one S3 call the signer makes over the network;
// *s3.Client implements it.
type HeadObjectAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Lifetimes of the URLs a Signer hands out.
const (
	DefaultTTL = time.Hour
	// MaxTTL is SigV4's limit on a presigned URL's lifetime.
	MaxTTL = 7 * 24 * time.Hour
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
	// forbiddenGone reads HeadObject's 403 as a missing object.
	forbiddenGone bool

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
// awsfault.DefaultCallTimeout).
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

// WithForbiddenAsGone reads a 403 from HeadObject as a missing result (410),
// for a role that cannot be granted s3:ListBucket: without it, S3 answers a
// missing key with 403. The price is that every other cause of a 403 (a
// bucket, KMS key, VPC endpoint or organisation policy, an expired session,
// clock skew) then also tells users to regenerate their report.
func WithForbiddenAsGone(on bool) Option {
	return func(s *Signer) { s.forbiddenGone = on }
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
		timeout: awsfault.DefaultCallTimeout,
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
		return status.SignedURL{}, s.headError(key, err)
	}

	now := s.now()
	expires := now.Add(s.ttl)
	var creds aws.Credentials
	if s.creds != nil {
		if creds, err = s.creds.Retrieve(ctx); err != nil {
			return status.SignedURL{}, awsfault.Classify(fmt.Errorf("s3: credentials: %w", err))
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
		return status.SignedURL{}, awsfault.Classify(fmt.Errorf("s3: presign %s: %w", key, err))
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

// headError turns HeadObject's failure into the error the handler answers.
//
// Only a 404 means the result is gone (410): the role holds s3:ListBucket,
// so S3 answers a missing key with 404. A 403 is then a fault of the
// deployment, not of the result, and answering it 410 would turn every
// completed job into a paid regeneration: it is a 500, logged at ERROR with
// the likely fixes, unless WithForbiddenAsGone says otherwise.
func (s *Signer) headError(key string, err error) error {
	switch {
	case notFound(err):
		return fmt.Errorf("%w: s3 %s: %w", status.ErrResultGone, key, err)
	case forbidden(err) && s.forbiddenGone:
		return fmt.Errorf("%w: s3 %s: 403, read as missing (S3_FORBIDDEN_MEANS_GONE): %w", status.ErrResultGone, key, err)
	case forbidden(err):
		return fmt.Errorf("s3: head %s in bucket %s: access denied (403). Likely fixes: grant the role s3:ListBucket "+
			"on the bucket (without it S3 answers 403 for a missing key; or set S3_FORBIDDEN_MEANS_GONE=true to read "+
			"that as a missing result); check the bucket policy, the KMS key policy, any VPC endpoint policy and "+
			"organisation SCPs for a deny of s3:GetObject; check that the role's credentials have not expired and "+
			"that the clock is right: %w", key, s.bucket, err)
	}
	return awsfault.Classify(fmt.Errorf("s3: head %s: %w", key, err))
}

// notFound reports whether err says the object does not exist. HEAD answers
// have no body, so S3's 404 arrives as code NotFound, not NoSuchKey.
func notFound(err error) bool {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchKey":
			return true
		}
	}
	return awsfault.StatusCode(err) == http.StatusNotFound
}

// forbidden reports whether S3 refused the request (403).
func forbidden(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "Forbidden", "AccessDenied":
			return true
		}
	}
	return awsfault.StatusCode(err) == http.StatusForbidden
}
