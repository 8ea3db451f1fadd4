package auth

import (
	"fmt"
	"net/http"

	"github.com/careervp/vprstatus/status"
)

// ClaimsFunc returns the claims an upstream authorizer verified for r, and
// whether there were any.
type ClaimsFunc func(r *http.Request) (map[string]string, bool)

// GatewayOptions says which authorizer claims a Gateway accepts.
type GatewayOptions struct {
	// UserClaim names the claim that holds the user id. Default "sub".
	UserClaim string
	// Issuer, when set, must equal the iss claim. API Gateway's JWT
	// authorizer checks it too; this guards against a misconfigured one.
	Issuer string
	// TokenUse, when set, must equal Cognito's token_use claim: API
	// Gateway's JWT authorizer accepts id and access tokens alike.
	TokenUse string
}

// Gateway authenticates requests whose token an API Gateway authorizer has
// already verified, reading the user id from the claims it passed along.
// Use it only where every request comes through that authorizer: the
// signature is not checked again.
type Gateway struct {
	claims ClaimsFunc
	opts   GatewayOptions
}

// NewGateway returns a Gateway reading claims with fn.
func NewGateway(fn ClaimsFunc, opts GatewayOptions) *Gateway {
	if opts.UserClaim == "" {
		opts.UserClaim = "sub"
	}
	return &Gateway{claims: fn, opts: opts}
}

// Authenticate returns the user id from the authorizer's claims.
func (g *Gateway) Authenticate(r *http.Request) (string, error) {
	claims, ok := g.claims(r)
	if !ok {
		return "", fmt.Errorf("%w: no authorizer claims", status.ErrNoCredentials)
	}
	return g.user(claims)
}

// Lookup returns the user id from the authorizer's claims, if they hold an
// acceptable one: there is no signature to check here, so every request
// with claims is "fast" (see status.FastAuthenticator).
func (g *Gateway) Lookup(r *http.Request) (string, bool) {
	claims, ok := g.claims(r)
	if !ok {
		return "", false
	}
	user, err := g.user(claims)
	return user, err == nil
}

func (g *Gateway) user(claims map[string]string) (string, error) {
	if g.opts.Issuer != "" && claims["iss"] != g.opts.Issuer {
		return "", fmt.Errorf("%w: authorizer claims from issuer %q", status.ErrInvalidToken, claims["iss"])
	}
	if g.opts.TokenUse != "" && claims["token_use"] != g.opts.TokenUse {
		return "", fmt.Errorf("%w: token_use %q not accepted", status.ErrInvalidToken, claims["token_use"])
	}
	user := claims[g.opts.UserClaim]
	if user == "" {
		return "", fmt.Errorf("%w: authorizer claims lack %q", status.ErrInvalidToken, g.opts.UserClaim)
	}
	return user, nil
}
