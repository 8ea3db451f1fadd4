package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/status"
)

// newCache returns a cache in front of an HS256 verifier, both on clk, and
// the verifier's call counter.
func newCache(t *testing.T, clk *fakes.Clock, opts auth.CacheOptions) (*auth.Cache, *fakes.Verifier) {
	t.Helper()
	keys, err := auth.HMACSecret(testIssuer(t).Secret)
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(keys, auth.Options{Issuer: iss, Audiences: []string{aud}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	cv := &fakes.Verifier{VerifyFunc: v.Verify}
	opts.Now = clk.Now
	return auth.NewCache(cv, opts), cv
}

// hsToken is a valid HS256 token for sub expiring exp after now.
func hsToken(t *testing.T, sub string, exp time.Duration) string {
	t.Helper()
	return sign(t, "HS256", claims(t, func(c jwt.MapClaims) {
		c["sub"] = sub
		c["exp"] = now.Add(exp).Unix()
	}), nil)
}

func TestCacheSkipsRepeatVerification(t *testing.T) {
	clk := fakes.NewClock(now)
	c, cv := newCache(t, clk, auth.CacheOptions{})
	tok := hsToken(t, "u1", time.Hour)
	if _, ok := c.Lookup(bearer(tok)); ok {
		t.Fatal("Lookup hit before any verification")
	}
	for i := range 10 {
		user, err := c.Authenticate(bearer(tok))
		if err != nil || user != "u1" {
			t.Fatalf("request %d: %q, %v", i, user, err)
		}
	}
	if n := cv.Calls(); n != 1 {
		t.Fatalf("%d verifications for 10 requests, want 1", n)
	}
	if user, ok := c.Lookup(bearer(tok)); !ok || user != "u1" {
		t.Fatalf("Lookup after verification: %q, %v", user, ok)
	}
	cl, err := c.Verify(tok)
	if err != nil || cl.UserID != "u1" || !cl.ExpiresAt.Equal(now.Add(time.Hour)) {
		t.Fatalf("cached Verify: %+v, %v", cl, err)
	}
}

// TestCacheExpiry: an entry is used until the earlier of exp and the TTL
// bound, and a token is never accepted at or after its exp, even within the
// verifier's leeway.
func TestCacheExpiry(t *testing.T) {
	t.Run("exp inside the bound", func(t *testing.T) {
		clk := fakes.NewClock(now)
		c, cv := newCache(t, clk, auth.CacheOptions{TTL: 5 * time.Minute})
		tok := hsToken(t, "u1", 2*time.Minute)
		if _, err := c.Authenticate(bearer(tok)); err != nil {
			t.Fatal(err)
		}
		clk.Set(now.Add(2*time.Minute - time.Nanosecond))
		if _, ok := c.Lookup(bearer(tok)); !ok {
			t.Fatal("miss just before exp")
		}
		clk.Set(now.Add(2 * time.Minute))
		if _, ok := c.Lookup(bearer(tok)); ok {
			t.Fatal("hit at exp")
		}
		calls := cv.Calls()
		for _, d := range []time.Duration{0, 10 * time.Second} { // the verifier's leeway is 30s
			clk.Set(now.Add(2*time.Minute + d))
			if _, err := c.Authenticate(bearer(tok)); !errors.Is(err, status.ErrInvalidToken) {
				t.Fatalf("exp+%v: err %v, want ErrInvalidToken", d, err)
			}
		}
		if cv.Calls() == calls {
			t.Fatal("an expired entry was not sent back to the verifier")
		}
	})
	t.Run("the bound inside exp", func(t *testing.T) {
		clk := fakes.NewClock(now)
		c, cv := newCache(t, clk, auth.CacheOptions{TTL: 5 * time.Minute})
		tok := hsToken(t, "u1", time.Hour)
		c.Authenticate(bearer(tok))
		clk.Set(now.Add(5*time.Minute - time.Second))
		if _, ok := c.Lookup(bearer(tok)); !ok {
			t.Fatal("miss inside the bound")
		}
		clk.Set(now.Add(5 * time.Minute))
		if _, ok := c.Lookup(bearer(tok)); ok {
			t.Fatal("hit at the bound")
		}
		if _, err := c.Authenticate(bearer(tok)); err != nil || cv.Calls() != 2 {
			t.Fatalf("after the bound: %v, %d verifications, want a second one", err, cv.Calls())
		}
		clk.Set(now.Add(9 * time.Minute))
		if _, ok := c.Lookup(bearer(tok)); !ok {
			t.Fatal("re-verified token not cached again")
		}
	})
}

func TestCacheEviction(t *testing.T) {
	clk := fakes.NewClock(now)
	c, cv := newCache(t, clk, auth.CacheOptions{Size: 2})
	toks := []string{hsToken(t, "a", time.Hour), hsToken(t, "b", time.Hour), hsToken(t, "c", time.Hour)}
	for _, tok := range toks {
		if _, err := c.Authenticate(bearer(tok)); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2", n)
	}
	for i, want := range []bool{false, true, true} {
		if _, ok := c.Lookup(bearer(toks[i])); ok != want {
			t.Errorf("token %d cached = %v, want %v (the oldest goes)", i, ok, want)
		}
	}
	c.Authenticate(bearer(toks[0]))
	if n := cv.Calls(); n != 4 {
		t.Fatalf("%d verifications, want 4: the evicted token is checked again", n)
	}
	if n := c.Len(); n != 2 {
		t.Fatalf("Len = %d after re-insertion, want 2", n)
	}
}

// TestCacheBoundUnderChurn: many distinct tokens never hold more than Size.
func TestCacheBoundUnderChurn(t *testing.T) {
	clk := fakes.NewClock(now)
	c := auth.NewCache(stubVerifier{}, auth.CacheOptions{Size: 1000, Now: clk.Now})
	for i := range 20_000 {
		tok := "a.b." + strconv.Itoa(i)
		if _, err := c.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			c.Verify("a.b." + strconv.Itoa(i/2)) // some re-verified
		}
	}
	if n := c.Len(); n > 1000 {
		t.Fatalf("Len = %d, want at most 1000", n)
	}
	if _, ok := c.Lookup(bearer("a.b.19999")); !ok {
		t.Fatal("the newest token was evicted")
	}
}

// stubVerifier accepts any token as user "u", for an hour.
type stubVerifier struct{}

func (stubVerifier) Verify(raw string) (auth.Claims, error) {
	return auth.Claims{UserID: "u", ExpiresAt: now.Add(time.Hour)}, nil
}

func TestCacheTokenDifferingByOneByte(t *testing.T) {
	clk := fakes.NewClock(now)
	c, cv := newCache(t, clk, auth.CacheOptions{})
	tok := hsToken(t, "u1", time.Hour)
	if _, err := c.Authenticate(bearer(tok)); err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, len(tok) / 2, len(tok) - 1} {
		b := []byte(tok)
		b[i] ^= 0x01
		other := string(b)
		if _, ok := c.Lookup(bearer(other)); ok {
			t.Errorf("byte %d changed: cache hit", i)
		}
		before := cv.Calls()
		// The last character's low bits may be base64 padding, which the
		// decoder ignores: the verifier may then accept the twin, but it
		// is the verifier that decides.
		if _, err := c.Authenticate(bearer(other)); err == nil && i != len(tok)-1 {
			t.Errorf("byte %d changed: accepted", i)
		}
		if cv.Calls() != before+1 {
			t.Errorf("byte %d changed: not verified afresh", i)
		}
	}
}

func TestCacheDoesNotCacheFailures(t *testing.T) {
	clk := fakes.NewClock(now)
	c, cv := newCache(t, clk, auth.CacheOptions{})
	bad := sign(t, "HS256", claims(t, func(c jwt.MapClaims) { c["aud"] = "someone-else" }), nil)
	for range 3 {
		if _, err := c.Authenticate(bearer(bad)); !errors.Is(err, status.ErrInvalidToken) {
			t.Fatalf("err %v, want ErrInvalidToken", err)
		}
		if _, ok := c.Lookup(bearer(bad)); ok {
			t.Fatal("a failed token is cached")
		}
	}
	if n := cv.Calls(); n != 3 {
		t.Fatalf("%d verifications of a bad token sent 3 times, want 3", n)
	}
	if _, err := c.Authenticate(httptest.NewRequest("GET", "/", nil)); !errors.Is(err, status.ErrNoCredentials) {
		t.Fatalf("no header: %v", err)
	}
	if cv.Calls() != 3 {
		t.Fatal("a request without a token reached the verifier")
	}
}

func TestCacheConcurrentUse(t *testing.T) {
	clk := fakes.NewClock(now)
	c, _ := newCache(t, clk, auth.CacheOptions{Size: 8})
	toks := make([]string, 16)
	for i := range toks {
		toks[i] = hsToken(t, "u"+strconv.Itoa(i), time.Hour)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := (g + i) % len(toks)
				user, err := c.Authenticate(bearer(toks[k]))
				if err != nil || user != "u"+strconv.Itoa(k) {
					t.Errorf("token %d: %q, %v", k, user, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := c.Len(); n > 8 {
		t.Fatalf("Len = %d, want at most 8", n)
	}
}

// TestCacheHitAllocations: a hit costs at most the one allocation of
// hashing the token.
func TestCacheHitAllocations(t *testing.T) {
	clk := fakes.NewClock(now)
	c, _ := newCache(t, clk, auth.CacheOptions{})
	r := bearer(hsToken(t, "u1", time.Hour))
	c.Authenticate(r)
	if n := testing.AllocsPerRun(100, func() { c.Lookup(r) }); n > 1 {
		t.Errorf("%v allocations per hit, want at most 1", n)
	}
}

func TestGatewayLookup(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	for _, c := range []struct {
		claims map[string]string
		user   string
		ok     bool
	}{
		{map[string]string{"sub": "u1"}, "u1", true},
		{map[string]string{"email": "x"}, "", false},
		{nil, "", false},
	} {
		g := auth.NewGateway(func(*http.Request) (map[string]string, bool) { return c.claims, c.claims != nil }, auth.GatewayOptions{})
		if user, ok := g.Lookup(r); user != c.user || ok != c.ok {
			t.Errorf("claims %v: %q, %v", c.claims, user, ok)
		}
	}
}

func BenchmarkCacheHit(b *testing.B) {
	keys, _ := auth.HMACSecret(testIssuer(b).Secret)
	v, _ := auth.NewVerifier(keys, auth.Options{Issuer: iss, Audiences: []string{aud}, Now: func() time.Time { return now }})
	c := auth.NewCache(v, auth.CacheOptions{Now: func() time.Time { return now }})
	tok, _ := testIssuer(b).Token("HS256", "u1", time.Hour)
	r := bearer(tok)
	c.Authenticate(r)
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c.Authenticate(r)
		}
	})
	b.Run("verifier", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			v.Authenticate(r)
		}
	})
}
