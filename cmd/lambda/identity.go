package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/akrylysov/algnhsa"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/status"
)

// errNoIdentity stops start-up: a function that cannot tell callers apart
// must not serve anyone's jobs.
var errNoIdentity = errors.New("no identity configured: set JWT_ISSUER and JWT_AUDIENCE (verify bearer tokens), or AUTH_TRUST_GATEWAY=true (trust the API Gateway authorizer's claims)")

// identity is how the function tells callers apart, as its environment
// configures it: the claims an API Gateway authorizer verified when
// AUTH_TRUST_GATEWAY=true, else bearer JWTs verified against the issuer's
// JWKS.
type identity struct {
	mode      string // "gateway" or "jwt"
	userClaim string
	issuer    string
	audiences []string
	jwksURL   string
	tokenUse  string
}

// readIdentity reads the identity settings, checking them without any
// network call. The error names every setting at fault.
func readIdentity(getenv func(string) string) (identity, error) {
	id := identity{userClaim: getenv("JWT_USER_CLAIM"), issuer: getenv("JWT_ISSUER"), tokenUse: getenv("JWT_TOKEN_USE")}
	if v := getenv("AUTH_TRUST_GATEWAY"); v != "" {
		trust, err := strconv.ParseBool(v)
		if err != nil {
			return identity{}, fmt.Errorf("AUTH_TRUST_GATEWAY=%q: not a boolean", v)
		}
		if trust {
			id.mode = "gateway"
			return id, nil
		}
	}
	audience := getenv("JWT_AUDIENCE")
	switch {
	case id.issuer == "" && audience == "":
		return identity{}, errNoIdentity
	case id.issuer == "":
		return identity{}, errors.New("JWT_ISSUER is required with JWT_AUDIENCE")
	case audience == "":
		return identity{}, errors.New("JWT_AUDIENCE is required with JWT_ISSUER")
	}
	for a := range strings.SplitSeq(audience, ",") {
		if a = strings.TrimSpace(a); a != "" {
			id.audiences = append(id.audiences, a)
		}
	}
	id.mode = "jwt"
	id.jwksURL = getenv("JWKS_URL")
	if id.jwksURL == "" {
		id.jwksURL = strings.TrimSuffix(id.issuer, "/") + "/.well-known/jwks.json"
	}
	return id, nil
}

// authenticator builds the identity check. In JWT mode that fetches the
// JWKS, whose failure stops start-up.
func (id identity) authenticator(ctx context.Context, logger *slog.Logger) (status.Authenticator, error) {
	if id.mode == "gateway" {
		// API Gateway's JWT authorizer checked the signature, iss and aud;
		// token_use it does not check.
		return auth.NewGateway(gatewayClaims, auth.GatewayOptions{
			UserClaim: id.userClaim,
			Issuer:    id.issuer,
			TokenUse:  id.tokenUse,
		}), nil
	}
	keys, err := auth.RemoteJWKS(ctx, id.jwksURL, auth.JWKSOptions{Logger: logger})
	if err != nil {
		return nil, err
	}
	v, err := auth.NewVerifier(keys, auth.Options{
		Issuer:    id.issuer,
		Audiences: id.audiences,
		UserClaim: id.userClaim,
		TokenUse:  id.tokenUse,
	})
	if err != nil {
		return nil, err
	}
	// Polling clients send the same token every few seconds: verify it once.
	return auth.NewCache(v, auth.CacheOptions{}), nil
}

// gatewayClaims returns the claims API Gateway's authorizer put in the event:
// requestContext.authorizer.jwt.claims for HTTP APIs (payload 2.0),
// requestContext.authorizer.claims for REST API Cognito authorizers (1.0).
// Function URL events carry none.
func gatewayClaims(r *http.Request) (map[string]string, bool) {
	if ev, ok := algnhsa.APIGatewayV2RequestFromContext(r.Context()); ok {
		a := ev.RequestContext.Authorizer
		if a == nil || a.JWT == nil || len(a.JWT.Claims) == 0 {
			return nil, false
		}
		return a.JWT.Claims, true
	}
	if ev, ok := algnhsa.APIGatewayV1RequestFromContext(r.Context()); ok {
		raw, _ := ev.RequestContext.Authorizer["claims"].(map[string]any)
		if len(raw) == 0 {
			return nil, false
		}
		claims := make(map[string]string, len(raw))
		for k, v := range raw {
			if s, ok := v.(string); ok {
				claims[k] = s
			}
		}
		return claims, true
	}
	return nil, false
}
