package quote

import "encoding/binary"

// Sizes and offsets of dcap.md §1.
const (
	headerSize     = 48
	descriptorSize = 6
	sgxReportSize  = 384
	td10Size       = 584
	td15Size       = 648

	// minSize is QVL's minimum quote size: header + SGX report + signature
	// data length + the 584 bytes of the smallest signature data QVL
	// considers (48+384+4+584).
	minSize = 1020

	certTypeQEReport = 6 // the v4/v5 outer certification data type
)

// intelQEVendorID is the QE vendor ID of Intel's quoting enclaves.
var intelQEVendorID = [16]byte{0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9, 0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07}

var le = binary.LittleEndian

// Parse parses a raw SGX or TDX ECDSA quote: version 3 (SGX), version 4
// (SGX or TDX 1.0 body) or version 5 (body types 1, 2, 3). It applies
// QVL's structural checks (dcap.md §1.6): minimum size 1020 bytes, version
// 3/4/5, attestation key type 2, TEE type SGX or TDX (SGX for v3), Intel's
// QE vendor ID, a v5 body descriptor whose type, size and TEE type agree, a
// signature data length within the input, every declared size within its
// container, an outer certification data of type 6 exactly filled by its
// content for v4/v5, and an innermost certification data type of 1 to 5.
// Bytes after the signature data are tolerated and counted in
// TrailingBytes. Every failure is ErrUnsupportedFormat with a detail.
//
// The returned Quote references b; b must not be modified while it is in
// use.
func Parse(b []byte) (*Quote, error) {
	if len(b) < minSize {
		return nil, ErrUnsupportedFormat.Wrapf("quote is %d bytes, the minimum is %d", len(b), minSize)
	}
	q := &Quote{Raw: b}
	h := &q.Header
	h.Version = le.Uint16(b[0:])
	if h.Version < 3 || h.Version > 5 {
		return nil, ErrUnsupportedFormat.Wrapf("quote version %d is not supported (3, 4 or 5)", h.Version)
	}
	h.AttestationKeyType = le.Uint16(b[2:])
	if h.AttestationKeyType != 2 {
		return nil, ErrUnsupportedFormat.Wrapf("attestation key type %d is not supported (only 2, ECDSA-256-with-P-256)", h.AttestationKeyType)
	}
	h.TEEType = le.Uint32(b[4:])
	if h.TEEType != TEETypeSGX && h.TEEType != TEETypeTDX {
		return nil, ErrUnsupportedFormat.Wrapf("TEE type 0x%08x is not supported (0x00000000 SGX or 0x00000081 TDX)", h.TEEType)
	}
	if h.Version == 3 {
		if h.TEEType != TEETypeSGX {
			return nil, ErrUnsupportedFormat.Wrapf("a version 3 quote must have TEE type SGX (0x00000000), not 0x%08x", h.TEEType)
		}
		h.QESVN = le.Uint16(b[8:])
		h.PCESVN = le.Uint16(b[10:])
	}
	copy(h.QEVendorID[:], b[12:28])
	if h.QEVendorID != intelQEVendorID {
		return nil, ErrUnsupportedFormat.Wrapf("QE vendor ID %x is not Intel's (%x)", h.QEVendorID[:], intelQEVendorID[:])
	}
	copy(h.UserData[:], b[28:48])

	bodyStart := headerSize
	var bodySize int
	if h.Version == 5 {
		q.BodyType = le.Uint16(b[48:])
		declared := le.Uint32(b[50:])
		bodyStart += descriptorSize
		var tee uint32
		switch q.BodyType {
		case BodySGX:
			bodySize, tee = sgxReportSize, TEETypeSGX
		case BodyTDX10:
			bodySize, tee = td10Size, TEETypeTDX
		case BodyTDX15:
			bodySize, tee = td15Size, TEETypeTDX
		default:
			return nil, ErrUnsupportedFormat.Wrapf("version 5 body type %d is not supported (1 SGX, 2 TDX 1.0, 3 TDX 1.5)", q.BodyType)
		}
		if uint64(declared) != uint64(bodySize) {
			return nil, ErrUnsupportedFormat.Wrapf("version 5 body type %d declares %d bytes, it must be %d", q.BodyType, declared, bodySize)
		}
		if tee != h.TEEType {
			return nil, ErrUnsupportedFormat.Wrapf("version 5 body type %d does not match TEE type 0x%08x", q.BodyType, h.TEEType)
		}
	} else if h.TEEType == TEETypeSGX {
		q.BodyType, bodySize = BodySGX, sgxReportSize
	} else {
		q.BodyType, bodySize = BodyTDX10, td10Size
	}
	bodyEnd := bodyStart + bodySize
	if bodyEnd+4 > len(b) { // cannot happen above minSize; kept so Parse never panics if the layout changes
		return nil, ErrUnsupportedFormat.Wrapf("quote is %d bytes, too short for its %d-byte body", len(b), bodySize)
	}
	body := b[bodyStart:bodyEnd]
	if q.BodyType == BodySGX {
		q.Enclave = new(EnclaveReport)
		parseEnclaveReport(q.Enclave, body)
	} else {
		q.TD = new(TDReport)
		parseTDReport(q.TD, body)
	}
	q.SignedRegion = b[0:bodyEnd:bodyEnd]

	// Signature data.
	sigLen := le.Uint32(b[bodyEnd:])
	sigStart := bodyEnd + 4
	remaining := len(b) - sigStart
	if uint64(sigLen) > uint64(remaining) {
		return nil, ErrUnsupportedFormat.Wrapf("signature data length %d (at offset %d) exceeds the %d bytes that follow it", sigLen, bodyEnd, remaining)
	}
	sigEnd := sigStart + int(sigLen)
	q.TrailingBytes = len(b) - sigEnd
	sd := b[sigStart:sigEnd:sigEnd]
	if len(sd) < 128 {
		return nil, ErrUnsupportedFormat.Wrapf("signature data is %d bytes, too short for the quote signature and attestation key (128 bytes)", len(sd))
	}
	copy(q.Signature[:], sd[0:64])
	copy(q.AttestationKey[:], sd[64:128])
	rest, restOff := sd[128:], sigStart+128

	if h.Version == 3 {
		if err := parseQEData(q, rest, restOff, false); err != nil {
			return nil, err
		}
		return q, nil
	}
	// v4/v5: outer certification data of type 6 whose payload is the QE
	// report certification data.
	if len(rest) < 6 {
		return nil, ErrUnsupportedFormat.Wrapf("signature data ends at offset %d, before the certification data header", restOff+len(rest))
	}
	outerType := le.Uint16(rest[0:])
	outerSize := le.Uint32(rest[2:])
	if outerType != certTypeQEReport {
		return nil, ErrUnsupportedFormat.Wrapf("outer certification data type is %d (at offset %d), a version %d quote needs type 6 (QE report certification data)", outerType, restOff, h.Version)
	}
	if uint64(outerSize) > uint64(len(rest)-6) {
		return nil, ErrUnsupportedFormat.Wrapf("outer certification data declares %d bytes (at offset %d), only %d remain in the signature data", outerSize, restOff+2, len(rest)-6)
	}
	end := 6 + int(outerSize)
	if err := parseQEData(q, rest[6:end:end], restOff+6, true); err != nil {
		return nil, err
	}
	return q, nil
}

// parseQEData parses QE report ‖ QE report signature ‖ auth data size ‖
// auth data ‖ certification data type ‖ size ‖ data from d, which starts at
// offset off of the quote. With exact, the content must fill d completely
// (the v4/v5 type-6 payload); otherwise it must only fit (v3 signature
// data).
func parseQEData(q *Quote, d []byte, off int, exact bool) error {
	const fixed = sgxReportSize + 64 + 2
	if len(d) < fixed {
		return ErrUnsupportedFormat.Wrapf("QE report data at offset %d is %d bytes, too short for the QE report, its signature and the authentication data size (%d bytes)", off, len(d), fixed)
	}
	q.QEReportRaw = d[0:sgxReportSize:sgxReportSize]
	parseEnclaveReport(&q.QEReport, q.QEReportRaw)
	copy(q.QEReportSignature[:], d[sgxReportSize:sgxReportSize+64])
	authSize := int(le.Uint16(d[sgxReportSize+64:]))
	p := fixed
	if authSize > len(d)-p {
		return ErrUnsupportedFormat.Wrapf("QE authentication data declares %d bytes (at offset %d), only %d remain", authSize, off+p-2, len(d)-p)
	}
	q.QEAuthData = d[p : p+authSize : p+authSize]
	p += authSize
	if len(d)-p < 6 {
		return ErrUnsupportedFormat.Wrapf("certification data header at offset %d needs 6 bytes, only %d remain", off+p, len(d)-p)
	}
	certType := le.Uint16(d[p:])
	certSize := le.Uint32(d[p+2:])
	p += 6
	if uint64(certSize) > uint64(len(d)-p) {
		return ErrUnsupportedFormat.Wrapf("certification data declares %d bytes (at offset %d), only %d remain", certSize, off+p-4, len(d)-p)
	}
	end := p + int(certSize)
	if exact && end != len(d) {
		return ErrUnsupportedFormat.Wrapf("QE report certification data is %d bytes but its content ends after %d", len(d), end)
	}
	if certType < 1 || certType > 5 {
		return ErrUnsupportedFormat.Wrapf("certification data type %d (at offset %d) is not supported (1 to 5)", certType, off+p-6)
	}
	q.CertificationDataType = certType
	q.CertificationData = d[p:end:end]
	return nil
}

// parseEnclaveReport decodes a 384-byte SGX report body (dcap.md §1.4).
func parseEnclaveReport(r *EnclaveReport, b []byte) {
	_ = b[sgxReportSize-1]
	copy(r.CPUSVN[:], b[0:16])
	r.MiscSelect = le.Uint32(b[16:])
	copy(r.ISVExtProdID[:], b[32:48])
	copy(r.Attributes[:], b[48:64])
	copy(r.MREnclave[:], b[64:96])
	copy(r.MRSigner[:], b[128:160])
	copy(r.ConfigID[:], b[192:256])
	r.ISVProdID = le.Uint16(b[256:])
	r.ISVSVN = le.Uint16(b[258:])
	r.ConfigSVN = le.Uint16(b[260:])
	copy(r.ISVFamilyID[:], b[304:320])
	copy(r.ReportData[:], b[320:384])
}

// parseTDReport decodes a TD report body (dcap.md §1.5), 584 or 648 bytes.
func parseTDReport(r *TDReport, b []byte) {
	_ = b[td10Size-1]
	copy(r.TEETCBSVN[:], b[0:16])
	copy(r.MRSeam[:], b[16:64])
	copy(r.MRSignerSeam[:], b[64:112])
	copy(r.SeamAttributes[:], b[112:120])
	copy(r.TDAttributes[:], b[120:128])
	copy(r.XFAM[:], b[128:136])
	copy(r.MRTD[:], b[136:184])
	copy(r.MRConfigID[:], b[184:232])
	copy(r.MROwner[:], b[232:280])
	copy(r.MROwnerConfig[:], b[280:328])
	for i := range r.RTMR {
		copy(r.RTMR[i][:], b[328+48*i:376+48*i])
	}
	copy(r.ReportData[:], b[520:584])
	if len(b) >= td15Size {
		copy(r.TEETCBSVN2[:], b[584:600])
		copy(r.MRServiceTD[:], b[600:648])
	}
}

// openEnclaveHeaderSize is the size of the OpenEnclave report envelope.
const openEnclaveHeaderSize = 16

// ParseOpenEnclave parses an OpenEnclave remote report: a 16-byte envelope
// (u32 version 1, u32 report type 2 = remote, u64 size of the rest) followed
// by the quote, which is then parsed with Parse. The returned Quote's Raw is
// the quote without the envelope.
func ParseOpenEnclave(b []byte) (*Quote, error) {
	rest, err := stripOpenEnclave(b)
	if err != nil {
		return nil, err
	}
	return Parse(rest)
}

// stripOpenEnclave checks the OpenEnclave envelope and returns the quote it
// wraps.
func stripOpenEnclave(b []byte) ([]byte, error) {
	if len(b) < openEnclaveHeaderSize {
		return nil, ErrUnsupportedFormat.Wrapf("OpenEnclave report is %d bytes, shorter than its 16-byte header", len(b))
	}
	if v := le.Uint32(b[0:]); v != 1 {
		return nil, ErrUnsupportedFormat.Wrapf("OpenEnclave report version is %d, only 1 is supported", v)
	}
	if t := le.Uint32(b[4:]); t != 2 {
		return nil, ErrUnsupportedFormat.Wrapf("OpenEnclave report type is %d, only 2 (remote) is supported", t)
	}
	rest := b[openEnclaveHeaderSize:]
	if n := le.Uint64(b[8:]); n != uint64(len(rest)) {
		return nil, ErrUnsupportedFormat.Wrapf("OpenEnclave report declares a %d-byte quote, %d bytes follow the header", n, len(rest))
	}
	return rest, nil
}

// isOpenEnclave reports whether b starts like an OpenEnclave envelope
// (version 1). A raw quote starts with version 3..5 and key type 2, so its
// first u32 is never 1.
func isOpenEnclave(b []byte) bool {
	return len(b) >= 4 && le.Uint32(b) == 1
}
