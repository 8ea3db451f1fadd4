package fakes

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/careervp/vprstatus/status"
)

// Results is an in-memory result bucket and a status.URLSigner for it. Its
// URLs behave like presigned S3 URLs: served by Results itself (see
// ServeHTTP), signed with a per-instance secret and refused once expired or
// tampered with.
type Results struct {
	Faults
	base    *url.URL
	prefix  string // base as a string: where every signed URL starts
	ttl     time.Duration
	now     func() time.Time
	secret  [32]byte
	signers sync.Pool // of *signer

	mu      sync.RWMutex
	objects table[[]byte]
}

var _ status.URLSigner = (*Results)(nil)

// NewResults returns an empty bucket whose signed URLs start with baseURL
// (for example "http://127.0.0.1:8080/_local/results/") and live for ttl.
func NewResults(baseURL string, ttl time.Duration, now func() time.Time) (*Results, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("results base URL: %w", err)
	}
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("results: ttl must be positive, got %v", ttl)
	}
	if now == nil {
		now = time.Now
	}
	r := &Results{base: u, prefix: u.String(), ttl: ttl, now: now, objects: newTable[[]byte]()}
	rand.Read(r.secret[:])
	r.signers.New = func() any {
		return &signer{mac: hmac.New(sha256.New, r.secret[:]), buf: make([]byte, 0, 256), msg: make([]byte, 0, 128)}
	}
	return r, nil
}

// Put stores body under key.
func (r *Results) Put(key string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objects.put(key, append([]byte(nil), body...))
}

// Delete removes the object at key.
func (r *Results) Delete(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objects.delete(key)
}

func (r *Results) object(key string) ([]byte, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b, ok := r.objects.m[key]
	return b, ok
}

// SignResult checks that key exists, as the S3 signer's HeadObject does, and
// signs a URL for it.
func (r *Results) SignResult(ctx context.Context, key string) (status.SignedURL, error) {
	if err := r.inject(ctx, "fake results"); err != nil {
		return status.SignedURL{}, err
	}
	if _, ok := r.object(key); !ok {
		return status.SignedURL{}, fmt.Errorf("result %s: %w", key, status.ErrResultGone)
	}
	exp := r.now().Add(r.ttl).Truncate(time.Second)
	s := r.signers.Get().(*signer)
	defer r.signers.Put(s)
	// The URL is built in the signer's scratch space rather than with
	// url.Values: this runs on every COMPLETED answer of the benchmarks.
	b := append(s.buf[:0], r.prefix...)
	b = append(b, escapePath(key)...)
	b = append(b, "?expires="...)
	n := len(b)
	b = strconv.AppendInt(b, exp.Unix(), 10)
	expires := b[n:]
	b = append(b, "&signature="...)
	b = s.sign(b, key, expires)
	return status.SignedURL{URL: string(b), ExpiresAt: exp}, nil
}

// signer is a keyed HMAC with scratch space, recycled through Results.signers:
// keying an HMAC costs more than signing with it.
type signer struct {
	mac hash.Hash
	buf []byte // the URL being built
	msg []byte // what is signed
	sum [sha256.Size]byte
}

// sign appends to dst the hex HMAC of key and expires.
func (s *signer) sign(dst []byte, key string, expires []byte) []byte {
	s.mac.Reset()
	s.msg = append(append(append(s.msg[:0], key...), 0), expires...)
	s.mac.Write(s.msg)
	return hex.AppendEncode(dst, s.mac.Sum(s.sum[:0]))
}

// escapePath escapes each segment of key as a URL path, keeping its slashes.
func escapePath(key string) string {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~/", c) >= 0) {
			return (&url.URL{Path: key}).EscapedPath()
		}
	}
	return key
}

// ServeHTTP serves the object a signed URL names: 403 for a bad or expired
// signature, 404 for a deleted object.
func (r *Results) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	key, ok := strings.CutPrefix(req.URL.Path, r.base.Path)
	if !ok || key == "" {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	q := req.URL.Query()
	expires, sig := q.Get("expires"), q.Get("signature")
	exp, err := strconv.ParseInt(expires, 10, 64)
	if err != nil || !r.validSignature(key, expires, sig) {
		http.Error(w, "signature does not match", http.StatusForbidden)
		return
	}
	if !r.now().Before(time.Unix(exp, 0)) {
		http.Error(w, "request has expired", http.StatusForbidden)
		return
	}
	body, ok := r.object(key)
	if !ok {
		http.Error(w, "no such key", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

func (r *Results) validSignature(key, expires, sig string) bool {
	s := r.signers.Get().(*signer)
	defer r.signers.Put(s)
	want := s.sign(nil, key, []byte(expires))
	return hmac.Equal([]byte(sig), want)
}
