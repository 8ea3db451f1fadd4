package status

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// Limiter rations requests per key with a token bucket. It must be safe for
// concurrent use; ratelimit.Limiter is the implementation.
type Limiter interface {
	// Allow takes one request's worth of key's quota at now, if there is
	// any. A refused request must take nothing.
	Allow(key string, now time.Time) Decision
}

// Decision is a Limiter's answer for one request, and what the RateLimit
// header fields say about it.
type Decision struct {
	// Allowed: the request may be served.
	Allowed bool
	// Quota is the size of the bucket, and Window the time an empty one
	// takes to fill again, in whole seconds (rounded up): the policy's q
	// and w.
	Quota  int
	Window time.Duration
	// Remaining is how many requests the bucket still holds (r).
	Remaining int
	// Reset is how long until the bucket holds one more request than
	// Remaining; zero when it is full (t).
	Reset time.Duration
	// RetryAfter, for a refused request, is how long until the bucket can
	// serve it.
	RetryAfter time.Duration
}

// Names of the quota policies in the RateLimit header fields.
const (
	userPolicy = "default" // per authenticated user
	addrPolicy = "addr"    // per client address, before credentials are checked
)

// Canonical forms of the header names, so that setting them does not
// canonicalise (and allocate) on every answer.
const (
	hdrRateLimit       = "Ratelimit"
	hdrRateLimitPolicy = "Ratelimit-Policy"
)

// limits applies a Limiter under one policy name and writes the header
// fields of draft-ietf-httpapi-ratelimit-headers in their structured-field
// form:
//
//	RateLimit-Policy: "default";q=10;w=2
//	RateLimit: "default";r=7;t=1
//
// q is the burst, w the seconds an empty bucket takes to fill (the Limiter
// rounds them up), r the whole requests left, and t the seconds (rounded
// up) until the bucket holds one more: on a refusal, the Retry-After. Both
// fields name the policy that applied last to the request.
type limits struct {
	lim    Limiter
	name   string
	prefix string // of the RateLimit value: "name";r=
	now    func() time.Time
	policy atomic.Pointer[policyField]
}

// policyField memoises the RateLimit-Policy value: it changes only with the
// limiter's settings.
type policyField struct {
	quota  int
	window time.Duration
	value  []string
}

func newLimits(lim Limiter, name string, now func() time.Time) *limits {
	if lim == nil {
		return nil
	}
	return &limits{lim: lim, name: name, prefix: strconv.Quote(name) + ";r=", now: now}
}

// allow spends one request of key's quota and sets the header fields on w. A
// refusal comes back as a *rateLimitedError.
func (l *limits) allow(w http.ResponseWriter, key string) error {
	d := l.lim.Allow(key, l.now())
	h := w.Header()
	h[hdrRateLimitPolicy] = l.policyValue(d)
	var buf [64]byte
	b := append(buf[:0], l.prefix...)
	b = strconv.AppendInt(b, int64(max(d.Remaining, 0)), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.Reset), 10)
	h[hdrRateLimit] = []string{string(b)}
	if !d.Allowed {
		return &rateLimitedError{retryAfter: d.RetryAfter}
	}
	return nil
}

func (l *limits) policyValue(d Decision) []string {
	if p := l.policy.Load(); p != nil && p.quota == d.Quota && p.window == d.Window {
		return p.value
	}
	var buf [64]byte
	b := strconv.AppendQuote(buf[:0], l.name)
	b = append(b, ";q="...)
	b = strconv.AppendInt(b, int64(max(d.Quota, 0)), 10)
	b = append(b, ";w="...)
	b = strconv.AppendInt(b, max(int64(d.Window/time.Second), 1), 10)
	p := &policyField{quota: d.Quota, window: d.Window, value: shared(string(b))}
	l.policy.Store(p)
	return p.value
}

// ceilSeconds is d in whole seconds, rounded up; never negative.
func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}
