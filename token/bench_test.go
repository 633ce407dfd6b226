package token

import (
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"slices"
	"testing"
	"time"
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

// BenchmarkIssueVsRSASign alternates one Issue and one raw signature per
// iteration and reports the ratio of their median times (issue/sign) and
// the median difference (overhead-ns): unlike two separate benchmarks, it
// stays meaningful on a loaded machine, where runs drift and a preempted
// iteration would skew a mean.
func BenchmarkIssueVsRSASign(b *testing.B) {
	k := goldenKey(b)
	claims := sgxClaims()
	digest := sha256.Sum256([]byte("avow"))
	var issue, sign []time.Duration
	for b.Loop() {
		t := time.Now()
		if _, err := Issue(claims, k, testIssuer, t0, AttestationLifetime, ""); err != nil {
			b.Fatal(err)
		}
		issue = append(issue, time.Since(t))
		t = time.Now()
		if _, err := rsa.SignPKCS1v15(nil, k.Private, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
		sign = append(sign, time.Since(t))
	}
	mi, ms := median(issue), median(sign)
	b.ReportMetric(float64(mi)/float64(ms), "issue/sign")
	b.ReportMetric(float64(mi-ms), "overhead-ns")
	b.ReportMetric(float64(ms), "sign-ns")
}

func median(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)/2]
}
