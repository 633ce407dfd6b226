package pcs

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"

	"github.com/avowhq/avow/errs"
)

// ErrPCKExtensions reports a PCK certificate without valid Intel SGX
// extensions (QVL InvalidExtensionException → QvE 0xE022).
var ErrPCKExtensions = errs.New("pck_chain_invalid", "the PCK certificate does not carry valid Intel SGX extensions")

// OIDSGXExtensions is the Intel SGX extension of PCK certificates.
var OIDSGXExtensions = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}

// Sub-OIDs below OIDSGXExtensions (dcap.md §3.3).
const (
	sgxExtPPID               = 1
	sgxExtTCB                = 2
	sgxExtPCEID              = 3
	sgxExtFMSPC              = 4
	sgxExtSGXType            = 5
	sgxExtPlatformInstanceID = 6
	sgxExtConfiguration      = 7
)

// ASN.1 universal tags used here.
const (
	tagBoolean     = 1
	tagInteger     = 2
	tagOctetString = 4
	tagOID         = 6
	tagEnumerated  = 10
	tagSequence    = 16
)

// ParsePCKExtensions reads the Intel SGX extensions of a PCK certificate.
// For a certificate issued by a PCK Platform CA (issuer CN contains
// "Platform CA") the extension must have 7 entries including the platform
// instance ID (.6) and the configuration (.7), as QVL's
// PlatformPckCertificate requires.
func ParsePCKExtensions(cert *x509.Certificate) (*PCKExtensions, error) {
	if cert == nil {
		return nil, ErrPCKExtensions.Wrapf("no certificate")
	}
	var value []byte
	found := false
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(OIDSGXExtensions) {
			value, found = ext.Value, true
			break
		}
	}
	if !found {
		return nil, ErrPCKExtensions.Wrapf("certificate %q has no SGX extension %s", cert.Subject.CommonName, OIDSGXExtensions)
	}
	ext, entries, err := parsePCKExtensionValue(value)
	if err != nil {
		return nil, ErrPCKExtensions.Wrap(err)
	}
	if strings.Contains(cert.Issuer.CommonName, "Platform CA") {
		if entries != 7 || ext.PlatformInstanceID == nil || ext.Configuration == nil {
			return nil, ErrPCKExtensions.Wrapf("a Platform-CA PCK certificate needs 7 SGX extension entries including the platform instance ID and configuration")
		}
	}
	return ext, nil
}

// ParsePCKExtensionValue parses the DER value of the SGX extension
// (OID 1.2.840.113741.1.13.1): a SEQUENCE of exactly 5 (Processor-CA PCK) or
// 7 (Platform-CA PCK) SEQUENCE{OID, value} entries. Required: .1 PPID
// (OCTET STRING 16), .2 TCB, .3 PCE-ID (OCTET STRING 2), .4 FMSPC (OCTET
// STRING 6), .5 SGX type (ENUMERATED). Optional, checked when present: .6
// platform instance ID (OCTET STRING 16) and .7 configuration (SEQUENCE of
// .7.1 dynamicPlatform, .7.2 cachedKeys, .7.3 SMTEnabled, BOOLEANs). The TCB
// is a SEQUENCE of exactly 18 entries: .2.1–.2.16 component SVNs (INTEGER
// 0–255), .2.17 PCESVN (INTEGER 0–65535), .2.18 CPUSVN (OCTET STRING 16).
//
// As in QVL, entries are found by OID, not position, an entry with an
// unknown OID is ignored (it still counts towards 5 or 7) and bytes after the
// outer SEQUENCE are ignored. Stricter than QVL, which truncates: component
// SVNs outside 0–255 and a PCESVN outside 0–65535 are rejected (Intel never
// issues them; the PCK certificate is Intel-signed).
func ParsePCKExtensionValue(der []byte) (*PCKExtensions, error) {
	ext, _, err := parsePCKExtensionValue(der)
	if err != nil {
		return nil, ErrPCKExtensions.Wrap(err)
	}
	return ext, nil
}

// parsePCKExtensionValue returns the extensions and the number of entries
// of the outer SEQUENCE.
func parsePCKExtensionValue(der []byte) (*PCKExtensions, int, error) {
	if ext, n, ok := parsePCKExtensionValueDER(der); ok {
		return ext, n, nil
	}
	return parsePCKExtensionValueASN1(der)
}

// parsePCKExtensionValueASN1 reads the value with encoding/asn1. It decides
// every value the fast reader (pckext_der.go) leaves to it, and words the
// errors.
func parsePCKExtensionValueASN1(der []byte) (*PCKExtensions, int, error) {
	entries, err := parseSequence(der, "SGX extension")
	if err != nil {
		return nil, 0, err
	}
	if len(entries) != 5 && len(entries) != 7 {
		return nil, 0, fmt.Errorf("SGX extension has %d entries, want 5 or 7", len(entries))
	}
	ext := &PCKExtensions{}
	seen := make(map[int]bool)
	for i, e := range entries {
		oid, val, err := parsePair(e)
		if err != nil {
			return nil, 0, fmt.Errorf("SGX extension entry %d: %w", i, err)
		}
		n, ok := subOID(oid, OIDSGXExtensions)
		if !ok {
			continue // QVL ignores unknown entries
		}
		name := fmt.Sprintf("SGX extension .%d", n)
		switch n {
		case sgxExtPPID:
			err = octets(val, name+" (PPID)", ext.PPID[:])
		case sgxExtTCB:
			err = parsePCKTCB(val, ext)
		case sgxExtPCEID:
			err = octets(val, name+" (PCE-ID)", ext.PCEID[:])
		case sgxExtFMSPC:
			err = octets(val, name+" (FMSPC)", ext.FMSPC[:])
		case sgxExtSGXType:
			ext.SGXType, err = enumerated(val, name+" (SGX type)")
		case sgxExtPlatformInstanceID:
			ext.PlatformInstanceID = make([]byte, 16)
			err = octets(val, name+" (platform instance ID)", ext.PlatformInstanceID)
		case sgxExtConfiguration:
			ext.Configuration, err = parseConfiguration(val)
		default:
			continue
		}
		if err != nil {
			return nil, 0, err
		}
		seen[n] = true
	}
	for _, n := range []int{sgxExtPPID, sgxExtTCB, sgxExtPCEID, sgxExtFMSPC, sgxExtSGXType} {
		if !seen[n] {
			return nil, 0, fmt.Errorf("SGX extension .%d (%s) is missing", n, [...]string{"", "PPID", "TCB", "PCE-ID", "FMSPC", "SGX type"}[n])
		}
	}
	return ext, len(entries), nil
}

func parsePCKTCB(val asn1.RawValue, ext *PCKExtensions) error {
	if !isUniversal(val, tagSequence, true) {
		return fmt.Errorf("SGX extension .2 (TCB) is not a SEQUENCE")
	}
	entries, err := parseSequence(val.FullBytes, "TCB")
	if err != nil {
		return err
	}
	if len(entries) != 18 {
		return fmt.Errorf("TCB has %d entries, want 18", len(entries))
	}
	tcbOID := append(append(asn1.ObjectIdentifier{}, OIDSGXExtensions...), sgxExtTCB)
	seen := make(map[int]bool)
	for i, e := range entries {
		oid, v, err := parsePair(e)
		if err != nil {
			return fmt.Errorf("TCB entry %d: %w", i, err)
		}
		n, ok := subOID(oid, tcbOID)
		if !ok || n < 1 || n > 18 {
			continue
		}
		name := fmt.Sprintf("TCB .2.%d", n)
		switch {
		case n <= 16:
			svn, err := integer(v, name, 0, 255)
			if err != nil {
				return err
			}
			ext.TCBComponents[n-1] = uint8(svn)
		case n == 17:
			svn, err := integer(v, name+" (PCESVN)", 0, 0xFFFF)
			if err != nil {
				return err
			}
			ext.PCESVN = uint16(svn)
		case n == 18:
			if err := octets(v, name+" (CPUSVN)", ext.CPUSVN[:]); err != nil {
				return err
			}
		}
		seen[n] = true
	}
	for n := 1; n <= 18; n++ {
		if !seen[n] {
			return fmt.Errorf("TCB .2.%d is missing", n)
		}
	}
	return nil
}

func parseConfiguration(val asn1.RawValue) (*PlatformConfiguration, error) {
	if !isUniversal(val, tagSequence, true) {
		return nil, fmt.Errorf("SGX extension .7 (configuration) is not a SEQUENCE")
	}
	entries, err := parseSequence(val.FullBytes, "configuration")
	if err != nil {
		return nil, err
	}
	confOID := append(append(asn1.ObjectIdentifier{}, OIDSGXExtensions...), sgxExtConfiguration)
	c := &PlatformConfiguration{}
	seen := make(map[int]bool)
	for i, e := range entries {
		oid, v, err := parsePair(e)
		if err != nil {
			return nil, fmt.Errorf("configuration entry %d: %w", i, err)
		}
		n, ok := subOID(oid, confOID)
		if !ok || n < 1 || n > 3 {
			continue
		}
		b, err := boolean(v, fmt.Sprintf("configuration .7.%d", n))
		if err != nil {
			return nil, err
		}
		switch n {
		case 1:
			c.DynamicPlatform = b
		case 2:
			c.CachedKeys = b
		case 3:
			c.SMTEnabled = b
		}
		seen[n] = true
	}
	for n := 1; n <= 3; n++ {
		if !seen[n] {
			return nil, fmt.Errorf("configuration .7.%d is missing", n)
		}
	}
	return c, nil
}

// parseSequence parses a DER SEQUENCE and returns its elements. Bytes after
// the SEQUENCE are ignored (OpenSSL d2i semantics).
func parseSequence(der []byte, what string) ([]asn1.RawValue, error) {
	var seq asn1.RawValue
	if _, err := asn1.Unmarshal(der, &seq); err != nil {
		return nil, fmt.Errorf("%s is not DER: %v", what, err)
	}
	if !isUniversal(seq, tagSequence, true) {
		return nil, fmt.Errorf("%s is not a SEQUENCE", what)
	}
	var out []asn1.RawValue
	rest := seq.Bytes
	for len(rest) > 0 {
		var e asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &e); err != nil {
			return nil, fmt.Errorf("%s element %d is not DER: %v", what, len(out), err)
		}
		out = append(out, e)
	}
	return out, nil
}

// parsePair parses SEQUENCE { OBJECT IDENTIFIER, value }.
func parsePair(e asn1.RawValue) (asn1.ObjectIdentifier, asn1.RawValue, error) {
	if !isUniversal(e, tagSequence, true) {
		return nil, asn1.RawValue{}, fmt.Errorf("not a SEQUENCE")
	}
	elems, err := parseSequence(e.FullBytes, "entry")
	if err != nil {
		return nil, asn1.RawValue{}, err
	}
	if len(elems) != 2 {
		return nil, asn1.RawValue{}, fmt.Errorf("has %d elements, want 2 (OID, value)", len(elems))
	}
	if !isUniversal(elems[0], tagOID, false) {
		return nil, asn1.RawValue{}, fmt.Errorf("first element is not an OBJECT IDENTIFIER")
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(elems[0].FullBytes, &oid); err != nil {
		return nil, asn1.RawValue{}, fmt.Errorf("bad OBJECT IDENTIFIER: %v", err)
	}
	return oid, elems[1], nil
}

// subOID returns n when oid is parent.n.
func subOID(oid, parent asn1.ObjectIdentifier) (int, bool) {
	if len(oid) != len(parent)+1 || !oid[:len(parent)].Equal(parent) {
		return 0, false
	}
	return oid[len(parent)], true
}

func isUniversal(v asn1.RawValue, tag int, compound bool) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == tag && v.IsCompound == compound
}

func octets(v asn1.RawValue, what string, dst []byte) error {
	if !isUniversal(v, tagOctetString, false) {
		return fmt.Errorf("%s is not an OCTET STRING", what)
	}
	if len(v.Bytes) != len(dst) {
		return fmt.Errorf("%s has %d bytes, want %d", what, len(v.Bytes), len(dst))
	}
	copy(dst, v.Bytes)
	return nil
}

func integer(v asn1.RawValue, what string, lo, hi int64) (int64, error) {
	if !isUniversal(v, tagInteger, false) {
		return 0, fmt.Errorf("%s is not an INTEGER", what)
	}
	var n int64
	if _, err := asn1.Unmarshal(v.FullBytes, &n); err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%s is %d, outside %d…%d", what, n, lo, hi)
	}
	return n, nil
}

func enumerated(v asn1.RawValue, what string) (int, error) {
	if !isUniversal(v, tagEnumerated, false) {
		return 0, fmt.Errorf("%s is not an ENUMERATED", what)
	}
	var n asn1.Enumerated
	if _, err := asn1.Unmarshal(v.FullBytes, &n); err != nil {
		return 0, fmt.Errorf("%s: %v", what, err)
	}
	return int(n), nil
}

// boolean accepts any one-byte BOOLEAN, non-zero meaning true (OpenSSL's
// reading; DER would only allow 0x00 and 0xFF).
func boolean(v asn1.RawValue, what string) (bool, error) {
	if !isUniversal(v, tagBoolean, false) || len(v.Bytes) != 1 {
		return false, fmt.Errorf("%s is not a BOOLEAN", what)
	}
	return v.Bytes[0] != 0, nil
}
