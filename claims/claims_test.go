package claims

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/quote"
)

func read(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip returns c as a JSON consumer (a token reader) sees it.
func roundTrip(t *testing.T, c map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSGXClaimsSDKVectors(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	var expected map[string]struct {
		Claims map[string]any `json:"expected_claims_with_binary_runtime_data"`
	}
	if err := json.Unmarshal(read(t, filepath.Join(dir, "sdk-cpp/expected_claims.json")), &expected); err != nil {
		t.Fatal(err)
	}
	runtime := read(t, filepath.Join(dir, "sdk-cpp/runtime_data.bin"))
	for _, name := range []string{"debug", "nondebug"} {
		t.Run(name, func(t *testing.T) {
			want := expected[name].Claims
			if len(want) == 0 {
				t.Fatalf("no expectation for %s", name)
			}
			for _, file := range []string{"sgx_quote_" + name + ".bin", "oe_report_" + name + ".bin"} {
				raw := read(t, filepath.Join(dir, "sdk-cpp", file))
				parse := quote.Parse
				if strings.HasPrefix(file, "oe_") {
					parse = quote.ParseOpenEnclave
				}
				q, err := parse(raw)
				if err != nil {
					t.Fatal(err)
				}
				c := FromQuote(q)
				// Go types before serialisation.
				if _, ok := c["x-ms-sgx-product-id"].(int); !ok {
					t.Errorf("product id is %T", c["x-ms-sgx-product-id"])
				}
				if _, ok := c["x-ms-sgx-is-debuggable"].(bool); !ok {
					t.Errorf("is-debuggable is %T", c["x-ms-sgx-is-debuggable"])
				}
				if err := AddRuntimeData(c, runtime, "Binary"); err != nil {
					t.Fatal(err)
				}
				got := roundTrip(t, c)
				for k, v := range want {
					if !reflect.DeepEqual(got[k], v) {
						t.Errorf("%s: %s = %#v, want %#v", file, k, got[k], v)
					}
				}
				if got["x-ms-ver"] != "1.0" {
					t.Errorf("x-ms-ver = %v", got["x-ms-ver"])
				}
				for _, k := range []string{"x-ms-runtime", "x-ms-sgx-config-id", "x-ms-sgx-config-svn", "x-ms-sgx-isv-extended-product-id", "x-ms-sgx-isv-family-id"} {
					if _, ok := got[k]; ok {
						t.Errorf("%s present without JSON runtime data / KSS", k)
					}
				}
				if got["aas-ehd"] != want["x-ms-sgx-ehd"] || got["maa-ehd"] != want["x-ms-sgx-ehd"] {
					t.Errorf("legacy ehd claims differ")
				}
				if err := CheckRuntimeDataBinding(q, runtime); err != nil {
					t.Errorf("binding: %v", err)
				}
				changed := bytes.Clone(runtime)
				changed[10] ^= 1
				err = CheckRuntimeDataBinding(q, changed)
				if !errors.Is(err, ErrRuntimeDataMismatch) || errs.Code(err) != "runtime_data_mismatch" {
					t.Errorf("changed runtime data: %v", err)
				}
			}
		})
	}
}

func TestJSRuntimeDataBinds(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	q, err := quote.ParseOpenEnclave(read(t, filepath.Join(dir, "transcribed/sdk-js/oe_report.bin")))
	if err != nil {
		t.Fatal(err)
	}
	runtime := read(t, filepath.Join(dir, "transcribed/sdk-js/runtime_data.bin"))
	if err := CheckRuntimeDataBinding(q, runtime); err != nil {
		t.Fatal(err)
	}
	if err := CheckRuntimeDataBinding(q, runtime[:len(runtime)-1]); !errors.Is(err, ErrRuntimeDataMismatch) {
		t.Errorf("truncated runtime data: %v", err)
	}
	// As JSON: x-ms-runtime and no ehd claims.
	c := FromQuote(q)
	if err := AddRuntimeData(c, runtime, "JSON"); err != nil {
		t.Fatal(err)
	}
	if _, ok := c["x-ms-sgx-ehd"]; ok {
		t.Errorf("JSON runtime data must not produce x-ms-sgx-ehd")
	}
	obj, ok := c["x-ms-runtime"].(map[string]any)
	if !ok {
		t.Fatalf("x-ms-runtime is %T", c["x-ms-runtime"])
	}
	jwk, ok := obj["jwk"].(map[string]any)
	if !ok || jwk["kty"] == nil {
		t.Errorf("x-ms-runtime = %v", obj)
	}
}

func TestRuntimeDataJSON(t *testing.T) {
	for _, c := range []struct {
		name, data, dataType string
		want                 any
		err                  string
	}{
		{"object", `{"a": 1, "b": [true, "x"]}`, "JSON", map[string]any{"a": json.Number("1"), "b": []any{true, "x"}}, ""},
		{"big int exact", `{"n": 12345678901234567890}`, "json", map[string]any{"n": json.Number("12345678901234567890")}, ""},
		{"C string", "{\"a\":\"b\"}\n\x00", "JSON", map[string]any{"a": "b"}, ""},
		{"scalar", `"text"`, "JSON", "text", ""},
		{"not json", `{"a":`, "JSON", nil, "not JSON"},
		{"empty", ``, "JSON", nil, "not JSON"},
		{"two values", `{} {}`, "JSON", nil, "content after"},
		{"bad type", `{}`, "Text", nil, `"Text" is neither Binary nor JSON`},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := map[string]any{}
			err := AddRuntimeData(m, []byte(c.data), c.dataType)
			if c.err != "" {
				if !errors.Is(err, ErrInvalidRuntimeData) || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				if len(m) != 0 {
					t.Errorf("claims added on error: %v", m)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(m["x-ms-runtime"], c.want) {
				t.Errorf("x-ms-runtime = %#v, want %#v", m["x-ms-runtime"], c.want)
			}
			b, _ := json.Marshal(m["x-ms-runtime"])
			if c.name == "big int exact" && string(b) != `{"n":12345678901234567890}` {
				t.Errorf("re-serialised %s", b)
			}
		})
	}
	if err := AddRuntimeData(nil, nil, "JSON"); err == nil {
		t.Errorf("nil map accepted")
	}
}

func TestInitTimeData(t *testing.T) {
	m := map[string]any{}
	if err := AddInitTimeData(m, []byte(`{"cfg":"x"}`), "JSON"); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(m["x-ms-inittime"], map[string]any{"cfg": "x"}) {
		t.Errorf("x-ms-inittime = %v", m["x-ms-inittime"])
	}
	m = map[string]any{}
	if err := AddInitTimeData(m, []byte{1, 2, 3}, "Binary"); err != nil || len(m) != 0 {
		t.Errorf("binary init-time data: %v %v", err, m)
	}
	if err := AddInitTimeData(m, []byte("nope"), "JSON"); !errors.Is(err, ErrInvalidInitTimeData) {
		t.Errorf("bad JSON: %v", err)
	}
	if err := AddInitTimeData(m, nil, "x"); !errors.Is(err, ErrInvalidInitTimeData) {
		t.Errorf("bad type: %v", err)
	}
}

func TestKSSClaims(t *testing.T) {
	raw := bytes.Clone(read(t, filepath.Join(vectors.Dir(t, "maa"), "sdk-cpp/sgx_quote_nondebug.bin")))
	const body = 48
	raw[body+48] |= 0x80                      // FLAGS.KSS
	raw[body+192] = 0xc1                      // CONFIGID[0]
	raw[body+260], raw[body+261] = 0x34, 0x12 // CONFIGSVN
	raw[body+32] = 0xe1                       // ISV_EXT_PROD_ID[0]
	raw[body+304] = 0xf1                      // ISV_FAMILY_ID[0]
	q, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	c := roundTrip(t, FromQuote(q))
	want := map[string]any{
		"x-ms-sgx-config-id":               "c1" + strings.Repeat("00", 63),
		"x-ms-sgx-config-svn":              float64(0x1234),
		"x-ms-sgx-isv-extended-product-id": "e1" + strings.Repeat("00", 15),
		"x-ms-sgx-isv-family-id":           "f1" + strings.Repeat("00", 15),
	}
	for k, v := range want {
		if c[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c[k], v)
		}
	}
}

func loadSet(t *testing.T, prefix string) (*quote.Quote, map[string]any) {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(vectors.Dir(t, "dcap"), prefix+"-*"))
	if len(m) != 1 {
		t.Fatalf("set %s not found", prefix)
	}
	q, err := quote.Parse(read(t, filepath.Join(m[0], "quote.bin")))
	if err != nil {
		t.Fatal(err)
	}
	var exp map[string]any
	if err := json.Unmarshal(read(t, filepath.Join(m[0], "expected.json")), &exp); err != nil {
		t.Fatal(err)
	}
	return q, exp
}

func TestTDXClaims(t *testing.T) {
	fields := map[string]string{ // claim → expected.json identity field
		"tdx_mrtd": "mrtd", "tdx_rtmr0": "rtmr0", "tdx_rtmr1": "rtmr1", "tdx_rtmr2": "rtmr2", "tdx_rtmr3": "rtmr3",
		"tdx_mrseam": "mrseam", "tdx_mrsignerseam": "mrsignerseam", "tdx_mrconfigid": "mrconfigid",
		"tdx_mrowner": "mrowner", "tdx_mrownerconfig": "mrownerconfig", "tdx_report_data": "report_data",
		"tdx_seam_attributes": "seam_attributes", "tdx_td_attributes": "td_attributes",
		"tdx_tee_tcb_svn": "tee_tcb_svn", "tdx_xfam": "xfam",
	}
	for _, c := range []struct {
		set                  string
		seamsvn              float64
		septve, pks, tdx15   bool
		mrservicetd, tcbsvn2 string
	}{
		{"S02", 0x0106, true, false, false, "", ""},
		{"S09", 0x0105, true, false, true, "383c87d3bbb047b2d171eaca95312ede99f258088dc788f6ae2ccf8b6dd848fe8d47629e08b3f6cbd4a00dd47a5a033d", "05010200000000000000000000000000"},
		{"S17", 0x0003, false, true, false, "", ""},
	} {
		t.Run(c.set, func(t *testing.T) {
			q, exp := loadSet(t, c.set)
			raw := FromQuote(q)
			if _, ok := raw["tdx_seamsvn"].(int); !ok {
				t.Errorf("tdx_seamsvn is %T", raw["tdx_seamsvn"])
			}
			got := roundTrip(t, raw)
			for claim, field := range fields {
				if got[claim] != exp[field] {
					t.Errorf("%s = %v, want %v", claim, got[claim], exp[field])
				}
			}
			want := map[string]any{
				"x-ms-attestation-type":             "tdxvm",
				"x-ms-ver":                          "1.0",
				"eat_profile":                       "https://aka.ms/maa-eat-profile-tdxvm",
				"intuse":                            "generic",
				"dbgstat":                           "disabled",
				"tdx_seamsvn":                       c.seamsvn,
				"tdx_td_attributes_debug":           false,
				"tdx_td_attributes_septve_disable":  c.septve,
				"tdx_td_attributes_protection_keys": c.pks,
				"tdx_td_attributes_key_locker":      false,
				"tdx_td_attributes_perfmon":         false,
			}
			if c.tdx15 {
				want["tdx_mrservicetd"] = c.mrservicetd
				want["tdx_tee_tcb_svn2"] = c.tcbsvn2
				if exp["mrservicetd"] != c.mrservicetd || exp["tee_tcb_svn2"] != c.tcbsvn2 {
					t.Fatalf("test table disagrees with expected.json")
				}
			} else {
				for _, k := range []string{"tdx_mrservicetd", "tdx_tee_tcb_svn2"} {
					if _, ok := got[k]; ok {
						t.Errorf("%s on a TDX 1.0 body", k)
					}
				}
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("%s = %#v, want %#v", k, got[k], v)
				}
			}
			for k := range got {
				if strings.HasPrefix(k, "x-ms-sgx") || k == "tee" || k == "is-debuggable" {
					t.Errorf("SGX claim %s on a TDX quote", k)
				}
			}
			// Runtime data: Binary adds nothing, JSON adds x-ms-runtime.
			if err := AddRuntimeData(raw, []byte{1, 2}, "Binary"); err != nil {
				t.Fatal(err)
			}
			for _, k := range []string{"x-ms-sgx-ehd", "aas-ehd", "maa-ehd", "x-ms-runtime"} {
				if _, ok := raw[k]; ok {
					t.Errorf("binary runtime data on TDX produced %s", k)
				}
			}
			if err := AddRuntimeData(raw, []byte(`{"k":"v"}`), "JSON"); err != nil || raw["x-ms-runtime"] == nil {
				t.Errorf("JSON runtime data on TDX: %v", err)
			}
		})
	}
}

func TestTDXAttributeBits(t *testing.T) {
	q, _ := loadSet(t, "S02")
	td := *q.TD
	td.TDAttributes = [8]byte{0x01, 0, 0, 0xc0, 0, 0, 0, 0x80} // debug, PKS, KL, PERFMON
	q2 := *q
	q2.TD = &td
	c := FromQuote(&q2)
	for k, v := range map[string]any{
		"dbgstat": "enabled", "tdx_td_attributes_debug": true, "tdx_td_attributes_protection_keys": true,
		"tdx_td_attributes_key_locker": true, "tdx_td_attributes_perfmon": true, "tdx_td_attributes_septve_disable": false,
		"tdx_td_attributes": "010000c000000080",
	} {
		if c[k] != v {
			t.Errorf("%s = %v, want %v", k, c[k], v)
		}
	}
}

func TestBindingTDX(t *testing.T) {
	q, _ := loadSet(t, "S02")
	rd := q.ReportData()
	// No preimage is known; a mismatch must be reported with the digest.
	err := CheckRuntimeDataBinding(q, []byte("x"))
	if !errors.Is(err, ErrRuntimeDataMismatch) || !strings.Contains(err.Error(), hex.EncodeToString(rd[:32])) {
		t.Errorf("err = %v", err)
	}
	if err := CheckRuntimeDataBinding(nil, nil); !errors.Is(err, ErrRuntimeDataMismatch) {
		t.Errorf("nil quote: %v", err)
	}
	if len(FromQuote(nil)) != 0 {
		t.Errorf("nil quote claims")
	}
}
