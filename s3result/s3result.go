// Package s3result hands out presigned GET URLs for VPR result objects in S3.
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
	presign *s3.PresignClient
	creds   aws.CredentialsProvider
	bucket  string
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time
	// forbiddenGone reads HeadObject's 403 as a missing object.
	forbiddenGone bool
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

// WithClock sets the clock that stamps result_url_expires_at (default
// time.Now).
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

// New returns a signer for objects in bucket. It signs with client's
// credentials provider (an aws.CredentialsCache when built from an
// aws.Config, so reading it per request is cheap).
func New(client *s3.Client, bucket string, opts ...Option) *Signer {
	s := &Signer{
		head:    client,
		presign: s3.NewPresignClient(client),
		creds:   client.Options().Credentials,
		bucket:  bucket,
		ttl:     DefaultTTL,
		timeout: awsfault.DefaultCallTimeout,
		now:     time.Now,
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// SignResult checks that the object at key exists (presigning checks
// nothing) and returns a URL for it.
func (s *Signer) SignResult(ctx context.Context, key string) (status.SignedURL, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.head.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return status.SignedURL{}, s.headError(key, err)
	}

	expires := s.now().Add(s.ttl)
	presignOpts := []func(*s3.PresignOptions){s3.WithPresignExpires(s.ttl)}
	if s.creds != nil {
		creds, err := s.creds.Retrieve(ctx)
		if err != nil {
			return status.SignedURL{}, awsfault.Classify(fmt.Errorf("s3: credentials: %w", err))
		}
		// A presigned URL dies with the temporary credentials that signed it.
		if creds.CanExpire && creds.Expires.Before(expires) {
			expires = creds.Expires
		}
		// Sign with exactly these credentials, so a refresh between here and
		// the signature cannot make the reported expiry wrong.
		fixed := aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil })
		presignOpts = append(presignOpts, s3.WithPresignClientFromClientOptions(func(o *s3.Options) { o.Credentials = fixed }))
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)}, presignOpts...)
	if err != nil {
		return status.SignedURL{}, awsfault.Classify(fmt.Errorf("s3: presign %s: %w", key, err))
	}
	return status.SignedURL{URL: req.URL, ExpiresAt: expires}, nil
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
	return httpStatus(err) == http.StatusNotFound
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
	return httpStatus(err) == http.StatusForbidden
}

// httpStatus is the status code of the answer err came with, or 0.
func httpStatus(err error) int {
	var resp interface{ HTTPStatusCode() int }
	if errors.As(err, &resp) {
		return resp.HTTPStatusCode()
	}
	return 0
}
