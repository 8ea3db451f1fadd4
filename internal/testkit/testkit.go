// Package testkit holds what the tests of several packages share: a log
// buffer safe for concurrent use, a token issuer whose keys are made once,
// and Lambda events shaped as API Gateway and function URLs send them, with
// the proxy response the function answers. Only tests import it.
package testkit

import (
	"bytes"
	"sync"
	"testing"
	"time"

	"github.com/careervp/vprstatus/fakes"
)

// Buffer is a bytes.Buffer safe for a logger's concurrent writes and a
// test's reads.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what has been written so far.
func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// sharedIssuer holds keys made once per test binary: a 2048-bit RSA key
// takes long enough to matter when every test wants an issuer.
var sharedIssuer = sync.OnceValues(func() (*fakes.Issuer, error) { return fakes.NewIssuer("", "") })

// Issuer returns an issuer of tokens for iss and aud, stamped by now (the
// real clock when nil). Every issuer it returns signs with the same keys.
func Issuer(tb testing.TB, iss, aud string, now func() time.Time) *fakes.Issuer {
	tb.Helper()
	base, err := sharedIssuer()
	if err != nil {
		tb.Fatal(err)
	}
	i := *base
	i.Issuer, i.Audience, i.Now = iss, aud, now
	return &i
}
