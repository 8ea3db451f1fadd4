package auth_test

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/careervp/vprstatus/auth"
	"github.com/careervp/vprstatus/fakes"
	"github.com/careervp/vprstatus/internal/testkit"
	"github.com/careervp/vprstatus/status"
)

const (
	iss = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_test"
	aud = "app-client-1"
)

var now = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func testIssuer(t testing.TB) *fakes.Issuer {
	return testkit.Issuer(t, iss, aud, func() time.Time { return now })
}

// jwksVerifier verifies against the issuer's JWKS served over HTTP, as in production.
func jwksVerifier(t testing.TB, opts auth.Options) *auth.Verifier {
	t.Helper()
	srv := httptest.NewServer(testIssuer(t).JWKSHandler())
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	keys, err := auth.RemoteJWKS(ctx, srv.URL+"/.well-known/jwks.json", auth.JWKSOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return newVerifier(t, keys, opts)
}

func newVerifier(t testing.TB, keys auth.Keys, opts auth.Options) *auth.Verifier {
	t.Helper()
	if opts.Issuer == "" {
		opts.Issuer = iss
	}
	if opts.Audiences == nil {
		opts.Audiences = []string{aud}
	}
	opts.Now = func() time.Time { return now }
	v, err := auth.NewVerifier(keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sign(t testing.TB, alg string, claims jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok, err := testIssuer(t).Sign(alg, claims, header)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func claims(t testing.TB, edit func(jwt.MapClaims)) jwt.MapClaims {
	c := testIssuer(t).Claims("user-1", time.Hour)
	if edit != nil {
		edit(c)
	}
	return c
}

func bearer(tok string) *http.Request {
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	return r
}

// unsigned returns a token with alg none.
func unsigned(t testing.TB, c jwt.MapClaims) string {
	tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerifierAcceptsGoodTokens(t *testing.T) {
	v := jwksVerifier(t, auth.Options{})
	for _, alg := range []string{"RS256", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			got, err := v.Authenticate(bearer(sign(t, alg, claims(t, nil), nil)))
			if err != nil || got != "user-1" {
				t.Fatalf("Authenticate = %q, %v; want user-1", got, err)
			}
		})
	}
	t.Run("cognito access token: client_id, no aud", func(t *testing.T) {
		c := claims(t, func(c jwt.MapClaims) { delete(c, "aud"); c["client_id"] = aud; c["token_use"] = "access" })
		v := jwksVerifier(t, auth.Options{TokenUse: "access"})
		if _, err := v.Authenticate(bearer(sign(t, "RS256", c, nil))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("aud list holding ours", func(t *testing.T) {
		c := claims(t, func(c jwt.MapClaims) { c["aud"] = []string{"other", aud} })
		if _, err := v.Authenticate(bearer(sign(t, "ES256", c, nil))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("configured user claim", func(t *testing.T) {
		c := claims(t, func(c jwt.MapClaims) { c["cognito:username"] = "alice" })
		v := jwksVerifier(t, auth.Options{UserClaim: "cognito:username"})
		if got, err := v.Authenticate(bearer(sign(t, "RS256", c, nil))); err != nil || got != "alice" {
			t.Fatalf("Authenticate = %q, %v; want alice", got, err)
		}
	})
	t.Run("expired within leeway", func(t *testing.T) {
		c := claims(t, func(c jwt.MapClaims) { c["exp"] = now.Add(-10 * time.Second).Unix() })
		if _, err := v.Authenticate(bearer(sign(t, "RS256", c, nil))); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("bearer scheme is case-insensitive", func(t *testing.T) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "bearer "+sign(t, "RS256", claims(t, nil), nil))
		if _, err := v.Authenticate(r); err != nil {
			t.Fatal(err)
		}
	})
}

func TestVerifierRejectsBadTokens(t *testing.T) {
	is := testIssuer(t)
	v := jwksVerifier(t, auth.Options{TokenUse: ""})
	rsaPub, err := x509.MarshalPKIXPublicKey(&is.RSA.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	// The classic algorithm confusion: HS256 "signed" with the RSA public key.
	confused, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims(t, nil)).SignedString(rsaPub)
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, "RS256", claims(t, nil), nil)
	parts := strings.Split(good, ".")
	otherIssuer, err := fakes.NewIssuer(iss, aud)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := otherIssuer.Sign("RS256", claims(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, token string
	}{
		{"alg none", unsigned(t, claims(t, nil))},
		{"hs256 with the rsa public key", confused},
		{"hs256 with a shared secret against jwks", sign(t, "HS256", claims(t, nil), nil)},
		{"wrong iss", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { c["iss"] = "https://evil.test" }), nil)},
		{"no iss", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { delete(c, "iss") }), nil)},
		{"wrong aud", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { c["aud"] = "other-client" }), nil)},
		{"wrong client_id", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { delete(c, "aud"); c["client_id"] = "other" }), nil)},
		{"no aud nor client_id", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { delete(c, "aud") }), nil)},
		{"expired", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Hour).Unix() }), nil)},
		{"no exp", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { delete(c, "exp") }), nil)},
		{"not yet valid", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), nil)},
		{"issued in the future", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { c["iat"] = now.Add(time.Hour).Unix() }), nil)},
		{"no sub", sign(t, "RS256", claims(t, func(c jwt.MapClaims) { delete(c, "sub") }), nil)},
		{"unknown kid", sign(t, "RS256", claims(t, nil), map[string]any{"kid": "rotated-away"})},
		{"signed by another key", foreign},
		{"crit header", sign(t, "RS256", claims(t, nil), map[string]any{"crit": []string{"exp"}})},
		{"tampered payload", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]},
		{"tampered signature", parts[0] + "." + parts[1] + "." + strings.Repeat("A", len(parts[2]))},
		{"garbage", "not.a.jwt"},
		{"two segments", parts[0] + "." + parts[1]},
		{"kid as a path", sign(t, "RS256", claims(t, nil), map[string]any{"kid": "../../etc/passwd"})},
		{"jku pointing elsewhere", sign(t, "RS256", claims(t, nil), map[string]any{"jku": "http://127.0.0.1:1/jwks", "kid": "x"})},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := v.Authenticate(bearer(c.token))
			if !errors.Is(err, status.ErrInvalidToken) {
				t.Fatalf("err = %v, want ErrInvalidToken", err)
			}
		})
	}
	t.Run("token_use mismatch", func(t *testing.T) {
		v := jwksVerifier(t, auth.Options{TokenUse: "access"})
		c := claims(t, func(c jwt.MapClaims) { c["token_use"] = "id" })
		if _, err := v.Authenticate(bearer(sign(t, "RS256", c, nil))); !errors.Is(err, status.ErrInvalidToken) {
			t.Fatalf("err = %v, want ErrInvalidToken", err)
		}
	})
}

func TestBearerToken(t *testing.T) {
	for _, c := range []struct {
		name    string
		headers []string
		want    error
	}{
		{"missing", nil, status.ErrNoCredentials},
		{"empty", []string{""}, status.ErrNoCredentials},
		{"basic scheme", []string{"Basic dXNlcjpwYXNz"}, status.ErrNoCredentials},
		{"a lone word", []string{"garbage"}, status.ErrNoCredentials},
		{"bearer alone", []string{"Bearer"}, status.ErrInvalidToken},
		{"bearer blank", []string{"Bearer   "}, status.ErrInvalidToken},
		{"oversized", []string{"Bearer " + strings.Repeat("a", auth.MaxHeaderBytes) + ".b.c"}, status.ErrInvalidToken},
		{"two headers", []string{"Bearer a.b.c", "Bearer d.e.f"}, status.ErrInvalidToken},
		{"not a jwt", []string{"Bearer abc"}, status.ErrInvalidToken},
		{"ok", []string{"Bearer a.b.c"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range c.headers {
				r.Header.Add("Authorization", h)
			}
			_, err := auth.BearerToken(r)
			if !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestHMACKeysAcceptOnlyHS256(t *testing.T) {
	is := testIssuer(t)
	keys, err := auth.HMACSecret(is.Secret)
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, keys, auth.Options{})
	if _, err := v.Authenticate(bearer(sign(t, "HS256", claims(t, nil), nil))); err != nil {
		t.Fatalf("HS256: %v", err)
	}
	for _, alg := range []string{"RS256", "ES256"} {
		if _, err := v.Authenticate(bearer(sign(t, alg, claims(t, nil), nil))); !errors.Is(err, status.ErrInvalidToken) {
			t.Errorf("%s against an HMAC key: err = %v, want ErrInvalidToken", alg, err)
		}
	}
	if _, err := v.Authenticate(bearer(unsigned(t, claims(t, nil)))); !errors.Is(err, status.ErrInvalidToken) {
		t.Errorf("alg none: err = %v", err)
	}
	if _, err := auth.HMACSecret([]byte("short")); err == nil {
		t.Error("HMACSecret accepted a 5-byte secret")
	}
}

func TestNewVerifierValidatesOptions(t *testing.T) {
	keys, err := auth.StaticJWKS(testIssuer(t).JWKS())
	if err != nil {
		t.Fatal(err)
	}
	for name, opts := range map[string]auth.Options{
		"no issuer":      {Audiences: []string{aud}},
		"no audience":    {Issuer: iss},
		"empty audience": {Issuer: iss, Audiences: []string{""}},
	} {
		if _, err := auth.NewVerifier(keys, opts); err == nil {
			t.Errorf("%s: NewVerifier succeeded", name)
		}
	}
	if _, err := auth.NewVerifier(auth.Keys{}, auth.Options{Issuer: iss, Audiences: []string{aud}}); err == nil {
		t.Error("NewVerifier without keys succeeded")
	}
}

// TestRemoteJWKSRotation: a token signed with a key added after start-up is
// accepted once the set is refetched on its unknown kid, and refetches are
// rate-limited so a flood of unknown kids cannot hammer the issuer.
func TestRemoteJWKSRotation(t *testing.T) {
	old := testIssuer(t)
	rotated, err := fakes.NewIssuer(iss, aud)
	if err != nil {
		t.Fatal(err)
	}
	rotated.RSAKeyID, rotated.ECKeyID = "rsa-2", "ec-2"
	var fetches atomic.Int32
	var serveRotated atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		set := old.JWKS()
		if serveRotated.Load() {
			set = mergeSets(t, old.JWKS(), rotated.JWKS())
		}
		w.Write(set)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	keys, err := auth.RemoteJWKS(ctx, srv.URL, auth.JWKSOptions{UnknownKIDRefresh: time.Hour, RefreshWaitMax: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	v := newVerifier(t, keys, auth.Options{})
	tok, err := rotated.Sign("RS256", claims(t, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	serveRotated.Store(true)
	if _, err := v.Authenticate(bearer(tok)); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	before := fetches.Load()
	for range 20 {
		v.Authenticate(bearer(sign(t, "RS256", claims(t, nil), map[string]any{"kid": "nope"})))
	}
	if got := fetches.Load() - before; got > 1 {
		t.Errorf("%d refetches for 20 unknown kids, want at most 1", got)
	}
}

func TestRemoteJWKSFailsFast(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	_, err := auth.RemoteJWKS(ctx, "http://127.0.0.1:1/jwks.json", auth.JWKSOptions{HTTPTimeout: time.Second})
	if err == nil {
		t.Fatal("RemoteJWKS succeeded without a server")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

func mergeSets(t *testing.T, a, b []byte) []byte {
	t.Helper()
	var sa, sb struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(a, &sa); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sb); err != nil {
		t.Fatal(err)
	}
	sa.Keys = append(sa.Keys, sb.Keys...)
	out, _ := json.Marshal(sa)
	return out
}

func TestGateway(t *testing.T) {
	claimsOf := func(m map[string]string) auth.ClaimsFunc {
		return func(*http.Request) (map[string]string, bool) { return m, m != nil }
	}
	r := httptest.NewRequest("GET", "/", nil)
	if got, err := auth.NewGateway(claimsOf(map[string]string{"sub": "u1"}), auth.GatewayOptions{}).Authenticate(r); err != nil || got != "u1" {
		t.Errorf("sub: %q, %v", got, err)
	}
	if got, err := auth.NewGateway(claimsOf(map[string]string{"sub": "u1", "email": "a@b"}), auth.GatewayOptions{UserClaim: "email"}).Authenticate(r); err != nil || got != "a@b" {
		t.Errorf("email: %q, %v", got, err)
	}
	if _, err := auth.NewGateway(claimsOf(nil), auth.GatewayOptions{}).Authenticate(r); !errors.Is(err, status.ErrNoCredentials) {
		t.Errorf("no claims: %v", err)
	}
	if _, err := auth.NewGateway(claimsOf(map[string]string{"email": "x"}), auth.GatewayOptions{}).Authenticate(r); !errors.Is(err, status.ErrInvalidToken) {
		t.Errorf("no sub: %v", err)
	}
}

func TestGatewayChecksIssuerAndTokenUse(t *testing.T) {
	g := auth.NewGateway(func(r *http.Request) (map[string]string, bool) {
		var m map[string]string
		json.Unmarshal([]byte(r.Header.Get("X-Test-Claims")), &m)
		return m, m != nil
	}, auth.GatewayOptions{Issuer: iss, TokenUse: "access"})
	for claims, want := range map[string]error{
		`{"sub":"u","iss":"` + iss + `","token_use":"access"}`:        nil,
		`{"sub":"u","iss":"` + iss + `","token_use":"id"}`:            status.ErrInvalidToken,
		`{"sub":"u","iss":"https://other.test","token_use":"access"}`: status.ErrInvalidToken,
		`{"sub":"u"}`: status.ErrInvalidToken,
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Test-Claims", claims)
		_, err := g.Authenticate(r)
		if !errors.Is(err, want) || (want == nil) != (err == nil) {
			t.Errorf("%s: err = %v, want %v", claims, err, want)
		}
		if _, ok := g.Lookup(r); ok != (want == nil) {
			t.Errorf("%s: Lookup ok = %v", claims, ok)
		}
	}
}

func FuzzBearerToken(f *testing.F) {
	is := testIssuer(f)
	good, err := is.Token("RS256", "u", time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"", "Bearer " + good, "Bearer a.b.c", "Basic x", "Bearer " + strings.Repeat("x", 5000)} {
		f.Add(s)
	}
	keys, err := auth.StaticJWKS(is.JWKS())
	if err != nil {
		f.Fatal(err)
	}
	v := newVerifier(f, keys, auth.Options{})
	f.Fuzz(func(t *testing.T, h string) {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Authorization"] = []string{h}
		user, err := v.Authenticate(r)
		if err == nil {
			if user != "u" || h != "Bearer "+good && !strings.EqualFold(h[:7], "bearer ") {
				t.Fatalf("accepted %q as %q", h, user)
			}
			return
		}
		if !errors.Is(err, status.ErrInvalidToken) && !errors.Is(err, status.ErrNoCredentials) {
			t.Fatalf("err %v wraps neither sentinel", err)
		}
	})
}
