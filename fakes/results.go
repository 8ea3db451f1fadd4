package fakes

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
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
	base   *url.URL
	ttl    time.Duration
	now    func() time.Time
	secret [32]byte

	mu      sync.RWMutex
	objects map[string][]byte
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
	r := &Results{base: u, ttl: ttl, now: now, objects: make(map[string][]byte)}
	rand.Read(r.secret[:])
	return r, nil
}

// Put stores body under key.
func (r *Results) Put(key string, body []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.objects[key] = append([]byte(nil), body...)
}

// Delete removes the object at key.
func (r *Results) Delete(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.objects, key)
}

func (r *Results) object(key string) ([]byte, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b, ok := r.objects[key]
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
	expires := strconv.FormatInt(exp.Unix(), 10)
	u := *r.base
	u.Path += key
	u.RawQuery = url.Values{"expires": {expires}, "signature": {r.sign(key, expires)}}.Encode()
	return status.SignedURL{URL: u.String(), ExpiresAt: exp}, nil
}

func (r *Results) sign(key, expires string) string {
	m := hmac.New(sha256.New, r.secret[:])
	m.Write([]byte(key))
	m.Write([]byte{0})
	m.Write([]byte(expires))
	return hex.EncodeToString(m.Sum(nil))
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
	if err != nil || !hmac.Equal([]byte(sig), []byte(r.sign(key, expires))) {
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
