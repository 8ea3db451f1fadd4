package status_test

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/ratelimit"
	"github.com/careervp/vprstatus/status"
)

func newLimiter(t testing.TB, rps float64, burst int) *ratelimit.Limiter {
	t.Helper()
	l, err := ratelimit.New(ratelimit.Options{Rate: rps, Burst: burst})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

var (
	policyField = regexp.MustCompile(`^"(default|addr)";q=([0-9]+);w=([0-9]+)$`)
	limitField  = regexp.MustCompile(`^"(default|addr)";r=([0-9]+);t=([0-9]+)$`)
)

// TestRateLimitFieldsOnEveryAnswer runs every contract row with both
// limiters on, roomy enough not to refuse: each answer is still the one the
// contract wants, and carries both RateLimit fields of one policy: the
// user's once the caller is known, the address's before.
func TestRateLimitFieldsOnEveryAnswer(t *testing.T) {
	for _, c := range statusCases() {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			if c.setup != nil {
				c.setup(f)
			}
			h := f.configured(t, status.Config{
				Auth:        auth.NewCache(hmacVerifier(t), auth.CacheOptions{Now: func() time.Time { return testNow }}),
				Limiter:     newLimiter(t, 5, 100),
				AddrLimiter: newLimiter(t, 5, 50),
			})
			w := serve(h, c.request(t, f))
			checkAnswer(t, c, w)
			pol := policyField.FindStringSubmatch(w.Header().Get("RateLimit-Policy"))
			lim := limitField.FindStringSubmatch(w.Header().Get("RateLimit"))
			if pol == nil || lim == nil {
				t.Fatalf("RateLimit-Policy %q, RateLimit %q", w.Header().Get("RateLimit-Policy"), w.Header().Get("RateLimit"))
			}
			wantPolicy, wantQ, wantR := "addr", "50", "49"
			unrouted := c.code == 404 && c.body != nil && c.body["error"] == "Not found"
			if c.user != "" && (c.method == "" || c.method == "HEAD") && !unrouted {
				wantPolicy, wantQ, wantR = "default", "100", "99"
			}
			if pol[1] != wantPolicy || lim[1] != wantPolicy || pol[2] != wantQ || pol[3] != map[string]string{"50": "10", "100": "20"}[wantQ] ||
				lim[2] != wantR || lim[3] != "1" {
				t.Errorf("RateLimit-Policy %q, RateLimit %q; want policy %q with q=%s, r=%s, t=1",
					pol[0], lim[0], wantPolicy, wantQ, wantR)
			}
		})
	}
}

// TestTooManyRequests: over the limit, a 429 problem with a Retry-After no
// earlier than the bucket can serve again; refusals spend nothing; one
// user's flood leaves another user alone.
func TestTooManyRequests(t *testing.T) {
	f := newFixture(t)
	const idBob = "cccccccc-cccc-4ccc-8ccc-cccccccccccc"
	f.jobs.Put(status.Job{ID: idBob, UserID: bob, State: status.Pending, CreatedAt: "2026-11-29T11:59:00Z"})
	clk := fakes.NewClock(testNow)
	h := f.configured(t, status.Config{Limiter: newLimiter(t, 1, 3), Now: clk.Now})
	alicePoll := func() *http.Request { return get("/api/vpr/status/"+idPending, f.token(t, alice), "") }

	for i := range 3 {
		w := serve(h, alicePoll())
		if w.Code != 202 {
			t.Fatalf("request %d: %d", i, w.Code)
		}
		if got, want := w.Header().Get("RateLimit"), fmt.Sprintf(`"default";r=%d;t=1`, 2-i); got != want {
			t.Errorf("request %d: RateLimit %q, want %q", i, got, want)
		}
		if got, want := w.Header().Get("RateLimit-Policy"), `"default";q=3;w=3`; got != want {
			t.Errorf("RateLimit-Policy %q, want %q", got, want)
		}
	}
	for range 5 {
		w := serve(h, alicePoll())
		checkAnswer(t, statusCase{code: 429,
			body: problemBody(429, "Too many requests", "Polling too fast; retry after the time in Retry-After"),
			headers: map[string]string{"Retry-After": "1", "RateLimit": `"default";r=0;t=1`,
				"RateLimit-Policy": `"default";q=3;w=3`, "ETag": ""}}, w)
	}
	if w := serve(h, get("/api/vpr/status/"+idBob, f.token(t, bob), "")); w.Code != 202 {
		t.Fatalf("bob, while alice is limited: %d, want 202", w.Code)
	}
	clk.Advance(999 * time.Millisecond)
	if w := serve(h, alicePoll()); w.Code != 429 {
		t.Fatalf("before Retry-After: %d, want 429", w.Code)
	}
	// The five refusals took nothing: one second on, one request's worth is back.
	clk.Advance(time.Millisecond)
	if w := serve(h, alicePoll()); w.Code != 202 || w.Header().Get("RateLimit") != `"default";r=0;t=1` {
		t.Fatalf("after Retry-After: %d %q, want 202 with r=0", w.Code, w.Header().Get("RateLimit"))
	}
	if w := serve(h, alicePoll()); w.Code != 429 {
		t.Fatalf("second request after Retry-After: %d, want 429", w.Code)
	}
}

// TestGarbageTokensAreLimitedPerAddress: a flood of invalid tokens from one
// address is refused once the address's burst is spent, before any more
// signatures are checked; other addresses, and callers whose token is
// already verified, are unaffected.
func TestGarbageTokensAreLimitedPerAddress(t *testing.T) {
	f := newFixture(t)
	counter := &fakes.Verifier{VerifyFunc: hmacVerifier(t).Verify}
	h := f.configured(t, status.Config{
		Auth:        auth.NewCache(counter, auth.CacheOptions{Now: func() time.Time { return testNow }}),
		Limiter:     newLimiter(t, 5, 10),
		AddrLimiter: newLimiter(t, 1, 5),
	})
	const flooder, neighbour = "198.51.100.7:40000", "203.0.113.9:50000"
	path := "/api/vpr/status/" + idPending
	aliceTok := f.token(t, alice)
	if w := serve(h, get(path, aliceTok, neighbour)); w.Code != 202 {
		t.Fatalf("alice, first request: %d", w.Code) // now cached
	}
	before := counter.Calls()

	codes := map[int]int{}
	for i := range 100 {
		// A bad signature, new each time: one made up whole. (Changing the
		// last characters of the real one could leave it valid: base64url's
		// last character carries bits that decoding drops.)
		tok := f.token(t, alice)
		made := sha256.Sum256([]byte(strconv.Itoa(i)))
		garbage := tok[:strings.LastIndexByte(tok, '.')+1] + base64.RawURLEncoding.EncodeToString(made[:])
		w := serve(h, get(path, garbage, fmt.Sprintf("198.51.100.7:%d", 40000+i)))
		codes[w.Code]++
		if w.Code == 429 {
			if got := w.Header().Get("RateLimit"); got != `"addr";r=0;t=1` {
				t.Fatalf("429 RateLimit %q", got)
			}
		}
	}
	if codes[401] != 5 || codes[429] != 95 {
		t.Errorf("flood answers %v, want 5 × 401 then 95 × 429", codes)
	}
	if n := counter.Calls() - before; n != 5 {
		t.Errorf("%d signatures checked for the flood, want the address burst, 5", n)
	}
	if w := serve(h, get(path, "", flooder)); w.Code != 429 {
		t.Errorf("no credentials from the flooder: %d, want 429", w.Code)
	}
	if w := serve(h, get(path, "x.y.z", neighbour)); w.Code != 401 {
		t.Errorf("bad token from another address: %d, want 401", w.Code)
	}
	// A verified token is served from the flooded address too: it needs no
	// signature check, and spends from its user's bucket only.
	if w := serve(h, get(path, aliceTok, flooder)); w.Code != 202 || w.Header().Get("RateLimit-Policy") != `"default";q=10;w=2` {
		t.Errorf("cached token from the flooded address: %d %q, want 202 under the user policy", w.Code, w.Header().Get("RateLimit-Policy"))
	}
	// Until it is cached, a good token from there waits like the rest.
	bobTok := f.token(t, bob)
	if w := serve(h, get(path, bobTok, flooder)); w.Code != 429 {
		t.Errorf("uncached token from the flooded address: %d, want 429", w.Code)
	}
}

// TestVerifiedTokensSkipTheSignatureCheck: polling with one token checks its
// signature once.
func TestVerifiedTokensSkipTheSignatureCheck(t *testing.T) {
	f := newFixture(t)
	counter := &fakes.Verifier{VerifyFunc: hmacVerifier(t).Verify}
	h := f.configured(t, status.Config{
		Auth:        auth.NewCache(counter, auth.CacheOptions{Now: func() time.Time { return testNow }}),
		AddrLimiter: newLimiter(t, 1, 1),
	})
	tok := f.token(t, alice)
	for i := range 20 {
		if w := serve(h, get("/api/vpr/status/"+idPending, tok, "")); w.Code != 202 {
			t.Fatalf("poll %d: %d", i, w.Code)
		}
	}
	if n := counter.Calls(); n != 1 {
		t.Fatalf("%d signature checks for 20 polls, want 1", n)
	}
}

func TestUnknownRoutesSpendFromTheAddress(t *testing.T) {
	f := newFixture(t)
	h := f.configured(t, status.Config{AddrLimiter: newLimiter(t, 1, 2)})
	for i, want := range []int{404, 404, 429} {
		w := serve(h, get("/nope", "", ""))
		if w.Code != want {
			t.Fatalf("request %d: %d, want %d", i, w.Code, want)
		}
	}
	r := get("/api/vpr/status/"+idPending, "", "")
	r.Method = http.MethodPost
	if w := serve(h, r); w.Code != 429 || w.Header().Get("Retry-After") != "1" {
		t.Fatalf("POST from the same address: %d, want 429", w.Code)
	}
}

func TestNoLimiterNoFields(t *testing.T) {
	f := newFixture(t)
	w := f.do(get("/api/vpr/status/"+idPending, f.token(t, alice), ""))
	for _, k := range []string{"RateLimit", "RateLimit-Policy"} {
		if v := w.Header().Get(k); v != "" {
			t.Errorf("%s = %q without a limiter", k, v)
		}
	}
}

// TestClientAddress: buckets are per IP, whatever the port; per /64 for
// IPv6; and the bare source IP algnhsa puts in RemoteAddr works the same.
func TestClientAddress(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		name      string
		same      []string // share one bucket
		different string   // has its own
	}{
		{"ipv4", []string{"192.0.2.1:1", "192.0.2.1:2", "192.0.2.1"}, "192.0.2.2:1"},
		{"ipv6 /64", []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2", "2001:db8:1:2::7"}, "[2001:db8:1:3::1]:1"},
		{"ipv4-mapped", []string{"[::ffff:192.0.2.1]:1", "192.0.2.1"}, "[::ffff:192.0.2.3]:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := f.configured(t, status.Config{AddrLimiter: newLimiter(t, 0.001, len(c.same))})
			for _, a := range c.same {
				if w := serve(h, get("/nope", "", a)); w.Code != 404 {
					t.Fatalf("%s: %d, want 404", a, w.Code)
				}
			}
			if w := serve(h, get("/nope", "", c.same[0])); w.Code != 429 {
				t.Fatalf("%s after the bucket's burst: %d, want 429", c.same[0], w.Code)
			}
			if w := serve(h, get("/nope", "", c.different)); w.Code != 404 {
				t.Fatalf("%s: %d, want 404 from its own bucket", c.different, w.Code)
			}
		})
	}
	t.Run("X-Forwarded-For is not trusted", func(t *testing.T) {
		h := f.configured(t, status.Config{AddrLimiter: newLimiter(t, 0.001, 1)})
		for i, want := range []int{404, 429} {
			r := get("/nope", "", "")
			r.Header.Set("X-Forwarded-For", fmt.Sprintf("10.0.0.%d", i))
			if w := serve(h, r); w.Code != want {
				t.Fatalf("request %d: %d, want %d", i, w.Code, want)
			}
		}
	})
}
