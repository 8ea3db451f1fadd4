package status

import (
	"context"
	"errors"
	"net/http"
)

// Authenticator identifies the caller of a request. Package auth implements
// it with bearer JWTs and with API Gateway's authorizer claims.
type Authenticator interface {
	// Authenticate returns the caller's user id, or an error wrapping
	// ErrNoCredentials or ErrInvalidToken.
	Authenticate(r *http.Request) (userID string, err error)
}

// FastAuthenticator is an Authenticator that can name some callers without
// checking a signature: tokens it has verified before (auth.Cache), or
// claims an upstream authorizer verified (auth.Gateway). Requests it
// recognises skip the per-address limit; the others spend from it before
// Authenticate runs.
type FastAuthenticator interface {
	Authenticator
	// Lookup returns r's caller, if that needs no signature check.
	Lookup(r *http.Request) (userID string, ok bool)
}

// The errors an Authenticator wraps, with detail for the logs. The two
// differ on the wire (RFC 6750): a missing token gets a bare challenge, a bad
// one error="invalid_token".
var (
	ErrNoCredentials = errors.New("no bearer token")
	ErrInvalidToken  = errors.New("invalid bearer token")
)

type userKey struct{}

// withUser returns a context that carries the authenticated caller's user id.
func withUser(ctx context.Context, userID string) context.Context {
	return context.WithValue(ctx, userKey{}, userID)
}

// User returns the authenticated caller's user id, if ctx is the context of
// a request the handler has authenticated.
func User(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(userKey{}).(string)
	return id, ok && id != ""
}
