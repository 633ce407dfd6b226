package sgxsim

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
)

// TEE selects SGX or TDX.
type TEE string

// The TEEs.
const (
	SGX TEE = "sgx"
	TDX TEE = "tdx"
)

// ParseTEE accepts "sgx" or "tdx".
func ParseTEE(s string) (TEE, error) {
	switch TEE(s) {
	case SGX, TDX:
		return TEE(s), nil
	}
	return "", ErrInvalidOptions.Wrapf("TEE %q is not supported (sgx or tdx)", s)
}

// Quote layout constants (dcap.md §1).
const (
	teeTypeSGX uint32 = 0x00000000
	teeTypeTDX uint32 = 0x00000081

	sgxReportSize = 384
	td10Size      = 584
	td15Size      = 648

	certTypePCKChain = 5
	certTypeQEReport = 6
)

// QEVendorID is Intel's QE vendor ID, which QVL requires in the header.
var QEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

// SGX ATTRIBUTES.FLAGS bits.
const (
	FlagInit     uint64 = 1 << 0
	FlagDebug    uint64 = 1 << 1
	FlagMode64   uint64 = 1 << 2
	FlagProvKey  uint64 = 1 << 4
	FlagKSS      uint64 = 1 << 7
	DefaultFlags        = FlagInit | FlagMode64 // a production enclave
	DefaultXFRM  uint64 = 0xe7
)

// TD attribute bits.
const (
	TDAttrDebug         uint64 = 1 << 0
	TDAttrSEPTVEDisable uint64 = 1 << 28
	DefaultTDAttributes        = TDAttrSEPTVEDisable
	DefaultXFAM         uint64 = 0x00000000000602e7
)

// Default measurements of a simulated enclave / TD / TDX module.
var (
	DefaultMREnclave = sha256.Sum256([]byte("avow simulated enclave"))
	DefaultMRSigner  = sha256.Sum256([]byte("avow simulated enclave signer"))
	DefaultMRTD      = sha512.Sum384([]byte("avow simulated TD"))
	DefaultMRSeam    = sha512.Sum384([]byte("avow simulated TDX module"))
)

// QuoteOptions describe the quote to make. Zero values mean the defaults
// noted; byte-slice fields must be nil (default) or exactly the field size
// (ReportData: at most 64 bytes, zero padded).
type QuoteOptions struct {
	TEE     TEE // SGX (default) or TDX
	Version int // 3 (SGX default), 4 (TDX default) or 5; SGX v4/v5 also work

	// TCB of the platform: selects the PCK certificate in the quote. nil
	// is the "uptodate" preset; see Presets.
	TCB *TCB
	// QESVN is the ISVSVN of the QE report; 0 means DefaultQESVN.
	QESVN uint16

	// SGX enclave report.
	MREnclave    []byte // 32; default DefaultMREnclave
	MRSigner     []byte // 32; default DefaultMRSigner
	ISVProdID    uint16
	ISVSVN       uint16
	Attributes   []byte // 16 (FLAGS ‖ XFRM, little-endian); default DefaultFlags ‖ DefaultXFRM
	Debug        bool   // sets the DEBUG flag (SGX) or TD attribute bit 0 (TDX)
	KSS          bool   // sets the KSS flag
	MiscSelect   uint32
	ConfigID     []byte // 64
	ConfigSVN    uint16
	ISVExtProdID []byte // 16
	ISVFamilyID  []byte // 16

	// TD report.
	MRTD          []byte    // 48; default DefaultMRTD
	RTMR          [4][]byte // 48 each; default zero
	MRConfigID    []byte    // 48
	MROwner       []byte    // 48
	MROwnerConfig []byte    // 48
	TDAttributes  *uint64   // default DefaultTDAttributes (SEPT_VE_DISABLE)
	XFAM          *uint64   // default DefaultXFAM
	TEETCBSVN     []byte    // 16; default DefaultTEETCBSVN
	TEETCBSVN2    []byte    // 16, v5 (TDX 1.5) only; default TEETCBSVN
	MRSeam        []byte    // 48; default DefaultMRSeam
	MRSignerSeam  []byte    // 48; default zero (Intel-signed module)
	MRServiceTD   []byte    // 48, v5 only; default zero

	// ReportData is the enclave's / TD's report data (≤ 64 bytes).
	ReportData []byte

	// Defect injects one quote-side defect (collateral-side defects are
	// ignored here; pass the same Defect to Collateral).
	Defect Defect
}

func fill(dst []byte, src []byte, field string) error {
	if src == nil {
		return nil
	}
	if len(src) != len(dst) {
		return ErrInvalidOptions.Wrapf("%s must be %d bytes, got %d", field, len(dst), len(src))
	}
	copy(dst, src)
	return nil
}

// Quote makes a quote signed by the platform's QE. Without a defect it
// verifies (QVL rules) against Collateral of the same TEE with the
// platform's root as trust anchor.
func (p *Platform) Quote(o QuoteOptions) ([]byte, error) {
	if o.TEE == "" {
		o.TEE = SGX
	}
	if _, err := ParseTEE(string(o.TEE)); err != nil {
		return nil, err
	}
	if o.Version == 0 {
		o.Version = 3
		if o.TEE == TDX {
			o.Version = 4
		}
	}
	if o.Version < 3 || o.Version > 5 || (o.TEE == TDX && o.Version == 3) {
		return nil, ErrInvalidOptions.Wrapf("quote version %d is not available for %s (SGX: 3, 4, 5; TDX: 4, 5)", o.Version, o.TEE)
	}
	if !o.Defect.valid() {
		return nil, ErrInvalidOptions.Wrapf("unknown defect %d", int(o.Defect))
	}
	if !o.Defect.Applies(o.TEE) {
		return nil, ErrInvalidOptions.Wrapf("defect %s does not apply to %s quotes", o.Defect, o.TEE)
	}
	if len(o.ReportData) > 64 {
		return nil, ErrInvalidOptions.Wrapf("report data is %d bytes, at most 64", len(o.ReportData))
	}
	tcb := presets[0].TCB
	if o.TCB != nil {
		tcb = *o.TCB
	}
	switch o.Defect {
	case TCBBelowEveryLevel:
		tcb, _ = presetTCB(PresetUnsupported)
	case TCBRevoked:
		tcb, _ = presetTCB(PresetRevoked)
	}
	qesvn := o.QESVN
	if qesvn == 0 {
		qesvn = DefaultQESVN
	}

	// Header (48 bytes).
	var body []byte
	var teeType uint32
	var bodyType uint16
	var err error
	if o.TEE == SGX {
		teeType, bodyType = teeTypeSGX, 1
		body, err = sgxBody(o, tcb)
	} else {
		teeType, bodyType = teeTypeTDX, 2
		if o.Version == 5 {
			bodyType = 3
		}
		body, err = tdBody(o, bodyType == 3)
	}
	if err != nil {
		return nil, err
	}
	hdr := make([]byte, 48, 48+6+len(body))
	le.PutUint16(hdr[0:], uint16(o.Version))
	le.PutUint16(hdr[2:], 2) // ECDSA-256-with-P-256
	le.PutUint32(hdr[4:], teeType)
	if o.Version == 3 {
		le.PutUint16(hdr[8:], qesvn)
		le.PutUint16(hdr[10:], tcb.PCESVN)
	}
	copy(hdr[12:28], QEVendorID[:])
	if o.Defect == BadQEVendorID {
		hdr[12] ^= 0x01
	}
	copy(hdr[28:44], p.id.QEID[:])
	signed := hdr
	if o.Version == 5 {
		signed = le.AppendUint16(signed, bodyType)
		signed = le.AppendUint32(signed, uint32(len(body)))
	}
	signed = append(signed, body...)

	// Quote signature by the attestation key over header (‖ descriptor) ‖ body.
	sig, err := signRS(p.attestationKey, signed)
	if err != nil {
		return nil, err
	}
	if o.Defect == BadQuoteSignature {
		sig[10] ^= 0x01
	}

	// QE report, signed by the PCK key, and the certification data.
	qe, err := p.qeReport(o.TEE, tcb, qesvn, o.Defect == BadQEReportData)
	if err != nil {
		return nil, err
	}
	qeSig := qe.sig
	if o.Defect == BadQEReportSignature {
		qeSig[10] ^= 0x01
	}
	l, err := p.leaf(tcb, o.Defect == UntrustedRoot)
	if err != nil {
		return nil, err
	}
	chain := l.chain
	if o.Defect == BadPCKCertSignature {
		chain = pemChain(corrupt(l.cert.Raw), p.platformCA, p.root)
	}
	attKey := rawPublicKey(&p.attestationKey.PublicKey)

	// QE report ‖ QE signature ‖ auth data ‖ certification data (type 5).
	qeData := make([]byte, 0, sgxReportSize+64+2+len(qeAuthData)+6+len(chain))
	qeData = append(qeData, qe.report[:]...)
	qeData = append(qeData, qeSig[:]...)
	qeData = le.AppendUint16(qeData, uint16(len(qeAuthData)))
	qeData = append(qeData, qeAuthData...)
	qeData = le.AppendUint16(qeData, certTypePCKChain)
	qeData = le.AppendUint32(qeData, uint32(len(chain)))
	qeData = append(qeData, chain...)

	sigData := make([]byte, 0, 128+6+len(qeData))
	sigData = append(sigData, sig[:]...)
	sigData = append(sigData, attKey[:]...)
	if o.Version == 3 {
		sigData = append(sigData, qeData...)
	} else {
		sigData = le.AppendUint16(sigData, certTypeQEReport)
		sigData = le.AppendUint32(sigData, uint32(len(qeData)))
		sigData = append(sigData, qeData...)
	}

	out := make([]byte, 0, len(signed)+4+len(sigData))
	out = append(out, signed...)
	out = le.AppendUint32(out, uint32(len(sigData)))
	out = append(out, sigData...)
	return out, nil
}

var le = binary.LittleEndian

// qeAuthData is the QE authentication data Intel's QE writes: bytes 0..31.
var qeAuthData = func() []byte {
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	return b
}()

func presetTCB(name string) (TCB, bool) {
	p, ok := LookupPreset(name)
	return p.TCB, ok
}

func sgxBody(o QuoteOptions, tcb TCB) ([]byte, error) {
	b := make([]byte, sgxReportSize)
	cpusvn := tcb.CPUSVN()
	copy(b[0:16], cpusvn[:])
	le.PutUint32(b[16:], o.MiscSelect)
	le.PutUint64(b[48:], DefaultFlags)
	le.PutUint64(b[56:], DefaultXFRM)
	copy(b[64:96], DefaultMREnclave[:])
	copy(b[128:160], DefaultMRSigner[:])
	if err := fillAll([]field{
		{b[32:48], o.ISVExtProdID, "ISV_EXT_PROD_ID"},
		{b[48:64], o.Attributes, "ATTRIBUTES"},
		{b[64:96], o.MREnclave, "MRENCLAVE"},
		{b[128:160], o.MRSigner, "MRSIGNER"},
		{b[192:256], o.ConfigID, "CONFIGID"},
		{b[304:320], o.ISVFamilyID, "ISV_FAMILY_ID"},
	}); err != nil {
		return nil, err
	}
	if o.Debug {
		b[48] |= byte(FlagDebug)
	}
	if o.KSS {
		b[48] |= byte(FlagKSS)
	}
	le.PutUint16(b[256:], o.ISVProdID)
	le.PutUint16(b[258:], o.ISVSVN)
	le.PutUint16(b[260:], o.ConfigSVN)
	copy(b[320:384], o.ReportData)
	return b, nil
}

type field struct {
	dst  []byte
	src  []byte
	name string
}

func tdBody(o QuoteOptions, v15 bool) ([]byte, error) {
	size := td10Size
	if v15 {
		size = td15Size
	} else if o.TEETCBSVN2 != nil || o.MRServiceTD != nil {
		return nil, ErrInvalidOptions.Wrapf("TEE_TCB_SVN2 and MRSERVICETD exist only in TDX 1.5 bodies (quote version 5)")
	}
	b := make([]byte, size)
	copy(b[0:16], DefaultTEETCBSVN[:])
	copy(b[16:64], DefaultMRSeam[:])
	copy(b[136:184], DefaultMRTD[:])
	fields := []field{
		{b[0:16], o.TEETCBSVN, "TEE_TCB_SVN"},
		{b[16:64], o.MRSeam, "MRSEAM"},
		{b[64:112], o.MRSignerSeam, "MRSIGNERSEAM"},
		{b[136:184], o.MRTD, "MRTD"},
		{b[184:232], o.MRConfigID, "MRCONFIGID"},
		{b[232:280], o.MROwner, "MROWNER"},
		{b[280:328], o.MROwnerConfig, "MROWNERCONFIG"},
		{b[328:376], o.RTMR[0], "RTMR0"},
		{b[376:424], o.RTMR[1], "RTMR1"},
		{b[424:472], o.RTMR[2], "RTMR2"},
		{b[472:520], o.RTMR[3], "RTMR3"},
	}
	if v15 {
		fields = append(fields, field{b[600:648], o.MRServiceTD, "MRSERVICETD"})
	}
	if err := fillAll(fields); err != nil {
		return nil, err
	}
	if v15 {
		copy(b[584:600], b[0:16]) // TEE_TCB_SVN2 defaults to TEE_TCB_SVN
		if err := fill(b[584:600], o.TEETCBSVN2, "TEE_TCB_SVN2"); err != nil {
			return nil, err
		}
	}
	if o.Defect == TDXModuleMismatch {
		other := sha512.Sum384([]byte("avow simulated third-party TDX module signer"))
		copy(b[64:112], other[:])
	}
	attrs, xfam := DefaultTDAttributes, DefaultXFAM
	if o.TDAttributes != nil {
		attrs = *o.TDAttributes
	}
	if o.Debug {
		attrs |= TDAttrDebug
	}
	if o.XFAM != nil {
		xfam = *o.XFAM
	}
	le.PutUint64(b[120:], attrs)
	le.PutUint64(b[128:], xfam)
	copy(b[520:584], o.ReportData)
	return b, nil
}

func fillAll(fields []field) error {
	for _, f := range fields {
		if err := fill(f.dst, f.src, f.name); err != nil {
			return err
		}
	}
	return nil
}

type qeReportKey struct {
	tee     TEE
	tcb     TCB
	qesvn   uint16
	badData bool
}

type signedQEReport struct {
	report [sgxReportSize]byte
	sig    [64]byte
}

// qeReport returns the QE's report for the attestation key, signed by the
// PCK key, cached: a real QE also produces it once per attestation key.
func (p *Platform) qeReport(tee TEE, tcb TCB, qesvn uint16, badData bool) (*signedQEReport, error) {
	k := qeReportKey{tee, tcb, qesvn, badData}
	p.mu.Lock()
	r, ok := p.qeReports[k]
	p.mu.Unlock()
	if ok {
		return r, nil
	}
	r = &signedQEReport{}
	b := r.report[:]
	cpusvn := tcb.CPUSVN()
	copy(b[0:16], cpusvn[:])
	le.PutUint32(b[16:], qeMiscSelect)
	copy(b[48:64], qeAttributes[:])
	mrenclave := sha256.Sum256([]byte("avow simulated quoting enclave/" + string(tee)))
	copy(b[64:96], mrenclave[:])
	mrsigner := qeMRSigner(tee)
	copy(b[128:160], mrsigner[:])
	le.PutUint16(b[256:], qeProdID(tee))
	le.PutUint16(b[258:], qesvn)
	att := rawPublicKey(&p.attestationKey.PublicKey)
	h := sha256.New()
	h.Write(att[:])
	h.Write(qeAuthData)
	binding := h.Sum(nil)
	if badData {
		binding[0] ^= 0x01
	}
	copy(b[320:352], binding)
	sig, err := signRS(p.pckKey, b)
	if err != nil {
		return nil, err
	}
	r.sig = sig
	p.mu.Lock()
	p.qeReports[k] = r
	p.mu.Unlock()
	return r, nil
}

// QE identity values (dcap.md §3.2; the attributes are Intel's).
var (
	qeAttributes     = [16]byte{0x15, 0, 0, 0, 0, 0, 0, 0, 0xe7} // INIT|MODE64|PROVISIONKEY, XFRM e7
	qeIDAttributes   = [16]byte{0x11}
	qeIDAttrMask     = [16]byte{0xfb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	qeMiscSelect     = uint32(0)
	qeMiscSelectMask = uint32(0xffffffff)
)

func qeProdID(tee TEE) uint16 {
	if tee == TDX {
		return 2
	}
	return 1
}

// signRS signs SHA-256(msg) and returns r‖s, 32 bytes each, big-endian.
func signRS(key *ecdsa.PrivateKey, msg []byte) ([64]byte, error) {
	var out [64]byte
	h := sha256.Sum256(msg)
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		return out, fmt.Errorf("sgxsim: sign: %w", err)
	}
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// rawPublicKey returns X‖Y of a P-256 key.
func rawPublicKey(pub *ecdsa.PublicKey) [64]byte {
	var out [64]byte
	b, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	copy(out[:], b[1:])
	return out
}
