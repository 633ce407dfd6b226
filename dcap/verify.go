// Package dcap verifies Intel SGX and TDX ECDSA quotes against Intel's
// collateral exactly as Intel's Quote Verification Library (QVL) and QvE do:
// the same checks in the same order, the same TCB level selection and status
// convergence, the same collateral expiry bookkeeping
// (../shared/spec/dcap.md §2). Whether a TCB status or an expired collateral
// is acceptable is not decided here: that is the caller's policy.
package dcap

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"strings"
	"time"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

// Options are the inputs of a verification besides the quote and collateral.
type Options struct {
	// Now is the verification time (QvE's expiration_check_date). Required:
	// the verifier never reads the clock.
	Now time.Time
	// TrustedRoots are the accepted root certificates, compared by public
	// key as QvE does. With TrustedRootKeys empty too, the pinned Intel SGX
	// Root CA key is the only trust anchor.
	TrustedRoots []*x509.Certificate
	// TrustedRootKeys are accepted root keys (uncompressed P-256 points),
	// for example IntelRootKey() beside a private platform's root.
	TrustedRootKeys [][]byte
	// StrictExpiry turns expired collateral into ErrCollateralExpired. QVL
	// only reports it (Result.CollateralExpired); that is the default.
	StrictExpiry bool
	// PCKCertificate supplies the PCK leaf out of band for quotes whose
	// certification data is not a PCK chain (types 1-4); it is chained
	// through the collateral's PCK CRL issuer chain.
	PCKCertificate *x509.Certificate
	// Cache memoises collateral parsing and signature checks; nil uses a
	// process-wide cache.
	Cache *Cache
}

// Result is the outcome of a verification. On failure Verify still returns
// the fields it established (TEE, collateral dates and expiry).
type Result struct {
	TEE                    string        // "sgx" or "tdx"
	TCBStatus              pcs.TCBStatus // QVL's final status; empty on failure
	AdvisoryIDs            []string      // advisoryIDs of the selected TCB level
	TCBDate                time.Time     // tcbDate of the selected TCB level
	CollateralExpired      bool          // QvE collateral_expiration_status at Now
	EarliestIssueDate      time.Time
	LatestIssueDate        time.Time
	EarliestExpirationDate time.Time
	QEStatus               pcs.TCBStatus // status of the matched QE identity level
	TDXModuleStatus        pcs.TCBStatus // TDX only
	TCBEvaluationDataNum   uint32        // min of the TCB info's and QE identity's numbers
	PCK                    *pcs.PCKExtensions
	RootKey                []byte // the trust anchor's key (uncompressed point) that the chain ended in
	TCBInfo                *pcs.TCBInfo
	QEIdentity             *pcs.QEIdentity
}

// VerifyQuote parses raw and verifies it; see Verify.
func VerifyQuote(raw []byte, col *pcs.Collateral, opts Options) (*Result, *quote.Quote, error) {
	q, err := quote.Parse(raw)
	if err != nil {
		return &Result{}, nil, ErrUnsupportedQuoteFormat.Wrap(err)
	}
	res, err := Verify(q, col, opts)
	return res, q, err
}

// Verify checks a parsed quote against collateral at opts.Now in QVL's
// order; the first failing check determines the error, one of the
// sentinels in errors.go. A nil error means the quote is genuine and its
// platform's TCB status is res.TCBStatus (any status but Revoked).
func Verify(q *quote.Quote, col *pcs.Collateral, opts Options) (*Result, error) {
	res := &Result{TEE: "sgx"}
	if q.IsTDX() {
		res.TEE = "tdx"
	}
	if opts.Now.IsZero() {
		return res, errMissingTime
	}
	if col == nil {
		return res, ErrMissingCollateral.Wrapf("no collateral given")
	}
	c := opts.Cache
	if c == nil {
		c = defaultCache
	}
	v := &verification{q: q, col: col, opts: opts, cache: c, res: res}
	err := v.run()
	if err == nil && opts.StrictExpiry && res.CollateralExpired {
		err = ErrCollateralExpired.Wrapf("the earliest collateral expiry is %s, at or before the verification time %s",
			res.EarliestExpirationDate.UTC().Format(time.RFC3339), opts.Now.UTC().Format(time.RFC3339))
	}
	if err != nil {
		res.TCBStatus, res.AdvisoryIDs, res.TCBDate = "", nil, time.Time{}
	}
	return res, err
}

type verification struct {
	q     *quote.Quote
	col   *pcs.Collateral
	opts  Options
	cache *Cache
	res   *Result

	pckFacts          *pckChainFacts
	rootCRL, pckCRL   *parsedCRL
	tcb               *signedDoc[*pcs.TCBInfo]
	qe                *signedDoc[*pcs.QEIdentity]
	tcbChain, qeChain *signingChainFacts
	crlChain          *chain
}

func (v *verification) run() error {
	if err := v.pckChain(); err != nil {
		return err
	}
	if err := v.crls(); err != nil {
		return err
	}
	if err := v.signingChains(); err != nil {
		return err
	}
	if !v.cache.checkJSONSignature(v.tcbChain.signerKey, v.tcb.digest, v.tcb.doc.Signature) {
		return ErrTCBInfoInvalid.Wrapf("the TCB info signature does not verify under the TCB signing key")
	}
	qe, err := v.cache.qeIdentity(v.col.QEIdentity, v.col.QEIdentitySignature)
	if err != nil {
		return ErrQEIdentityInvalid.Wrap(err)
	}
	v.qe = qe
	if !v.cache.checkJSONSignature(v.qeChain.signerKey, v.qe.digest, v.qe.doc.Signature) {
		return ErrQEIdentityInvalid.Wrapf("the QE identity signature does not verify under the TCB signing key")
	}
	v.res.TCBInfo, v.res.QEIdentity = v.tcb.doc, v.qe.doc
	v.res.TCBEvaluationDataNum = min(v.tcb.doc.TCBEvaluationDataNumber, v.qe.doc.TCBEvaluationDataNumber)
	v.dates()
	return v.quoteChecks()
}

// pckChain finds and checks the PCK chain (QVL PckCertVerifier, QvE steps
// 1-5): certification data type, TCB info format, chain shape, links,
// signatures and trust.
func (v *verification) pckChain() error {
	var ch *chain
	if v.opts.PCKCertificate != nil {
		issuers, err := v.cache.chain(v.col.PCKCRLIssuerChain)
		if err != nil {
			return ErrPCKChainInvalid.Wrapf("the PCK CRL issuer chain cannot be parsed: %v", err)
		}
		ch = newChain(append([]*x509.Certificate{v.opts.PCKCertificate}, issuers.certs...))
	} else {
		if v.q.CertificationDataType != 5 {
			return ErrUnsupportedCertificationData.Wrapf("certification data type is %d", v.q.CertificationDataType)
		}
		var err error
		if ch, err = v.cache.chain(v.q.CertificationData); err != nil {
			return ErrPCKChainInvalid.Wrapf("the certification data cannot be parsed: %v", err)
		}
	}
	// QvE parses the TCB info before it looks at the chain.
	tcb, err := v.cache.tcbInfo(v.col.TCBInfo, v.col.TCBInfoSignature)
	if err != nil {
		return ErrTCBInfoInvalid.Wrap(err)
	}
	v.tcb = tcb
	facts := v.cache.pckFacts(ch)
	if facts.err != nil {
		return ErrPCKChainInvalid.Wrap(facts.err)
	}
	v.pckFacts = facts
	v.res.PCK = facts.ext
	if !v.trusted(facts.rootKey) {
		return ErrPCKChainUntrusted.Wrapf("the chain's root key is not a trusted root key")
	}
	v.res.RootKey = facts.rootKey
	return nil
}

// trusted reports whether key is one of the trust anchors' keys.
func (v *verification) trusted(key []byte) bool {
	if key == nil {
		return false
	}
	if len(v.opts.TrustedRoots) == 0 && len(v.opts.TrustedRootKeys) == 0 {
		return bytes.Equal(key, intelRootKey)
	}
	for _, k := range v.opts.TrustedRootKeys {
		if bytes.Equal(key, k) {
			return true
		}
	}
	for _, t := range v.opts.TrustedRoots {
		if selfIssued(t) && bytes.Equal(key, rootKeyBytes(t)) {
			return true
		}
	}
	return false
}

// crls checks the root CA CRL against the root and the PCK CRL against the
// PCK's issuing CA, then revocation of the intermediate and the PCK.
func (v *verification) crls() error {
	var err error
	if v.rootCRL, err = v.cache.crl(v.col.RootCACRL); err != nil {
		return ErrCRLInvalid.Wrapf("the root CA CRL cannot be parsed: %v", err)
	}
	if v.pckCRL, err = v.cache.crl(v.col.PCKCRL); err != nil {
		return ErrCRLInvalid.Wrapf("the PCK CRL cannot be parsed: %v", err)
	}
	if v.crlChain, err = v.cache.chain(v.col.PCKCRLIssuerChain); err != nil {
		return ErrCRLInvalid.Wrapf("the PCK CRL issuer chain cannot be parsed: %v", err)
	}
	f := v.pckFacts
	if !bytes.Equal(v.rootCRL.crl.RawIssuer, f.root.RawSubject) {
		return ErrUnknownCRLIssuer.Wrapf("the root CA CRL is issued by %q, not by the root CA", v.rootCRL.crl.Issuer.CommonName)
	}
	if !bytes.Equal(v.pckCRL.crl.RawIssuer, f.intermediate.RawSubject) || !strings.Contains(v.pckCRL.crl.Issuer.CommonName, "CA") {
		return ErrUnknownCRLIssuer.Wrapf("the PCK CRL is issued by %q, not by the PCK's CA %q",
			v.pckCRL.crl.Issuer.CommonName, f.intermediate.Subject.CommonName)
	}
	// The collateral's PCK CRL issuer chain must be a genuine [CA, root]
	// chain naming that CA under the same root: a forged or altered chain
	// is refused rather than ignored.
	cf := v.cache.crlFacts(v.crlChain)
	switch {
	case cf.err != nil:
		return ErrUnknownCRLIssuer.Wrapf("the PCK CRL issuer chain: %v", cf.err)
	case !bytes.Equal(rootKeyBytes(cf.root), f.rootKey):
		return ErrUnknownCRLIssuer.Wrapf("the PCK CRL issuer chain ends in another root than the PCK chain")
	case !bytes.Equal(cf.ca.RawSubject, v.pckCRL.crl.RawIssuer):
		return ErrUnknownCRLIssuer.Wrapf("the PCK CRL issuer chain is for %q, the PCK CRL is issued by %q", cf.ca.Subject.CommonName, v.pckCRL.crl.Issuer.CommonName)
	}
	for _, p := range []struct {
		name string
		crl  *parsedCRL
		key  []byte
	}{{"root CA CRL", v.rootCRL, f.rootKey}, {"PCK CRL", v.pckCRL, f.intermediateKey}} {
		if !p.crl.extensionsOK {
			return ErrCRLInvalid.Wrapf("the %s lacks the CRL number or authority key identifier extension", p.name)
		}
		if !v.cache.checkCRLSignature(p.crl.crl, p.key) {
			return ErrCRLInvalid.Wrapf("the %s signature does not verify", p.name)
		}
	}
	if v.rootCRL.has(f.intermediate) {
		return ErrPCKRevoked.Wrapf("the intermediate CA certificate (serial %x) is revoked", f.intermediate.SerialNumber)
	}
	if v.pckCRL.has(f.pck) {
		return ErrPCKRevoked.Wrapf("the PCK certificate (serial %x) is revoked", f.pck.SerialNumber)
	}
	return nil
}

func (p *parsedCRL) has(cert *x509.Certificate) bool {
	_, ok := p.revoked[string(cert.SerialNumber.Bytes())]
	return ok
}

// signingChains checks the TCB info and QE identity issuer chains (QVL
// TCBSigningChain): [TCB signing, root], linked, rooted in the PCK chain's
// root, signer not revoked.
func (v *verification) signingChains() error {
	var err error
	if v.tcbChain, err = v.signingChain("TCB info", v.col.TCBInfoIssuerChain); err != nil {
		return err
	}
	v.qeChain, err = v.signingChain("QE identity", v.col.QEIdentityIssuerChain)
	return err
}

func (v *verification) signingChain(what string, pemChain []byte) (*signingChainFacts, error) {
	ch, err := v.cache.chain(pemChain)
	if err != nil {
		return nil, ErrTCBSigningChainInvalid.Wrapf("the %s issuer chain cannot be parsed: %v", what, err)
	}
	f := v.cache.signingFacts(ch)
	if f.err != nil {
		return nil, ErrTCBSigningChainInvalid.Wrapf("the %s issuer chain: %v", what, f.err)
	}
	if !bytes.Equal(f.rootKey, v.pckFacts.rootKey) {
		return nil, ErrTCBSigningChainInvalid.Wrapf("the %s issuer chain ends in another root than the PCK chain", what)
	}
	if v.rootCRL.has(f.signer) {
		return nil, ErrPCKRevoked.Wrapf("the TCB signing certificate (serial %x) is revoked", f.signer.SerialNumber)
	}
	return f, nil
}

// dates computes QvE's collateral time bookkeeping (dcap.md §2.8).
func (v *verification) dates() {
	var issues, expiries []time.Time
	f := v.pckFacts
	for _, chain := range [][]*x509.Certificate{v.crlChain.certs, {f.root, f.intermediate, f.pck}, v.tcbChain.certs, v.qeChain.certs} {
		for _, cert := range chain {
			issues = append(issues, cert.NotBefore)
			expiries = append(expiries, cert.NotAfter)
		}
	}
	for _, crl := range []*x509.RevocationList{v.rootCRL.crl, v.pckCRL.crl} {
		issues = append(issues, crl.ThisUpdate)
		expiries = append(expiries, crl.NextUpdate)
	}
	issues = append(issues, v.tcb.doc.IssueDate, v.qe.doc.IssueDate)
	expiries = append(expiries, v.tcb.doc.NextUpdate, v.qe.doc.NextUpdate)
	r := v.res
	r.EarliestIssueDate, r.LatestIssueDate = minTime(issues), maxTime(issues)
	r.EarliestExpirationDate = minTime(expiries)
	now := v.opts.Now
	r.CollateralExpired = !r.EarliestExpirationDate.After(now) ||
		now.Before(v.rootCRL.crl.ThisUpdate) || now.Before(v.pckCRL.crl.ThisUpdate)
}

// quoteChecks are QVL's QuoteVerifier::verify steps 4-12 (dcap.md §2.5).
func (v *verification) quoteChecks() error {
	q, tcb := v.q, v.tcb.doc
	if q.IsTDX() != (tcb.ID == "TDX") || (q.IsTDX() && tcb.Version < 3) {
		return ErrTCBInfoMismatch.Wrapf("the TCB info is for %s, the quote is %s", tcb.ID, strings.ToUpper(v.res.TEE))
	}
	ext := v.pckFacts.ext
	if tcb.FMSPC != ext.FMSPC {
		return ErrTCBInfoMismatch.Wrapf("the TCB info is for FMSPC %x, the PCK certificate has FMSPC %x", tcb.FMSPC, ext.FMSPC)
	}
	if tcb.PCEID != ext.PCEID {
		return ErrTCBInfoMismatch.Wrapf("the TCB info is for PCE ID %x, the PCK certificate has PCE ID %x", tcb.PCEID, ext.PCEID)
	}
	if q.IsTDX() {
		if err := checkTDXModule(q.TD, tcb); err != nil {
			return err
		}
	}
	pckKey := p256Key(v.pckFacts.pck)
	qeDigest := sha256.Sum256(q.QEReportRaw)
	if !verifyRS(pckKey, qeDigest[:], q.QEReportSignature[:]) {
		return ErrInvalidQEReportSignature.Wrapf("the QE report signature does not verify under the PCK certificate's key")
	}
	h := sha256.New()
	h.Write(q.AttestationKey[:])
	h.Write(q.QEAuthData)
	if !bytes.Equal(h.Sum(nil), q.QEReport.ReportData[:32]) {
		return ErrInvalidQEReportData.Wrapf("SHA-256(attestation key || QE authentication data) differs from the QE report data")
	}
	qeStatus, err := checkQEIdentity(q, v.qe.doc)
	if err != nil {
		return err
	}
	attKey, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append([]byte{4}, q.AttestationKey[:]...))
	if err != nil {
		return ErrUnsupportedQuoteFormat.Wrapf("the attestation key is not a valid P-256 point")
	}
	quoteDigest := sha256.Sum256(q.SignedRegion)
	if !verifyRS(attKey, quoteDigest[:], q.Signature[:]) {
		return ErrInvalidQuoteSignature.Wrapf("the quote signature does not verify under the attestation key")
	}
	return v.tcbStatus(qeStatus)
}

func selfIssued(cert *x509.Certificate) bool { return bytes.Equal(cert.RawIssuer, cert.RawSubject) }

func minTime(ts []time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.Before(m) {
			m = t
		}
	}
	return m
}

func maxTime(ts []time.Time) time.Time {
	m := ts[0]
	for _, t := range ts[1:] {
		if t.After(m) {
			m = t
		}
	}
	return m
}
