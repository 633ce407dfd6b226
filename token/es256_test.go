package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"
)

func TestES256IssueVerify(t *testing.T) {
	k, err := GenerateSigningKeyAlg(nil, AlgES256, "es256 test", t0)
	if err != nil {
		t.Fatal(err)
	}
	if k.Alg() != AlgES256 || k.EC == nil || k.Private != nil {
		t.Fatalf("key %+v", k)
	}
	tok, err := Issue(sgxClaims(), k, testIssuer, t0, AttestationLifetime, "")
	if err != nil {
		t.Fatal(err)
	}
	_, hdr, _ := DecodeUnverified(tok)
	if hdr.Alg != "ES256" || hdr.KID != k.KID || hdr.JKU != testIssuer+"/certs" || hdr.Typ != "JWT" {
		t.Errorf("header %+v", hdr)
	}
	if sig, _ := base64.RawURLEncoding.DecodeString(tok[strings.LastIndexByte(tok, '.')+1:]); len(sig) != 64 {
		t.Errorf("signature of %d bytes", len(sig))
	}
	// Through avow's JWKS and ParseJWKS, as the Go client does.
	jwks := JWKS([]*SigningKey{k})
	var doc struct{ Keys []map[string]any }
	json.Unmarshal(jwks, &doc)
	if j := doc.Keys[0]; j["kty"] != "EC" || j["alg"] != "ES256" || j["use"] != "sig" || j["crv"] != "P-256" || j["x"] == nil || j["y"] == nil || j["x5c"] == nil || j["n"] != nil {
		t.Errorf("JWK %v", j)
	}
	keys, err := ParseJWKS(jwks)
	if err != nil || len(keys) != 1 {
		t.Fatalf("ParseJWKS: %v %v", keys, err)
	}
	claims, _, err := Verify(tok, keys, VerifyOptions{Issuer: testIssuer, Now: t0.Add(time.Minute)})
	if err != nil || claims["x-ms-attestation-type"] != "sgx" {
		t.Fatalf("verify: %v %v", claims, err)
	}
	// Independently: go-jose with the same JWKS.
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks, &set); err != nil {
		t.Fatal(err)
	}
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var std josejwt.Claims
	if err := parsed.Claims(set.Key(k.KID)[0].Key, &std); err != nil || std.Issuer != testIssuer {
		t.Fatalf("go-jose: %v %+v", err, std)
	}
	// A changed byte, another EC key, an RSA key under the same kid.
	bad := tok[:len(tok)-3] + "AAA"
	if _, _, err := Verify(bad, keys, VerifyOptions{Now: t0}); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("tampered: %v", err)
	}
	other, _ := GenerateSigningKeyAlg(nil, AlgES256, "other", t0)
	if _, _, err := Verify(tok, []PublicKey{{KID: k.KID, Key: other.PublicKey().Key}}, VerifyOptions{Now: t0}); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("other key: %v", err)
	}
	rsaKey, _ := testKeys(t)
	if _, _, err := Verify(tok, []PublicKey{{KID: k.KID, Key: rsaKey.PublicKey().Key}}, VerifyOptions{Now: t0}); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("RSA key for an ES256 token: %v", err)
	}
	// And an RS256 token is not accepted by an EC key.
	rtok, _ := Issue(sgxClaims(), rsaKey, testIssuer, t0, AttestationLifetime, "")
	if _, _, err := Verify(rtok, []PublicKey{{KID: rsaKey.KID, Key: k.PublicKey().Key}}, VerifyOptions{Now: t0}); !errors.Is(err, ErrSignatureInvalid) {
		t.Errorf("EC key for an RS256 token: %v", err)
	}
}

func TestSealKeyES256(t *testing.T) {
	k, _ := GenerateSigningKeyAlg(nil, AlgES256, "sealed", t0)
	kek := make([]byte, 32)
	aad := KeyAAD("p1", k.KID)
	sealed, err := SealKey(kek, k.PrivateKey(), aad)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := OpenKey(kek, sealed, aad)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := NewSigningKeyFromPrivate(k.Certificate.Raw, priv, t0, time.Time{})
	if err != nil || k2.KID != k.KID || k2.Alg() != AlgES256 {
		t.Fatalf("reopened %+v %v", k2, err)
	}
	if _, err := OpenPrivateKey(kek, sealed, aad); !errors.Is(err, ErrKeyUnsealing) {
		t.Errorf("OpenPrivateKey on an EC key: %v", err)
	}
	if _, err := OpenKey(kek, sealed, KeyAAD("p2", k.KID)); !errors.Is(err, ErrKeyUnsealing) {
		t.Errorf("wrong aad: %v", err)
	}
	rsaKey, _ := testKeys(t)
	if _, err := NewSigningKeyFromPrivate(k.Certificate.Raw, rsaKey.Private, t0, time.Time{}); err == nil {
		t.Error("an RSA key with an EC certificate")
	}
	if _, err := GenerateSigningKeyAlg(nil, "HS256", "x", t0); err == nil {
		t.Error("HS256 generated")
	}
	if !ValidAlg("ES256") || !ValidAlg("RS256") || ValidAlg("none") {
		t.Error("ValidAlg")
	}
}

// BenchmarkIssueES256 is one 26-claim token signed with ES256.
func BenchmarkIssueES256(b *testing.B) {
	k, _ := GenerateSigningKeyAlg(nil, AlgES256, "bench", t0)
	c := sgxClaims()
	for b.Loop() {
		if _, err := Issue(c, k, testIssuer, t0, AttestationLifetime, "jti"); err != nil {
			b.Fatal(err)
		}
	}
}
