package token

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"testing"
)

// The issuing hot path against its floor, one RSA-2048 PKCS#1 v1.5
// signature of a SHA-256 digest. Compare the two in one run:
//
//	go test ./token/ -run '^$' -bench 'Issue$|RSASign|Verify$' -benchmem -count 5

func BenchmarkIssue(b *testing.B) {
	k := goldenKey(b)
	claims := sgxClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(claims, k, testIssuer, t0, AttestationLifetime, ""); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRSASign(b *testing.B) {
	k := goldenKey(b)
	digest := sha256.Sum256([]byte("avow"))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rsa.SignPKCS1v15(nil, k.Private, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	k := goldenKey(b)
	tok, err := Issue(sgxClaims(), k, testIssuer, t0, AttestationLifetime, "")
	if err != nil {
		b.Fatal(err)
	}
	keys := []PublicKey{k.PublicKey()}
	opts := VerifyOptions{Issuer: testIssuer, Now: t0}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Verify(tok, keys, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIssueUnsigned is Issue without the signature: the JSON and
// base64 work that Issue adds to the RSA operation.
func BenchmarkIssueUnsigned(b *testing.B) {
	claims := sgxClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := IssueUnsigned(claims, testIssuer, t0, AttestationLifetime, ""); err != nil {
			b.Fatal(err)
		}
	}
}
