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

// authenticator builds the identity check from the environment: the claims
// an API Gateway authorizer verified when AUTH_TRUST_GATEWAY=true, else
// bearer JWTs verified against the issuer's JWKS.
func authenticator(ctx context.Context, getenv func(string) string, logger *slog.Logger) (status.Authenticator, string, error) {
	userClaim := getenv("JWT_USER_CLAIM")
	if v := getenv("AUTH_TRUST_GATEWAY"); v != "" {
		trust, err := strconv.ParseBool(v)
		if err != nil {
			return nil, "", fmt.Errorf("AUTH_TRUST_GATEWAY=%q: not a boolean", v)
		}
		if trust {
			// API Gateway's JWT authorizer checked the signature, iss and aud;
			// token_use it does not check.
			return auth.NewGateway(gatewayClaims, auth.GatewayOptions{
				UserClaim: userClaim,
				Issuer:    getenv("JWT_ISSUER"),
				TokenUse:  getenv("JWT_TOKEN_USE"),
			}), "gateway", nil
		}
	}
	issuer, audience := getenv("JWT_ISSUER"), getenv("JWT_AUDIENCE")
	switch {
	case issuer == "" && audience == "":
		return nil, "", errNoIdentity
	case issuer == "":
		return nil, "", errors.New("JWT_ISSUER is required with JWT_AUDIENCE")
	case audience == "":
		return nil, "", errors.New("JWT_AUDIENCE is required with JWT_ISSUER")
	}
	var audiences []string
	for a := range strings.SplitSeq(audience, ",") {
		if a = strings.TrimSpace(a); a != "" {
			audiences = append(audiences, a)
		}
	}
	jwksURL := getenv("JWKS_URL")
	if jwksURL == "" {
		jwksURL = strings.TrimSuffix(issuer, "/") + "/.well-known/jwks.json"
	}
	keys, err := auth.RemoteJWKS(ctx, jwksURL, auth.JWKSOptions{Logger: logger})
	if err != nil {
		return nil, "", err
	}
	v, err := auth.NewVerifier(keys, auth.Options{
		Issuer:    issuer,
		Audiences: audiences,
		UserClaim: userClaim,
		TokenUse:  getenv("JWT_TOKEN_USE"),
	})
	if err != nil {
		return nil, "", err
	}
	// Polling clients send the same token every few seconds: verify it once.
	return auth.NewCache(v, auth.CacheOptions{}), "jwt", nil
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
