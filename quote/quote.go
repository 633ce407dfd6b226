// Package quote parses Intel SGX and TDX ECDSA (DCAP) quotes — versions 3,
// 4 and 5 — and the OpenEnclave report envelope that wraps them.
//
// Parsing is pure: it checks the layout exactly as Intel's Quote
// Verification Library (QVL) does and exposes every field, the signed
// region and the signature data as sub-slices of the input, but it makes no
// cryptographic or policy decision. Signatures, certificate chains, TCB
// levels and the usability of the certification data are the verifier's
// business (package dcap).
//
// All integers are little-endian. Byte arrays (measurements, keys, report
// data) are kept in the order they are stored in the quote.
package quote

import "github.com/avowhq/avow/errs"

// TEE types of the quote header (dcap.md §1.1).
const (
	TEETypeSGX uint32 = 0x00000000
	TEETypeTDX uint32 = 0x00000081
)

// Body types: the v5 body descriptor's type, derived from the TEE type for
// v3 and v4 quotes.
const (
	BodySGX   uint16 = 1 // SGX enclave report, 384 bytes
	BodyTDX10 uint16 = 2 // TD report of TDX 1.0, 584 bytes
	BodyTDX15 uint16 = 3 // TD report of TDX 1.5, 648 bytes
)

var (
	// ErrUnsupportedFormat is returned for every structural failure: size,
	// version, attestation key type, TEE type, QE vendor, body descriptor,
	// a declared size that does not fit its container, a certification
	// data type the parser does not accept, or input that is neither a
	// quote nor hex/base64 text of one. The wrapped detail says exactly
	// what was found.
	ErrUnsupportedFormat = errs.New("unsupported_quote_format", "the quote format is not supported")

	// ErrUnsupportedCertificationData is for the verifier: Parse accepts
	// certification data types 1 to 5, as QVL's parser does, but only type
	// 5 carries the PCK certificate chain that verification needs.
	ErrUnsupportedCertificationData = errs.New("unsupported_certification_data", "the quote does not carry its PCK certificate chain (certification data type 5)")
)

// Header is the 48-byte quote header (dcap.md §1.2).
type Header struct {
	Version            uint16
	AttestationKeyType uint16
	TEEType            uint32
	QESVN              uint16 // v3 only (bytes 8..9); zero otherwise
	PCESVN             uint16 // v3 only (bytes 10..11); zero otherwise
	QEVendorID         [16]byte
	UserData           [20]byte
}

// EnclaveReport is an SGX report body, 384 bytes (dcap.md §1.4): the ISV
// enclave report of an SGX quote and the QE report of every quote.
type EnclaveReport struct {
	CPUSVN       [16]byte
	MiscSelect   uint32
	ISVExtProdID [16]byte
	Attributes   [16]byte // FLAGS u64 LE ‖ XFRM u64 LE
	MREnclave    [32]byte
	MRSigner     [32]byte
	ConfigID     [64]byte
	ISVProdID    uint16
	ISVSVN       uint16
	ConfigSVN    uint16
	ISVFamilyID  [16]byte
	ReportData   [64]byte
}

// Debug reports the DEBUG attribute (FLAGS bit 1).
func (r *EnclaveReport) Debug() bool { return r.Attributes[0]&0x02 != 0 }

// KSS reports the KSS attribute (FLAGS bit 7): the enclave uses Key
// Separation and Sharing, so CONFIGID, CONFIGSVN, ISV_EXT_PROD_ID and
// ISV_FAMILY_ID are meaningful.
func (r *EnclaveReport) KSS() bool { return r.Attributes[0]&0x80 != 0 }

// TDReport is a TD report body (dcap.md §1.5): 584 bytes for TDX 1.0,
// 648 bytes for TDX 1.5.
type TDReport struct {
	TEETCBSVN      [16]byte
	MRSeam         [48]byte
	MRSignerSeam   [48]byte
	SeamAttributes [8]byte
	TDAttributes   [8]byte
	XFAM           [8]byte
	MRTD           [48]byte
	MRConfigID     [48]byte
	MROwner        [48]byte
	MROwnerConfig  [48]byte
	RTMR           [4][48]byte
	ReportData     [64]byte
	TEETCBSVN2     [16]byte // TDX 1.5 only
	MRServiceTD    [48]byte // TDX 1.5 only
}

// Debug reports the TD DEBUG attribute (TDATTRIBUTES bit 0).
func (r *TDReport) Debug() bool { return r.TDAttributes[0]&0x01 != 0 }

// Quote is a parsed quote. Slices are sub-slices of Raw (capacity-limited,
// so appending to them never writes into the input).
type Quote struct {
	Raw      []byte // the input (including trailing bytes)
	Header   Header
	BodyType uint16         // BodySGX / BodyTDX10 / BodyTDX15
	Enclave  *EnclaveReport // set for SGX quotes
	TD       *TDReport      // set for TDX quotes

	// SignedRegion is Raw[0 : end of body): header, v5 body descriptor and
	// body — the message of the quote signature.
	SignedRegion []byte

	Signature      [64]byte // r‖s, big-endian scalars
	AttestationKey [64]byte // X‖Y, big-endian coordinates

	QEReport          EnclaveReport
	QEReportRaw       []byte // the 384 QE report bytes — the QE report signature's message
	QEReportSignature [64]byte
	QEAuthData        []byte

	// CertificationDataType is the innermost type (for v4/v5 the type
	// inside the type-6 wrapper); Parse accepts 1 to 5.
	CertificationDataType uint16
	CertificationData     []byte // innermost payload

	// TrailingBytes counts the bytes after the signature-data block; they
	// are tolerated, as QVL does.
	TrailingBytes int
}

// IsTDX reports whether q is a TDX quote (it then has a TD report body).
func (q *Quote) IsTDX() bool { return q.Header.TEEType == TEETypeTDX }

// ReportData returns the 64-byte REPORTDATA of the enclave or TD report.
func (q *Quote) ReportData() [64]byte {
	switch {
	case q.TD != nil:
		return q.TD.ReportData
	case q.Enclave != nil:
		return q.Enclave.ReportData
	}
	return [64]byte{}
}
