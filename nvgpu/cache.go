package nvgpu

import (
	"crypto/sha256"
	"crypto/x509"
	"sync"

	"golang.org/x/crypto/ocsp"
)

// The results that do not depend on time — a certificate's signature by
// its issuer, an OCSP answer's parse and signature for a certificate, a
// RIM's parse and XML signature — are cached by the content hashes of
// their inputs, so that the hot path of a GPU seen before is its report's
// one signature and the time checks. Each cache holds at most maxCached
// entries and starts over when full.
const maxCached = 4096

type cache[V any] struct {
	mu sync.Mutex
	m  map[[32]byte]V
}

func (c *cache[V]) get(k [32]byte) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	return v, ok
}

func (c *cache[V]) put(k [32]byte, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCached {
		c.m = make(map[[32]byte]V)
	}
	c.m[k] = v
}

func key(parts ...[]byte) [32]byte {
	h := sha256.New()
	for _, p := range parts {
		s := sha256.Sum256(p)
		h.Write(s[:])
	}
	var k [32]byte
	copy(k[:], h.Sum(nil))
	return k
}

var (
	sigCache  cache[error]
	ocspCache cache[ocspParsed]
	rimCache  cache[rimParsed]
)

// checkSignedBy is issuer.CheckSignature over c, cached.
func checkSignedBy(c, issuer *x509.Certificate) error {
	k := key(c.Raw, issuer.Raw)
	if err, ok := sigCache.get(k); ok {
		return err
	}
	err := issuer.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature)
	sigCache.put(k, err)
	return err
}

type ocspParsed struct {
	resp *ocsp.Response
	err  error
}

// parseOCSP is ocsp.ParseResponseForCert, cached.
func parseOCSP(der []byte, cert, issuer *x509.Certificate) (*ocsp.Response, error) {
	k := key(der, cert.Raw, issuer.Raw)
	if p, ok := ocspCache.get(k); ok {
		return p.resp, p.err
	}
	resp, err := ocsp.ParseResponseForCert(der, cert, issuer)
	ocspCache.put(k, ocspParsed{resp, err})
	return resp, err
}

type rimParsed struct {
	rim    *RIM
	err    error // ParseRIM's
	sigErr error // VerifySignature's
}

// parseVerifiedRIM is ParseRIM then VerifySignature, cached by the
// document's hash; the *RIM is shared and must not be changed.
func parseVerifiedRIM(doc []byte) (*RIM, error, error) {
	k := key(doc)
	if p, ok := rimCache.get(k); ok {
		return p.rim, p.err, p.sigErr
	}
	r, err := ParseRIM(doc)
	var sigErr error
	if err == nil {
		sigErr = r.VerifySignature()
	}
	rimCache.put(k, rimParsed{r, err, sigErr})
	return r, err, sigErr
}
