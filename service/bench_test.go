package service

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/attestation/tdx"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/sgxsim"
)

// BenchmarkAttest is one SGX attestation in process: provider and policy
// lookup, warm quote verification, claims, the recommended policy, and the
// RS256 token.
func BenchmarkAttest(b *testing.B) {
	s, p := simSetup(b)
	mrsigner := mustHex(b, "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5")
	raw := simQuote(b, p, sgxsim.QuoteOptions{MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2})
	ctx := context.Background()
	req := AttestRequest{Type: sgx.NameSgxEnclave, Evidence: raw}
	if _, err := s.Attest(ctx, "contoso", req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Attest(ctx, "contoso", req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttestTdxVm is one TdxVm attestation in process: the same path
// as BenchmarkAttest through the TdxVm type, with JSON runtime data bound
// by the TD's report data and the default TdxVm policy.
func BenchmarkAttestTdxVm(b *testing.B) {
	s, p := simSetup(b)
	runtime := []byte(`{"user-data":"42","vm-configuration":{"secure-boot":true}}`)
	sum := sha256.Sum256(runtime)
	raw := simQuote(b, p, sgxsim.QuoteOptions{TEE: sgxsim.TDX, ReportData: sum[:]})
	ctx := context.Background()
	req := AttestRequest{Type: tdx.Name, Evidence: raw, RuntimeData: &Data{Bytes: runtime, DataType: "JSON"}}
	if _, err := s.Attest(ctx, "contoso", req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.Attest(ctx, "contoso", req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAttestEssential is the floor BenchmarkAttest is compared with,
// measured in the same run: warm verification of the same quote and one
// RS256 signature with the provider's key.
func BenchmarkAttestEssential(b *testing.B) {
	s, p := simSetup(b)
	raw := simQuote(b, p, sgxsim.QuoteOptions{})
	col, err := p.Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-1)})
	if err != nil {
		b.Fatal(err)
	}
	key := mustActive(b, s, "contoso")
	cache := dcap.NewCache()
	opts := dcap.Options{Now: testNow, TrustedRoots: []*x509.Certificate{p.Root()}, Cache: cache}
	if _, _, err := dcap.VerifyQuote(raw, col, opts); err != nil {
		b.Fatal(err)
	}
	digest := sha256.Sum256(raw)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		q, err := quote.Parse(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := dcap.Verify(q, col, opts); err != nil {
			b.Fatal(err)
		}
		if _, err := rsa.SignPKCS1v15(rand.Reader, key.Private, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}
