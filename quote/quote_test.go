package quote

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/avowhq/avow/errs"
)

func kindOf(q *Quote) string {
	tee := "sgx"
	if q.IsTDX() {
		tee = "tdx"
	}
	return fmt.Sprintf("%s-v%d", tee, q.Header.Version)
}

func le2(v uint16) string { return hex.EncodeToString(binary.LittleEndian.AppendUint16(nil, v)) }

// identity returns the identity fields of expected.json for q.
func identity(q *Quote) map[string]string {
	h := hex.EncodeToString
	if r := q.Enclave; r != nil {
		return map[string]string{
			"mrenclave": h(r.MREnclave[:]), "mrsigner": h(r.MRSigner[:]),
			"isv_prod_id": le2(r.ISVProdID), "isv_svn": le2(r.ISVSVN),
			"attributes": h(r.Attributes[:]), "report_data": h(r.ReportData[:]),
		}
	}
	r := q.TD
	m := map[string]string{
		"mrtd": h(r.MRTD[:]), "rtmr0": h(r.RTMR[0][:]), "rtmr1": h(r.RTMR[1][:]),
		"rtmr2": h(r.RTMR[2][:]), "rtmr3": h(r.RTMR[3][:]),
		"td_attributes": h(r.TDAttributes[:]), "xfam": h(r.XFAM[:]),
		"tee_tcb_svn": h(r.TEETCBSVN[:]), "report_data": h(r.ReportData[:]),
		"mrseam": h(r.MRSeam[:]), "mrsignerseam": h(r.MRSignerSeam[:]),
		"seam_attributes": h(r.SeamAttributes[:]), "mrconfigid": h(r.MRConfigID[:]),
		"mrowner": h(r.MROwner[:]), "mrownerconfig": h(r.MROwnerConfig[:]),
	}
	if q.BodyType == BodyTDX15 {
		m["tee_tcb_svn2"] = h(r.TEETCBSVN2[:])
		m["mrservicetd"] = h(r.MRServiceTD[:])
	}
	return m
}

func TestParseDCAPVectors(t *testing.T) {
	for _, set := range loadDCAPSets(t) {
		t.Run(set.name, func(t *testing.T) {
			q, err := Parse(set.quote)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			checkSlices(t, q, set.quote)
			if got, want := kindOf(q), set.expected["kind"]; got != want {
				t.Errorf("kind = %s, want %v", got, want)
			}
			if got, want := q.TrailingBytes, int(set.expected["trailing_bytes"].(float64)); got != want {
				t.Errorf("trailing bytes = %d, want %d", got, want)
			}
			id := identity(q)
			for k, v := range id {
				want, ok := set.expected[k]
				if !ok {
					t.Errorf("expected.json has no %s", k)
					continue
				}
				if v != want {
					t.Errorf("%s = %s, want %v", k, v, want)
				}
			}
			// Every identity field of expected.json is checked.
			for _, k := range []string{"mrenclave", "mrsigner", "isv_prod_id", "isv_svn", "attributes", "mrtd", "rtmr0", "rtmr1", "rtmr2", "rtmr3", "td_attributes", "xfam", "tee_tcb_svn", "mrseam", "mrsignerseam", "seam_attributes", "mrconfigid", "mrowner", "mrownerconfig", "tee_tcb_svn2", "mrservicetd", "report_data"} {
				if _, ok := set.expected[k]; ok {
					if _, checked := id[k]; !checked {
						t.Errorf("expected.json field %s not checked", k)
					}
				}
			}
			if q.ReportData() != [64]byte(hexBytes(t, set.expected["report_data"].(string))) {
				t.Errorf("ReportData() differs from report_data")
			}
			end := len(q.Raw) - q.TrailingBytes
			if !bytes.Equal(q.SignedRegion, q.Raw[:len(q.SignedRegion)]) {
				t.Errorf("signed region is not a prefix of the quote")
			}
			if off := offsetIn(q.Raw, q.CertificationData); off+len(q.CertificationData) != end {
				t.Errorf("certification data ends at %d, signature data at %d", off+len(q.CertificationData), end)
			}
		})
	}
}

func hexBytes(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestParseOffsets pins the absolute offsets of dcap.md §1.6 on the
// standard v3, v4 and v5 layouts.
func TestParseOffsets(t *testing.T) {
	for _, c := range []struct {
		set                                    string
		signed, qeReport, auth, cert, certType int
	}{
		{"S01", 432, 564, 1014, 1052, 5},
		{"S02", 632, 770, 1220, 1258, 5},
		{"S09", 702, 840, 1290, 1328, 5},
		{"S21", 432, 564, 1014, 1020, 1},
	} {
		t.Run(c.set, func(t *testing.T) {
			b := dcapQuote(t, c.set)
			q, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if len(q.SignedRegion) != c.signed {
				t.Errorf("signed region %d bytes, want %d", len(q.SignedRegion), c.signed)
			}
			if got := offsetIn(b, q.QEReportRaw); got != c.qeReport {
				t.Errorf("QE report at %d, want %d", got, c.qeReport)
			}
			if len(q.QEAuthData) > 0 {
				if got := offsetIn(b, q.QEAuthData); got != c.auth {
					t.Errorf("QE auth data at %d, want %d", got, c.auth)
				}
			}
			if got := offsetIn(b, q.CertificationData); got != c.cert {
				t.Errorf("certification data at %d, want %d", got, c.cert)
			}
			if int(q.CertificationDataType) != c.certType {
				t.Errorf("certification data type %d, want %d", q.CertificationDataType, c.certType)
			}
			if !bytes.Equal(q.Signature[:], b[c.signed+4:c.signed+68]) {
				t.Errorf("signature is not at %d", c.signed+4)
			}
			if c.certType == 5 && !bytes.HasPrefix(q.CertificationData, []byte("-----BEGIN CERTIFICATE-----")) {
				t.Errorf("type 5 data does not start with a PEM certificate")
			}
		})
	}
}

func TestParseHeaderFields(t *testing.T) {
	q, err := Parse(dcapQuote(t, "S01"))
	if err != nil {
		t.Fatal(err)
	}
	b := q.Raw
	if q.Header.QESVN != binary.LittleEndian.Uint16(b[8:]) || q.Header.PCESVN != binary.LittleEndian.Uint16(b[10:]) {
		t.Errorf("QE/PCE SVN not read from bytes 8..11")
	}
	if q.Header.QEVendorID != intelQEVendorID || !bytes.Equal(q.Header.UserData[:], b[28:48]) {
		t.Errorf("vendor id / user data")
	}
	if q.IsTDX() || q.BodyType != BodySGX || q.Enclave == nil || q.TD != nil {
		t.Errorf("S01 is an SGX quote")
	}
	if q.QEReport.ISVProdID != 1 || q.QEReport.Attributes[0]&0x10 == 0 {
		t.Errorf("QE report: prod id %d attributes %x", q.QEReport.ISVProdID, q.QEReport.Attributes)
	}
	q2, err := Parse(dcapQuote(t, "S02"))
	if err != nil {
		t.Fatal(err)
	}
	if q2.Header.QESVN != 0 || q2.Header.PCESVN != 0 {
		t.Errorf("v4 quote must leave QESVN/PCESVN zero")
	}
	if !q2.IsTDX() || q2.BodyType != BodyTDX10 || q2.TD == nil || q2.Enclave != nil || q2.TD.Debug() {
		t.Errorf("S02 is a production TDX 1.0 quote")
	}
	if q2.QEReport.ISVProdID != 2 {
		t.Errorf("TD QE prod id %d, want 2", q2.QEReport.ISVProdID)
	}
}

func TestParseMAAVectors(t *testing.T) {
	for _, name := range []string{"debug", "nondebug"} {
		t.Run(name, func(t *testing.T) {
			raw := readMAA(t, "sdk-cpp/sgx_quote_"+name+".bin")
			q, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			checkSlices(t, q, raw)
			if q.Enclave.Debug() != (name == "debug") {
				t.Errorf("Debug() = %v", q.Enclave.Debug())
			}
			checkSDKParsed(t, name, q)
			oe := readMAA(t, "sdk-cpp/oe_report_"+name+".bin")
			q2, err := ParseOpenEnclave(oe)
			if err != nil {
				t.Fatal(err)
			}
			checkSlices(t, q2, oe)
			if !bytes.Equal(q2.Raw, raw) || *q2.Enclave != *q.Enclave {
				t.Errorf("OE report and quote differ")
			}
			if _, err := Parse(oe); !errors.Is(err, ErrUnsupportedFormat) {
				t.Errorf("Parse of an OE report: %v", err)
			}
		})
	}
	t.Run("sdk-js", func(t *testing.T) {
		oe := readMAA(t, "transcribed/sdk-js/oe_report.bin")
		q, err := ParseOpenEnclave(oe)
		if err != nil {
			t.Fatal(err)
		}
		checkSlices(t, q, oe)
		if q.Enclave.Debug() || q.CertificationDataType != 5 {
			t.Errorf("JS report: debug %v cert type %d", q.Enclave.Debug(), q.CertificationDataType)
		}
	})
}

// TestParseSynthetic covers layouts that no real vector has.
func TestParseSynthetic(t *testing.T) {
	cert := bytes.Repeat([]byte{'x'}, 400)
	auth := make([]byte, 32)
	for _, c := range []struct {
		name string
		spec quoteSpec
		body uint16
	}{
		{"sgx-v3", quoteSpec{version: 3, tee: TEETypeSGX, auth: auth, certType: 5, cert: cert}, BodySGX},
		{"sgx-v4", quoteSpec{version: 4, tee: TEETypeSGX, auth: auth, certType: 5, cert: cert}, BodySGX},
		{"tdx-v4", quoteSpec{version: 4, tee: TEETypeTDX, auth: auth, certType: 5, cert: cert, trailing: 7}, BodyTDX10},
		{"sgx-v5", quoteSpec{version: 5, tee: TEETypeSGX, bodyType: BodySGX, auth: auth, certType: 5, cert: cert}, BodySGX},
		{"tdx10-v5", quoteSpec{version: 5, tee: TEETypeTDX, bodyType: BodyTDX10, auth: auth, certType: 4, cert: cert}, BodyTDX10},
		{"tdx15-v5", quoteSpec{version: 5, tee: TEETypeTDX, bodyType: BodyTDX15, certType: 1, cert: cert}, BodyTDX15},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := buildQuote(c.spec)
			q, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			checkSlices(t, q, b)
			if q.BodyType != c.body || q.TrailingBytes != c.spec.trailing || q.CertificationDataType != c.spec.certType ||
				!bytes.Equal(q.CertificationData, cert) || !bytes.Equal(q.QEAuthData, c.spec.auth) || q.QEReportRaw[0] != 0xAA {
				t.Errorf("parsed %+v", q)
			}
			// The synthetic body holds byte(i) at body offset i.
			rdOff := 320
			if q.TD != nil {
				rdOff = 520
				if c.body == BodyTDX15 && q.TD.MRServiceTD[0] != byte(600%256) {
					t.Errorf("MRSERVICETD not read from body offset 600")
				}
			}
			if rd := q.ReportData(); rd[0] != byte(rdOff%256) || rd[63] != byte((rdOff+63)%256) {
				t.Errorf("report data not read from body offset %d", rdOff)
			}
		})
	}
}

func setU16(b []byte, off int, v uint16) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint16(c[off:], v)
	return c
}

func setU32(b []byte, off int, v uint32) []byte {
	c := bytes.Clone(b)
	binary.LittleEndian.PutUint32(c[off:], v)
	return c
}

func TestParseErrors(t *testing.T) {
	s01 := dcapQuote(t, "S01") // v3 SGX, no trailing bytes
	s02 := dcapQuote(t, "S02") // v4 TDX, 70 trailing bytes
	s09 := dcapQuote(t, "S09") // v5 TDX 1.5
	garbage := make([]byte, 5000)
	rand.New(rand.NewSource(1)).Read(garbage)

	// S01: sig-data length at 432, auth size at 1012, cert type 1046, size 1048.
	// S02: sig-data length at 632, outer type 764, size 766, auth size 1218, inner type 1252, size 1254.
	s02sigLen := binary.LittleEndian.Uint32(s02[632:])
	s02outer := binary.LittleEndian.Uint32(s02[766:])
	s01cert := binary.LittleEndian.Uint32(s01[1048:])

	for _, c := range []struct {
		name, detail string
		b            []byte
	}{
		{"empty", "quote is 0 bytes, the minimum is 1020", nil},
		{"short", "quote is 900 bytes, the minimum is 1020", s01[:900]},
		{"garbage", "version", garbage},
		{"zeros", "quote version 0", make([]byte, 2000)},
		{"version 2", "quote version 2 is not supported", setU16(s01, 0, 2)},
		{"version 6", "quote version 6 is not supported", setU16(s01, 0, 6)},
		{"key type 3", "attestation key type 3", setU16(s01, 2, 3)},
		{"tee type 1", "TEE type 0x00000001", setU32(s02, 4, 1)},
		{"v3 with TDX", "a version 3 quote must have TEE type SGX", setU32(s01, 4, TEETypeTDX)},
		{"vendor id", "QE vendor ID", func() []byte { c := bytes.Clone(s01); c[12] ^= 1; return c }()},
		{"v5 body type 4", "version 5 body type 4", setU16(s09, 48, 4)},
		{"v5 body size", "declares 584 bytes, it must be 648", setU32(s09, 50, 584)},
		{"v5 type vs tee", "does not match TEE type", setU32(s09, 4, TEETypeSGX)},
		{"v5 sgx with tdx body", "version 5 body type 1 declares 648", setU16(s09, 48, 1)},
		{"sig data overflows", "signature data length 4294967295", setU32(s01, 432, 0xffffffff)},
		{"sig data one too many", "exceeds the", setU32(s01, 432, uint32(len(s01)-436+1))},
		{"sig data too short", "too short for the quote signature", setU32(s01, 432, 100)},
		{"v3 auth size overflows", "QE authentication data declares 65535 bytes", setU16(s01, 1012, 0xffff)},
		{"v3 cert size overflows", "certification data declares", setU32(s01, 1048, s01cert+1)},
		{"v3 cert type 0", "certification data type 0", setU16(s01, 1046, 0)},
		{"v3 cert type 6", "certification data type 6", setU16(s01, 1046, 6)},
		{"v3 cert type 7", "certification data type 7", setU16(s01, 1046, 7)},
		{"v4 outer type 5", "outer certification data type is 5", setU16(s02, 764, 5)},
		{"v4 outer size overflows", "outer certification data declares", setU32(s02, 766, 0xfffffff0)},
		{"v4 inner does not fill", "its content ends after", setU32(setU32(s02, 632, s02sigLen+1), 766, s02outer+1)},
		{"v4 inner overflows outer", "certification data declares", setU32(s02, 766, s02outer-1)},
		{"v4 auth size overflows", "QE authentication data declares", setU16(s02, 1218, 0xffff)},
		{"v4 inner type 6", "certification data type 6", setU16(s02, 1252, 6)},
		{"v4 sig data short", "before the certification data header", setU32(s02, 632, 130)},
		{"v4 qe data short", "too short for the QE report", setU32(setU32(s02, 632, 200), 766, 66)},
	} {
		t.Run(c.name, func(t *testing.T) {
			q, err := Parse(c.b)
			if err == nil {
				t.Fatalf("Parse succeeded: %+v", q.Header)
			}
			if q != nil {
				t.Errorf("non-nil quote with error")
			}
			if !errors.Is(err, ErrUnsupportedFormat) || errs.Code(err) != "unsupported_quote_format" {
				t.Errorf("error %v is not ErrUnsupportedFormat", err)
			}
			if !strings.Contains(err.Error(), c.detail) {
				t.Errorf("error %q does not mention %q", err, c.detail)
			}
		})
	}
}

// TestParseTruncated parses every prefix of real quotes: each prefix that
// cuts into the signature data fails with ErrUnsupportedFormat; prefixes
// that only cut trailing bytes succeed with fewer trailing bytes.
func TestParseTruncated(t *testing.T) {
	for _, set := range []string{"S01", "S02", "S09", "S17", "S21"} {
		t.Run(set, func(t *testing.T) {
			b := dcapQuote(t, set)
			full, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			end := len(b) - full.TrailingBytes
			for n := 0; n <= len(b); n++ {
				// Copy so that reading past the prefix would be caught by the race/bounds checks.
				p := bytes.Clone(b[:n])
				q, err := Parse(p)
				if n < end {
					if err == nil || !errors.Is(err, ErrUnsupportedFormat) {
						t.Fatalf("prefix %d/%d: err = %v", n, len(b), err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("prefix %d (signature data ends at %d): %v", n, end, err)
				}
				if q.TrailingBytes != n-end {
					t.Fatalf("prefix %d: trailing %d", n, q.TrailingBytes)
				}
			}
		})
	}
}

func TestParseOpenEnclaveErrors(t *testing.T) {
	oe := readMAA(t, "sdk-cpp/oe_report_debug.bin")
	for _, c := range []struct {
		name, detail string
		b            []byte
	}{
		{"short", "shorter than its 16-byte header", oe[:10]},
		{"version", "version is 2", setU32(oe, 0, 2)},
		{"type", "type is 1, only 2", setU32(oe, 4, 1)},
		{"size", "declares a 4585-byte quote, 4584 bytes follow", setU32(oe, 8, 4585)},
		{"truncated", "declares a 4584-byte quote, 4583 bytes follow", oe[:len(oe)-1]},
		{"quote", "quote version 2", setU16(oe, 16, 2)},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ParseOpenEnclave(c.b)
			if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), c.detail) {
				t.Errorf("err = %v, want %q", err, c.detail)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	raw := dcapQuote(t, "S01")
	oe := readMAA(t, "sdk-cpp/oe_report_debug.bin")
	oeQuote := readMAA(t, "sdk-cpp/sgx_quote_debug.bin")
	oeB64 := readMAA(t, "sdk-cpp/oe_report_debug.b64url")
	wrap := func(s string, n int) string {
		var b strings.Builder
		for len(s) > n {
			b.WriteString(s[:n] + "\n")
			s = s[n:]
		}
		return b.String() + s + "\n"
	}
	for _, c := range []struct {
		name  string
		in    []byte
		want  []byte
		oe    bool
		wantE string
	}{
		{"raw", raw, raw, false, ""},
		{"hex", []byte(hex.EncodeToString(raw)), raw, false, ""},
		{"hex upper wrapped", []byte(" " + wrap(strings.ToUpper(hex.EncodeToString(raw)), 64) + "\r\n"), raw, false, ""},
		{"hex 0x", []byte("0x" + hex.EncodeToString(raw)), raw, false, ""},
		{"base64 std", []byte(base64.StdEncoding.EncodeToString(raw)), raw, false, ""},
		{"base64 std raw wrapped", []byte(wrap(base64.RawStdEncoding.EncodeToString(raw[:1021]), 76)), raw[:1021], false, ""},
		{"base64 url", []byte(base64.URLEncoding.EncodeToString(raw[:1022])), raw[:1022], false, ""},
		{"base64 url raw", []byte(base64.RawURLEncoding.EncodeToString(raw)), raw, false, ""},
		{"oe raw", oe, oeQuote, true, ""},
		{"oe b64url file", oeB64, oeQuote, true, ""},
		{"oe hex", []byte(hex.EncodeToString(oe)), oeQuote, true, ""},
		{"oe bad envelope", setU32(oe, 4, 3), nil, false, "OpenEnclave report type is 3"},
		{"text garbage", []byte("this is not a quote!"), nil, false, "neither hex nor base64"},
		{"mixed alphabets", []byte("ab+_cd=="), nil, false, "neither hex nor base64"},
		{"bad padding", []byte("abc==="), nil, false, "neither hex nor base64"},
		{"whitespace", []byte(" \n\t"), nil, false, "input is empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, isOE, err := Decode(c.in)
			if c.wantE != "" {
				if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), c.wantE) {
					t.Fatalf("err = %v, want %q", err, c.wantE)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, c.want) || isOE != c.oe {
				t.Fatalf("got %d bytes oe=%v, want %d bytes oe=%v", len(got), isOE, len(c.want), c.oe)
			}
		})
	}
	// Raw binary input is returned without a copy.
	got, _, _ := Decode(raw)
	if &got[0] != &raw[0] {
		t.Errorf("raw input was copied")
	}
	// Garbage binary passes through; Parse reports it.
	if got, oe, err := Decode([]byte{0, 1, 2}); err != nil || oe || len(got) != 3 {
		t.Errorf("binary garbage: %v %v %v", got, oe, err)
	}
}

func TestReportDataAndDebug(t *testing.T) {
	var r EnclaveReport
	r.Attributes[0] = 0x82
	if !r.Debug() || !r.KSS() {
		t.Errorf("attributes 0x82: debug and KSS")
	}
	r.Attributes[0] = 0x05
	if r.Debug() || r.KSS() {
		t.Errorf("attributes 0x05: neither")
	}
	var td TDReport
	td.TDAttributes[0] = 1
	if !td.Debug() {
		t.Errorf("td debug")
	}
	if (&Quote{}).ReportData() != ([64]byte{}) {
		t.Errorf("empty quote report data")
	}
}

// checkSDKParsed compares q with the "parsed" values of
// sdk-cpp/expected_claims.json.
func checkSDKParsed(t *testing.T, name string, q *Quote) {
	t.Helper()
	var exp map[string]struct {
		Parsed map[string]any `json:"parsed"`
	}
	if err := json.Unmarshal(readMAA(t, "sdk-cpp/expected_claims.json"), &exp); err != nil {
		t.Fatal(err)
	}
	p := exp[name].Parsed
	r := q.Enclave
	h := hex.EncodeToString
	got := map[string]any{
		"quote_version": float64(q.Header.Version), "att_key_type": float64(q.Header.AttestationKeyType),
		"cpusvn": h(r.CPUSVN[:]), "attributes": h(r.Attributes[:]), "debuggable": r.Debug(),
		"mrenclave": h(r.MREnclave[:]), "mrsigner": h(r.MRSigner[:]), "config_id": h(r.ConfigID[:]),
		"isv_prod_id": float64(r.ISVProdID), "isv_svn": float64(r.ISVSVN), "config_svn": float64(r.ConfigSVN),
		"isv_ext_prod_id": h(r.ISVExtProdID[:]), "isv_family_id": h(r.ISVFamilyID[:]), "report_data": h(r.ReportData[:]),
	}
	if len(p) != len(got) {
		t.Errorf("expected_claims.json parsed has %d fields, the test checks %d", len(p), len(got))
	}
	for k, v := range p {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}
