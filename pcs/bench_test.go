package pcs

import (
	"bytes"
	"testing"
)

// Benchmarks of the parsers on the S01 (SGX) and S02 (TDX) collateral, the
// sets of dcap.BenchmarkVerifyCold.

func benchSet(b *testing.B, id string) vset {
	b.Helper()
	for _, s := range loadSets(b) {
		if s.setID() == id {
			return s
		}
	}
	b.Skipf("%s not present", id)
	return vset{}
}

// BenchmarkParseTCBInfoSGX is BenchmarkParseTCBInfo on S01's SGX TCB info
// (version 3, 4.5 kB), the one dcap.BenchmarkVerifyCold/S01 parses.
func BenchmarkParseTCBInfoSGX(b *testing.B) {
	s := benchSet(b, "S01")
	raw, sig := s.c.TCBInfo, s.c.TCBInfoSignature
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ParseTCBInfo(raw, sig); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseQEIdentitySGX(b *testing.B) {
	s := benchSet(b, "S01")
	raw, sig := s.c.QEIdentity, s.c.QEIdentitySignature
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseQEIdentity(raw, sig); err != nil {
			b.Fatal(err)
		}
	}
}

// quotePEMChain returns the PEM text of the PCK chain in a quote's
// certification data (S01: PCK certificate, Processor CA, root).
func quotePEMChain(b *testing.B, q []byte) []byte {
	i := bytes.Index(q, pemCertBegin)
	end := bytes.LastIndex(q, []byte("-----END CERTIFICATE-----"))
	if i < 0 || end < 0 {
		b.Skip("no PEM chain in the quote")
	}
	return q[i : end+len("-----END CERTIFICATE-----\n")]
}

// BenchmarkParseCertificates parses S01's three chains: the quote's PCK
// chain (3 certificates), the PCK CRL issuer chain and the TCB info issuer
// chain (2 each), the 7 certificates of a cold verification.
func BenchmarkParseCertificates(b *testing.B) {
	s := benchSet(b, "S01")
	chains := map[string][]byte{
		"PCKChain":    quotePEMChain(b, s.quote),
		"PCKCRLChain": s.c.PCKCRLIssuerChain,
		"TCBChain":    s.c.TCBInfoIssuerChain,
	}
	for _, name := range []string{"PCKChain", "PCKCRLChain", "TCBChain"} {
		data := chains[name]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParseCertificates(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSplitPEMCertificates is the PEM part of ParseCertificates alone
// (S01's quote PCK chain, 3 blocks).
func BenchmarkSplitPEMCertificates(b *testing.B) {
	s := benchSet(b, "S01")
	data := quotePEMChain(b, s.quote)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := splitPEMCertificates(data); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParsePCKExtensionValue is ParsePCKExtensions without the
// certificate lookup, on S01 (Processor CA, 5 entries) and S02 (Platform
// CA, 7 entries).
func BenchmarkParsePCKExtensionValue(b *testing.B) {
	for _, id := range []string{"S01", "S02"} {
		s := benchSet(b, id)
		var value []byte
		for _, e := range pckCert(b, s).Extensions {
			if e.Id.Equal(OIDSGXExtensions) {
				value = e.Value
			}
		}
		b.Run(id, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ParsePCKExtensionValue(value); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
