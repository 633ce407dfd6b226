package sgxsim_test

import (
	"fmt"
	"testing"

	"github.com/avowhq/avow/sgxsim"
)

// BenchmarkQuote measures quote generation on a warm platform: one ECDSA
// signature (the quote's) plus assembly; the QE report and PCK certificate
// are cached per TCB, as a real QE signs its report once per attestation key.
func BenchmarkQuote(b *testing.B) {
	p := sgxsim.Default()
	for _, c := range quoteCases {
		b.Run(fmt.Sprintf("%s-v%d", c.tee, c.version), func(b *testing.B) {
			o := sgxsim.QuoteOptions{TEE: c.tee, Version: c.version, ReportData: []byte("bench")}
			if _, err := p.Quote(o); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Quote(o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQuoteCold includes issuing the PCK certificate and signing the
// QE report: the first quote of a fresh platform.
func BenchmarkQuoteCold(b *testing.B) {
	for b.Loop() {
		p, err := sgxsim.New([]byte("bench"))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Quote(sgxsim.QuoteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNew measures creating an in-memory platform (5 keys, 3 CA
// certificates).
func BenchmarkNew(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sgxsim.New([]byte("bench")); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollateral measures collateral generation (two JSON signatures,
// two CRLs).
func BenchmarkCollateral(b *testing.B) {
	p := sgxsim.Default()
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		b.Run(string(tee), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: now}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
