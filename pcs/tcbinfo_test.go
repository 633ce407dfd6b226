package pcs

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestTCBInfoVectors(t *testing.T) {
	for _, s := range loadSets(t) {
		t.Run(s.name, func(t *testing.T) {
			info, err := ParseTCBInfo(s.c.TCBInfo, s.c.TCBInfoSignature)
			if err != nil {
				t.Fatalf("ParseTCBInfo: %v", err)
			}
			wantID := "SGX"
			if strings.HasPrefix(s.kind, "tdx") {
				wantID = "TDX"
			}
			if info.ID != wantID {
				t.Errorf("ID = %q, want %q (kind %s)", info.ID, wantID, s.kind)
			}
			if info.Version != 3 && !(info.Version == 2 && info.ID == "SGX") {
				t.Errorf("version %d with id %s", info.Version, info.ID)
			}
			if s.setID() == "S21" && info.Version != 2 {
				t.Errorf("S21 is a version 2 TCB info, got %d", info.Version)
			}
			if (info.ID == "TDX") != (info.TDXModule != nil) {
				t.Errorf("TDXModule presence wrong for %s", info.ID)
			}
			if info.TDXModule != nil && len(info.TDXModule.MRSigner) != 48 {
				t.Errorf("TDX module mrsigner has %d bytes", len(info.TDXModule.MRSigner))
			}
			if !bytes.Equal(info.Signed, s.c.TCBInfo) {
				t.Errorf("Signed differs from the (already compact) member bytes")
			}
			if !bytes.Equal(info.Signature, s.c.TCBInfoSignature) {
				t.Errorf("Signature not kept")
			}
			if !verifiesWith(t, s.c.TCBInfoIssuerChain, info.Signed, info.Signature) {
				t.Errorf("signature does not verify over Signed")
			}
			if info.IssueDate.IsZero() || !info.NextUpdate.After(info.IssueDate) {
				t.Errorf("dates: issue %v next %v", info.IssueDate, info.NextUpdate)
			}

			// Level count and order against an independent decode.
			var generic struct {
				TCBLevels []struct {
					TCBStatus string `json:"tcbStatus"`
					TCBDate   string `json:"tcbDate"`
				} `json:"tcbLevels"`
			}
			if err := json.Unmarshal(s.c.TCBInfo, &generic); err != nil {
				t.Fatal(err)
			}
			if len(info.TCBLevels) != len(generic.TCBLevels) || len(info.TCBLevels) == 0 {
				t.Fatalf("%d levels, JSON has %d", len(info.TCBLevels), len(generic.TCBLevels))
			}
			tdx := info.ID == "TDX"
			for i := 1; i < len(info.TCBLevels); i++ {
				if CompareTCBLevels(&info.TCBLevels[i-1], &info.TCBLevels[i], tdx) <= 0 {
					t.Errorf("levels %d and %d are not in strictly descending order", i-1, i)
				}
			}
			// Intel publishes levels already sorted: the sorted order is the
			// JSON order.
			for i, l := range info.TCBLevels {
				g := generic.TCBLevels[i]
				if string(l.Status) != g.TCBStatus || l.TCBDate.Format(time.RFC3339) != g.TCBDate {
					t.Errorf("level %d: sorted (%s %v) differs from JSON order (%s %s)", i, l.Status, l.TCBDate, g.TCBStatus, g.TCBDate)
				}
			}

			// FMSPC and PCE-ID agree with the PCK certificate.
			pck := pckCert(t, s)
			ext, err := ParsePCKExtensions(pck)
			if err != nil {
				t.Fatalf("ParsePCKExtensions: %v", err)
			}
			if ext.FMSPC != info.FMSPC {
				t.Errorf("PCK FMSPC %x != TCB info FMSPC %x", ext.FMSPC, info.FMSPC)
			}
			if ext.PCEID != info.PCEID {
				t.Errorf("PCK PCE-ID %x != TCB info pceId %x", ext.PCEID, info.PCEID)
			}
		})
	}
}

// S22 (Intel test data) has component SVNs above 255; QVL truncates them.
func TestTCBInfoSVNTruncation(t *testing.T) {
	var s22 *vset
	for _, s := range loadSets(t) {
		if s.setID() == "S22" {
			s22 = &s
		}
	}
	if s22 == nil {
		t.Skip("S22 not present")
	}
	info, err := ParseTCBInfo(s22.c.TCBInfo, s22.c.TCBInfoSignature)
	if err != nil {
		t.Fatal(err)
	}
	l := info.TCBLevels[0]
	// JSON svns: 82, 65473, 65443, 65420, 65527, 65517, 65523, 10, 82, 75, 78, 65467, 4, 65439, 89, 65479
	want := [16]uint8{82, 65473 & 0xFF, 65443 & 0xFF, 65420 & 0xFF, 65527 & 0xFF, 65517 & 0xFF, 65523 & 0xFF, 10, 82, 75, 78, 65467 & 0xFF, 4, 65439 & 0xFF, 89, 65479 & 0xFF}
	if l.SGXComponents != want {
		t.Errorf("SGX components %v, want %v", l.SGXComponents, want)
	}
	if l.TDXComponents != want {
		t.Errorf("TDX components %v, want %v", l.TDXComponents, want)
	}
	if l.PCESVN != 10593 {
		t.Errorf("PCESVN %d", l.PCESVN)
	}
	if info.TCBEvaluationDataNumber != 0 || info.FMSPC != [6]byte{0xed, 0x74, 0x2a, 0xf8, 0xad, 0xf5} {
		t.Errorf("eval %d fmspc %x", info.TCBEvaluationDataNumber, info.FMSPC)
	}
}

// baseDocs returns a TDX v3, an SGX v3 and an SGX v2 TCB info from the
// vectors (S02, S01, S21).
func baseTCBInfos(t *testing.T) (tdx, sgx3, sgx2 []byte) {
	for _, s := range loadSets(t) {
		switch s.setID() {
		case "S02":
			tdx = s.c.TCBInfo
		case "S01":
			sgx3 = s.c.TCBInfo
		case "S21":
			sgx2 = s.c.TCBInfo
		}
	}
	if tdx == nil || sgx3 == nil || sgx2 == nil {
		t.Skip("S01, S02 or S21 missing")
	}
	return tdx, sgx3, sgx2
}

var sig64 = make([]byte, 64)

func TestTCBInfoParseRules(t *testing.T) {
	tdx, sgx3, sgx2 := baseTCBInfos(t)
	type tc struct {
		name string
		base []byte
		mut  func(m map[string]any)
		ok   bool
		msg  string // substring of the error detail
	}
	num := func(s string) json.Number { return json.Number(s) }
	set := func(k string, v any) func(m map[string]any) { return func(m map[string]any) { m[k] = v } }
	del := func(k string) func(m map[string]any) { return func(m map[string]any) { delete(m, k) } }
	svn := func(i int, v any) func(m map[string]any) {
		return func(m map[string]any) { obj(arr(tcbOf(m, 0)["sgxtcbcomponents"])[i])["svn"] = v }
	}
	cases := []tc{
		{"tdx ok", tdx, func(map[string]any) {}, true, ""},
		{"sgx3 ok", sgx3, func(map[string]any) {}, true, ""},
		{"sgx2 ok", sgx2, func(map[string]any) {}, true, ""},
		{"unknown member ignored", tdx, set("extra", []any{1, "x"}), true, ""},

		{"version 1", tdx, set("version", num("1")), false, "version 1"},
		{"version 4", tdx, set("version", num("4")), false, "version 4"},
		{"version string", tdx, set("version", "3"), false, "version"},
		{"version double", tdx, set("version", num("3.0")), false, "version"},
		{"version missing", tdx, del("version"), false, "version is missing"},
		{"v3 id missing", tdx, del("id"), false, "id is missing"},
		{"v3 id lowercase", tdx, set("id", "tdx"), false, `id "tdx"`},
		{"v3 id other", sgx3, set("id", "SEV"), false, `id "SEV"`},
		{"v2 id ignored", sgx2, set("id", "whatever"), true, ""},

		{"issueDate fraction", tdx, set("issueDate", "2025-06-19T10:32:27.000Z"), false, "issueDate"},
		{"issueDate offset", tdx, set("issueDate", "2025-06-19T10:32:27+00:00"), false, "issueDate"},
		{"issueDate space", tdx, set("issueDate", "2025-06-19 10:32:27Z"), false, "issueDate"},
		{"issueDate no Z", tdx, set("issueDate", "2025-06-19T10:32:27"), false, "issueDate"},
		{"issueDate Feb 30", tdx, set("issueDate", "2025-02-30T10:32:27Z"), false, "issueDate"},
		{"issueDate hour 24", tdx, set("issueDate", "2025-06-19T24:00:00Z"), false, "issueDate"},
		{"issueDate leap second", tdx, set("issueDate", "2016-12-31T23:59:60Z"), false, "issueDate"},
		{"issueDate number", tdx, set("issueDate", num("20250619")), false, "issueDate"},
		{"nextUpdate missing", tdx, del("nextUpdate"), false, "nextUpdate is missing"},
		{"leap day ok", tdx, set("issueDate", "2024-02-29T00:00:00Z"), true, ""},

		{"fmspc short", tdx, set("fmspc", "B0C06F0000"), false, "fmspc"},
		{"fmspc long", tdx, set("fmspc", "B0C06F00000000"), false, "fmspc"},
		{"fmspc not hex", tdx, set("fmspc", "B0C06F00000G"), false, "fmspc"},
		{"fmspc lowercase ok", tdx, set("fmspc", "b0c06f000000"), true, ""},
		{"pceId short", tdx, set("pceId", "000"), false, "pceId"},
		{"pceId missing", tdx, del("pceId"), false, "pceId"},

		{"tcbType 1", tdx, set("tcbType", num("1")), false, "tcbType 1"},
		{"tcbType string", tdx, set("tcbType", "0"), false, "tcbType"},
		{"tcbType missing", tdx, del("tcbType"), false, "tcbType is missing"},
		{"tcbType -0 ok", tdx, set("tcbType", num("-0")), true, ""},
		{"evaluation number negative", tdx, set("tcbEvaluationDataNumber", num("-1")), false, "tcbEvaluationDataNumber"},
		{"evaluation number fraction", tdx, set("tcbEvaluationDataNumber", num("17.5")), false, "tcbEvaluationDataNumber"},
		{"evaluation number too big", tdx, set("tcbEvaluationDataNumber", num("4294967296")), false, "tcbEvaluationDataNumber"},
		{"evaluation number max ok", tdx, set("tcbEvaluationDataNumber", num("4294967295")), true, ""},

		{"tcbLevels empty", tdx, set("tcbLevels", []any{}), false, "tcbLevels is empty"},
		{"tcbLevels missing", tdx, del("tcbLevels"), false, "tcbLevels is missing"},
		{"tcbLevels object", tdx, set("tcbLevels", map[string]any{}), false, "tcbLevels is a object"},
		{"level not object", tdx, func(m map[string]any) { arr(m["tcbLevels"])[0] = num("1") }, false, "tcbLevels[0]"},
		{"status unknown", tdx, func(m map[string]any) { level(m, 0)["tcbStatus"] = "Unknown" }, false, `tcbStatus "Unknown"`},
		{"status wrong case", tdx, func(m map[string]any) { level(m, 0)["tcbStatus"] = "uptodate" }, false, "tcbStatus"},
		{"status TDRelaunchAdvised", tdx, func(m map[string]any) { level(m, 0)["tcbStatus"] = "TDRelaunchAdvised" }, false, "tcbStatus"},
		{"status missing", tdx, func(m map[string]any) { delete(level(m, 0), "tcbStatus") }, false, "tcbStatus is missing"},
		{"tcbDate missing", tdx, func(m map[string]any) { delete(level(m, 0), "tcbDate") }, false, "tcbDate is missing"},
		{"tcbDate bad", tdx, func(m map[string]any) { level(m, 0)["tcbDate"] = "2025-13-01T00:00:00Z" }, false, "tcbDate"},
		{"advisoryIDs not array", tdx, func(m map[string]any) { level(m, 0)["advisoryIDs"] = "INTEL-SA-00001" }, false, "advisoryIDs"},
		{"advisoryIDs not strings", tdx, func(m map[string]any) { level(m, 0)["advisoryIDs"] = []any{num("1")} }, false, "advisoryIDs[0]"},
		{"tcb missing", tdx, func(m map[string]any) { delete(level(m, 0), "tcb") }, false, "tcb is missing"},
		{"pcesvn missing", tdx, func(m map[string]any) { delete(tcbOf(m, 0), "pcesvn") }, false, "pcesvn is missing"},
		{"pcesvn negative", tdx, func(m map[string]any) { tcbOf(m, 0)["pcesvn"] = num("-1") }, false, "pcesvn"},
		{"pcesvn above 65535 (deviation)", tdx, func(m map[string]any) { tcbOf(m, 0)["pcesvn"] = num("65536") }, false, "pcesvn 65536"},

		{"sgx components 15", tdx, func(m map[string]any) {
			t := tcbOf(m, 0)
			t["sgxtcbcomponents"] = arr(t["sgxtcbcomponents"])[:15]
		}, false, "exactly 16 entries, has 15"},
		{"sgx components 17", tdx, func(m map[string]any) {
			t := tcbOf(m, 0)
			t["sgxtcbcomponents"] = append(arr(t["sgxtcbcomponents"]), map[string]any{"svn": num("0")})
		}, false, "exactly 16 entries, has 17"},
		{"sgx components missing", sgx3, func(m map[string]any) { delete(tcbOf(m, 0), "sgxtcbcomponents") }, false, "sgxtcbcomponents is missing"},
		{"svn negative", tdx, svn(0, num("-1")), false, "svn"},
		{"svn string", tdx, svn(0, "1"), false, "svn"},
		{"svn double", tdx, svn(0, num("1.0")), false, "svn"},
		{"svn exponent", tdx, svn(0, num("1e0")), false, "svn"},
		{"svn too big", tdx, svn(0, num("4294967296")), false, "svn"},
		{"svn uint32 max truncated ok", tdx, svn(0, num("4294967295")), true, ""},
		{"svn missing", tdx, func(m map[string]any) { delete(obj(arr(tcbOf(m, 0)["sgxtcbcomponents"])[3]), "svn") }, false, "sgxtcbcomponents[3].svn is missing"},
		{"component not object", tdx, func(m map[string]any) { arr(tcbOf(m, 0)["sgxtcbcomponents"])[2] = num("2") }, false, "sgxtcbcomponents[2]"},
		{"category not string", tdx, func(m map[string]any) { obj(arr(tcbOf(m, 0)["sgxtcbcomponents"])[0])["category"] = num("1") }, false, "category"},
		{"type not string", tdx, func(m map[string]any) { obj(arr(tcbOf(m, 0)["tdxtcbcomponents"])[0])["type"] = false }, false, "type"},
		{"tdx components missing", tdx, func(m map[string]any) { delete(tcbOf(m, 1), "tdxtcbcomponents") }, false, "tcbLevels[1]: tcb.tdxtcbcomponents is missing"},
		{"tdx components 15", tdx, func(m map[string]any) {
			t := tcbOf(m, 0)
			t["tdxtcbcomponents"] = arr(t["tdxtcbcomponents"])[1:]
		}, false, "tdxtcbcomponents must have exactly 16 entries"},
		{"sgx3 ignores tdx components", sgx3, func(m map[string]any) { tcbOf(m, 0)["tdxtcbcomponents"] = "junk" }, true, ""},

		{"v2 component missing", sgx2, func(m map[string]any) { delete(tcbOf(m, 0), "sgxtcbcomp05svn") }, false, "sgxtcbcomp05svn is missing"},
		{"v2 component string", sgx2, func(m map[string]any) { tcbOf(m, 0)["sgxtcbcomp16svn"] = "0" }, false, "sgxtcbcomp16svn"},
		{"v2 tdxModule ignored", sgx2, set("tdxModule", "junk"), true, ""},

		{"sgx3 with tdxModule", sgx3, set("tdxModule", map[string]any{}), false, "must not have tdxModule"},
		{"sgx3 with tdxModuleIdentities", sgx3, set("tdxModuleIdentities", []any{}), false, "must not have tdxModuleIdentities"},
		{"tdx without tdxModule", tdx, del("tdxModule"), false, "needs tdxModule"},
		{"tdxModule not object", tdx, set("tdxModule", []any{}), false, "needs tdxModule"},
		{"tdxModule mrsigner short", tdx, func(m map[string]any) { obj(m["tdxModule"])["mrsigner"] = strings.Repeat("0", 94) }, false, "tdxModule.mrsigner"},
		{"tdxModule attributes missing", tdx, func(m map[string]any) { delete(obj(m["tdxModule"]), "attributes") }, false, "tdxModule.attributes is missing"},
		{"tdxModule attributesMask bad", tdx, func(m map[string]any) { obj(m["tdxModule"])["attributesMask"] = "FFFFFFFFFFFFFFFX" }, false, "tdxModule.attributesMask"},
		{"tdxModuleIdentities absent ok", tdx, del("tdxModuleIdentities"), true, ""},
		{"tdxModuleIdentities empty", tdx, set("tdxModuleIdentities", []any{}), false, "tdxModuleIdentities is empty"},
		{"tdxModuleIdentities not array", tdx, set("tdxModuleIdentities", map[string]any{}), false, "tdxModuleIdentities is a object"},
		{"module identity id missing", tdx, func(m map[string]any) { delete(obj(arr(m["tdxModuleIdentities"])[0]), "id") }, false, "tdxModuleIdentities[0].id is missing"},
		{"module identity levels missing", tdx, func(m map[string]any) { delete(obj(arr(m["tdxModuleIdentities"])[1]), "tcbLevels") }, false, "tdxModuleIdentities[1].tcbLevels is missing"},
		{"module identity levels empty", tdx, func(m map[string]any) { obj(arr(m["tdxModuleIdentities"])[1])["tcbLevels"] = []any{} }, false, "tcbLevels is empty"},
		{"module level isvsvn too big", tdx, func(m map[string]any) {
			obj(obj(arr(obj(arr(m["tdxModuleIdentities"])[1])["tcbLevels"])[0])["tcb"])["isvsvn"] = num("65536")
		}, false, "isvsvn 65536"},
		{"module level isvsvn negative", tdx, func(m map[string]any) {
			obj(obj(arr(obj(arr(m["tdxModuleIdentities"])[1])["tcbLevels"])[0])["tcb"])["isvsvn"] = num("-1")
		}, false, "isvsvn -1"},
		{"module level duplicate isvsvn", tdx, func(m map[string]any) {
			id := obj(arr(m["tdxModuleIdentities"])[1])
			id["tcbLevels"] = append(arr(id["tcbLevels"]), arr(id["tcbLevels"])[0])
		}, false, "two levels with isvsvn"},
		{"module level status any string (checked by the verifier)", tdx, func(m map[string]any) {
			obj(arr(obj(arr(m["tdxModuleIdentities"])[1])["tcbLevels"])[0])["tcbStatus"] = "ConfigurationNeeded"
		}, true, ""},
		{"module level status not string", tdx, func(m map[string]any) {
			obj(arr(obj(arr(m["tdxModuleIdentities"])[1])["tcbLevels"])[0])["tcbStatus"] = num("1")
		}, false, "tcbStatus"},
		{"module level tcbDate bad", tdx, func(m map[string]any) {
			obj(arr(obj(arr(m["tdxModuleIdentities"])[1])["tcbLevels"])[0])["tcbDate"] = "yesterday"
		}, false, "tcbDate"},

		{"duplicate level", tdx, func(m map[string]any) {
			m["tcbLevels"] = append(arr(m["tcbLevels"]), arr(m["tcbLevels"])[0])
		}, false, "duplicate levels"},
		{"duplicate level sgx ignores status/date", sgx3, func(m map[string]any) {
			b, _ := json.Marshal(arr(m["tcbLevels"])[0])
			var c map[string]any
			_ = json.Unmarshal(b, &c)
			c["tcbStatus"] = "Revoked"
			c["tcbDate"] = "2001-01-01T00:00:00Z"
			m["tcbLevels"] = append(arr(m["tcbLevels"]), c)
		}, false, "duplicate levels"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			doc := mutateJSON(t, c.base, c.mut)
			info, err := ParseTCBInfo(doc, sig64)
			if c.ok {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				if len(info.TCBLevels) == 0 {
					t.Fatal("no levels")
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got success", c.msg)
			}
			if !errors.Is(err, ErrTCBInfoFormat) {
				t.Errorf("error %v is not ErrTCBInfoFormat", err)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not mention %q", err, c.msg)
			}
		})
	}
}

func TestTCBInfoRawText(t *testing.T) {
	tdx, sgx3, _ := baseTCBInfos(t)
	t.Run("signature length", func(t *testing.T) {
		for _, n := range []int{0, 63, 65} {
			if _, err := ParseTCBInfo(tdx, make([]byte, n)); !errors.Is(err, ErrTCBInfoFormat) {
				t.Errorf("signature of %d bytes: %v", n, err)
			}
		}
	})
	t.Run("not JSON", func(t *testing.T) {
		for _, raw := range []string{"", "{", "[]", `"x"`, "{} {}", `{"version":3,}`, "null"} {
			if _, err := ParseTCBInfo([]byte(raw), sig64); !errors.Is(err, ErrTCBInfoFormat) {
				t.Errorf("%q: %v", raw, err)
			}
		}
	})
	t.Run("first duplicate member wins", func(t *testing.T) {
		// {"id":"TDX","id":"SGX",…}: RapidJSON finds the first → a TDX doc.
		doc := bytes.Replace(tdx, []byte(`"id":"TDX"`), []byte(`"id":"TDX","id":"SGX"`), 1)
		info, err := ParseTCBInfo(doc, sig64)
		if err != nil || info.ID != "TDX" {
			t.Fatalf("got %v, %v", info, err)
		}
		// {"id":"SGX","id":"TDX",…}: an SGX doc with a tdxModule → invalid.
		doc = bytes.Replace(tdx, []byte(`"id":"TDX"`), []byte(`"id":"SGX","id":"TDX"`), 1)
		if _, err := ParseTCBInfo(doc, sig64); err == nil || !strings.Contains(err.Error(), "must not have tdxModule") {
			t.Fatalf("got %v", err)
		}
		if !bytes.Contains(doc, []byte(`"id":"SGX","id":"TDX"`)) {
			t.Fatal("replacement failed")
		}
	})
	t.Run("names are case-sensitive", func(t *testing.T) {
		doc := bytes.Replace(sgx3, []byte(`"tcbType"`), []byte(`"TcbType"`), 1)
		if _, err := ParseTCBInfo(doc, sig64); err == nil || !strings.Contains(err.Error(), "tcbType is missing") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("Signed is the compact form", func(t *testing.T) {
		var spaced bytes.Buffer
		if err := json.Indent(&spaced, tdx, "", "  "); err != nil {
			t.Fatal(err)
		}
		info, err := ParseTCBInfo(spaced.Bytes(), sig64)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(info.Signed, tdx) {
			t.Fatal("Signed of the indented document is not the original compact text")
		}
	})
	t.Run("levels are sorted regardless of JSON order", func(t *testing.T) {
		want, err := ParseTCBInfo(tdx, sig64)
		if err != nil {
			t.Fatal(err)
		}
		rev := mutateJSON(t, tdx, func(m map[string]any) {
			l := arr(m["tcbLevels"])
			slices.Reverse(l)
			for _, id := range arr(m["tdxModuleIdentities"]) {
				slices.Reverse(arr(obj(id)["tcbLevels"]))
			}
		})
		got, err := ParseTCBInfo(rev, sig64)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.TCBLevels) != len(want.TCBLevels) {
			t.Fatal("level count")
		}
		for i := range got.TCBLevels {
			g, w := got.TCBLevels[i], want.TCBLevels[i]
			if g.SGXComponents != w.SGXComponents || g.PCESVN != w.PCESVN || g.TDXComponents != w.TDXComponents || g.Status != w.Status || !g.TCBDate.Equal(w.TCBDate) {
				t.Errorf("level %d differs after reversing the JSON", i)
			}
		}
		for i, id := range got.TDXModuleIdentities {
			for j := 1; j < len(id.TCBLevels); j++ {
				if id.TCBLevels[j-1].ISVSVN <= id.TCBLevels[j].ISVSVN {
					t.Errorf("module identity %d levels not descending", i)
				}
			}
			if !slices.EqualFunc(id.TCBLevels, want.TDXModuleIdentities[i].TCBLevels, func(a, b ISVSVNLevel) bool {
				return a.ISVSVN == b.ISVSVN && a.Status == b.Status
			}) {
				t.Errorf("module identity %d levels differ after reversing", i)
			}
		}
	})
}

func TestCompareTCBLevels(t *testing.T) {
	a := TCBLevel{SGXComponents: [16]uint8{2, 2}, PCESVN: 11, TDXComponents: [16]uint8{5}}
	b := a
	b.TDXComponents[0] = 4
	if CompareTCBLevels(&a, &b, true) != 1 || CompareTCBLevels(&b, &a, true) != -1 {
		t.Error("TDX components must break ties for TDX")
	}
	if CompareTCBLevels(&a, &b, false) != 0 {
		t.Error("TDX components must not count for SGX")
	}
	c := a
	c.PCESVN = 12
	c.TDXComponents[0] = 0
	if CompareTCBLevels(&c, &a, true) != 1 {
		t.Error("PCESVN before TDX components")
	}
	d := a
	d.SGXComponents[1] = 3
	d.PCESVN = 0
	if CompareTCBLevels(&d, &a, true) != 1 {
		t.Error("SGX components first")
	}
	// Lexicographic, not component-wise dominance.
	e := TCBLevel{SGXComponents: [16]uint8{3, 0}}
	f := TCBLevel{SGXComponents: [16]uint8{2, 9}}
	if CompareTCBLevels(&e, &f, false) != 1 {
		t.Error("lexicographic order")
	}
}

func BenchmarkParseTCBInfo(b *testing.B) {
	var raw, sig []byte
	for _, s := range loadSets(b) {
		if s.setID() == "S02" {
			raw, sig = s.c.TCBInfo, s.c.TCBInfoSignature
		}
	}
	if raw == nil {
		b.Skip("S02 not present")
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		if _, err := ParseTCBInfo(raw, sig); err != nil {
			b.Fatal(err)
		}
	}
}
