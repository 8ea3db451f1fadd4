// Package auth decides who is calling: it verifies bearer JWTs (JWKS or a
// development HMAC secret) or, behind API Gateway, trusts the claims an
// authorizer has already verified. It hands the caller's user id to the rest
// of the service through the request context.
package auth

import (
	"context"
	"errors"
)

// Errors every authenticator returns, wrapped with detail for the logs. The
// two differ on the wire (RFC 6750): a missing token gets a bare challenge,
// a bad one error="invalid_token".
var (
	ErrNoCredentials = errors.New("no bearer token")
	ErrInvalidToken  = errors.New("invalid bearer token")
)

type userKey struct{}

// WithUser returns a context that carries the authenticated caller's user id.
func WithUser(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, userKey{}, userID)
}

// User returns the authenticated caller's user id, if ctx carries one.
func User(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(userKey{}).(string)
	return id, ok && id != ""
}
