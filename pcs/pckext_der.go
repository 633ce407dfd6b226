package pcs

// A direct DER reader for the SGX extension value, for the encodings Intel
// issues: one-byte tags, lengths in short form or minimal long form of one or
// two bytes, the OIDs of dcap.md §3.3 only, minimally encoded INTEGERs. It
// allocates only the result. Anything else it does not judge: it reports
// !ok and parsePCKExtensionValue reads the value with encoding/asn1
// (parsePCKExtensionValueASN1), which decides and produces the error. So the
// fast reader must only never accept what the asn1 reader rejects, and return
// what it returns; TestDifferentialPCKExtensions and
// FuzzDiffPCKExtensionValue check that against the asn1 reader.

// DER identifier octets (universal class, one-byte tag).
const (
	derBoolean     = 0x01
	derInteger     = 0x02
	derOctetString = 0x04
	derOID         = 0x06
	derEnumerated  = 0x0a
	derSequence    = 0x30 // constructed
)

// sgxOIDPrefix is the content of the OID 1.2.840.113741.1.13.1; the entries
// are this followed by one more component (one byte for 1…127).
var sgxOIDPrefix = []byte{0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01}

// readTLV reads the DER element at the start of b when its tag is one byte
// (tag number below 31) and its length is in short form or minimal long form
// of one or two bytes; encoding/asn1 reads such an element the same way.
// full is the whole element, content its contents, rest what follows it.
func readTLV(b []byte) (tag byte, full, content, rest []byte, ok bool) {
	if len(b) < 2 || b[0]&0x1f == 0x1f {
		return 0, nil, nil, nil, false
	}
	n, hdr := int(b[1]), 2
	switch {
	case n < 0x80:
	case n == 0x81:
		if len(b) < 3 || b[2] < 0x80 {
			return 0, nil, nil, nil, false
		}
		n, hdr = int(b[2]), 3
	case n == 0x82:
		if len(b) < 4 || b[2] == 0 {
			return 0, nil, nil, nil, false
		}
		n, hdr = int(b[2])<<8|int(b[3]), 4
	default:
		return 0, nil, nil, nil, false
	}
	if len(b)-hdr < n {
		return 0, nil, nil, nil, false
	}
	return b[0], b[:hdr+n], b[hdr : hdr+n], b[hdr+n:], true
}

// splitSequence returns the elements of the DER SEQUENCE at the start of b
// (bytes after it are ignored) into dst, at most len(dst) of them.
func splitSequence(b []byte, dst [][]byte) (int, bool) {
	tag, _, content, _, ok := readTLV(b)
	if !ok || tag != derSequence {
		return 0, false
	}
	n := 0
	for len(content) > 0 {
		if n == len(dst) {
			return 0, false
		}
		var full []byte
		if _, full, _, content, ok = readTLV(content); !ok {
			return 0, false
		}
		dst[n] = full
		n++
	}
	return n, true
}

// readSGXPair reads SEQUENCE { OID, value } whose OID is
// 1.2.840.113741.1.13.1 followed by sub (when sub > 0) and by one last
// component n, 1 ≤ n ≤ maxN. It returns n and the value's tag and content.
func readSGXPair(e []byte, sub byte, maxN int) (n int, tag byte, content []byte, ok bool) {
	tag, _, body, _, ok := readTLV(e)
	if !ok || tag != derSequence {
		return 0, 0, nil, false
	}
	oidTag, _, oid, body, ok := readTLV(body)
	if !ok || oidTag != derOID {
		return 0, 0, nil, false
	}
	tag, _, content, body, ok = readTLV(body)
	if !ok || len(body) != 0 {
		return 0, 0, nil, false
	}
	want := len(sgxOIDPrefix) + 1
	if sub != 0 {
		want++
	}
	if len(oid) != want || string(oid[:len(sgxOIDPrefix)]) != string(sgxOIDPrefix) ||
		sub != 0 && oid[len(sgxOIDPrefix)] != sub {
		return 0, 0, nil, false
	}
	n = int(oid[len(oid)-1])
	if n < 1 || n > maxN {
		return 0, 0, nil, false
	}
	return n, tag, content, true
}

// derInt reads a minimally encoded INTEGER or ENUMERATED content of at most
// maxLen bytes (encoding/asn1's checkInteger; 8 for int64, 4 for int32).
func derInt(c []byte, maxLen int) (int64, bool) {
	if len(c) == 0 || len(c) > maxLen {
		return 0, false
	}
	if len(c) > 1 && (c[0] == 0 && c[1]&0x80 == 0 || c[0] == 0xff && c[1]&0x80 != 0) {
		return 0, false
	}
	v := int64(int8(c[0]))
	for _, b := range c[1:] {
		v = v<<8 | int64(b)
	}
	return v, true
}

// parsePCKExtensionValueDER is the fast reader of parsePCKExtensionValue.
func parsePCKExtensionValueDER(der []byte) (*PCKExtensions, int, bool) {
	var entries [7][]byte
	count, ok := splitSequence(der, entries[:])
	if !ok || count != 5 && count != 7 {
		return nil, 0, false
	}
	ext := &PCKExtensions{}
	var seen [sgxExtConfiguration + 1]bool
	for _, e := range entries[:count] {
		n, tag, c, ok := readSGXPair(e, 0, sgxExtConfiguration)
		if !ok {
			return nil, 0, false
		}
		switch n {
		case sgxExtPPID:
			ok = tag == derOctetString && len(c) == len(ext.PPID)
			copy(ext.PPID[:], c)
		case sgxExtTCB:
			ok = tag == derSequence && parsePCKTCBDER(e, ext)
		case sgxExtPCEID:
			ok = tag == derOctetString && len(c) == len(ext.PCEID)
			copy(ext.PCEID[:], c)
		case sgxExtFMSPC:
			ok = tag == derOctetString && len(c) == len(ext.FMSPC)
			copy(ext.FMSPC[:], c)
		case sgxExtSGXType:
			var v int64
			v, ok = derInt(c, 4)
			ok = ok && tag == derEnumerated
			ext.SGXType = int(v)
		case sgxExtPlatformInstanceID:
			ok = tag == derOctetString && len(c) == 16
			ext.PlatformInstanceID = append(make([]byte, 0, 16), c...)
		case sgxExtConfiguration:
			ext.Configuration, ok = parseConfigurationDER(e, tag)
		}
		if !ok {
			return nil, 0, false
		}
		seen[n] = true
	}
	if !seen[sgxExtPPID] || !seen[sgxExtTCB] || !seen[sgxExtPCEID] || !seen[sgxExtFMSPC] || !seen[sgxExtSGXType] {
		return nil, 0, false
	}
	return ext, count, true
}

// parsePCKTCBDER reads the TCB entry pair e (.2: SEQUENCE of exactly 18
// pairs .2.1–.2.18).
func parsePCKTCBDER(e []byte, ext *PCKExtensions) bool {
	// The value of the pair e is its second element.
	_, _, body, _, _ := readTLV(e)
	_, _, _, val, _ := readTLV(body)
	var entries [18][]byte
	count, ok := splitSequence(val, entries[:])
	if !ok || count != 18 {
		return false
	}
	var seen uint32
	for _, t := range entries {
		n, tag, c, ok := readSGXPair(t, sgxExtTCB, 18)
		if !ok {
			return false
		}
		switch {
		case n <= 16:
			v, ok := derInt(c, 8)
			if !ok || tag != derInteger || v < 0 || v > 255 {
				return false
			}
			ext.TCBComponents[n-1] = uint8(v)
		case n == 17:
			v, ok := derInt(c, 8)
			if !ok || tag != derInteger || v < 0 || v > 0xFFFF {
				return false
			}
			ext.PCESVN = uint16(v)
		default:
			if tag != derOctetString || len(c) != len(ext.CPUSVN) {
				return false
			}
			copy(ext.CPUSVN[:], c)
		}
		seen |= 1 << n
	}
	return seen == 1<<19-2
}

// parseConfigurationDER reads the configuration entry pair e (.7: SEQUENCE
// of pairs .7.1–.7.3, BOOLEANs).
func parseConfigurationDER(e []byte, tag byte) (*PlatformConfiguration, bool) {
	if tag != derSequence {
		return nil, false
	}
	_, _, body, _, _ := readTLV(e)
	_, _, _, val, _ := readTLV(body)
	var entries [3][]byte
	count, ok := splitSequence(val, entries[:])
	if !ok {
		return nil, false
	}
	c := &PlatformConfiguration{}
	var seen uint8
	for _, p := range entries[:count] {
		n, tag, v, ok := readSGXPair(p, sgxExtConfiguration, 3)
		if !ok || tag != derBoolean || len(v) != 1 {
			return nil, false
		}
		b := v[0] != 0
		switch n {
		case 1:
			c.DynamicPlatform = b
		case 2:
			c.CachedKeys = b
		case 3:
			c.SMTEnabled = b
		}
		seen |= 1 << n
	}
	return c, seen == 0b1110
}
