package auth

import (
	"fmt"
	"net/http"
)

// ClaimsFunc returns the claims an upstream authorizer verified for r, and
// whether there were any.
type ClaimsFunc func(r *http.Request) (map[string]string, bool)

// Gateway authenticates requests whose token an API Gateway authorizer has
// already verified, reading the user id from the claims it passed along.
// Use it only where every request comes through that authorizer: the claims
// are taken as they are.
type Gateway struct {
	claims    ClaimsFunc
	userClaim string
}

// NewGateway returns a Gateway reading claims with fn; the user id is the
// userClaim claim ("sub" when empty).
func NewGateway(fn ClaimsFunc, userClaim string) *Gateway {
	if userClaim == "" {
		userClaim = "sub"
	}
	return &Gateway{claims: fn, userClaim: userClaim}
}

// Authenticate returns the user id from the authorizer's claims.
func (g *Gateway) Authenticate(r *http.Request) (string, error) {
	claims, ok := g.claims(r)
	if !ok {
		return "", fmt.Errorf("%w: no authorizer claims", ErrNoCredentials)
	}
	user := claims[g.userClaim]
	if user == "" {
		return "", fmt.Errorf("%w: authorizer claims lack %q", ErrInvalidToken, g.userClaim)
	}
	return user, nil
}
