package fakes

import (
	"sync/atomic"

	"github.com/careervp/vprstatus/auth"
)

// Verifier is an auth.TokenVerifier that hands each token to VerifyFunc and
// counts them: tests use it to see which requests reached a signature check.
type Verifier struct {
	VerifyFunc func(raw string) (auth.Claims, error)
	calls      atomic.Int64
}

var _ auth.TokenVerifier = (*Verifier)(nil)

// Verify counts raw and returns what VerifyFunc says of it.
func (v *Verifier) Verify(raw string) (auth.Claims, error) {
	v.calls.Add(1)
	return v.VerifyFunc(raw)
}

// Calls returns how many tokens have been verified.
func (v *Verifier) Calls() int64 { return v.calls.Load() }
