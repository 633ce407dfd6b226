package snp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

func setFile(t testing.TB, set, name string) []byte {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(vectors.Dir(t, "snp"), set+"-*", name))
	if len(matches) != 1 {
		t.Fatalf("%s/%s not found", set, name)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseKinds(t *testing.T) {
	for _, c := range []struct {
		set, file, kind string
		runtime         bool
	}{
		{"S01", "report.bin", KindReport, false},
		{"S03", "hcl-report.bin", KindHCL, true},
		{"S03", "evidence.json", KindTrusteeAzSNP, true},
		{"S04", "request.json", KindRequest, true},
	} {
		ev, err := Parse(setFile(t, c.set, c.file))
		if err != nil {
			t.Fatalf("%s/%s: %v", c.set, c.file, err)
		}
		if ev.Kind != c.kind || (ev.RuntimeData != nil) != c.runtime {
			t.Errorf("%s/%s: kind %s runtime %v", c.set, c.file, ev.Kind, ev.RuntimeData != nil)
		}
	}
	// The HCL runtime data is the runtime JSON of the set.
	ev, _ := Parse(setFile(t, "S03", "hcl-report.bin"))
	if !bytes.Equal(ev.RuntimeData.Bytes, setFile(t, "S03", "runtime-data.json")) {
		t.Error("the HCL runtime data differs from runtime-data.json")
	}
	// The request's runtime data and chain.
	ev, _ = Parse(setFile(t, "S04", "request.json"))
	if !bytes.Equal(ev.RuntimeData.Bytes, setFile(t, "S04", "runtime-data.json")) || ev.RuntimeData.DataType != "JSON" || len(ev.Certs) != 3 {
		t.Errorf("request: runtime %q type %s certs %d", ev.RuntimeData.Bytes[:20], ev.RuntimeData.DataType, len(ev.Certs))
	}
}

func TestParseRefusals(t *testing.T) {
	report := setFile(t, "S01", "report.bin")
	v9 := bytes.Clone(report)
	binary.LittleEndian.PutUint32(v9[0:4], 9)
	v0 := bytes.Clone(report)
	binary.LittleEndian.PutUint32(v0[0:4], 0)
	alg := bytes.Clone(report)
	binary.LittleEndian.PutUint32(alg[0x34:0x38], 2)
	hcl := setFile(t, "S03", "hcl-report.bin")
	tdx := bytes.Clone(hcl)
	binary.LittleEndian.PutUint32(tdx[1216+8:], HCLTypeTDX)
	overrun := bytes.Clone(hcl)
	binary.LittleEndian.PutUint32(overrun[1216+16:], 1<<30)
	for name, b := range map[string][]byte{
		"short": report[:100], "version 9": v9, "version 0": v0, "algorithm": alg, "empty": nil,
		"tdx hcl": tdx, "hcl overrun": overrun, "hcl short": hcl[:1000],
		"json without report": []byte(`{"quote":"AAAA"}`), "bad base64": []byte(`{"report":"!!"}`),
		"report not json": []byte(`{"report":"AAAA"}`), "no SnpReport": []byte(`{"SnpReport":null,"VcekCertChain":""}`),
	} {
		if _, err := Parse(b); !errors.Is(err, ErrUnsupportedReport) {
			t.Errorf("%s: %v, want unsupported_report", name, err)
		}
	}
}

// Member names match case-insensitively, padding is accepted, unknown
// members are ignored.
func TestParseRequestLenient(t *testing.T) {
	report := setFile(t, "S01", "report.bin")
	body, err := RequestBody(report, nil, &Data{Bytes: []byte(`{"a":1}`), DataType: "JSON"}, "n1")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Replace(string(body), `"runtimeData"`, `"RuntimeDATA"`, 1)
	s = strings.Replace(s, `"report"`, `"extra": {"x": 1}, "report"`, 1)
	ev, err := Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	if ev.Nonce == nil || *ev.Nonce != "n1" || ev.RuntimeData == nil || string(ev.RuntimeData.Bytes) != `{"a":1}` {
		t.Errorf("parsed %+v", ev)
	}
}

func FuzzParseReport(f *testing.F) {
	f.Add(make([]byte, ReportSize))
	if b, err := os.ReadFile(filepath.Join(vectors.Dir(f, "snp"), "S01-milan-vcek-gsg", "report.bin")); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseReport(b)
		if err == nil {
			_ = Claims(r, "Milan")
		}
	})
}

func FuzzParseHCL(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(vectors.Dir(f, "snp"), "S03-milan-azure-snp-vtpm-trustee-v1", "hcl-report.bin")); err == nil {
		f.Add(b)
	}
	f.Add([]byte("HCLA"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHCL(b)
		if err == nil {
			_, _ = h.Evidence()
		}
	})
}

func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(vectors.Dir(f, "snp"), "S04-milan-maa-spec-sevsnpvm", "request.json")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"report":"e30","runtimeData":{"data":"e30","dataType":"JSON"}}`))
	f.Add([]byte(`{"SnpReport":"AA","VcekCertChain":"AA"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(b)
	})
}

func TestParseCertificatesBound(t *testing.T) {
	pemCert := "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
	if got, err := ParseCertificates([]byte(strings.Repeat(pemCert, MaxCertificates))); err != nil || len(got) != MaxCertificates {
		t.Fatalf("%d certificates: %v", len(got), err)
	}
	if _, err := ParseCertificates([]byte(strings.Repeat(pemCert, MaxCertificates+1))); !errors.Is(err, ErrUnsupportedReport) {
		t.Fatalf("too many: %v", err)
	}
}
