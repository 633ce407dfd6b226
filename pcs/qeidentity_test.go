package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

func TestQEIdentityVectors(t *testing.T) {
	for _, s := range loadSets(t) {
		t.Run(s.name, func(t *testing.T) {
			id, err := ParseQEIdentity(s.c.QEIdentity, s.c.QEIdentitySignature)
			if err != nil {
				t.Fatalf("ParseQEIdentity: %v", err)
			}
			want := "QE"
			if strings.HasPrefix(s.kind, "tdx") {
				want = "TD_QE"
			}
			if id.ID != want || id.Version != 2 {
				t.Errorf("id %q version %d, want %q version 2", id.ID, id.Version, want)
			}
			if len(id.MRSigner) != 32 || len(id.TCBLevels) == 0 {
				t.Errorf("mrsigner %d bytes, %d levels", len(id.MRSigner), len(id.TCBLevels))
			}
			if !bytes.Equal(id.Signed, s.c.QEIdentity) {
				t.Error("Signed differs from the (already compact) member bytes")
			}
			if !verifiesWith(t, s.c.QEIdentityIssuerChain, id.Signed, id.Signature) {
				t.Error("signature does not verify over Signed")
			}
			// Independent decode: levels in JSON order, fields as hex.
			var g struct {
				MiscSelect string `json:"miscselect"`
				Attributes string `json:"attributes"`
				MRSigner   string `json:"mrsigner"`
				ISVProdID  uint16 `json:"isvprodid"`
				TCBLevels  []struct {
					TCB struct {
						ISVSVN uint16 `json:"isvsvn"`
					} `json:"tcb"`
					TCBStatus string `json:"tcbStatus"`
				} `json:"tcbLevels"`
			}
			if err := json.Unmarshal(s.c.QEIdentity, &g); err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(hex.EncodeToString(id.MiscSelect[:]), g.MiscSelect) ||
				!strings.EqualFold(hex.EncodeToString(id.Attributes[:]), g.Attributes) ||
				!strings.EqualFold(hex.EncodeToString(id.MRSigner), g.MRSigner) || id.ISVProdID != g.ISVProdID {
				t.Errorf("fields differ from the JSON")
			}
			if len(g.TCBLevels) != len(id.TCBLevels) {
				t.Fatalf("%d levels, JSON has %d", len(id.TCBLevels), len(g.TCBLevels))
			}
			for i, l := range id.TCBLevels {
				if l.ISVSVN != g.TCBLevels[i].TCB.ISVSVN || string(l.Status) != g.TCBLevels[i].TCBStatus {
					t.Errorf("level %d not in JSON order", i)
				}
			}
		})
	}
}

// Every enclave identity file among the raw vectors: version 2, and only
// statuses QVL's identity parser knows.
func TestQEIdentityRawFiles(t *testing.T) {
	dir := filepath.Join(dcapVectors(t), "raw")
	n := 0
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if !bytes.Contains(data, []byte(`"enclaveIdentity"`)) || bytes.Contains(data, []byte(`"tcb_info"`)) {
			return nil
		}
		raw, sig, err := SplitSigned(data, "enclaveIdentity")
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		if _, err := ParseQEIdentity(raw, sig); err != nil {
			t.Errorf("%s: %v", path, err)
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n == 0 {
		t.Fatal("no enclave identity files found")
	}
}

func dcapVectors(t testing.TB) string {
	return vectors.Dir(t, "dcap")
}

func baseQEIdentity(t *testing.T) []byte {
	for _, s := range loadSets(t) {
		if s.setID() == "S01" {
			return s.c.QEIdentity // 6 levels, QE
		}
	}
	t.Skip("S01 not present")
	return nil
}

func TestQEIdentityParseRules(t *testing.T) {
	base := baseQEIdentity(t)
	num := func(s string) json.Number { return json.Number(s) }
	set := func(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(m map[string]any) { return func(m map[string]any) { delete(m, k) } }
	cases := []struct {
		name string
		mut  func(m map[string]any)
		ok   bool
		msg  string
	}{
		{"ok", func(map[string]any) {}, true, ""},
		{"version 3", set("version", num("3")), false, "version 3"},
		{"version 1", set("version", num("1")), false, "version 1"},
		{"version string", set("version", "2"), false, "version"},
		{"version missing", del("version"), false, "version is missing"},
		{"id TD_QE ok", set("id", "TD_QE"), true, ""},
		{"id QVE ok", set("id", "QVE"), true, ""},
		{"id other", set("id", "PCE"), false, `id "PCE"`},
		{"id lowercase", set("id", "qe"), false, `id "qe"`},
		{"id missing", del("id"), false, "id is missing"},
		{"issueDate bad", set("issueDate", "2025-06-19T10:56:11"), false, "issueDate"},
		{"nextUpdate missing", del("nextUpdate"), false, "nextUpdate is missing"},
		{"miscselect 7", set("miscselect", "0000000"), false, "miscselect"},
		{"miscselect not hex", set("miscselect", "0000000Z"), false, "miscselect"},
		{"miscselectMask missing", del("miscselectMask"), false, "miscselectMask is missing"},
		{"attributes 30", set("attributes", strings.Repeat("1", 30)), false, "attributes"},
		{"attributesMask 34", set("attributesMask", strings.Repeat("F", 34)), false, "attributesMask"},
		{"mrsigner 63", set("mrsigner", strings.Repeat("a", 63)), false, "mrsigner"},
		{"mrsigner empty", set("mrsigner", ""), false, "mrsigner"},
		{"mrsigner lowercase ok", set("mrsigner", strings.Repeat("ab", 32)), true, ""},
		{"isvprodid negative", set("isvprodid", num("-1")), false, "isvprodid"},
		{"isvprodid above 65535 (deviation)", set("isvprodid", num("65536")), false, "isvprodid 65536"},
		{"isvprodid missing", del("isvprodid"), false, "isvprodid is missing"},
		{"evaluation number missing", del("tcbEvaluationDataNumber"), false, "tcbEvaluationDataNumber is missing"},
		{"evaluation number negative", set("tcbEvaluationDataNumber", num("-2")), false, "tcbEvaluationDataNumber"},
		{"tcbLevels empty", set("tcbLevels", []any{}), false, "tcbLevels is empty"},
		{"tcbLevels missing", del("tcbLevels"), false, "tcbLevels is missing"},
		{"level not object", func(m map[string]any) { arr(m["tcbLevels"])[1] = "x" }, false, "tcbLevels[1]"},
		{"status SWHardeningNeeded", func(m map[string]any) { level(m, 0)["tcbStatus"] = "SWHardeningNeeded" }, false, `tcbStatus "SWHardeningNeeded"`},
		{"status ConfigurationAndSWHardeningNeeded", func(m map[string]any) { level(m, 0)["tcbStatus"] = "ConfigurationAndSWHardeningNeeded" }, false, "tcbStatus"},
		{"status ConfigurationNeeded ok", func(m map[string]any) { level(m, 0)["tcbStatus"] = "ConfigurationNeeded" }, true, ""},
		{"status OutOfDateConfigurationNeeded ok", func(m map[string]any) { level(m, 1)["tcbStatus"] = "OutOfDateConfigurationNeeded" }, true, ""},
		{"status Revoked ok", func(m map[string]any) { level(m, 5)["tcbStatus"] = "Revoked" }, true, ""},
		{"status missing", func(m map[string]any) { delete(level(m, 0), "tcbStatus") }, false, "tcbStatus is missing"},
		{"tcbDate missing", func(m map[string]any) { delete(level(m, 0), "tcbDate") }, false, "tcbDate is missing"},
		{"tcb not object", func(m map[string]any) { level(m, 0)["tcb"] = num("8") }, false, "tcb is a number"},
		{"isvsvn missing", func(m map[string]any) { delete(tcbOf(m, 0), "isvsvn") }, false, "isvsvn is missing"},
		{"isvsvn above 65535 (deviation)", func(m map[string]any) { tcbOf(m, 0)["isvsvn"] = num("70000") }, false, "isvsvn 70000"},
		{"advisoryIDs malformed is ignored", func(m map[string]any) { level(m, 0)["advisoryIDs"] = num("7") }, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := mutateJSON(t, base, c.mut)
			_, err := ParseQEIdentity(doc, sig64)
			if c.ok {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q", c.msg)
			}
			if !errors.Is(err, ErrQEIdentityFormat) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q: want ErrQEIdentityFormat mentioning %q", err, c.msg)
			}
		})
	}
	t.Run("levels keep JSON order", func(t *testing.T) {
		doc := mutateJSON(t, base, func(m map[string]any) { slices.Reverse(arr(m["tcbLevels"])) })
		want, _ := ParseQEIdentity(base, sig64)
		got, err := ParseQEIdentity(doc, sig64)
		if err != nil {
			t.Fatal(err)
		}
		for i := range got.TCBLevels {
			if got.TCBLevels[i].ISVSVN != want.TCBLevels[len(want.TCBLevels)-1-i].ISVSVN {
				t.Fatal("levels were reordered")
			}
		}
	})
	t.Run("advisoryIDs read when well-formed", func(t *testing.T) {
		doc := mutateJSON(t, base, func(m map[string]any) { level(m, 0)["advisoryIDs"] = []any{"INTEL-SA-00001"} })
		got, err := ParseQEIdentity(doc, sig64)
		if err != nil || !slices.Equal(got.TCBLevels[0].AdvisoryIDs, []string{"INTEL-SA-00001"}) {
			t.Fatalf("%v %v", got, err)
		}
	})
	t.Run("signature length", func(t *testing.T) {
		if _, err := ParseQEIdentity(base, make([]byte, 32)); !errors.Is(err, ErrQEIdentityFormat) {
			t.Fatal(err)
		}
	})
	t.Run("not an object", func(t *testing.T) {
		for _, raw := range []string{"[]", "", "{", `{"version":2}x`} {
			if _, err := ParseQEIdentity([]byte(raw), sig64); !errors.Is(err, ErrQEIdentityFormat) {
				t.Errorf("%q: %v", raw, err)
			}
		}
	})
}

func TestSplitSigned(t *testing.T) {
	sets := loadSets(t)
	for _, s := range sets {
		body := []byte(`{"tcbInfo":` + string(s.c.TCBInfo) + `,"signature":"` + hex.EncodeToString(s.c.TCBInfoSignature) + `"}`)
		raw, sig, err := SplitSigned(body, "tcbInfo")
		if err != nil || !bytes.Equal(raw, s.c.TCBInfo) || !bytes.Equal(sig, s.c.TCBInfoSignature) {
			t.Errorf("%s: tcbInfo round trip: %v", s.name, err)
		}
		body = []byte(`{"enclaveIdentity":` + string(s.c.QEIdentity) + `,"signature":"` + hex.EncodeToString(s.c.QEIdentitySignature) + `"}`)
		raw, sig, err = SplitSigned(body, "enclaveIdentity")
		if err != nil || !bytes.Equal(raw, s.c.QEIdentity) || !bytes.Equal(sig, s.c.QEIdentitySignature) {
			t.Errorf("%s: enclaveIdentity round trip: %v", s.name, err)
		}
	}

	sigHex := strings.Repeat("ab", 64)
	t.Run("exact bytes, whitespace kept inside", func(t *testing.T) {
		body := "\n{ \"signature\" : \"" + sigHex + "\",\n  \"tcbInfo\" :  {\"a\": [1, 2] ,\n \"b\":\"\\u0041\"}  }\n\x00"
		raw, sig, err := SplitSigned([]byte(body), "tcbInfo")
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != "{\"a\": [1, 2] ,\n \"b\":\"\\u0041\"}" {
			t.Errorf("raw = %q", raw)
		}
		if hex.EncodeToString(sig) != sigHex {
			t.Error("signature")
		}
	})
	t.Run("first occurrence wins", func(t *testing.T) {
		body := `{"tcbInfo":{"n":1},"tcbInfo":{"n":2},"signature":"` + sigHex + `","signature":"x"}`
		raw, _, err := SplitSigned([]byte(body), "tcbInfo")
		if err != nil || string(raw) != `{"n":1}` {
			t.Fatalf("%q %v", raw, err)
		}
	})
	bad := []struct {
		name, body, member string
		want               error
	}{
		{"no member", `{"signature":"` + sigHex + `"}`, "tcbInfo", ErrTCBInfoFormat},
		{"member not object", `{"enclaveIdentity":[],"signature":"` + sigHex + `"}`, "enclaveIdentity", ErrQEIdentityFormat},
		{"no signature", `{"tcbInfo":{}}`, "tcbInfo", ErrTCBInfoFormat},
		{"signature short", `{"tcbInfo":{},"signature":"` + sigHex[2:] + `"}`, "tcbInfo", ErrTCBInfoFormat},
		{"signature not hex", `{"tcbInfo":{},"signature":"` + sigHex[2:] + `zz"}`, "tcbInfo", ErrTCBInfoFormat},
		{"signature not string", `{"tcbInfo":{},"signature":5}`, "tcbInfo", ErrTCBInfoFormat},
		{"trailing data", `{"tcbInfo":{},"signature":"` + sigHex + `"} {}`, "tcbInfo", ErrTCBInfoFormat},
		{"not an object", `[{"tcbInfo":{}}]`, "tcbInfo", ErrTCBInfoFormat},
		{"not JSON", `{"tcbInfo":{`, "tcbInfo", ErrTCBInfoFormat},
		{"other member", `{"x":{}}`, "tcbEvaluationDataNumbers", ErrCollateralFormat},
	}
	for _, c := range bad {
		if _, _, err := SplitSigned([]byte(c.body), c.member); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
}

func BenchmarkParseQEIdentity(b *testing.B) {
	var raw, sig []byte
	for _, s := range loadSets(b) {
		if s.setID() == "S02" {
			raw, sig = s.c.QEIdentity, s.c.QEIdentitySignature
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseQEIdentity(raw, sig); err != nil {
			b.Fatal(err)
		}
	}
}
