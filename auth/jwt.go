// Package auth decides who is calling: it verifies bearer JWTs (JWKS or a
// development HMAC secret) or, behind API Gateway, trusts the claims an
// authorizer has already verified. Its types implement status.Authenticator
// and wrap status's credential errors, like the other adapters implement the
// interfaces status consumes.
package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/careervp/vprstatus/status"
)

// MaxHeaderBytes bounds the Authorization header. JWT claims are decoded
// before the signature is checked, so a larger header is refused unparsed.
// Cognito tokens are 1–2 KiB.
const MaxHeaderBytes = 4 << 10

// Keys is where verification keys come from, with the algorithms allowed
// for them: one algorithm family per key source (RFC 8725).
type Keys struct {
	keyfunc jwt.Keyfunc
	methods []string
}

// jwksMethods are the algorithms accepted with keys from a JWKS.
var jwksMethods = []string{"RS256", "ES256"}

// JWKSOptions tunes how a remote key set is fetched.
type JWKSOptions struct {
	// Client fetches the set; http.DefaultClient's transport when nil.
	Client *http.Client
	// HTTPTimeout bounds one fetch. Default 5s.
	HTTPTimeout time.Duration
	// RefreshInterval is how often the set is fetched in the background.
	// Default 1h.
	RefreshInterval time.Duration
	// UnknownKIDRefresh is the least time between refreshes triggered by a
	// token whose kid is not in the set (a key rotation). Default 5m.
	UnknownKIDRefresh time.Duration
	// RefreshWaitMax bounds how long a request waits for such a refresh.
	// Default 2s: a request must answer well inside the Lambda timeout.
	RefreshWaitMax time.Duration
	// Logger gets failed background refreshes; slog.Default() when nil.
	Logger *slog.Logger
}

// RemoteJWKS returns keys from the JSON Web Key Set at url (Cognito:
// <issuer>/.well-known/jwks.json), refreshed in the background until ctx ends,
// and on an unknown kid at a limited rate. The first fetch happens now; its
// failure is returned, since a service that cannot verify anyone should not
// start.
func RemoteJWKS(ctx context.Context, url string, opts JWKSOptions) (Keys, error) {
	if opts.HTTPTimeout <= 0 {
		opts.HTTPTimeout = 5 * time.Second
	}
	if opts.RefreshInterval <= 0 {
		opts.RefreshInterval = time.Hour
	}
	if opts.UnknownKIDRefresh <= 0 {
		opts.UnknownKIDRefresh = 5 * time.Minute
	}
	if opts.RefreshWaitMax <= 0 {
		opts.RefreshWaitMax = 2 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	failFirst := false
	kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{url}, keyfunc.Override{
		RefreshErrorHandlerFunc: func(u string) func(context.Context, error) {
			return func(ctx context.Context, err error) {
				opts.Logger.WarnContext(ctx, "jwks refresh failed; keeping the keys held", "url", u, "err", err)
			}
		},
		Client:                    opts.Client,
		HTTPTimeout:               opts.HTTPTimeout,
		NoErrorReturnFirstHTTPReq: &failFirst,
		RateLimitWaitMax:          opts.RefreshWaitMax,
		RefreshInterval:           opts.RefreshInterval,
		RefreshUnknownKID:         rate.NewLimiter(rate.Every(opts.UnknownKIDRefresh), 1),
	})
	if err != nil {
		return Keys{}, fmt.Errorf("jwks %s: %w", url, err)
	}
	return Keys{keyfunc: kf.Keyfunc, methods: jwksMethods}, nil
}

// StaticJWKS returns keys from a JSON Web Key Set held in memory.
func StaticJWKS(set []byte) (Keys, error) {
	kf, err := keyfunc.NewJWKSetJSON(json.RawMessage(set))
	if err != nil {
		return Keys{}, fmt.Errorf("jwks: %w", err)
	}
	return Keys{keyfunc: kf.Keyfunc, methods: jwksMethods}, nil
}

// HMACSecret returns an HS256 key, for development only: anyone holding the
// secret can mint tokens.
func HMACSecret(secret []byte) (Keys, error) {
	if len(secret) < 32 {
		return Keys{}, errors.New("hmac secret: need at least 32 bytes")
	}
	key := slices.Clone(secret)
	return Keys{
		keyfunc: func(*jwt.Token) (any, error) { return key, nil },
		methods: []string{"HS256"},
	}, nil
}

// Options says which tokens a Verifier accepts.
type Options struct {
	// Issuer must equal the token's iss. Required.
	Issuer string
	// Audiences: the token's aud, or Cognito's client_id (access tokens carry
	// no aud), must be one of these. At least one is required.
	Audiences []string
	// UserClaim names the claim that holds the user id. Default "sub".
	UserClaim string
	// TokenUse, when set, must equal Cognito's token_use claim ("id" or "access").
	TokenUse string
	// Leeway absorbs clock skew in exp/nbf/iat checks. Default 30s.
	Leeway time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Verifier authenticates requests carrying a bearer JWT.
type Verifier struct {
	parser *jwt.Parser
	keys   Keys
	opts   Options
}

// NewVerifier returns a Verifier of tokens signed with keys.
func NewVerifier(keys Keys, opts Options) (*Verifier, error) {
	if keys.keyfunc == nil {
		return nil, errors.New("auth: no keys")
	}
	if opts.Issuer == "" {
		return nil, errors.New("auth: issuer is required")
	}
	if len(opts.Audiences) == 0 || slices.Contains(opts.Audiences, "") {
		return nil, errors.New("auth: at least one non-empty audience is required")
	}
	if opts.UserClaim == "" {
		opts.UserClaim = "sub"
	}
	if opts.Leeway <= 0 {
		opts.Leeway = 30 * time.Second
	}
	popts := []jwt.ParserOption{
		jwt.WithValidMethods(keys.methods),
		jwt.WithIssuer(opts.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(opts.Leeway),
	}
	if opts.Now != nil {
		popts = append(popts, jwt.WithTimeFunc(opts.Now))
	}
	return &Verifier{parser: jwt.NewParser(popts...), keys: keys, opts: opts}, nil
}

// Claims is what a verified token says of its bearer.
type Claims struct {
	UserID    string
	ExpiresAt time.Time
}

// Authenticate returns the user id of the request's bearer token.
func (v *Verifier) Authenticate(r *http.Request) (string, error) { return bearerUser(r, v) }

// bearerUser returns the user id of r's bearer token as tv verifies it.
func bearerUser(r *http.Request, tv TokenVerifier) (string, error) {
	tok, err := BearerToken(r)
	if err != nil {
		return "", err
	}
	c, err := tv.Verify(tok)
	if err != nil {
		return "", err
	}
	return c.UserID, nil
}

// Verify checks a raw token's signature and claims. Every failure wraps
// status.ErrInvalidToken.
func (v *Verifier) Verify(raw string) (Claims, error) {
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, v.keyfunc)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", status.ErrInvalidToken, err)
	}
	if !v.audienceOK(claims) {
		return Claims{}, fmt.Errorf("%w: audience not accepted", status.ErrInvalidToken)
	}
	if v.opts.TokenUse != "" {
		if use, _ := claims["token_use"].(string); use != v.opts.TokenUse {
			return Claims{}, fmt.Errorf("%w: token_use %q not accepted", status.ErrInvalidToken, use)
		}
	}
	user, _ := claims[v.opts.UserClaim].(string)
	if user == "" {
		return Claims{}, fmt.Errorf("%w: no %q claim", status.ErrInvalidToken, v.opts.UserClaim)
	}
	exp, err := claims.GetExpirationTime()
	if err != nil || exp == nil {
		return Claims{}, fmt.Errorf("%w: bad exp", status.ErrInvalidToken)
	}
	return Claims{UserID: user, ExpiresAt: exp.Time}, nil
}

// keyfunc refuses what golang-jwt would otherwise let through unexamined:
// a crit header names extensions this service does not understand (RFC 7515
// §4.1.11), so such a token must be rejected.
func (v *Verifier) keyfunc(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errors.New("crit header not supported")
	}
	return v.keys.keyfunc(t)
}

func (v *Verifier) audienceOK(claims jwt.MapClaims) bool {
	aud, err := claims.GetAudience()
	if err != nil {
		return false
	}
	for _, a := range aud {
		if slices.Contains(v.opts.Audiences, a) {
			return true
		}
	}
	if len(aud) == 0 {
		cid, _ := claims["client_id"].(string)
		return cid != "" && slices.Contains(v.opts.Audiences, cid)
	}
	return false
}

// BearerToken returns the token of the request's Authorization header. A
// missing header wraps status.ErrNoCredentials; anything malformed or larger than
// MaxHeaderBytes wraps status.ErrInvalidToken.
func BearerToken(r *http.Request) (string, error) {
	vals := r.Header.Values("Authorization")
	switch len(vals) {
	case 0:
		return "", status.ErrNoCredentials
	case 1:
	default:
		return "", fmt.Errorf("%w: more than one Authorization header", status.ErrInvalidToken)
	}
	h := vals[0]
	if len(h) > MaxHeaderBytes {
		return "", fmt.Errorf("%w: Authorization header over %d bytes", status.ErrInvalidToken, MaxHeaderBytes)
	}
	scheme, tok, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		// Another scheme (Basic, say) is no bearer credential at all: RFC 6750
		// §3.1 wants a bare challenge then, without an error code.
		return "", fmt.Errorf("%w: %q is not the Bearer scheme", status.ErrNoCredentials, scheme)
	}
	tok = strings.TrimSpace(tok)
	if tok == "" || strings.Count(tok, ".") != 2 {
		return "", fmt.Errorf("%w: not a JWT", status.ErrInvalidToken)
	}
	return tok, nil
}
