package s3result

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyauth "github.com/aws/smithy-go/auth"
	"github.com/aws/smithy-go/encoding/httpbinding"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// fastPresigner presigns GetObject URLs of one bucket as s3.PresignClient
// does, byte for byte, from what the client's stack would compute the same
// for every key, worked out once by newFastPresigner.
type fastPresigner struct {
	signer *v4.Signer
	scheme string
	host   string
	// path and rawPath are what the key is appended to, as it is and
	// escaped: the endpoint's path joined as the SDK joins it.
	path, rawPath string
	// query holds the parameters the SDK adds before signing: X-Amz-Expires,
	// x-id and, if the client validates response checksums,
	// X-Amz-Checksum-Mode.
	query string
	// signingName and signingRegion are those of the endpoint's auth scheme.
	signingName, signingRegion string
	// reqs recycles the requests handed to the signer, which clones what it
	// is given and leaves it as it was.
	reqs sync.Pool
}

// errEmptyKey is what the SDK's serializer refuses an empty key with.
var errEmptyKey = errors.New("input member Key must not be empty")

// presign returns the URL of a GET of key signed with creds at t.
func (p *fastPresigner) presign(ctx context.Context, creds aws.Credentials, key string, t time.Time) (string, error) {
	if key == "" {
		return "", errEmptyKey
	}
	// The request as the SDK's serializer and endpoint middleware leave it:
	// the key in Path as it is, and in RawPath escaped per segment (both
	// cut from one string, one allocation). The signer needs no context or
	// headers.
	both := p.path + key + p.rawPath + escapePath(key)
	n := len(p.path) + len(key)
	req, _ := p.reqs.Get().(*http.Request)
	if req == nil {
		req = &http.Request{Method: http.MethodGet, URL: &url.URL{Scheme: p.scheme, Host: p.host, RawQuery: p.query}}
	}
	req.URL.Path, req.URL.RawPath = both[:n], both[n:]
	u, _, err := p.signer.PresignHTTP(ctx, creds, req, "UNSIGNED-PAYLOAD", p.signingName, p.signingRegion, t)
	p.reqs.Put(req)
	return u, err
}

// newFastPresigner works out, for client and bucket, the endpoint, the
// signing name and region, and the query parameters that s3.PresignClient
// derives anew for every GetObject, valid for ttl. Where the client's
// configuration is one the fast path cannot reproduce exactly, it returns
// nil and why.
func newFastPresigner(client *s3.Client, bucket string, ttl time.Duration) (*fastPresigner, string) {
	o := client.Options()
	if o.Credentials == nil || aws.IsCredentialsProvider(o.Credentials, (*aws.AnonymousCredentials)(nil)) {
		// The SDK then picks no auth, for which it has no presigner: it
		// refuses every URL, and so does the fallback.
		return nil, "anonymous credentials"
	}
	// What could change a request in ways this file cannot see into: the
	// client's own middleware and interceptors, a v1 endpoint resolver, a
	// resolver other than the SDK's rules (which might read the key, which
	// is bound to the endpoint parameters too), or another choice of auth
	// scheme.
	if len(o.APIOptions) > 0 {
		return nil, "the client has API options (middleware)"
	}
	if hasInterceptors(o.Interceptors) {
		return nil, "the client has interceptors"
	}
	//lint:ignore SA1019 a client may still set it: the fast path must see it to refuse it.
	if o.EndpointResolver != nil {
		return nil, "the client has a v1 EndpointResolver"
	}
	if reflect.TypeOf(o.EndpointResolverV2) != reflect.TypeOf(s3.NewDefaultEndpointResolverV2()) {
		return nil, fmt.Sprintf("the client's EndpointResolverV2 (%T) is not the SDK's", o.EndpointResolverV2)
	}
	// The SDK's auth scheme resolvers are of unexported types of package
	// s3, which nothing else can define.
	if t := reflect.TypeOf(o.AuthSchemeResolver); t == nil || t.Kind() != reflect.Pointer ||
		t.Elem().PkgPath() != reflect.TypeFor[s3.Options]().PkgPath() {
		return nil, fmt.Sprintf("the client's AuthSchemeResolver (%T) is not the SDK's", o.AuthSchemeResolver)
	}
	if len(o.AuthSchemePreference) > 0 {
		return nil, "the client has an auth scheme preference"
	}
	if !signsSigV4(o) {
		return nil, "the client has no SigV4 auth scheme with an identity"
	}
	if o.EndpointOptions.DisableHTTPS {
		return nil, "DisableHTTPS"
	}
	// A FIPS pseudo-region ("fips-us-gov-west-1", "us-east-1-fips") is one
	// the SDK rewrites before it binds it; anything but one plain DNS label
	// is one it may refuse.
	if strings.Contains(o.Region, "fips") || o.EndpointOptions.ResolvedRegion != "" {
		return nil, fmt.Sprintf("FIPS pseudo-region %q", o.Region)
	}
	if !smithyhttp.ValidHostLabel(o.Region) || strings.HasPrefix(o.Region, "-") || strings.HasSuffix(o.Region, "-") {
		return nil, fmt.Sprintf("region %q is not a plain region name", o.Region)
	}
	if strings.HasPrefix(bucket, "arn:") {
		return nil, "the bucket is an ARN"
	}

	// The parameters the client binds for GetObject (bindEndpointParams in
	// the s3 package), after its per-operation finalising of the endpoint
	// options, but for the key: the SDK's rules do not read it.
	//lint:ignore SA1019 the SDK still honours the deprecated switch; so must the fast path.
	legacyDualStack := o.UseDualstack
	dualStack := o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateEnabled ||
		o.EndpointOptions.UseDualStackEndpoint == aws.DualStackEndpointStateUnset && legacyDualStack
	ep, err := o.EndpointResolverV2.ResolveEndpoint(context.Background(), s3.EndpointParameters{
		Bucket:                         aws.String(bucket),
		Region:                         aws.String(o.Region),
		UseFIPS:                        aws.Bool(o.EndpointOptions.UseFIPSEndpoint == aws.FIPSEndpointStateEnabled),
		UseDualStack:                   aws.Bool(dualStack),
		Endpoint:                       o.BaseEndpoint,
		ForcePathStyle:                 aws.Bool(o.UsePathStyle),
		Accelerate:                     aws.Bool(o.UseAccelerate),
		DisableMultiRegionAccessPoints: aws.Bool(o.DisableMultiRegionAccessPoints),
		UseArnRegion:                   aws.Bool(o.UseARNRegion),
		DisableS3ExpressSessionAuth:    o.DisableS3ExpressSessionAuth,
	})
	if err != nil {
		return nil, fmt.Sprintf("resolving the endpoint: %v", err)
	}
	if len(ep.Headers) > 0 {
		return nil, "the endpoint sets headers"
	}
	if b := ep.Properties.Get("backend"); b != nil {
		return nil, fmt.Sprintf("the endpoint is for the %v backend", b)
	}
	opts, _ := smithyauth.GetAuthOptions(&ep.Properties)
	if len(ep.Properties.Values()) != 1 || len(opts) != 1 {
		return nil, "the endpoint has properties other than one auth scheme"
	}
	if id := opts[0].SchemeID; id != "sigv4" && id != smithyauth.SchemeIDSigV4 {
		return nil, fmt.Sprintf("the endpoint's auth scheme is %s", id)
	}
	name, okName := smithyhttp.GetSigV4SigningName(&opts[0].SignerProperties)
	region, okRegion := smithyhttp.GetSigV4SigningRegion(&opts[0].SignerProperties)
	if !okName || !okRegion || name == "" || region == "" {
		return nil, "the endpoint's auth scheme has no signing name or region"
	}

	// As the endpoint middleware joins the endpoint's path to the request's
	// "/{Key+}": for a key k (never empty) JoinPath(base, "/"+k) is
	// JoinPath(base, "/k") up to its final "k", then k.
	rawBase := ep.URI.RawPath
	if rawBase == "" {
		rawBase = ep.URI.Path
	}
	prefix := func(base string) string { return strings.TrimSuffix(smithyhttp.JoinPath(base, "/k"), "k") }

	q := url.Values{
		"X-Amz-Expires": {strconv.FormatInt(int64(ttl/time.Second), 10)},
		"x-id":          {"GetObject"},
	}
	if o.ResponseChecksumValidation == aws.ResponseChecksumValidationWhenSupported {
		q.Set("X-Amz-Checksum-Mode", "ENABLED")
	}
	return &fastPresigner{
		// As the S3 client configures its presigner: S3 signs the path as
		// sent, so escaping the escaped path again would break every key
		// with a character outside A-Za-z0-9-._~/.
		signer:        v4.NewSigner(func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true }),
		scheme:        ep.URI.Scheme,
		host:          ep.URI.Host,
		path:          prefix(ep.URI.Path),
		rawPath:       prefix(rawBase),
		query:         q.Encode(),
		signingName:   name,
		signingRegion: region,
	}, ""
}

// hasInterceptors reports whether r holds any interceptor, of any kind.
func hasInterceptors(r smithyhttp.InterceptorRegistry) bool {
	v := reflect.ValueOf(r)
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Slice && f.Len() > 0 {
			return true
		}
	}
	return false
}

// signsSigV4 reports whether the client would pick SigV4 for an endpoint
// that asks for it: whether a registered auth scheme matches "sigv4" as the
// client matches scheme IDs, and has an identity to sign with.
func signsSigV4(o s3.Options) bool {
	for _, s := range o.AuthSchemes {
		id := s.SchemeID()
		if (id == "sigv4" || strings.HasSuffix(id, "#sigv4")) && s.IdentityResolver(o) != nil {
			return true
		}
	}
	return false
}

// escapePath is httpbinding.EscapePath(key, false), as the SDK's serializer
// escapes a key, without its buffer for the keys this service writes:
// EscapePath leaves A-Z, a-z, 0-9, "-", ".", "_", "~" and "/" as they are.
func escapePath(key string) string {
	for i := 0; i < len(key); i++ {
		switch c := key[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9',
			c == '-', c == '.', c == '_', c == '~', c == '/':
		default:
			return httpbinding.EscapePath(key, false)
		}
	}
	return key
}
