package jsonenc

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/quote"
)

// checkAppendJSON fails when Encoder.Append and encoding/json disagree on
// v, with and without HTML escaping.
func checkAppendJSON(t *testing.T, v any) {
	t.Helper()
	for _, html := range []bool{false, true} {
		var want []byte
		var werr error
		if html {
			want, werr = json.Marshal(v)
		} else {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			werr = enc.Encode(v)
			want = bytes.TrimSuffix(b.Bytes(), []byte("\n"))
		}
		got, gerr := Encoder{EscapeHTML: html}.Append([]byte("prefix"), v)
		if (werr != nil) != (gerr != nil) {
			t.Fatalf("%#v (escape HTML %v): encoding/json error %v, Append error %v", v, html, werr, gerr)
		}
		if werr == nil && !bytes.Equal(got, append([]byte("prefix"), want...)) {
			t.Fatalf("%#v (escape HTML %v):\nAppend        %s\nencoding/json prefix%s", v, html, got, want)
		}
	}
}

func TestAppendMatchesEncodingJSON(t *testing.T) {
	values := []any{
		nil, "", "plain", `quote " and \ backslash`, "<&> not escaped", "tab\tnewline\n\x00\x1f\x7f",
		"é ünïcödé 🔐", "line\u2028para\u2029", "bad utf-8 \xff\xfe", true, false,
		0, -1, math.MaxInt64, int64(math.MinInt64), int32(-7), uint16(4639), uint32(1) << 31, uint64(math.MaxUint64),
		1.5, 1e21, 1e-7, -0.0, 100.0, math.NaN(), json.Number("12.50"),
		[]any{}, []any(nil), []string{}, []string(nil), []string{"a", "\"b\""},
		map[string]any{}, map[string]any(nil),
		map[string]any{"b": 1, "a": []any{"x", 2, map[string]any{"z": nil, "y": false}}, "": "empty key", "é": 1, "A": 2},
		struct {
			Z string `json:"z"`
			A int
		}{"s", 1},
		[]byte("bytes"), map[string]string{"k": "v"}, make(chan int),
	}
	for _, v := range values {
		checkAppendJSON(t, v)
	}
}

// The claims of every real quote among the vectors, as an attestation
// builds them, encode identically.
func TestAppendQuoteClaims(t *testing.T) {
	var files []string
	for _, set := range vectors.DCAPSets(t) {
		files = append(files, filepath.Join(set, "quote.bin"))
	}
	more, _ := filepath.Glob(filepath.Join(vectors.Dir(t, "maa"), "sdk-cpp", "sgx_quote_*.bin"))
	files = append(files, more...)
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		q, err := quote.Parse(raw)
		if err != nil {
			continue
		}
		checkAppendJSON(t, claims.FromQuote(q))
		n++
	}
	if n == 0 {
		t.Fatal("no quote parsed among the vectors")
	}
}

func FuzzAppend(f *testing.F) {
	f.Add([]byte(`{"x-ms-sgx-mrsigner":"abc","x-ms-sgx-svn":2,"list":[1,"two",{"t":true}],"n":null}`))
	f.Add([]byte(`"\u2028<\u0000>"`))
	f.Add([]byte(`[1e300, -0.0, 12345678901234567890]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Any JSON value decoded the way claims arrive from policies, and
		// the input itself as a string and as a key.
		var v any
		if json.Unmarshal(data, &v) == nil {
			checkAppendJSON(t, v)
		}
		checkAppendJSON(t, string(data))
		checkAppendJSON(t, map[string]any{string(data): []any{string(data)}})
	})
}
