package auth

import (
	"fmt"
	"hash/maphash"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/careervp/vprstatus/status"
)

// TokenVerifier checks a raw bearer token. *Verifier is one.
type TokenVerifier interface {
	// Verify returns the token's claims, or an error wrapping status.ErrInvalidToken.
	Verify(raw string) (Claims, error)
}

var (
	_ TokenVerifier = (*Verifier)(nil)
	_ TokenVerifier = (*Cache)(nil)
)

// CacheOptions size a Cache.
type CacheOptions struct {
	// Size bounds how many verified tokens are kept. Default 10,000.
	Size int
	// TTL bounds how long a verification is trusted, whatever the token's
	// exp: a key removed from the JWKS stops being honoured after at most
	// this long. Default 5m.
	TTL time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// Cache remembers successful verifications, so that a client polling with
// the same token every few seconds has its signature checked once, not on
// every request.
//
// An entry is found by a hash of the whole token (hash/maphash, seeded per
// Cache) and holds the token itself, which must equal the presented one
// byte for byte: a token differing in any byte is verified afresh, and no
// hash collision can stand in for a token. (A SHA-256 key would save the
// token's memory, up to MaxHeaderBytes (4 KiB) an entry, 1–2 KiB for Cognito, but cost a microsecond on every
// request: a fifth of a cached poll.) An entry lives until the earlier of
// the token's exp and TTL after its verification. Failures are not cached.
// When full, the oldest entries make room.
//
// A Cache never accepts a token at or after its exp, cached or not: the
// Verifier's leeway for clock skew then only applies to nbf and iat.
type Cache struct {
	v      TokenVerifier
	seed   maphash.Seed
	ttl    time.Duration
	now    func() time.Time
	mask   byte
	shards []cacheShard
}

// NewCache returns a Cache in front of v.
func NewCache(v TokenVerifier, opts CacheOptions) *Cache {
	if opts.Size <= 0 {
		opts.Size = 10_000
	}
	if opts.TTL <= 0 {
		opts.TTL = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	n := 1
	for n < 16 && opts.Size/(n*2) >= 256 {
		n *= 2
	}
	c := &Cache{
		v: v, seed: maphash.MakeSeed(), ttl: opts.TTL, now: opts.Now,
		mask:   byte(n - 1), // #nosec G115 -- n is a power of two in [1, 16]
		shards: make([]cacheShard, n),
	}
	for i := range c.shards {
		size := opts.Size / n
		if i < opts.Size%n {
			size++
		}
		c.shards[i] = cacheShard{max: size, m: make(map[tokenKey]cacheEntry)}
	}
	return c
}

// Authenticate returns the user id of the request's bearer token.
func (c *Cache) Authenticate(r *http.Request) (string, error) { return bearerUser(r, c) }

// Lookup returns the user id of the request's bearer token if the token is
// in the cache and unexpired: no signature is checked. It lets the caller
// ration the requests that would need one (see status.FastAuthenticator).
func (c *Cache) Lookup(r *http.Request) (string, bool) {
	tok, err := BearerToken(r)
	if err != nil {
		return "", false
	}
	e, ok := c.get(c.keyOf(tok), tok, c.now())
	return e.user, ok
}

// Verify returns the claims of raw, from the cache or from the verifier.
func (c *Cache) Verify(raw string) (Claims, error) {
	key := c.keyOf(raw)
	now := c.now()
	if e, ok := c.get(key, raw, now); ok {
		return Claims{UserID: e.user, ExpiresAt: time.Unix(0, e.exp)}, nil
	}
	cl, err := c.v.Verify(raw)
	if err != nil {
		return Claims{}, err
	}
	if !now.Before(cl.ExpiresAt) {
		// Within the verifier's leeway, but past exp.
		return Claims{}, fmt.Errorf("%w: token expired", status.ErrInvalidToken)
	}
	until := now.Add(c.ttl)
	if cl.ExpiresAt.Before(until) {
		until = cl.ExpiresAt
	}
	if now.Before(until) {
		c.put(key, cacheEntry{token: strings.Clone(raw), user: cl.UserID, exp: cl.ExpiresAt.UnixNano(), until: until.UnixNano()})
	}
	return cl, nil
}

type tokenKey uint64

func (c *Cache) keyOf(raw string) tokenKey { return tokenKey(maphash.String(c.seed, raw)) }

type cacheEntry struct {
	token string // the whole token, compared on every hit
	user  string
	exp   int64 // the token's exp, Unix nanoseconds
	until int64 // when this entry stops being used: min(exp, verified+TTL)
	slot  int   // index in the shard's ring
}

// cacheShard holds some of the entries, and their keys in insertion order
// in a ring: when the shard is full, the next slot's entry is the oldest and
// makes room.
type cacheShard struct {
	mu   sync.RWMutex
	m    map[tokenKey]cacheEntry
	ring []tokenKey
	next int
	max  int
}

func (c *Cache) shard(key tokenKey) *cacheShard {
	return &c.shards[byte(key>>56)&c.mask]
}

func (c *Cache) get(key tokenKey, raw string, now time.Time) (cacheEntry, bool) {
	s := c.shard(key)
	s.mu.RLock()
	e, ok := s.m[key]
	s.mu.RUnlock()
	if !ok || e.token != raw || now.UnixNano() >= e.until {
		return cacheEntry{}, false
	}
	return e, true
}

func (c *Cache) put(key tokenKey, e cacheEntry) {
	s := c.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ring) < s.max {
		e.slot = len(s.ring)
		s.ring = append(s.ring, key)
	} else {
		e.slot = s.next
		s.next = (s.next + 1) % s.max
		// The slot's key may have been put again since, into a newer slot.
		if old, ok := s.m[s.ring[e.slot]]; ok && old.slot == e.slot {
			delete(s.m, s.ring[e.slot])
		}
		s.ring[e.slot] = key
	}
	s.m[key] = e
}
