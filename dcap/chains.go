package dcap

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/avowhq/avow/pcs"
)

// pckChainFacts is what a PCK chain establishes by itself (QVL
// PckCertVerifier steps that need no other input): exactly root,
// intermediate and PCK, found by common name as QVL does; every certificate
// carrying the five extensions QVL's parser requires; each link signed by
// its issuer; the PCK's SGX extensions. Trust, CRLs and time are per call.
type pckChainFacts struct {
	err                      error
	root, intermediate, pck  *x509.Certificate
	rootKey, intermediateKey []byte
	ext                      *pcs.PCKExtensions
}

// signingChainFacts is the same for a TCB info / QE identity issuer chain:
// [TCB signing certificate, root].
type signingChainFacts struct {
	err       error
	certs     []*x509.Certificate
	signer    *x509.Certificate
	rootKey   []byte
	signerKey []byte
}

func newChain(certs []*x509.Certificate) *chain {
	ch := &chain{certs: certs, keys: make([][]byte, len(certs))}
	for i, cert := range certs {
		ch.keys[i] = rootKeyBytes(cert)
	}
	return ch
}

func (c *Cache) pckFacts(ch *chain) *pckChainFacts {
	ch.pckOnce.Do(func() { ch.pck.err = c.checkPCKChain(ch, &ch.pck) })
	return &ch.pck
}

func (c *Cache) signingFacts(ch *chain) *signingChainFacts {
	ch.tcbOnce.Do(func() { ch.tcb.err = c.checkSigningChain(ch, &ch.tcb) })
	return &ch.tcb
}

func (c *Cache) checkPCKChain(ch *chain, f *pckChainFacts) error {
	if len(ch.certs) != 3 {
		return fmt.Errorf("the PCK chain has %d certificates, 3 are required", len(ch.certs))
	}
	var pckKey []byte
	for i, cert := range ch.certs {
		cn := cert.Subject.CommonName
		switch {
		case strings.Contains(cn, "SGX PCK Certificate"):
			f.pck, pckKey = cert, ch.keys[i]
		case selfIssued(cert) && strings.Contains(cn, "SGX Root CA"):
			f.root, f.rootKey = cert, ch.keys[i]
		case !selfIssued(cert) && strings.Contains(cn, "CA"):
			f.intermediate, f.intermediateKey = cert, ch.keys[i]
		}
	}
	switch {
	case f.root == nil:
		return fmt.Errorf("the PCK chain has no root CA certificate")
	case f.intermediate == nil:
		return fmt.Errorf("the PCK chain has no intermediate CA certificate")
	case f.pck == nil:
		return fmt.Errorf("the PCK chain has no PCK certificate")
	case pckKey == nil:
		return fmt.Errorf("the PCK certificate's key is not an ECDSA P-256 key")
	}
	for _, cert := range ch.certs {
		if err := requiredExtensions(cert); err != nil {
			return err
		}
	}
	if !c.checkCertSignature(f.root, f.rootKey) {
		return fmt.Errorf("the root CA certificate's self-signature does not verify")
	}
	if !bytes.Equal(f.intermediate.RawIssuer, f.root.RawSubject) || !c.checkCertSignature(f.intermediate, f.rootKey) {
		return fmt.Errorf("the intermediate CA certificate is not issued by the root CA")
	}
	if !bytes.Equal(f.pck.RawIssuer, f.intermediate.RawSubject) || !c.checkCertSignature(f.pck, f.intermediateKey) {
		return fmt.Errorf("the PCK certificate is not issued by the intermediate CA")
	}
	ext, err := pcs.ParsePCKExtensions(f.pck)
	if err != nil {
		return err
	}
	f.ext = ext
	return nil
}

func (c *Cache) checkSigningChain(ch *chain, f *signingChainFacts) error {
	if len(ch.certs) != 2 {
		return fmt.Errorf("it has %d certificates, 2 are required", len(ch.certs))
	}
	var root *x509.Certificate
	for i, cert := range ch.certs {
		if selfIssued(cert) && strings.Contains(cert.Subject.CommonName, "SGX Root CA") {
			root, f.rootKey = cert, ch.keys[i]
		} else {
			f.signer, f.signerKey = cert, ch.keys[i]
		}
	}
	if root == nil || f.signer == nil {
		return fmt.Errorf("it is not a TCB signing certificate and a root CA")
	}
	for _, cert := range ch.certs {
		if err := requiredExtensions(cert); err != nil {
			return err
		}
	}
	if !strings.Contains(f.signer.Subject.CommonName, "SGX TCB Signing") {
		return fmt.Errorf("the signer %q is not a TCB signing certificate", f.signer.Subject.CommonName)
	}
	if f.signerKey == nil {
		return fmt.Errorf("the TCB signing certificate's key is not an ECDSA P-256 key")
	}
	if !c.checkCertSignature(root, f.rootKey) {
		return fmt.Errorf("the root's self-signature does not verify")
	}
	if !bytes.Equal(f.signer.RawIssuer, root.RawSubject) || !c.checkCertSignature(f.signer, f.rootKey) {
		return fmt.Errorf("the TCB signing certificate is not issued by the root CA")
	}
	f.certs = []*x509.Certificate{f.signer, root}
	return nil
}

var (
	oidAKI   = asn1.ObjectIdentifier{2, 5, 29, 35}
	oidCRLDP = asn1.ObjectIdentifier{2, 5, 29, 31}
	oidSKI   = asn1.ObjectIdentifier{2, 5, 29, 14}
	oidKU    = asn1.ObjectIdentifier{2, 5, 29, 15}
	oidBC    = asn1.ObjectIdentifier{2, 5, 29, 19}
	oidCRLNo = asn1.ObjectIdentifier{2, 5, 29, 20}

	requiredCertExtensions = []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{
		{oidAKI, "authority key identifier"}, {oidCRLDP, "CRL distribution points"},
		{oidSKI, "subject key identifier"}, {oidKU, "key usage"}, {oidBC, "basic constraints"},
	}
)

// requiredExtensions enforces QVL's certificate parser: every certificate
// must carry AKI, CRL distribution points, SKI, key usage and basic
// constraints.
func requiredExtensions(cert *x509.Certificate) error {
	for _, want := range requiredCertExtensions {
		if !hasExtension(cert.Extensions, want.oid) {
			return fmt.Errorf("certificate %q lacks the %s extension", cert.Subject.CommonName, want.name)
		}
	}
	return nil
}

func hasExtension(exts []pkix.Extension, oid asn1.ObjectIdentifier) bool {
	for _, e := range exts {
		if e.Id.Equal(oid) {
			return true
		}
	}
	return false
}
