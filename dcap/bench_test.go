package dcap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"testing"

	"github.com/avowhq/avow/quote"
)

// BenchmarkP256Verify is the unit the verification benchmarks are compared
// with: one ECDSA P-256 signature verification, measured in the same run.
func BenchmarkP256Verify(b *testing.B) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256([]byte("avow"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, digest[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&key.PublicKey, digest[:], sig) {
			b.Fatal("signature does not verify")
		}
	}
}

// BenchmarkVerifyCold verifies with an empty cache every time: every
// certificate, CRL and signed document is parsed and every signature checked.
func BenchmarkVerifyCold(b *testing.B) {
	for _, name := range []string{"S01", "S02"} {
		s := findSet(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				opts := s.opts
				opts.Cache = NewCache()
				if _, _, err := VerifyQuote(s.quote, s.col, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyWarm verifies with the collateral already verified and
// cached: the per-quote work is parsing, hashing and the quote's own two
// signatures (QE report and quote).
func BenchmarkVerifyWarm(b *testing.B) {
	for _, name := range []string{"S01", "S02"} {
		s := findSet(b, name)
		b.Run(name, func(b *testing.B) {
			opts := s.opts
			opts.Cache = NewCache()
			if _, _, err := VerifyQuote(s.quote, s.col, opts); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, _, err := VerifyQuote(s.quote, s.col, opts); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParse parses a quote, for the ratio to one P-256 verification.
func BenchmarkParse(b *testing.B) {
	for _, name := range []string{"S01", "S02"} {
		s := findSet(b, name)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := quote.Parse(s.quote); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
