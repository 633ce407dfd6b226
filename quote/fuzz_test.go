package quote

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

// seedQuotes returns the vector quotes and OpenEnclave reports, read at
// fuzz time from the module's testdata/vectors.
func seedQuotes(f *testing.F) [][]byte {
	f.Helper()
	var seeds [][]byte
	for _, dir := range vectors.DCAPSets(f) {
		b, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	maa := vectors.Dir(f, "maa")
	for _, rel := range []string{
		"sdk-cpp/sgx_quote_debug.bin", "sdk-cpp/sgx_quote_nondebug.bin",
		"sdk-cpp/oe_report_debug.bin", "sdk-cpp/oe_report_nondebug.bin",
		"transcribed/sdk-js/oe_report.bin",
	} {
		b, err := os.ReadFile(filepath.Join(maa, rel))
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	return seeds
}

func FuzzParse(f *testing.F) {
	for _, s := range seedQuotes(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if q, err := Parse(b); err == nil {
			checkSlices(t, q, b)
			if q.TrailingBytes < 0 || len(q.SignedRegion)+4+128+q.TrailingBytes > len(b) {
				t.Fatalf("signed region %d bytes and %d trailing bytes do not fit %d", len(q.SignedRegion), q.TrailingBytes, len(b))
			}
		} else if q != nil {
			t.Fatalf("quote returned with error %v", err)
		}
		if q, err := ParseOpenEnclave(b); err == nil {
			checkSlices(t, q, b)
		}
	})
}

func FuzzDecode(f *testing.F) {
	for _, s := range seedQuotes(f) {
		f.Add(s)
		f.Add([]byte(hex.EncodeToString(s)))
		f.Add([]byte(base64.RawURLEncoding.EncodeToString(s)))
	}
	f.Add([]byte("0x"))
	f.Add([]byte("==="))
	f.Fuzz(func(t *testing.T, in []byte) {
		b, _, err := Decode(in)
		if err != nil {
			return
		}
		if q, err := Parse(b); err == nil {
			checkSlices(t, q, b)
		}
	})
}
