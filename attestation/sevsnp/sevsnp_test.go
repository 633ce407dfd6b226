package sevsnp_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/sevsnp"
	"github.com/avowhq/avow/internal/ratio"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

var owner = &service.Principal{ID: "test-owner", Role: store.RoleOwner}

// s04 is the MAA example request of set S04: the decoded report member,
// the runtime data and the set's time.
func s04(tb testing.TB) (report, runtime []byte, at time.Time) {
	dir := filepath.Join(vectors.Dir(tb, "snp"), "S04-milan-maa-spec-sevsnpvm")
	body, err := os.ReadFile(filepath.Join(dir, "request.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var req struct {
		Report      string                `json:"report"`
		RuntimeData struct{ Data string } `json:"runtimeData"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		tb.Fatal(err)
	}
	report, err1 := snp.DecodeBase64(req.Report)
	runtime, err2 := snp.DecodeBase64(req.RuntimeData.Data)
	if err1 != nil || err2 != nil {
		tb.Fatal(err1, err2)
	}
	return report, runtime, time.Date(2022, 9, 21, 21, 47, 31, 0, time.UTC)
}

func newService(tb testing.TB, at time.Time) *service.Service {
	st, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "avow.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	s, err := service.New(service.Config{Store: st, Types: builtin.New(builtin.Options{SevSnp: &sevsnp.Config{MinimumTCB: &snp.TCB{Microcode: 40}}}),
		KEK: make([]byte, 32), PublicURL: "https://avow.test", Clock: fixedClock{at}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.CreateProvider(context.Background(), owner, service.ProviderRequest{Name: "contoso"}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// The service attests the MAA example through the registered type with its
// default policy; a minimum TCB above the report's makes it OutOfDate,
// which the provider's default settings refuse.
func TestAttestInProcess(t *testing.T) {
	report, runtime, at := s04(t)
	s := newService(t, at)
	ctx := context.Background()
	req := service.AttestRequest{Type: "sevsnpvm", Evidence: report, RuntimeData: &service.Data{Bytes: runtime, DataType: "JSON"}}
	res, err := s.Attest(ctx, "contoso", req)
	if err != nil {
		t.Fatal(err)
	}
	if res.Claims["x-ms-sevsnpvm-launchmeasurement"] != "04a170f39a3f702472ed0c7ecbda9babfc530e3caac475fdd607ff499177d14c278c5a15ad07ceacd5230ae63d507e9d" ||
		res.Claims["x-ms-runtime"] == nil || res.Verification.TCBStatus != sevsnp.StatusUpToDate {
		t.Errorf("claims %v, status %s", res.Claims, res.Verification.TCBStatus)
	}
	st, _ := sqlite.Open(ctx, filepath.Join(t.TempDir(), "b.db"))
	defer st.Close()
	strict, err := service.New(service.Config{Store: st, Types: builtin.New(builtin.Options{SevSnp: &sevsnp.Config{MinimumTCB: &snp.TCB{Microcode: 41}}}),
		KEK: make([]byte, 32), PublicURL: "https://avow.test", Clock: fixedClock{at}})
	if err != nil {
		t.Fatal(err)
	}
	strict.CreateProvider(ctx, owner, service.ProviderRequest{Name: "contoso"})
	if _, err := strict.Attest(ctx, "contoso", req); !errors.Is(err, service.ErrTCBNotAccepted) {
		t.Fatalf("below the minimum TCB: %v", err)
	}
}

// BenchmarkRatioAttest: one SevSnpVm attestation in process (provider and
// policy lookup, warm verification of the MAA example, claims with
// x-ms-runtime, the default policy, the RS256 token) / (warm verification
// of the same evidence + one RSA-2048 PKCS#1 v1.5 signature), measured in
// alternation (target ≤ 1.3).
func BenchmarkRatioAttest(b *testing.B) {
	report, runtime, at := s04(b)
	s := newService(b, at)
	ctx := context.Background()
	req := service.AttestRequest{Type: sevsnp.Name, Evidence: report, RuntimeData: &service.Data{Bytes: runtime, DataType: "JSON"}}
	if _, err := s.Attest(ctx, "contoso", req); err != nil {
		b.Fatal(err)
	}
	ev, err := snp.Parse(report)
	if err != nil {
		b.Fatal(err)
	}
	v := snp.NewVerifier()
	opts := snp.Options{Now: at}
	if _, err := v.Verify(ctx, ev, opts); err != nil {
		b.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	digest := sha256.Sum256(report)
	ratio.Loop(b, func() {
		if _, err := s.Attest(ctx, "contoso", req); err != nil {
			b.Fatal(err)
		}
	}, func() {
		e, err := snp.Parse(report)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.Verify(ctx, e, opts); err != nil {
			b.Fatal(err)
		}
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	})
}

// An Azure HCL report sent as the report member: its runtime JSON is bound
// and becomes x-ms-runtime; a request's runtimeData that is not the HCL's
// is refused; an unknown dataType is an invalid request.
func TestHCLAsReport(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t, "snp"), "S03-milan-azure-snp-vtpm-trustee-v1")
	hcl, err := os.ReadFile(filepath.Join(dir, "hcl-report.bin"))
	if err != nil {
		t.Fatal(err)
	}
	vcek, _ := os.ReadFile(filepath.Join(dir, "vcek.der"))
	typ := sevsnp.SevSnpVm{}
	ev, err := typ.Parse(hcl)
	if err != nil {
		t.Fatal(err)
	}
	ev.(*sevsnp.Evidence).Certs = [][]byte{vcek}
	env := attestation.Env{Now: time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)}
	v, err := typ.Verify(context.Background(), ev, env)
	if err != nil {
		t.Fatal(err)
	}
	if ev.TEE() != "snp" || v.TCBStatus != sevsnp.StatusUpToDate || v.PlatformID != "Milan/db18000000000004" {
		t.Errorf("TEE %s status %s platform %s", ev.TEE(), v.TCBStatus, v.PlatformID)
	}
	c, err := typ.Claims(v, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	rt, _ := c["x-ms-runtime"].(map[string]any)
	if rt == nil || rt["keys"] == nil || c["x-ms-sevsnpvm-microcode-svn"] != 219 {
		t.Errorf("claims %v", c)
	}
	if _, err := typ.Claims(v, &attestation.Data{Bytes: []byte(`{}`), DataType: "JSON"}, nil); !errors.Is(err, snp.ErrBinding) {
		t.Errorf("foreign runtime data: %v", err)
	}
	runtime, _ := os.ReadFile(filepath.Join(dir, "runtime-data.json"))
	if _, err := typ.Claims(v, &attestation.Data{Bytes: runtime, DataType: "XML"}, nil); !errors.Is(err, attestation.ErrInvalidRequest) {
		t.Errorf("data type XML: %v", err)
	}
	if _, err := typ.Parse([]byte(`{"report":"e30"}`)); !errors.Is(err, snp.ErrUnsupportedReport) {
		t.Errorf("a whole request as the report member: %v", err)
	}
}

// TestProviderMinimumTCB: a provider's typeSettings.SevSnpVm.minimumTcb
// makes the reports below it OutOfDate for that provider only, beside the
// server's minimum; bad settings are refused when they are set, and {}
// removes them.
func TestProviderMinimumTCB(t *testing.T) {
	report, runtime, at := s04(t) // REPORTED_TCB microcode 40; the server's minimum is 40
	s := newService(t, at)
	ctx := context.Background()
	if _, err := s.CreateProvider(ctx, owner, service.ProviderRequest{Name: "fabrikam"}); err != nil {
		t.Fatal(err)
	}
	req := service.AttestRequest{Type: sevsnp.Name, Evidence: report, RuntimeData: &service.Data{Bytes: runtime, DataType: "JSON"}}
	set := func(name string, ts map[string]map[string]string) (*service.ProviderView, error) {
		return s.UpdateProviderSettings(ctx, owner, name, service.ProviderSettings{TypeSettings: ts})
	}
	v, err := set("contoso", map[string]map[string]string{"sevsnpvm": {sevsnp.SettingMinimumTCB: "bl=0,tee=0,snp=0,ucode=41"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := service.TypeSettings(v.Settings); got["SevSnpVm"]["minimumTcb"] != "bl=0,tee=0,snp=0,ucode=41" {
		t.Errorf("stored type settings %v (the type's name is canonical)", got)
	}
	if _, err := s.Attest(ctx, "contoso", req); !errors.Is(err, service.ErrTCBNotAccepted) {
		t.Errorf("below the provider's minimum: %v", err)
	}
	if _, err := s.Attest(ctx, "fabrikam", req); err != nil {
		t.Errorf("another provider: %v", err)
	}
	accept := append(append([]string(nil), service.DefaultAcceptedTCBStatuses...), sevsnp.StatusOutOfDate)
	if _, err := s.UpdateProviderSettings(ctx, owner, "contoso", service.ProviderSettings{AcceptedTCBStatuses: accept}); err != nil {
		t.Fatal(err)
	}
	if res, err := s.Attest(ctx, "contoso", req); err != nil || res.Verification.TCBStatus != sevsnp.StatusOutOfDate {
		t.Errorf("OutOfDate accepted by the provider: %v", err)
	}
	for _, bad := range []map[string]map[string]string{
		{"SevSnpVm": {"minimumTcb": "ucode=256"}},
		{"SevSnpVm": {"minimumTcb": "lots"}},
		{"SevSnpVm": {"maximumTcb": "ucode=1"}},
		{"SgxEnclave": {"minimumTcb": "ucode=1"}},
		{"NoSuchType": {"a": "b"}},
	} {
		if _, err := set("contoso", bad); !errors.Is(err, service.ErrInvalidRequest) {
			t.Errorf("%v: %v", bad, err)
		}
	}
	v, err = set("contoso", map[string]map[string]string{"SevSnpVm": {}})
	if err != nil || service.TypeSettings(v.Settings) != nil {
		t.Fatalf("removing: %v %v", service.TypeSettings(v.Settings), err)
	}
}
