// Package ratelimit keeps a token bucket per key (a user id, a client
// address) in bounded memory, for status.Config's Limiter and AddrLimiter.
//
// Buckets are golang.org/x/time/rate limiters held in a sharded map. There is
// no background goroutine: Lambda freezes those between invocations. Instead,
// every insert evicts a few idle buckets, least recently used first. A bucket
// untouched for Burst/Rate has refilled completely, so dropping it loses
// nothing: it comes back full, as it would have been. Only when a shard is full
// of buckets used within that time is the least recently used one dropped
// while still partly spent; its key then starts again from a full bucket. That
// takes more distinct keys active within one refill time than Capacity
// allows, and is the price of the bound.
package ratelimit

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/careervp/vprstatus/status"
)

// Defaults suit clients polling every couple of seconds: a burst of 10, then
// 5 requests a second.
const (
	DefaultRate     = 5
	DefaultBurst    = 10
	DefaultCapacity = 100_000
)

// Options shape the buckets of a Limiter.
type Options struct {
	// Rate is how many requests a second each key may make, sustained.
	Rate float64
	// Burst is the size of each bucket: how many requests a key may make at
	// once after a pause.
	Burst int
	// Capacity bounds how many buckets are kept. Default DefaultCapacity.
	Capacity int
}

// Limiter is a bounded set of token buckets, one per key. It is safe for
// concurrent use, and implements status.Limiter.
type Limiter struct {
	limit  rate.Limit
	burst  int
	idle   time.Duration // Burst/Rate: how long an untouched bucket takes to refill
	window time.Duration // idle in whole seconds, rounded up: the policy's w
	seed   maphash.Seed
	mask   uint64
	shards []shard
}

var _ status.Limiter = (*Limiter)(nil)

// numShards splits the map, so that concurrent requests of different users
// rarely wait on one mutex.
const numShards = 16

// sweep is how many idle buckets an insert evicts at most: enough to shrink
// the map after a quiet spell, few enough to keep an insert short.
const sweep = 8

// New returns a Limiter with the given options.
func New(o Options) (*Limiter, error) {
	if o.Capacity == 0 {
		o.Capacity = DefaultCapacity
	}
	switch {
	case !(o.Rate > 0) || math.IsInf(o.Rate, 0):
		return nil, fmt.Errorf("ratelimit: rate must be a positive number, got %v", o.Rate)
	case o.Burst < 1:
		return nil, fmt.Errorf("ratelimit: burst must be at least 1, got %d", o.Burst)
	case o.Capacity < 1:
		return nil, fmt.Errorf("ratelimit: capacity must be at least 1, got %d", o.Capacity)
	}
	n := 1
	for n < numShards && o.Capacity/(n*2) >= 1024 {
		n *= 2
	}
	l := &Limiter{
		limit:  rate.Limit(o.Rate),
		burst:  o.Burst,
		idle:   time.Duration(float64(o.Burst) / o.Rate * float64(time.Second)),
		window: time.Duration(math.Ceil(float64(o.Burst)/o.Rate)) * time.Second,
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1), // #nosec G115 -- n is a power of two in [1, numShards]
		shards: make([]shard, n),
	}
	for i := range l.shards {
		c := o.Capacity / n
		if i < o.Capacity%n {
			c++
		}
		l.shards[i] = shard{max: c, m: make(map[string]*bucket)}
	}
	return l, nil
}

// Policy returns the quota (the burst) and the time an empty bucket takes to
// fill, rounded up to whole seconds.
func (l *Limiter) Policy() (quota int, window time.Duration) {
	return l.burst, l.window
}

// Allow takes a token from key's bucket at now, if there is one. A refused
// request takes nothing, so a client hammering a full bucket is served again
// as soon as one token is back.
func (l *Limiter) Allow(key string, now time.Time) status.Decision {
	s := &l.shards[maphash.String(l.seed, key)&l.mask]
	s.mu.Lock()
	b := s.get(key, now, l)
	// AllowN with a zero wait commits nothing when it refuses, which is what
	// ReserveN followed by CancelAt achieves, without allocating a Reservation
	// or second-guessing what the cancellation restores.
	ok := b.lim.AllowN(now, 1)
	tokens := b.lim.TokensAt(now)
	s.mu.Unlock()

	quota, window := l.Policy()
	d := status.Decision{Allowed: ok, Quota: quota, Window: window}
	if tokens < float64(l.burst) {
		whole := math.Floor(tokens)
		d.Remaining = int(whole)
		// The next whole token is back after (whole+1-tokens)/rate.
		d.Reset = time.Duration(math.Ceil((whole + 1 - tokens) / float64(l.limit) * float64(time.Second)))
	} else {
		d.Remaining = l.burst
	}
	if !ok {
		d.RetryAfter = d.Reset
	}
	return d
}

// shard is part of the buckets, with its own lock, in a list ordered from
// the most recently used (head) to the least (tail).
type shard struct {
	mu         sync.Mutex
	max        int
	m          map[string]*bucket
	head, tail *bucket
}

type bucket struct {
	key        string
	lim        rate.Limiter
	used       time.Time
	prev, next *bucket
}

// get returns key's bucket, marked used at now, making it if need be.
func (s *shard) get(key string, now time.Time, l *Limiter) *bucket {
	if b, ok := s.m[key]; ok {
		b.used = now
		if b != s.head {
			s.unlink(b)
			s.push(b)
		}
		return b
	}
	for i := 0; i < sweep && s.tail != nil && now.Sub(s.tail.used) >= l.idle; i++ {
		s.evict(s.tail)
	}
	if len(s.m) >= s.max {
		s.evict(s.tail)
	}
	b := &bucket{key: key, used: now}
	// Set at the zero time, the limiter was last filled ages ago: its first
	// use finds the bucket full, as rate.NewLimiter's would.
	b.lim.SetBurstAt(time.Time{}, l.burst)
	b.lim.SetLimitAt(time.Time{}, l.limit)
	s.m[key] = b
	s.push(b)
	return b
}

func (s *shard) push(b *bucket) {
	b.prev, b.next = nil, s.head
	if s.head != nil {
		s.head.prev = b
	}
	s.head = b
	if s.tail == nil {
		s.tail = b
	}
}

func (s *shard) unlink(b *bucket) {
	if b.prev != nil {
		b.prev.next = b.next
	} else {
		s.head = b.next
	}
	if b.next != nil {
		b.next.prev = b.prev
	} else {
		s.tail = b.prev
	}
	b.prev, b.next = nil, nil
}

func (s *shard) evict(b *bucket) {
	s.unlink(b)
	delete(s.m, b.key)
}

// Env names the settings FromEnv reads.
const (
	EnvRate      = "RATE_LIMIT_RPS"
	EnvBurst     = "RATE_LIMIT_BURST"
	EnvAddrRate  = "RATE_LIMIT_ADDR_RPS"
	EnvAddrBurst = "RATE_LIMIT_ADDR_BURST"
)

// Settings shape the service's two Limiters: one keyed by user, one by
// client address (status.Config's Limiter and AddrLimiter).
type Settings struct {
	Users Options
	// Addrs shapes the per-address buckets. A zero Rate or Burst follows
	// Users', so that setting the user limit alone moves both.
	Addrs Options
}

// AddrOptions returns Addrs with its unset fields taken from Users.
func (s Settings) AddrOptions() Options {
	a := s.Addrs
	if a.Rate == 0 {
		a.Rate = s.Users.Rate
	}
	if a.Burst == 0 {
		a.Burst = s.Users.Burst
	}
	return a
}

// New returns the per-user and the per-address Limiter.
func (s Settings) New() (users, addrs *Limiter, err error) {
	if users, err = New(s.Users); err != nil {
		return nil, nil, fmt.Errorf("user limit: %w", err)
	}
	if addrs, err = New(s.AddrOptions()); err != nil {
		return nil, nil, fmt.Errorf("address limit: %w", err)
	}
	return users, addrs, nil
}

// FromEnv reads Settings from getenv: RATE_LIMIT_RPS and RATE_LIMIT_BURST
// (defaults 5 and 10) for users, and RATE_LIMIT_ADDR_RPS and
// RATE_LIMIT_ADDR_BURST for client addresses, which follow the user
// settings when unset. Every malformed variable is named in the error.
func FromEnv(getenv func(string) string) (Settings, error) {
	var errs []error
	s := Settings{
		Users: Options{
			Rate:  envFloat(getenv, EnvRate, DefaultRate, &errs),
			Burst: envInt(getenv, EnvBurst, DefaultBurst, &errs),
		},
		Addrs: Options{
			Rate:  envFloat(getenv, EnvAddrRate, 0, &errs),
			Burst: envInt(getenv, EnvAddrBurst, 0, &errs),
		},
	}
	return s, errors.Join(errs...)
}

func envFloat(getenv func(string) string, name string, def float64, errs *[]error) float64 {
	s := getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		*errs = append(*errs, fmt.Errorf("%s=%q: want a positive number", name, s))
		return def
	}
	return v
}

func envInt(getenv func(string) string, name string, def int, errs *[]error) int {
	s := getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		*errs = append(*errs, fmt.Errorf("%s=%q: want a positive integer", name, s))
		return def
	}
	return v
}
