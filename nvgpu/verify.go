package nvgpu

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/big"
	"sort"
	"strings"
	"time"
)

// Collateral gives the verifier NVIDIA's RIMs and OCSP answers. Each
// method returns every candidate it has (NVIDIA re-issues RIMs under one
// id; a folder may hold several OCSP answers for one certificate); the
// verifier picks the one that verifies. A source with nothing returns no
// candidates and no error.
type Collateral interface {
	RIMs(ctx context.Context, id string) ([][]byte, error)
	OCSP(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, error)
}

// ExpiredRIMPolicy says what to do with a RIM whose signer chain has
// expired at the RIM time.
type ExpiredRIMPolicy int

const (
	// RefuseExpiredRIM (the default) refuses the RIM.
	RefuseExpiredRIM ExpiredRIMPolicy = iota
	// AllowExpiredRIM verifies the chain as of the first expiry (the last
	// instant all of it was valid) and marks the result (NVIDIA's
	// allow_gpu_driver_rim_cert_expired policy, made visible).
	AllowExpiredRIM
)

// Options of one verification. Now is required: nothing reads the clock.
type Options struct {
	Now   time.Time // the verification time
	Nonce []byte    // the verifier's 32-byte nonce, compared with request bytes 4..35

	DeviceRoots []*x509.Certificate // default DeviceRoots()
	RIMRoots    []*x509.Certificate // default RIMRoots()

	// Collateral gives RIMs and OCSP answers. Nil: verify the report,
	// chain, nonce and FWID only and fail with ErrRevocationMissing.
	Collateral Collateral

	OCSPMode OCSPMode
	// MaxRevocationAge bounds OCSPAsOfThisUpdate: an answer older than
	// this at Now is stale. Zero means no bound — for forensics only;
	// avow's CLI and NvidiaGpu judge answers at their own time only with
	// a positive bound.
	MaxRevocationAge time.Duration

	RIMTime    time.Time // as-of time of RIM signer chains; zero: Now
	ExpiredRIM ExpiredRIMPolicy

	// MinFSPUcodeSVN, when positive, is the floor of the report's
	// FSP_UCODE_SVN (NVDAOD opaque data); a report without one fails.
	MinFSPUcodeSVN int
}

// Check is one named step of a verification.
type Check struct {
	Name   string
	OK     bool
	Detail string
}

// Checks are the steps taken, in order; JSON renders them as an object.
type Checks []Check

// MarshalJSON renders {"name": true|false, ...} in order.
func (c Checks) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, ch := range c {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(ch.Name)
		b.Write(k)
		if ch.OK {
			b.WriteString(":true")
		} else {
			b.WriteString(":false")
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes, in order.
func (c *Checks) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("nvgpu: checks are not a JSON object")
	}
	*c = nil
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return err
		}
		var ok bool
		if err := dec.Decode(&ok); err != nil {
			return err
		}
		*c = append(*c, Check{Name: k.(string), OK: ok})
	}
	_, err := dec.Token()
	return err
}

// Get returns whether the named check ran and passed.
func (c Checks) Get(name string) (ok, ran bool) {
	for _, ch := range c {
		if ch.Name == name {
			return ch.OK, true
		}
	}
	return false, false
}

// RIMResult describes a RIM that was used.
type RIMResult struct {
	ID             string       `json:"id"`
	TagID          string       `json:"tagId"`
	SHA256         string       `json:"sha256"`
	Version        string       `json:"version"`
	SignerNotAfter time.Time    `json:"signerNotAfter"`
	CertExpired    bool         `json:"certExpired"`
	ChainCheckedAt time.Time    `json:"chainCheckedAt"`
	OCSP           []OCSPStatus `json:"ocsp"`
	Active         int          `json:"activeMeasurements"`
}

// Result is what a verification established about one GPU.
type Result struct {
	Arch          Arch
	Report        *Report
	Checks        Checks
	DriverVersion string
	VBIOSVersion  string
	HWModel       string // the GSP BROM certificate's common name
	UEID          string // the device certificate's serial, decimal
	OEMID         string // the driver RIM's PlatformManufacturerId
	FWID          []byte
	DeviceOCSP    []OCSPStatus
	DriverRIM     *RIMResult
	VBIOSRIM      *RIMResult
	Mismatches    []int // SPDM block indices that do not match
	IndexConflict bool  // the driver and VBIOS RIMs claim one index
	LeafNotAfter  time.Time
	MeasRes       string
	// RevocationAsOf is the oldest thisUpdate of the OCSP answers used:
	// nothing was revoked as of then.
	RevocationAsOf time.Time
	Nonce          []byte
}

func (r *Result) check(name string, ok bool, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, OK: ok, Detail: detail})
}

// fail records a failed check and returns err.
func (r *Result) fail(name string, err error) error {
	r.check(name, false, err.Error())
	return err
}

// Verify verifies one GPU's evidence. The Result is returned even on
// failure, with the checks made so far; a nil error means every check
// passed: genuine NVIDIA GPU, fresh nonce, not revoked as of
// Result.RevocationAsOf, firmware and driver matching NVIDIA's RIMs.
func Verify(ctx context.Context, ev *Evidence, opts Options) (*Result, error) {
	res := &Result{Arch: ev.Arch, Report: ev.Report, Nonce: opts.Nonce}
	if opts.Now.IsZero() {
		return res, res.fail("options", errors.New("nvgpu: Options.Now is required"))
	}
	rep := ev.Report
	op := rep.Response.Opaque
	res.DriverVersion, res.VBIOSVersion = op.DriverVersion(), strings.ToUpper(op.VBIOSVersion())

	// Report structure (ParseReport checked it) and trailing bytes.
	if rep.Trailing > 0 && !allZero(rep.Raw[rep.SignedLen+SignatureLen:]) {
		return res, res.fail("report_parsed", ErrTrailingBytes.Wrapf("%d non-zero bytes after the signature", rep.Trailing))
	}
	res.check("report_parsed", true, "")

	// Nonce.
	if len(opts.Nonce) != NonceLen || !bytes.Equal(opts.Nonce, rep.Request.Nonce[:]) {
		return res, res.fail("nonce_match", ErrNonceMismatch.Wrapf("report %x, expected %x", rep.Request.Nonce[:], opts.Nonce))
	}
	res.check("nonce_match", true, "")

	// Chain shape and signature over request ‖ response.
	if len(ev.Chain) < 2 {
		return res, res.fail("cert_chain", ErrChainLength.Wrapf("%d certificate(s)", len(ev.Chain)))
	}
	leaf := ev.Chain[0]
	key, ok := p384(leaf)
	if !ok {
		return res, res.fail("report_signature", ErrReportSignature.Wrapf("the device key is not ECDSA P-384"))
	}
	h := sha512.Sum384(rep.Signed())
	sig := rep.Response.Signature
	if !ecdsa.Verify(key, h[:], new(big.Int).SetBytes(sig[:48]), new(big.Int).SetBytes(sig[48:])) {
		return res, res.fail("report_signature", ErrReportSignature.Wrapf("with %q", leaf.Subject.String()))
	}
	res.check("report_signature", true, "")

	// Device chain to the pinned root.
	roots := opts.DeviceRoots
	if roots == nil {
		roots = DeviceRoots()
	}
	if err := verifyChain(ev.Chain, roots, opts.Now, ErrChainInvalid, ErrChainRoot); err != nil {
		return res, res.fail("cert_chain", err)
	}
	res.check("cert_chain", true, "")
	res.UEID = leaf.SerialNumber.String()
	res.LeafNotAfter = leaf.NotAfter.UTC()
	if len(ev.Chain) > 1 {
		res.HWModel = ev.Chain[1].Subject.CommonName
	}

	// FWID: the leaf's must equal the report's where the report has one.
	certFWID := CertFWID(leaf)
	if certFWID == nil {
		return res, res.fail("fwid_match", ErrFWIDMissing.Wrapf("%q", leaf.Subject.String()))
	}
	res.FWID = certFWID
	if rf := op.FWID(); rf != nil && !bytes.Equal(rf, certFWID) {
		return res, res.fail("fwid_match", ErrFWIDMismatch.Wrapf("certificate %x, report %x", certFWID, rf))
	}
	res.check("fwid_match", true, "")

	// SVN floor.
	if opts.MinFSPUcodeSVN > 0 {
		svn, ok := op.FSPUcodeSVN()
		if !ok || svn < opts.MinFSPUcodeSVN {
			return res, res.fail("svn_floor", ErrSVNBelowFloor.Wrapf("FSP_UCODE_SVN %d (present %v), minimum %d", svn, ok, opts.MinFSPUcodeSVN))
		}
		res.check("svn_floor", true, "")
	}

	if opts.Collateral == nil {
		return res, res.fail("cert_chain_ocsp", ErrRevocationMissing.Wrapf("no collateral source"))
	}

	// Revocation of the device chain's intermediates.
	st, err := revocation(ctx, opts, ev.Chain[1:len(ev.Chain)-1], ev.Chain[2:])
	if err != nil {
		return res, res.fail("cert_chain_ocsp", err)
	}
	res.DeviceOCSP = st
	res.check("cert_chain_ocsp", true, "")

	// RIMs.
	chip := strings.Fields(leaf.Subject.CommonName + " ")[0]
	driverID := op.DriverRIMID(ev.Arch, chip)
	drv, drvRIM, err := pickRIM(ctx, opts, driverID, res.DriverVersion)
	res.DriverRIM = drv
	if err != nil {
		return res, res.fail("driver_rim", err)
	}
	res.check("driver_rim", true, "")
	res.OEMID = drvRIM.ManufacturerID
	vb, vbRIM, err := pickRIM(ctx, opts, op.VBIOSRIMID(), res.VBIOSVersion)
	res.VBIOSRIM = vb
	if err != nil {
		return res, res.fail("vbios_rim", err)
	}
	res.check("vbios_rim", true, "")

	// Measurements: RIM index i ↔ SPDM block i+1.
	mism, err := compare(rep, drvRIM, vbRIM)
	res.Mismatches = mism
	res.IndexConflict = errors.Is(err, ErrRIMIndexConflict)
	if err != nil {
		res.MeasRes = "fail"
		return res, res.fail("measurements_match", err)
	}
	res.MeasRes = "success"
	res.check("measurements_match", true, "")

	res.RevocationAsOf = oldest(res.DeviceOCSP, drv.OCSP, vb.OCSP)
	return res, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

func oldest(lists ...[]OCSPStatus) time.Time {
	var t time.Time
	for _, l := range lists {
		for _, s := range l {
			if t.IsZero() || s.ThisUpdate.Before(t) {
				t = s.ThisUpdate
			}
		}
	}
	return t
}

// revocation checks certs[i] (issued by issuers[i]) with the collateral's
// OCSP answers; for each, the first candidate that verifies wins.
func revocation(ctx context.Context, opts Options, certs, issuers []*x509.Certificate) ([]OCSPStatus, error) {
	var out []OCSPStatus
	for i, c := range certs {
		cands, err := opts.Collateral.OCSP(ctx, c, issuers[i])
		if err != nil {
			return out, ErrRevocationMissing.Wrapf("for %q: %v", c.Subject.String(), err)
		}
		if len(cands) == 0 {
			return out, ErrRevocationMissing.Wrapf("for %q", c.Subject.String())
		}
		var firstErr error
		var got *OCSPStatus
		for _, der := range cands {
			st, err := checkOCSP(der, c, issuers[i], opts.Now, opts.OCSPMode, opts.MaxRevocationAge)
			if errors.Is(err, ErrRevoked) {
				return out, err // a revocation is never outvoted by another answer
			}
			if err != nil {
				if firstErr == nil {
					firstErr = err
				}
				continue
			}
			if got == nil || st.ThisUpdate.After(got.ThisUpdate) {
				got = st
			}
		}
		if got == nil {
			return out, firstErr
		}
		out = append(out, *got)
	}
	return out, nil
}

// pickRIM fetches the candidates for id and returns the newest that
// verifies.
func pickRIM(ctx context.Context, opts Options, id, version string) (*RIMResult, *RIM, error) {
	cands, err := opts.Collateral.RIMs(ctx, id)
	if err != nil {
		return nil, nil, ErrRIMMissing.Wrapf("%s: %v", id, err)
	}
	if len(cands) == 0 {
		return nil, nil, ErrRIMMissing.Wrapf("%s", id)
	}
	var rims []*RIM
	sigErrs := map[*RIM]error{}
	var firstErr error
	for _, b := range cands {
		r, err, sigErr := parseVerifiedRIM(b)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		rims = append(rims, r)
		sigErrs[r] = sigErr
	}
	sort.SliceStable(rims, func(i, j int) bool { return rims[i].Chain[0].NotBefore.After(rims[j].Chain[0].NotBefore) })
	for _, r := range rims {
		rr, err := verifyRIM(ctx, r, id, version, opts, sigErrs[r])
		if err == nil {
			return rr, r, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	return nil, nil, firstErr
}

// VerifyRIM checks a RIM for a driver or VBIOS version: version match, XML
// signature, signer chain to the pinned RIM root at the RIM time (or as of
// its first expiry under AllowExpiredRIM), and OCSP for every certificate
// of the chain but the root.
func VerifyRIM(ctx context.Context, r *RIM, id, version string, opts Options) (*RIMResult, error) {
	return verifyRIM(ctx, r, id, version, opts, r.VerifySignature())
}

// verifyRIM is VerifyRIM with the XML signature's result given (cached).
func verifyRIM(ctx context.Context, r *RIM, id, version string, opts Options, sigErr error) (*RIMResult, error) {
	rr := &RIMResult{ID: id, TagID: r.TagID, SHA256: r.SHA256, Version: r.ColloquialVersion, SignerNotAfter: r.Chain[0].NotAfter.UTC()}
	for _, m := range r.Measurements {
		if m.Active {
			rr.Active++
		}
	}
	if !strings.EqualFold(r.ColloquialVersion, version) {
		return rr, ErrRIMVersionMismatch.Wrapf("%s is for version %q, the GPU runs %q", id, r.ColloquialVersion, version)
	}
	if sigErr != nil {
		return rr, sigErr
	}
	roots := opts.RIMRoots
	if roots == nil {
		roots = RIMRoots()
	}
	at := opts.RIMTime
	if at.IsZero() {
		at = opts.Now
	}
	if len(r.Chain) < 2 {
		return rr, ErrRIMChain.Wrapf("%d certificate(s) in KeyInfo", len(r.Chain))
	}
	first := r.Chain[0].NotAfter
	for _, c := range r.Chain {
		if c.NotAfter.Before(first) {
			first = c.NotAfter
		}
	}
	if at.After(first) {
		if opts.ExpiredRIM != AllowExpiredRIM {
			return rr, ErrRIMCertExpired.Wrapf("%s: signer chain expired %s, RIM time %s", id, rfc(first), rfc(at))
		}
		rr.CertExpired = true
		at = first
	}
	rr.ChainCheckedAt = at.UTC()
	if err := verifyChain(r.Chain, roots, at, ErrRIMChain, ErrRIMChain); err != nil {
		return rr, err
	}
	if opts.Collateral == nil {
		return rr, ErrRevocationMissing.Wrapf("no collateral source")
	}
	st, err := revocation(ctx, opts, r.Chain[:len(r.Chain)-1], r.Chain[1:])
	rr.OCSP = st
	if err != nil {
		return rr, err
	}
	return rr, nil
}

// nvdecDisabled is the NVDEC0_STATUS under which measurement index 35 is
// not compared.
const nvdecDisabled = "D"

// compare matches the report's measurements with the union of the active
// driver and VBIOS reference measurements.
func compare(rep *Report, drv, vb *RIM) ([]int, error) {
	golden := map[int]RIMMeasurement{}
	for _, m := range drv.Measurements {
		if m.Active {
			golden[m.Index] = m
		}
	}
	for _, m := range vb.Measurements {
		if !m.Active {
			continue
		}
		if _, dup := golden[m.Index]; dup {
			return nil, ErrRIMIndexConflict.Wrapf("index %d", m.Index)
		}
		golden[m.Index] = m
	}
	skip35 := rep.Response.Opaque.String(FieldNVDEC0Status) == nvdecDisabled
	idx := make([]int, 0, len(golden))
	for i := range golden {
		idx = append(idx, i)
	}
	sort.Ints(idx)
	var mism []int
	for _, i := range idx {
		if i == 35 && skip35 {
			continue
		}
		m := golden[i]
		v := rep.Measurement(i + 1)
		ok := false
		for _, alt := range m.Alternatives {
			if v != nil && m.Size == len(v) && bytes.Equal(alt, v) {
				ok = true
			}
		}
		if !ok {
			mism = append(mism, i+1)
		}
	}
	if len(mism) > 0 {
		return mism, ErrMeasurementMismatch.Wrapf("SPDM blocks %v", mism)
	}
	return nil, nil
}
