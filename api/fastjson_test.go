package api

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/avowhq/avow/attestation/sgx"
)

// sameAsEncodingJSON checks that decodeAttestBody agrees with
// json.Unmarshal on raw: same error-ness, and the same body when both
// succeed.
func sameAsEncodingJSON(t testing.TB, raw []byte) {
	t.Helper()
	var want, got attestBody
	werr := json.Unmarshal(raw, &want)
	gerr := decodeAttestBody(raw, &got)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("%q: encoding/json %v, fast path %v", raw, werr, gerr)
	}
	if werr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("%q:\nencoding/json %s\nfast path     %s", raw, dump(want), dump(got))
	}
}

func dump(b attestBody) string { j, _ := json.Marshal(b); return string(j) }

var attestBodies = []string{
	`{"quote":"AQID"}`,
	` { "quote" : "AQID" , "runtimeData" : { "data" : "aGk" , "dataType" : "JSON" } } `,
	`{"Quote":"AQID","EnclaveHeldData":"aGk"}`,
	`{"QUOTE":"AQID","inittimeData":{"data":"aGk"},"nonce":"n-1","draftPolicyForAttestation":"version=1.0;"}`,
	`{"report":"AQID","runtimeData":null,"initTimeData":{"data":null,"dataType":null}}`,
	`{"quote":null}`,
	`{}`,
	`{"quote":"AQID","other":"x","more":null}`,
	`{"quote":"AQID","quote":"BBBB"}`,
	`{"quote":"AQID","Quote":"BBBB"}`,
	`{"runtimeData":{"data":"a"},"runtimeData":{"dataType":"JSON"}}`,
	`{"runtimeData":{"data":"a","data":"b"}}`,
	`{"quote":"A\u0051ID"}`,
	`{"quote":"AQ\"ID"}`,
	`{"quote":"é"}`,
	`{"quote":1}`,
	`{"quote":"AQID","n":12}`,
	`{"quote":"AQID","x":{"y":"z"}}`,
	`{"quote":"AQID","x":[1]}`,
	`{"quote":"AQID"} x`,
	`{"quote":"AQID",}`,
	`{"quote" "AQID"}`,
	`{"quote":"AQID"`,
	`{"quote":nul}`,
	`{"quote":"AQID","runtimeData":"x"}`,
	`{"runtimeData":{"data":1}}`,
	`{"runtimeData":{"other":{}}}`,
	`[]`,
	`null`,
	``,
	`{"quote":"AQ` + "\x01" + `ID"}`,
	`{"ſuote":"AQID"}`,
	`{"K":"x","quote":"AQID"}`,
}

func TestDecodeAttestBodyMatchesEncodingJSON(t *testing.T) {
	for _, b := range attestBodies {
		sameAsEncodingJSON(t, []byte(b))
	}
	valid := `{"quote":"` + strings.Repeat("QUJD", 1500) + `","runtimeData":{"data":"aGVsbG8","dataType":"Binary"},"nonce":"n"}`
	rng := rand.New(rand.NewPCG(7, 8))
	for i := 0; i < 20000; i++ {
		m := []byte(valid)
		switch rng.IntN(4) {
		case 0:
			for k := 0; k < 1+rng.IntN(4); k++ {
				m[rng.IntN(len(m))] = " \"{}:,\\nul0aAé"[rng.IntN(15)]
			}
		case 1:
			m = m[:rng.IntN(len(m))]
		case 2:
			i := rng.IntN(len(m))
			m = append(m[:i:i], append([]byte(`,"x":null`), m[i:]...)...)
		case 3:
			m[rng.IntN(len(m))] ^= byte(1 + rng.IntN(255))
		}
		sameAsEncodingJSON(t, m)
	}
}

func FuzzDecodeAttestBody(f *testing.F) {
	for _, b := range attestBodies {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { sameAsEncodingJSON(t, raw) })
}

func TestWriteToken(t *testing.T) {
	for i, tok := range []string{"eyJhbGciOiJFUzI1NiJ9.eyJ4IjoxfQ.c2ln", `odd"token<>`} {
		rec := httptest.NewRecorder()
		writeToken(rec, tok)
		var out map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || out["token"] != tok || rec.Code != 200 ||
			rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Errorf("%q: %d %q %v", tok, rec.Code, rec.Body.String(), err)
		}
		// A compact JWS (the fast path) is sent with its length, not chunked.
		if cl := rec.Header().Get("Content-Length"); i == 0 && cl != strconv.Itoa(rec.Body.Len()) {
			t.Errorf("%q: Content-Length %q for %d bytes", tok, cl, rec.Body.Len())
		}
	}
	if urlSafe("ab+/") != "ab-_" || urlSafe("abc") != "abc" {
		t.Error("urlSafe")
	}
}

func BenchmarkDecodeAttestBody(b *testing.B) {
	raw := []byte(`{"quote":"` + strings.Repeat("QUJD", 1600) + `","runtimeData":{"data":"aGVsbG8","dataType":"Binary"}}`)
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			var body attestBody
			if err := decodeAttestBody(raw, &body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			var body attestBody
			if err := json.Unmarshal(raw, &body); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// runtimeData or initTimeData that names a dataType without data is
// refused (the Python SDK's inittime_json sends no data), whichever
// decoder read the body; an empty object or null is absent.
func TestDecodeAttestDataWithoutData(t *testing.T) {
	const quote = `"quote":"AQID"`
	for _, tc := range []struct {
		body, want string // want: "" accepted, else a text of the error
	}{
		{`{` + quote + `,"initTimeData":{"dataType":"JSON"}}`, `initTimeData has dataType "JSON" but no data`},
		{`{` + quote + `,"initTimeData":{"data":null,"dataType":"Binary"}}`, `initTimeData has dataType "Binary" but no data`},
		{`{` + quote + `,"runtimeData":{"dataType":"JSON"}}`, `runtimeData has dataType "JSON" but no data`},
		{`{` + quote + `, "runtimeData" : { "dataType" : "Binary" } }`, `runtimeData has dataType "Binary" but no data`},
		{`{` + quote + `,"runtimeData":{"dataType":"JSON","x":1}}`, `runtimeData has dataType "JSON" but no data`}, // encoding/json path
		{`{` + quote + `,"initTimeData":{}}`, ``},
		{`{` + quote + `,"initTimeData":null}`, ``},
		{`{` + quote + `,"initTimeData":{"data":"","dataType":"Binary"}}`, ``},
	} {
		req, err := decodeAttest([]byte(tc.body), sgx.SgxEnclave{})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.body, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrBadJSON)):
			t.Errorf("%s: got %v (request %+v), want invalid_json %q", tc.body, err, req, tc.want)
		}
	}
}
