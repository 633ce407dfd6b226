package quote

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	"github.com/avowhq/avow/internal/vectors"
)

// dcapSet is one testdata/vectors/dcap/S* folder.
type dcapSet struct {
	name     string
	quote    []byte
	expected map[string]any
}

func loadDCAPSets(tb testing.TB) []dcapSet {
	tb.Helper()
	var sets []dcapSet
	for _, dir := range vectors.DCAPSets(tb) {
		q, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
		if err != nil {
			tb.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
		if err != nil {
			tb.Fatal(err)
		}
		var exp map[string]any
		if err := json.Unmarshal(raw, &exp); err != nil {
			tb.Fatalf("%s: %v", dir, err)
		}
		sets = append(sets, dcapSet{name: filepath.Base(dir), quote: q, expected: exp})
	}
	return sets
}

func dcapQuote(tb testing.TB, prefix string) []byte {
	tb.Helper()
	matches, _ := filepath.Glob(filepath.Join(vectors.Dir(tb, "dcap"), prefix+"-*", "quote.bin"))
	if len(matches) != 1 {
		tb.Fatalf("no unique set %s", prefix)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func readMAA(tb testing.TB, rel string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectors.Dir(tb, "maa"), rel))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// within checks that s is a sub-slice of b (an empty s may sit at len(b)).
func within(b, s []byte) bool {
	if len(s) == 0 {
		return true
	}
	if len(b) == 0 {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	p := uintptr(unsafe.Pointer(unsafe.SliceData(s)))
	return p >= base && p-base+uintptr(len(s)) <= uintptr(len(b))
}

// offsetIn returns the offset of s inside b (s must be within b).
func offsetIn(b, s []byte) int {
	return int(uintptr(unsafe.Pointer(unsafe.SliceData(s))) - uintptr(unsafe.Pointer(unsafe.SliceData(b))))
}

// checkSlices asserts that every slice of q lies within input.
func checkSlices(tb testing.TB, q *Quote, input []byte) {
	tb.Helper()
	for name, s := range map[string][]byte{
		"Raw": q.Raw, "SignedRegion": q.SignedRegion, "QEReportRaw": q.QEReportRaw,
		"QEAuthData": q.QEAuthData, "CertificationData": q.CertificationData,
	} {
		if !within(input, s) {
			tb.Fatalf("%s (%d bytes) is not within the input", name, len(s))
		}
	}
	if len(q.QEReportRaw) != 384 {
		tb.Fatalf("QEReportRaw is %d bytes", len(q.QEReportRaw))
	}
	if (q.Enclave == nil) == (q.TD == nil) {
		tb.Fatalf("exactly one of Enclave and TD must be set")
	}
}

// quoteSpec describes a synthetic quote built by buildQuote.
type quoteSpec struct {
	version  uint16
	tee      uint32
	bodyType uint16 // v5 only
	bodySize int    // v5 descriptor size; 0 = the body type's size
	auth     []byte
	certType uint16
	cert     []byte
	trailing int
}

// buildQuote returns a structurally valid quote for s (signatures are
// zero), so that layouts without a real vector (v4 SGX, v5 SGX, v5 TDX 1.0)
// are covered and mutations are easy.
func buildQuote(s quoteSpec) []byte {
	le := binary.LittleEndian
	h := make([]byte, 48)
	le.PutUint16(h[0:], s.version)
	le.PutUint16(h[2:], 2)
	le.PutUint32(h[4:], s.tee)
	copy(h[12:], intelQEVendorID[:])
	out := h
	bodySize := 384
	if s.tee == TEETypeTDX {
		bodySize = 584
	}
	if s.version == 5 {
		if s.bodyType == BodyTDX15 {
			bodySize = 648
		}
		d := make([]byte, 6)
		le.PutUint16(d[0:], s.bodyType)
		size := bodySize
		if s.bodySize != 0 {
			size = s.bodySize
		}
		le.PutUint32(d[2:], uint32(size))
		out = append(out, d...)
	}
	body := make([]byte, bodySize)
	for i := range body {
		body[i] = byte(i)
	}
	out = append(out, body...)

	qe := make([]byte, 384+64)
	qe[0] = 0xAA
	qe = binary.LittleEndian.AppendUint16(qe, uint16(len(s.auth)))
	qe = append(qe, s.auth...)
	qe = binary.LittleEndian.AppendUint16(qe, s.certType)
	qe = binary.LittleEndian.AppendUint32(qe, uint32(len(s.cert)))
	qe = append(qe, s.cert...)

	sig := make([]byte, 128)
	if s.version == 3 {
		sig = append(sig, qe...)
	} else {
		sig = binary.LittleEndian.AppendUint16(sig, 6)
		sig = binary.LittleEndian.AppendUint32(sig, uint32(len(qe)))
		sig = append(sig, qe...)
	}
	out = binary.LittleEndian.AppendUint32(out, uint32(len(sig)))
	out = append(out, sig...)
	out = append(out, make([]byte, s.trailing)...)
	return out
}
