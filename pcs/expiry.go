package pcs

import (
	"bytes"
	"crypto/x509"
	"sort"
	"time"
)

// Expiry is when one document of a collateral set stops being valid: the
// nextUpdate of the TCB info, the QE identity and the CRLs, the notAfter
// of the issuer chains' certificates.
type Expiry struct {
	Document string    // "TCB info", "QE identity", "root CA CRL", "PCK CRL", "certificate Intel SGX TCB Signing"
	At       time.Time // UTC
}

// Expiries returns when each document of c stops being valid, earliest
// first (a certificate that is in several chains once). It only parses:
// a document that does not parse is left out, and nothing is verified
// (dcap.VerifyCollateral does that; its EarliestExpirationDate is the
// first At here).
func (c *Collateral) Expiries() []Expiry {
	var out []Expiry
	if info, err := ParseTCBInfo(c.TCBInfo, c.TCBInfoSignature); err == nil {
		out = append(out, Expiry{"TCB info", info.NextUpdate.UTC()})
	}
	if qe, err := ParseQEIdentity(c.QEIdentity, c.QEIdentitySignature); err == nil {
		out = append(out, Expiry{"QE identity", qe.NextUpdate.UTC()})
	}
	for _, crl := range []struct {
		name string
		data []byte
	}{{"root CA CRL", c.RootCACRL}, {"PCK CRL", c.PCKCRL}} {
		der, err := CRLBytes(crl.data)
		if err != nil {
			continue
		}
		if l, err := x509.ParseRevocationList(der); err == nil && !l.NextUpdate.IsZero() {
			out = append(out, Expiry{crl.name, l.NextUpdate.UTC()})
		}
	}
	var seen [][]byte
	for _, chain := range [][]byte{c.PCKCRLIssuerChain, c.TCBInfoIssuerChain, c.QEIdentityIssuerChain} {
		certs, err := ParseCertificates(chain)
		if err != nil {
			continue
		}
	next:
		for _, cert := range certs {
			for _, raw := range seen {
				if bytes.Equal(raw, cert.Raw) {
					continue next
				}
			}
			seen = append(seen, cert.Raw)
			out = append(out, Expiry{"certificate " + cert.Subject.CommonName, cert.NotAfter.UTC()})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out
}

// Expired returns the documents of c that are not valid at now (At at or
// before now), earliest first.
func (c *Collateral) Expired(now time.Time) []Expiry {
	var out []Expiry
	for _, e := range c.Expiries() {
		if !e.At.After(now) {
			out = append(out, e)
		}
	}
	return out
}
