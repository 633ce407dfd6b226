package dcap

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

// CollateralResult is what VerifyCollateral establishes about collateral
// on its own, without a quote.
type CollateralResult struct {
	TEE        string // "sgx" or "tdx", from the TCB info
	TCBInfo    *pcs.TCBInfo
	QEIdentity *pcs.QEIdentity
	// PCKCA is "processor" or "platform": the CA whose CRL the collateral
	// carries ("" when its name says neither).
	PCKCA   string
	RootKey []byte // the root key every chain ends in

	EarliestIssueDate      time.Time
	LatestIssueDate        time.Time
	EarliestExpirationDate time.Time
	CollateralExpired      bool // as Result.CollateralExpired, over the collateral's own items
}

// VerifyCollateral checks collateral by itself with the verifier's rules
// and caches, as a service does before it stores collateral fetched from a
// source with no quote at hand (a refresh): the TCB info parses; the PCK
// CRL issuer chain is [CA, root], linked, with the extensions QVL requires
// and a trusted root; the root CA CRL is issued and signed by that root
// and the PCK CRL by that CA, both with CRL number and AKI; the CA and the
// TCB signing certificate are not revoked; the TCB info and QE identity
// issuer chains are valid [TCB signing, root] chains under the same root;
// both documents' signatures verify; and the QE identity is the one for
// the TCB info's TEE (QE for SGX, TD_QE for TDX). Errors are the
// sentinels Verify returns for the same faults.
//
// A quote verified with collateral that passes still goes through every
// check of Verify; VerifyCollateral only decides whether collateral is
// genuine and complete.
func VerifyCollateral(col *pcs.Collateral, opts Options) (*CollateralResult, error) {
	if opts.Now.IsZero() {
		return nil, errMissingTime
	}
	if col == nil {
		return nil, ErrMissingCollateral.Wrapf("no collateral given")
	}
	c := opts.Cache
	if c == nil {
		c = defaultCache
	}
	v := &verification{col: col, opts: opts, cache: c, res: &Result{}}
	tcb, err := c.tcbInfo(col.TCBInfo, col.TCBInfoSignature)
	if err != nil {
		return nil, ErrTCBInfoInvalid.Wrap(err)
	}
	v.tcb = tcb
	out := &CollateralResult{TEE: strings.ToLower(tcb.doc.ID), TCBInfo: tcb.doc}

	// The PCK CRL issuer chain stands in for the quote's PCK chain.
	if v.crlChain, err = c.chain(col.PCKCRLIssuerChain); err != nil {
		return nil, ErrCRLInvalid.Wrapf("the PCK CRL issuer chain cannot be parsed: %v", err)
	}
	cf := c.crlFacts(v.crlChain)
	if cf.err != nil {
		return nil, ErrUnknownCRLIssuer.Wrapf("the PCK CRL issuer chain: %v", cf.err)
	}
	root, ca := cf.root, cf.ca
	rootKey, caKey := rootKeyBytes(root), rootKeyBytes(ca)
	if !v.trusted(rootKey) {
		return nil, ErrPCKChainUntrusted.Wrapf("the collateral's root key is not a trusted root key")
	}
	out.RootKey = rootKey
	switch cn := ca.Subject.CommonName; {
	case strings.Contains(cn, "Platform CA"):
		out.PCKCA = "platform"
	case strings.Contains(cn, "Processor CA"):
		out.PCKCA = "processor"
	}
	if v.rootCRL, err = c.crl(col.RootCACRL); err != nil {
		return nil, ErrCRLInvalid.Wrapf("the root CA CRL cannot be parsed: %v", err)
	}
	if v.pckCRL, err = c.crl(col.PCKCRL); err != nil {
		return nil, ErrCRLInvalid.Wrapf("the PCK CRL cannot be parsed: %v", err)
	}
	if !bytes.Equal(v.rootCRL.crl.RawIssuer, root.RawSubject) {
		return nil, ErrUnknownCRLIssuer.Wrapf("the root CA CRL is issued by %q, not by the root CA", v.rootCRL.crl.Issuer.CommonName)
	}
	if !bytes.Equal(v.pckCRL.crl.RawIssuer, ca.RawSubject) {
		return nil, ErrUnknownCRLIssuer.Wrapf("the PCK CRL is issued by %q, not by its issuer chain's CA %q",
			v.pckCRL.crl.Issuer.CommonName, ca.Subject.CommonName)
	}
	for _, p := range []struct {
		name string
		crl  *parsedCRL
		key  []byte
	}{{"root CA CRL", v.rootCRL, rootKey}, {"PCK CRL", v.pckCRL, caKey}} {
		if !p.crl.extensionsOK {
			return nil, ErrCRLInvalid.Wrapf("the %s lacks the CRL number or authority key identifier extension", p.name)
		}
		if !c.checkCRLSignature(p.crl.crl, p.key) {
			return nil, ErrCRLInvalid.Wrapf("the %s signature does not verify", p.name)
		}
	}
	if v.rootCRL.has(ca) {
		return nil, ErrPCKRevoked.Wrapf("the PCK CA certificate (serial %x) is revoked", ca.SerialNumber)
	}
	// signingChain compares with the PCK chain's root key.
	v.pckFacts = &pckChainFacts{root: root, rootKey: rootKey, intermediate: ca, intermediateKey: caKey}
	if err := v.signingChains(); err != nil {
		return nil, err
	}
	if !c.checkJSONSignature(v.tcbChain.signerKey, v.tcb.digest, v.tcb.doc.Signature) {
		return nil, ErrTCBInfoInvalid.Wrapf("the TCB info signature does not verify under the TCB signing key")
	}
	qe, err := c.qeIdentity(col.QEIdentity, col.QEIdentitySignature)
	if err != nil {
		return nil, ErrQEIdentityInvalid.Wrap(err)
	}
	v.qe = qe
	if !c.checkJSONSignature(v.qeChain.signerKey, qe.digest, qe.doc.Signature) {
		return nil, ErrQEIdentityInvalid.Wrapf("the QE identity signature does not verify under the TCB signing key")
	}
	want := "QE"
	if out.TEE == "tdx" {
		want = "TD_QE"
	}
	if qe.doc.ID != want {
		return nil, ErrQEIdentityInvalid.Wrapf("the QE identity is %s, a %s TCB info needs %s", qe.doc.ID, tcb.doc.ID, want)
	}
	out.QEIdentity = qe.doc

	var issues, expiries []time.Time
	for _, chain := range [][]*x509.Certificate{v.crlChain.certs, v.tcbChain.certs, v.qeChain.certs} {
		for _, cert := range chain {
			issues = append(issues, cert.NotBefore)
			expiries = append(expiries, cert.NotAfter)
		}
	}
	for _, crl := range []*x509.RevocationList{v.rootCRL.crl, v.pckCRL.crl} {
		issues = append(issues, crl.ThisUpdate)
		expiries = append(expiries, crl.NextUpdate)
	}
	issues = append(issues, tcb.doc.IssueDate, qe.doc.IssueDate)
	expiries = append(expiries, tcb.doc.NextUpdate, qe.doc.NextUpdate)
	out.EarliestIssueDate, out.LatestIssueDate = minTime(issues), maxTime(issues)
	out.EarliestExpirationDate = minTime(expiries)
	now := opts.Now
	out.CollateralExpired = !out.EarliestExpirationDate.After(now) ||
		now.Before(v.rootCRL.crl.ThisUpdate) || now.Before(v.pckCRL.crl.ThisUpdate)
	return out, nil
}

// crlIssuerChain checks a PCK CRL issuer chain: exactly a self-issued root
// ("SGX Root CA") and a CA it issued, each with QVL's required extensions
// and a verifying signature.
func (c *Cache) crlIssuerChain(ch *chain) (root, ca *x509.Certificate, err error) {
	if len(ch.certs) != 2 {
		return nil, nil, fmt.Errorf("it has %d certificates, 2 are required", len(ch.certs))
	}
	var rootKey, caKey []byte
	for i, cert := range ch.certs {
		switch {
		case selfIssued(cert) && strings.Contains(cert.Subject.CommonName, "SGX Root CA"):
			root, rootKey = cert, ch.keys[i]
		case !selfIssued(cert) && strings.Contains(cert.Subject.CommonName, "CA"):
			ca, caKey = cert, ch.keys[i]
		}
	}
	if root == nil || ca == nil || rootKey == nil || caKey == nil {
		return nil, nil, fmt.Errorf("it is not a PCK CA certificate and a root CA with P-256 keys")
	}
	for _, cert := range ch.certs {
		if err := requiredExtensions(cert); err != nil {
			return nil, nil, err
		}
	}
	if !c.checkCertSignature(root, rootKey) {
		return nil, nil, fmt.Errorf("the root's self-signature does not verify")
	}
	if !bytes.Equal(ca.RawIssuer, root.RawSubject) || !c.checkCertSignature(ca, rootKey) {
		return nil, nil, fmt.Errorf("the CA certificate is not issued by the root CA")
	}
	return root, ca, nil
}

// PlatformInfo is what a quote's PCK chain says about its platform once
// the chain is known to end in a trusted root.
type PlatformInfo struct {
	PCK *pcs.PCKExtensions
	// PCKCA is "processor" or "platform": the CA that issued the PCK
	// certificate, whose CRL verifying the quote needs ("" if unnamed).
	PCKCA   string
	RootKey []byte
}

// TrustedPlatform checks a quote's PCK chain (shape, links, signatures)
// and that it ends in one of opts' trusted roots, and returns the
// platform's FMSPC, PCE ID and PCK CA. A service calls it before fetching
// collateral for a quote, so that only genuine platforms make it fetch.
// Errors: ErrUnsupportedCertificationData, ErrPCKChainInvalid,
// ErrPCKChainUntrusted.
func (c *Cache) TrustedPlatform(q *quote.Quote, opts Options) (*PlatformInfo, error) {
	if c == nil {
		c = defaultCache
	}
	f, err := c.quotePCK(q)
	if err != nil {
		return nil, err
	}
	v := &verification{opts: opts}
	if !v.trusted(f.rootKey) {
		return nil, ErrPCKChainUntrusted.Wrapf("the chain's root key is not a trusted root key")
	}
	info := &PlatformInfo{PCK: f.ext, RootKey: f.rootKey}
	switch cn := f.intermediate.Subject.CommonName; {
	case strings.Contains(cn, "Platform CA"):
		info.PCKCA = "platform"
	case strings.Contains(cn, "Processor CA"):
		info.PCKCA = "processor"
	}
	return info, nil
}
