package ratelimit_test

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/careervp/vprstatus/ratelimit"
	"github.com/careervp/vprstatus/status"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newLimiter(t testing.TB, o ratelimit.Options) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// step is one call of Allow at t0+at and the decision it must return.
type step struct {
	key  string
	at   time.Duration
	want status.Decision
}

func TestAllow(t *testing.T) {
	policy := func(d status.Decision) status.Decision {
		d.Quota, d.Window = 10, 2*time.Second
		return d
	}
	ok := func(remaining int, reset time.Duration) status.Decision {
		return policy(status.Decision{Allowed: true, Remaining: remaining, Reset: reset})
	}
	refused := func(retry time.Duration) status.Decision {
		return policy(status.Decision{Remaining: 0, Reset: retry, RetryAfter: retry})
	}
	burst := func(key string, at time.Duration) []step {
		var s []step
		for i := 9; i >= 0; i-- {
			s = append(s, step{key, at, ok(i, 200*time.Millisecond)})
		}
		return s
	}
	cat := func(parts ...[]step) []step {
		var s []step
		for _, p := range parts {
			s = append(s, p...)
		}
		return s
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"burst then refused", cat(burst("a", 0), []step{{"a", 0, refused(200 * time.Millisecond)}})},
		{"refusals take nothing", cat(burst("a", 0), []step{
			{"a", 0, refused(200 * time.Millisecond)},
			{"a", 0, refused(200 * time.Millisecond)},
			{"a", 50 * time.Millisecond, refused(150 * time.Millisecond)},
			{"a", 150 * time.Millisecond, refused(50 * time.Millisecond)},
			// Exactly when the first refusal said: served.
			{"a", 200 * time.Millisecond, ok(0, 200*time.Millisecond)},
			{"a", 200 * time.Millisecond, refused(200 * time.Millisecond)},
		})},
		{"partial refill", cat(burst("a", 0), []step{
			{"a", 500 * time.Millisecond, ok(1, 100*time.Millisecond)}, // 2.5 tokens, one taken
		})},
		{"full refill", cat(burst("a", 0), []step{{"a", 2 * time.Second, ok(9, 200*time.Millisecond)}})},
		{"users are isolated", cat(burst("a", 0), []step{
			{"a", 0, refused(200 * time.Millisecond)},
			{"b", 0, ok(9, 200*time.Millisecond)},
			{"a", 0, refused(200 * time.Millisecond)},
		})},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := newLimiter(t, ratelimit.Options{Rate: 5, Burst: 10})
			for i, s := range c.steps {
				got := l.Allow(s.key, t0.Add(s.at))
				if got != s.want {
					t.Fatalf("step %d (%s at +%v): got %+v, want %+v", i, s.key, s.at, got, s.want)
				}
			}
		})
	}
}

// TestRetryAfterIsHonest: whatever the rate and the moment, a client that
// comes back after RetryAfter is served, and one that comes back a little
// earlier is not.
func TestRetryAfterIsHonest(t *testing.T) {
	for _, rps := range []float64{0.1, 0.7, 1, 3, 5, 100} {
		l := newLimiter(t, ratelimit.Options{Rate: rps, Burst: 2})
		now := t0
		for i := range 200 {
			d := l.Allow("k", now)
			if d.Allowed {
				now = now.Add(time.Duration(i%7) * time.Millisecond)
				continue
			}
			if d.RetryAfter <= 0 {
				t.Fatalf("rate %v: refused with RetryAfter %v", rps, d.RetryAfter)
			}
			if d.RetryAfter > time.Millisecond {
				if early := l.Allow("k", now.Add(d.RetryAfter-time.Millisecond)); early.Allowed {
					t.Fatalf("rate %v: served %v before RetryAfter", rps, time.Millisecond)
				}
			}
			now = now.Add(d.RetryAfter)
			if again := l.Allow("k", now); !again.Allowed {
				t.Fatalf("rate %v: refused again after RetryAfter %v: %+v", rps, d.RetryAfter, again)
			}
		}
	}
}

func TestPolicy(t *testing.T) {
	for _, c := range []struct {
		rate   float64
		burst  int
		window time.Duration
	}{
		{5, 10, 2 * time.Second},
		{3, 10, 4 * time.Second}, // 3.33s, rounded up
		{100, 10, time.Second},
		{0.5, 1, 2 * time.Second},
	} {
		l := newLimiter(t, ratelimit.Options{Rate: c.rate, Burst: c.burst})
		if q, w := l.Policy(); q != c.burst || w != c.window {
			t.Errorf("rate %v burst %d: policy %d, %v; want %d, %v", c.rate, c.burst, q, w, c.burst, c.window)
		}
		if d := l.Allow("k", t0); d.Quota != c.burst || d.Window != c.window {
			t.Errorf("rate %v burst %d: decision %+v", c.rate, c.burst, d)
		}
	}
}

func TestNewValidates(t *testing.T) {
	for _, o := range []ratelimit.Options{
		{Rate: 0, Burst: 1}, {Rate: -1, Burst: 1}, {Rate: 1, Burst: 0}, {Rate: 1, Burst: 1, Capacity: -1},
	} {
		if _, err := ratelimit.New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

// TestIdleBucketsAreEvicted: buckets untouched for a full refill time go
// when new keys come, without any goroutine, and a key evicted that way
// comes back exactly as it would have been: full.
func TestIdleBucketsAreEvicted(t *testing.T) {
	l := newLimiter(t, ratelimit.Options{Rate: 5, Burst: 10, Capacity: 1000})
	for i := range 100 {
		l.Allow("old-"+strconv.Itoa(i), t0)
	}
	l.Allow("old-0", t0) // spent twice
	if n := l.Len(); n != 100 {
		t.Fatalf("Len = %d, want 100", n)
	}
	later := t0.Add(2 * time.Second) // Burst/Rate: everything has refilled
	for i := range 20 {
		l.Allow("new-"+strconv.Itoa(i), later)
	}
	// Each insert sweeps up to 8 idle buckets.
	if n := l.Len(); n != 20 {
		t.Fatalf("Len = %d after 20 inserts past the idle time, want 20", n)
	}
	if d := l.Allow("old-0", later); !d.Allowed || d.Remaining != 9 {
		t.Fatalf("evicted idle key: %+v, want a full bucket", d)
	}
}

// TestFullOfBusyBucketsEvictsOldest: with more keys active within one
// refill time than Capacity, the least recently used bucket goes. Its key
// starts again from a full bucket: the documented cost of the bound.
func TestFullOfBusyBucketsEvictsOldest(t *testing.T) {
	l := newLimiter(t, ratelimit.Options{Rate: 1, Burst: 3, Capacity: 3})
	for range 3 {
		l.Allow("a", t0)
	}
	l.Allow("b", t0)
	l.Allow("c", t0)
	l.Allow("a", t0) // refused, but used: "b" is now the oldest
	l.Allow("d", t0) // evicts "b"
	if n := l.Len(); n != 3 {
		t.Fatalf("Len = %d, want 3", n)
	}
	if d := l.Allow("a", t0); d.Allowed {
		t.Fatalf("recently used key was evicted: %+v", d)
	}
	if d := l.Allow("b", t0); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("evicted key: %+v, want a fresh bucket", d)
	}
}

// TestConcurrentUse: many goroutines on one key never get more than the
// burst at one instant; on distinct keys, each gets its own burst.
func TestConcurrentUse(t *testing.T) {
	l := newLimiter(t, ratelimit.Options{Rate: 5, Burst: 10, Capacity: 10_000})
	var shared atomic.Int32
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			own := "own-" + strconv.Itoa(g)
			for range 100 {
				if l.Allow("shared", t0).Allowed {
					shared.Add(1)
				}
			}
			for i := range 10 {
				if d := l.Allow(own, t0); !d.Allowed || d.Remaining != 9-i {
					t.Errorf("goroutine %d, request %d: %+v", g, i, d)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := shared.Load(); n != 10 {
		t.Fatalf("%d requests allowed on one key at one instant, want the burst, 10", n)
	}
}

// heapBound is what holding buckets for a million distinct users may cost:
// at most DefaultCapacity (100,000) buckets of about 230 bytes each, key and
// map slot included (22 MiB measured with Go 1.26).
const heapBound = 32 << 20

// TestMillionUsersHeapBound drives 1,000,000 distinct users through a
// limiter with the default capacity and shows the live heap stays under
// heapBound (32 MiB), both when they all come within one refill time (the
// oldest are evicted) and when they are spread out (idle ones are).
func TestMillionUsersHeapBound(t *testing.T) {
	if raceEnabled {
		t.Skip("slow under -race; run: go test -run MillionUsers ./ratelimit/")
	}
	for _, c := range []struct {
		name string
		step time.Duration
	}{
		{"within one refill time", time.Microsecond}, // 1s for all of them; idle after 2s
		{"spread out", 100 * time.Microsecond},       // 100s
	} {
		t.Run(c.name, func(t *testing.T) {
			const users = 1_000_000
			before := liveHeap()
			l := newLimiter(t, ratelimit.Options{Rate: ratelimit.DefaultRate, Burst: ratelimit.DefaultBurst})
			now := t0
			var buf []byte
			for i := range users {
				buf = strconv.AppendInt(append(buf[:0], "user-"...), int64(i), 10)
				if d := l.Allow(string(buf), now); !d.Allowed {
					t.Fatalf("user %d refused on first request", i)
				}
				now = now.Add(c.step)
			}
			n := l.Len()
			grew := int64(liveHeap()) - int64(before)
			runtime.KeepAlive(l)
			t.Logf("%d buckets held; live heap grew by %.1f MiB (bound %d MiB)", n, float64(grew)/(1<<20), heapBound>>20)
			if n > ratelimit.DefaultCapacity {
				t.Errorf("%d buckets held, want at most %d", n, ratelimit.DefaultCapacity)
			}
			if grew > heapBound {
				t.Errorf("live heap grew by %d bytes, want at most %d", grew, heapBound)
			}
		})
	}
}

func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

func TestFromEnv(t *testing.T) {
	env := func(kv map[string]string) func(string) string {
		return func(k string) string { return kv[k] }
	}
	s, err := ratelimit.FromEnv(env(nil))
	if users, addrs := s.Users, s.AddrOptions(); err != nil || users != (ratelimit.Options{Rate: 5, Burst: 10}) || addrs != users {
		t.Errorf("defaults: %+v %+v %v", users, addrs, err)
	}
	s, err = ratelimit.FromEnv(env(map[string]string{
		"RATE_LIMIT_RPS": "2.5", "RATE_LIMIT_BURST": "4", "RATE_LIMIT_ADDR_BURST": "20",
	}))
	if users, addrs := s.Users, s.AddrOptions(); err != nil || users != (ratelimit.Options{Rate: 2.5, Burst: 4}) || addrs != (ratelimit.Options{Rate: 2.5, Burst: 20}) {
		t.Errorf("set: %+v %+v %v", users, addrs, err)
	}
	for _, kv := range []map[string]string{
		{"RATE_LIMIT_RPS": "0"}, {"RATE_LIMIT_RPS": "fast"}, {"RATE_LIMIT_BURST": "-1"},
		{"RATE_LIMIT_ADDR_RPS": "Inf"}, {"RATE_LIMIT_ADDR_BURST": "1.5"},
	} {
		if _, err := ratelimit.FromEnv(env(kv)); err == nil {
			t.Errorf("%v: no error", kv)
		}
	}
}

func BenchmarkAllow(b *testing.B) {
	for _, users := range []int{1, 1000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			l := newLimiter(b, ratelimit.Options{Rate: 1e6, Burst: 1e6})
			keys := make([]string, users)
			for i := range keys {
				keys[i] = "user-" + strconv.Itoa(i)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					l.Allow(keys[i%users], time.Now())
					i++
				}
			})
		})
	}
}
