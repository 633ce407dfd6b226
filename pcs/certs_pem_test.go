package pcs

import (
	"bytes"
	"testing"
)

// The plain-PEM decoder handles every chain of the vectors itself (no
// fallback to encoding/pem), including the quotes' PCK chains.
func TestDecodePEMCertificateFastPath(t *testing.T) {
	var chains [][]byte
	for _, c := range seedBundles() {
		chains = append(chains, c.PCKCRLIssuerChain, c.TCBInfoIssuerChain, c.QEIdentityIssuerChain)
	}
	for _, s := range loadSets(t) {
		if i := bytes.Index(s.quote, pemCertBegin); i >= 0 {
			end := bytes.LastIndex(s.quote, []byte("-----END CERTIFICATE-----"))
			chains = append(chains, s.quote[i:end+len("-----END CERTIFICATE-----")])
		}
	}
	if len(chains) == 0 {
		t.Fatal("no vectors: testdata/vectors/dcap holds none")
	}
	for i, chain := range chains {
		rest := bytes.TrimLeft(chain, " \t\r\n")
		for n := 0; len(rest) > 0; n++ {
			_, _, after, ok := decodePEMCertificate(rest)
			if !ok {
				t.Fatalf("chain %d block %d: fell back to encoding/pem", i, n)
			}
			rest = bytes.TrimLeft(after, " \t\r\n\x00")
		}
	}
}
