package snp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/google/go-sev-guest/abi"
	"github.com/google/go-sev-guest/kds"
	spb "github.com/google/go-sev-guest/proto/sevsnp"
	"github.com/google/go-sev-guest/verify"
	"github.com/google/go-sev-guest/verify/trust"
)

// Collateral supplies what a report does not carry: its VCEK (by product
// line, CHIP_ID and REPORTED_TCB) and AMD's CRL of a product line. The
// service's implementation reads the store's cache and fetches from AMD's
// KDS or a caching proxy; tests use files.
type Collateral interface {
	// VCEK returns the DER VCEK certificate of a chip at a TCB.
	VCEK(ctx context.Context, product string, chipID []byte, reportedTCB uint64) ([]byte, error)
	// CRL returns AMD's DER CRL for a product line and signer ("vcek" or
	// "vlek"); nil, nil when none is known.
	CRL(ctx context.Context, product, signer string) ([]byte, error)
}

// Options are the inputs of one verification besides the evidence.
type Options struct {
	// Now is the verification time (required).
	Now time.Time
	// Roots are the trusted roots; nil means AMD's pinned roots.
	Roots *Roots
	// Collateral fetches a missing VCEK and the CRL; nil means the evidence
	// must carry its VCEK/VLEK and no CRL is checked.
	Collateral Collateral
	// RequireCRL refuses evidence whose product line has no current CRL.
	RequireCRL bool
	// MinimumTCB, when set, refuses a REPORTED_TCB below it (any component).
	MinimumTCB *TCB
}

// Result is verified evidence.
type Result struct {
	Report         *Report
	Product        string // Milan, Genoa or Turin
	Signer         string // vcek or vlek
	EndorsementKey *x509.Certificate
	Root           *Root
	ReportedTCB    TCB
	// CRLChecked says AMD's CRL was consulted (and revokes nothing of the chain).
	CRLChecked bool
	// ChainNotAfter is the earliest notAfter of the chain's certificates.
	ChainNotAfter time.Time
	// Cached says the chain came from the verifier's cache (the warm path).
	Cached bool
}

// Claims returns the report's MAA claims.
func (r *Result) Claims() map[string]any { return Claims(r.Report, r.Product) }

// Verifier verifies SNP evidence. It caches verified endorsement chains by
// the SHA-256 of the VCEK/VLEK and of the CRL they were checked against, so
// that the warm path is the report signature and a few comparisons. One
// Verifier serves concurrent calls.
type Verifier struct {
	mu     sync.RWMutex
	chains map[chainKey]*chainEntry
	crls   map[[32]byte]*x509.RevocationList
}

const maxCached = 4096

type chainKey struct {
	ek, crl [32]byte
}

type chainEntry struct {
	cert                *x509.Certificate
	exts                *kds.Extensions
	product             string
	root                *Root
	notBefore, notAfter time.Time
	crlChecked          bool
}

// NewVerifier returns a Verifier with empty caches.
func NewVerifier() *Verifier {
	return &Verifier{chains: map[chainKey]*chainEntry{}, crls: map[[32]byte]*x509.RevocationList{}}
}

var defaultVerifier = NewVerifier()

// Verify verifies evidence with a shared Verifier.
func Verify(ctx context.Context, ev *Evidence, opts Options) (*Result, error) {
	return defaultVerifier.Verify(ctx, ev, opts)
}

var errNoTime = errors.New("snp: Options.Now is required")

// Verify checks evidence at opts.Now, in this order: the endorsement key
// (from the evidence, else from opts.Collateral), its chain to a trusted
// root and its validity (cert_expired, vcek_chain_invalid), AMD's CRL
// (vcek_revoked), CHIP_ID and REPORTED_TCB against the key's extensions
// (vcek_mismatch), the report signature (report_signature_invalid), the
// minimum TCB and the runtime and init-time data bindings (binding_mismatch).
//
// The chain, the KDS certificate properties and the signature are checked by
// go-sev-guest's verify.SnpAttestation. That function refuses report
// version 1 after its certificate checks have passed, in its final call to
// abi.ValidateReportFormat; for a version-1 report Verify accepts exactly
// that refusal (compared with the text abi.ValidateReportFormat gives for
// the report) as "the chain verified" and then checks the signature with
// go-sev-guest's abi.ReportToSignatureDER and abi.SignedComponent over the
// same bytes, which is what verify.SnpReportSignature does after its format
// check. Versions 2 to 5 take go-sev-guest's path unchanged.
func (v *Verifier) Verify(ctx context.Context, ev *Evidence, opts Options) (*Result, error) {
	if opts.Now.IsZero() {
		return nil, errNoTime
	}
	if ev == nil || ev.Report == nil {
		return nil, ErrUnsupportedReport.Wrapf("no report")
	}
	if opts.Roots == nil {
		opts.Roots = AMDRoots()
	}
	r := ev.Report
	ent, sigDone, err := v.chain(ctx, ev, opts)
	if err != nil {
		return nil, err
	}
	res := &Result{
		Report: r, Product: ent.product, Signer: r.SignerName(), EndorsementKey: ent.cert, Root: ent.root,
		ReportedTCB: r.ReportedTCB(ent.product), CRLChecked: ent.crlChecked, ChainNotAfter: ent.notAfter, Cached: !sigDone,
	}
	if err := keyMatches(r, ent.exts); err != nil {
		return nil, err
	}
	if !sigDone {
		if err := reportSignature(r, ent.cert); err != nil {
			return nil, err
		}
	}
	if m := opts.MinimumTCB; m != nil && !res.ReportedTCB.AtLeast(*m) {
		return nil, ErrTCBBelowMinimum.Wrapf("REPORTED_TCB is %s; the minimum is %s", res.ReportedTCB, *m)
	}
	if err := CheckBindings(r, ev.RuntimeData, ev.InitTimeData); err != nil {
		return nil, err
	}
	return res, nil
}

// CheckBindings checks SHA-256(runtime data) == REPORT_DATA[0:32] and
// SHA-256(init-time data) == HOST_DATA (MAA's SevSnpVm rules).
func CheckBindings(r *Report, runtime, initTime *Data) error {
	if runtime != nil {
		h := sha256.Sum256(runtime.Bytes)
		if !bytes.Equal(h[:], r.Proto.GetReportData()[:32]) {
			return ErrBinding.Wrapf("SHA-256 of the runtime data is %x; REPORT_DATA[0:32] is %x", h, r.Proto.GetReportData()[:32])
		}
	}
	if initTime != nil {
		h := sha256.Sum256(initTime.Bytes)
		if !bytes.Equal(h[:], r.Proto.GetHostData()) {
			return ErrBinding.Wrapf("SHA-256 of the init-time data is %x; HOST_DATA is %x", h, r.Proto.GetHostData())
		}
	}
	return nil
}

// chain finds the endorsement key and its verified chain, from the cache
// or by verifying it (then the report signature is checked too: sigDone).
func (v *Verifier) chain(ctx context.Context, ev *Evidence, opts Options) (*chainEntry, bool, error) {
	r := ev.Report
	// Warm path: a supplied certificate whose chain is cached.
	for _, der := range ev.Certs {
		if ent := v.cached(ctx, der, r, opts); ent != nil {
			return ent, false, nil
		}
	}
	ekDER, cert, err := endorsementKey(ctx, ev, opts)
	if err != nil {
		return nil, false, err
	}
	if ent := v.cached(ctx, ekDER, r, opts); ent != nil {
		return ent, false, nil
	}
	return v.cold(ctx, r, ekDER, cert, opts)
}

// cached returns the cached chain of an endorsement key if it is valid at
// opts.Now, ends in one of opts.Roots and was checked against the CRL the
// collateral has now.
func (v *Verifier) cached(ctx context.Context, der []byte, r *Report, opts Options) *chainEntry {
	k := chainKey{ek: sha256.Sum256(der)}
	v.mu.RLock()
	ent := v.chains[k]
	v.mu.RUnlock()
	if ent == nil {
		return nil
	}
	// The CRL may have changed since: look the entry up again under it.
	if opts.Collateral != nil {
		crlDER, _ := opts.Collateral.CRL(ctx, ent.product, r.SignerName())
		if len(crlDER) > 0 {
			k.crl = sha256.Sum256(crlDER)
			v.mu.RLock()
			ent = v.chains[k]
			v.mu.RUnlock()
			if ent == nil {
				return nil
			}
		}
	}
	if opts.Now.Before(ent.notBefore) || opts.Now.After(ent.notAfter) {
		return nil
	}
	if opts.RequireCRL && !ent.crlChecked {
		return nil
	}
	for _, root := range opts.Roots.For(ent.product) {
		if root == ent.root {
			return ent
		}
	}
	return nil
}

// endorsementKey picks the VCEK/VLEK from the evidence's certificates, or
// asks the collateral for the VCEK.
func endorsementKey(ctx context.Context, ev *Evidence, opts Options) ([]byte, *x509.Certificate, error) {
	r := ev.Report
	want := fmt.Sprintf("SEV-%v", r.Signer)
	for _, der := range ev.Certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, nil, ErrChainInvalid.Wrapf("a certificate of the evidence does not parse: %v", err)
		}
		if c.Subject.CommonName == want {
			return der, c, nil
		}
	}
	if r.Signer == abi.VlekReportSigner {
		return nil, nil, ErrNoEndorsementKey.Wrapf("a VLEK-signed report must carry its VLEK (KDS gives VLEKs to cloud providers only)")
	}
	if opts.Collateral == nil {
		return nil, nil, ErrNoEndorsementKey.Wrapf("the evidence carries no %s and no collateral source is configured", want)
	}
	products := []string{r.ProductLine()}
	if products[0] == "" {
		products = []string{"Milan", "Genoa"} // versions 1 and 2 do not name the product; Turin reports are version 3 or later
	}
	var errs []error
	for _, p := range products {
		der, err := opts.Collateral.VCEK(ctx, p, r.Proto.GetChipId(), r.Proto.GetReportedTcb())
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, err))
			continue
		}
		return der, c, nil
	}
	return nil, nil, ErrNoEndorsementKey.Wrap(errors.Join(errs...))
}

func (v *Verifier) crl(ctx context.Context, opts Options, product, signer string) (*x509.RevocationList, [32]byte, error) {
	if opts.Collateral == nil {
		return nil, [32]byte{}, nil
	}
	der, err := opts.Collateral.CRL(ctx, product, signer)
	if err != nil || len(der) == 0 {
		return nil, [32]byte{}, err
	}
	h := sha256.Sum256(der)
	v.mu.RLock()
	crl := v.crls[h]
	v.mu.RUnlock()
	if crl != nil {
		return crl, h, nil
	}
	crl, err = x509.ParseRevocationList(der)
	if err != nil {
		return nil, h, err
	}
	v.mu.Lock()
	if len(v.crls) >= maxCached {
		clear(v.crls)
	}
	v.crls[h] = crl
	v.mu.Unlock()
	return crl, h, nil
}

// cold verifies an endorsement key's chain (and the report signature) with
// go-sev-guest and caches the chain.
func (v *Verifier) cold(ctx context.Context, r *Report, ekDER []byte, cert *x509.Certificate, opts Options) (*chainEntry, bool, error) {
	exts, err := kds.CertificateExtensions(cert, r.Signer)
	if err != nil {
		return nil, false, ErrChainInvalid.Wrapf("the %v certificate's KDS extensions: %v", r.Signer, err)
	}
	product := r.ProductLine()
	if product == "" {
		p, err := kds.ParseProductName(exts.ProductName, r.Signer)
		if err != nil {
			return nil, false, ErrChainInvalid.Wrapf("the %v certificate's product name: %v", r.Signer, err)
		}
		product = kds.ProductLine(p)
	}
	roots := opts.Roots.For(product)
	if len(roots) == 0 {
		return nil, false, ErrChainInvalid.Wrapf("no trusted root for product line %s", product)
	}

	chain := &spb.CertificateChain{}
	if r.Signer == abi.VlekReportSigner {
		chain.VlekCert = ekDER
	} else {
		chain.VcekCert = ekDER
	}
	gopts := &verify.Options{DisableCertFetching: true, Now: opts.Now, TrustedRoots: opts.Roots.gsg(product), Getter: noNetwork{}}
	gerr := verify.SnpAttestationContext(ctx, &spb.Attestation{Report: r.Proto, CertificateChain: chain}, gopts)
	sigDone := gerr == nil
	if gerr != nil && !(r.Version() < abi.MinSupportedReportVersion && gerr.Error() == versionRefusal(r)) {
		return nil, false, classify(r, cert, exts, roots, opts.Now, gerr)
	}

	root := issuingRoot(cert, roots, r.Signer)
	ent := &chainEntry{cert: cert, exts: exts, product: product, root: root}
	ent.notBefore, ent.notAfter = cert.NotBefore, cert.NotAfter
	for _, c := range []*x509.Certificate{root.intermediate(r.Signer), root.Ark} {
		if c.NotBefore.After(ent.notBefore) {
			ent.notBefore = c.NotBefore
		}
		if c.NotAfter.Before(ent.notAfter) {
			ent.notAfter = c.NotAfter
		}
	}

	key := chainKey{ek: sha256.Sum256(ekDER)}
	crl, crlHash, crlErr := v.crl(ctx, opts, product, r.SignerName())
	switch {
	case crl != nil && opts.Now.Before(crl.NextUpdate):
		if err := checkCRL(root, crl, r.Signer, opts.Now); err != nil {
			return nil, false, err
		}
		ent.crlChecked = true
		key.crl = crlHash
	case opts.RequireCRL:
		return nil, false, ErrCRLUnavailable.Wrapf("no current AMD CRL for %s (%v)", product, crlErr)
	}
	if !sigDone {
		if err := keyMatches(r, exts); err != nil {
			return nil, false, err
		}
	}
	v.mu.Lock()
	if len(v.chains) >= maxCached {
		clear(v.chains)
	}
	v.chains[key] = ent
	v.mu.Unlock()
	return ent, sigDone, nil
}

// versionRefusal is the error go-sev-guest's verify.SnpAttestation ends
// with for a report whose version it does not support, after the chain
// checks passed (verify.SnpReportSignature's format check).
func versionRefusal(r *Report) string {
	err := abi.ValidateReportFormat(r.Raw)
	if err == nil {
		return ""
	}
	return "attestation report format error: " + err.Error()
}

// checkCRL checks AMD's CRL with go-sev-guest (signed by the ARK, the ASK
// not revoked) and, for VLEK-signed reports, that it does not revoke the
// ASVK. The CRL is the ARK's: it lists the intermediates the ARK issued, not
// VCEKs (AMD supersedes VCEKs by TCB instead of revoking them).
func checkCRL(root *Root, crl *x509.RevocationList, s abi.ReportSigner, now time.Time) error {
	a := root.gsg()
	a.CRL = crl
	if _, err := verify.GetCrlAndCheckRoot(a, &verify.Options{Now: now, Getter: noNetwork{}}); err != nil {
		return ErrRevoked.Wrap(err)
	}
	if c := root.Asvk; c != nil && s == abi.VlekReportSigner {
		for _, bad := range crl.RevokedCertificateEntries {
			if c.SerialNumber.Cmp(bad.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, crl.RawIssuer) {
				return ErrRevoked.Wrapf("%s (serial %s) was revoked at %s", c.Subject.CommonName, serial(c.SerialNumber), bad.RevocationTime.UTC().Format(time.RFC3339))
			}
		}
	}
	return nil
}

func serial(n *big.Int) string { return n.Text(16) }

// issuingRoot is the root whose intermediate issued cert (by name, then by
// signature when several share a name).
func issuingRoot(cert *x509.Certificate, roots []*Root, s abi.ReportSigner) *Root {
	var named []*Root
	for _, r := range roots {
		if ica := r.intermediate(s); ica != nil && bytes.Equal(ica.RawSubject, cert.RawIssuer) {
			named = append(named, r)
		}
	}
	if len(named) == 1 {
		return named[0]
	}
	for _, r := range named {
		if cert.CheckSignatureFrom(r.intermediate(s)) == nil {
			return r
		}
	}
	return roots[0]
}

// keyMatches compares CHIP_ID with the VCEK's HWID (unless the chip id is
// masked, all zero) and REPORTED_TCB with the key's TCB extensions, as
// go-sev-guest's validate package does.
func keyMatches(r *Report, exts *kds.Extensions) error {
	chip := r.Proto.GetChipId()
	if r.Signer == abi.VcekReportSigner && !allZero(chip) && !bytes.Equal(chip, exts.HWID) {
		return ErrMismatch.Wrapf("CHIP_ID %x is not the VCEK's HWID %x", chip, exts.HWID)
	}
	if kds.TCBVersion(r.Proto.GetReportedTcb()) != exts.TCBVersion {
		return ErrMismatch.Wrapf("REPORTED_TCB %016x is not the %v's TCB %016x", r.Proto.GetReportedTcb(), r.Signer, uint64(exts.TCBVersion))
	}
	return nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// reportSignature checks the report signature under the endorsement key:
// go-sev-guest's verify.SnpReportSignature for the versions it supports,
// the same steps without its version check for version 1.
func reportSignature(r *Report, cert *x509.Certificate) error {
	var err error
	if r.Version() >= abi.MinSupportedReportVersion {
		err = verify.SnpReportSignature(r.Raw, cert)
	} else {
		var der []byte
		if der, err = abi.ReportToSignatureDER(r.Raw); err == nil {
			err = cert.CheckSignature(x509.ECDSAWithSHA384, abi.SignedComponent(r.Raw), der)
		}
	}
	if err != nil {
		return ErrSignature.Wrap(err)
	}
	return nil
}

// classify names the first reason evidence is refused after go-sev-guest
// refused it (gerr): validity, chain, key match, signature; a refusal of
// another KDS certificate property is vcek_chain_invalid.
func classify(r *Report, cert *x509.Certificate, exts *kds.Extensions, roots []*Root, now time.Time, gerr error) error {
	issuer := issuingRoot(cert, roots, r.Signer)
	for _, c := range []*x509.Certificate{cert, issuer.intermediate(r.Signer), issuer.Ark} {
		if c != nil && (now.Before(c.NotBefore) || now.After(c.NotAfter)) {
			return ErrCertExpired.Wrapf("%s is valid from %s to %s: %v", c.Subject.CommonName,
				c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339), gerr)
		}
	}
	chained := false
	for _, root := range roots {
		o := root.gsg().X509Options(now, r.Signer)
		if o == nil {
			continue
		}
		if _, err := cert.Verify(*o); err == nil {
			chained = true
			break
		}
	}
	if !chained {
		return ErrChainInvalid.Wrap(gerr)
	}
	if err := keyMatches(r, exts); err != nil {
		return err
	}
	if err := reportSignature(r, cert); err != nil {
		return err
	}
	return ErrChainInvalid.Wrap(gerr)
}

// noNetwork is the go-sev-guest getter of an offline verifier: collateral
// comes through Options.Collateral, never from go-sev-guest itself.
type noNetwork struct{}

func (noNetwork) Get(url string) ([]byte, error) {
	return nil, fmt.Errorf("snp: no network access from the verifier (%s)", url)
}

var _ trust.HTTPSGetter = noNetwork{}
