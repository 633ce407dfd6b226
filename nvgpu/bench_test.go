package nvgpu

import (
	"context"
	"testing"
	"time"
)

// BenchmarkVerifyCompleteH100 is one GPU's whole verification with the
// real H100 set: report, chain, 9 OCSP answers, two RIMs, measurements.
func BenchmarkVerifyCompleteH100(b *testing.B) {
	ev, col, nonce := completeEvidence(b), completeCollateral(b), completeNonce(b)
	opts := Options{Now: mustTime(b, "2025-10-24T12:00:00Z"), Nonce: nonce, Collateral: col, OCSPMode: OCSPAsOfThisUpdate, MaxRevocationAge: 90 * 24 * time.Hour}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(context.Background(), ev, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseReport is the report parser alone.
func BenchmarkParseReport(b *testing.B) {
	raw := vec(b, complete, "evidence/test_raw_gpu_attestation_report.dat")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseReport(raw); err != nil {
			b.Fatal(err)
		}
	}
}
