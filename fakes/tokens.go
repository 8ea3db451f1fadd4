package fakes

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Issuer mints test tokens the way an identity provider would, with an RSA
// key, an EC P-256 key and an HMAC secret, and publishes the public keys as a
// JWKS.
type Issuer struct {
	Issuer   string
	Audience string
	RSA      *rsa.PrivateKey
	EC       *ecdsa.PrivateKey
	Secret   []byte
	// Key ids in the JWKS and in the tokens' headers.
	RSAKeyID, ECKeyID string
	// Now stamps iat and exp; time.Now when nil.
	Now func() time.Time
}

// NewIssuer generates fresh keys for an issuer and audience.
func NewIssuer(issuer, audience string) (*Issuer, error) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	return &Issuer{
		Issuer: issuer, Audience: audience,
		RSA: rk, EC: ek, Secret: secret,
		RSAKeyID: "rsa-1", ECKeyID: "ec-1",
	}, nil
}

func (i *Issuer) now() time.Time {
	if i.Now != nil {
		return i.Now()
	}
	return time.Now()
}

// Claims returns the claims of a valid token for sub that lives for ttl.
func (i *Issuer) Claims(sub string, ttl time.Duration) jwt.MapClaims {
	now := i.now()
	return jwt.MapClaims{
		"iss": i.Issuer,
		"aud": i.Audience,
		"sub": sub,
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
}

// Token returns a valid token for sub, signed with alg (RS256, ES256 or HS256).
func (i *Issuer) Token(alg, sub string, ttl time.Duration) (string, error) {
	return i.Sign(alg, i.Claims(sub, ttl), nil)
}

// Sign signs claims with the key for alg, adding extra header fields. The key
// id goes in the header for RS256 and ES256.
func (i *Issuer) Sign(alg string, claims jwt.Claims, header map[string]any) (string, error) {
	var (
		t   *jwt.Token
		key any
	)
	switch alg {
	case "RS256":
		t, key = jwt.NewWithClaims(jwt.SigningMethodRS256, claims), i.RSA
		t.Header["kid"] = i.RSAKeyID
	case "ES256":
		t, key = jwt.NewWithClaims(jwt.SigningMethodES256, claims), i.EC
		t.Header["kid"] = i.ECKeyID
	case "HS256":
		t, key = jwt.NewWithClaims(jwt.SigningMethodHS256, claims), i.Secret
	default:
		return "", fmt.Errorf("fakes: unsupported alg %q", alg)
	}
	for k, v := range header {
		t.Header[k] = v
	}
	return t.SignedString(key)
}

// JWKS returns the public keys as a JSON Web Key Set.
func (i *Issuer) JWKS() []byte {
	b64 := base64.RawURLEncoding.EncodeToString
	// Uncompressed point: 0x04 || X || Y, 32 bytes each on P-256.
	pt, err := i.EC.PublicKey.Bytes()
	if err != nil {
		panic(err) // a generated P-256 key always encodes
	}
	set := map[string]any{"keys": []map[string]string{
		{
			"kty": "RSA", "kid": i.RSAKeyID, "alg": "RS256", "use": "sig",
			"n": b64(i.RSA.N.Bytes()), "e": b64(big.NewInt(int64(i.RSA.E)).Bytes()),
		},
		{
			"kty": "EC", "kid": i.ECKeyID, "alg": "ES256", "use": "sig", "crv": "P-256",
			"x": b64(pt[1:33]), "y": b64(pt[33:65]),
		},
	}}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err) // maps of strings always encode
	}
	return b
}

// JWKSHandler serves JWKS, as <issuer>/.well-known/jwks.json does.
func (i *Issuer) JWKSHandler() http.Handler {
	body := i.JWKS()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}
