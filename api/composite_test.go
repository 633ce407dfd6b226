package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/attestation/sevsnp"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/jcs"
	"github.com/avowhq/avow/nvgpu/nvgpusim"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/snp/snpsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// compositeEnv is tdxEnv with a simulated GPU trusted by TdxVm and
// NvidiaGpu (its collateral served live at the service clock).
func compositeEnv(t *testing.T) (*testEnv, *nvgpusim.GPU) {
	t.Helper()
	g, err := nvgpusim.New(testNow.AddDate(0, -1, 0))
	if err != nil {
		t.Fatal(err)
	}
	src, err := g.Source(func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvWith(t, Options{}, func(c *service.Config) {
		c.Types = builtin.New(builtin.Options{GPU: nvidia.NvidiaGpu{Collateral: src, DeviceRoots: []*x509.Certificate{g.DeviceRoot()}, RIMRoots: []*x509.Certificate{g.RIMRoot()}}})
		c.SimulatedKeys = [][]byte{g.DeviceRoot().RawSubjectPublicKeyInfo}
	})
	col, err := sgxsim.Default().Collateral(sgxsim.CollateralOptions{TEE: sgxsim.TDX, Now: testNow.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.ImportCollateral(context.Background(), &service.Principal{ID: "test", Role: store.RoleOwner}, col, "sgxsim"); err != nil {
		t.Fatal(err)
	}
	return e, g
}

func claimsOf(t *testing.T, r response) map[string]any {
	t.Helper()
	var out struct{ Token string }
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	c, _, err := token.DecodeUnverified(out.Token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestAttestTdxVmWithGPUITA: a TD quote and its GPU's evidence in Intel
// Trust Authority's convention — GPU nonce SHA-256(val ‖ iat), REPORTDATA
// SHA-512(val ‖ iat ‖ user data) — into one token with a section per
// device, every section bound.
func TestAttestTdxVmWithGPUITA(t *testing.T) {
	e, g := compositeEnv(t)
	enc := base64.RawURLEncoding.EncodeToString
	val, iat := []byte("verifier-nonce-value-0123456789"), []byte("2026-03-01T11:59:00Z")
	user := []byte("user data: a TLS key hash")
	gn := sha256.Sum256(append(append([]byte{}, val...), iat...))
	rd := sha512.Sum512(append(append(append([]byte{}, val...), iat...), user...))
	item, err := g.Item(gn[:], nvgpusim.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	nvgpu := map[string]any{
		"verifier_nonce": map[string]any{"val": val, "iat": iat, "signature": []byte("sig")},
		"gpu_nonce":      fmt.Sprintf("%x", gn),
		"arch":           "hopper",
		"evidence_list":  []map[string]string{{"evidence": item.Evidence, "certificate": item.Certificate}},
	}
	body := map[string]any{"quote": enc(tdQuote(t, sgxsim.QuoteOptions{ReportData: rd[:]})), "runtimeData": map[string]string{"data": enc(user), "dataType": "Binary"}, "nvgpu": nvgpu}
	c := claimsOf(t, tdxAttest(t, e, "2025-06-01", body))
	for k, want := range map[string]string{
		"x-ms-attestation-type": "tdxvm",
		"attester_tcb_status":   "UpToDate",
		"x-avow-binding":        "ita",
		"x-avow-all-bound":      "true",
		"x-nvidia-gpu-measres":  "success",
		"x-nvidia-gpu-count":    "1",
		"x-avow-simulated":      "true",
		"x-nvidia-gpu-nonce":    fmt.Sprintf("%x", gn),
	} {
		if got := fmt.Sprint(c[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if s, _ := c["x-avow-sections"].(map[string]any); s["tdx"] == nil || s["nvgpu"] == nil {
		t.Errorf("sections %v", c["x-avow-sections"])
	}
	if vn, _ := c["x-avow-verifier-nonce"].(map[string]any); vn["val"] != base64.StdEncoding.EncodeToString(val) {
		t.Errorf("verifier nonce %v", c["x-avow-verifier-nonce"])
	}

	// Other user data than the quote binds; a GPU nonce that is not the
	// verifier nonce's hash; MAA's own binding is not ITA's.
	bad := map[string]any{"quote": body["quote"], "runtimeData": map[string]string{"data": enc([]byte("other")), "dataType": "Binary"}, "nvgpu": nvgpu}
	if r := tdxAttest(t, e, "2025-06-01", bad); r.status != 400 || !strings.Contains(string(r.body), "runtime_data_mismatch") {
		t.Errorf("other user data: %d %s", r.status, r.body)
	}
	other, _ := g.Item(make([]byte, 32), nvgpusim.ReportOptions{})
	nv2 := map[string]any{"verifier_nonce": nvgpu["verifier_nonce"], "arch": "HOPPER", "evidence_list": []map[string]string{{"evidence": other.Evidence, "certificate": other.Certificate}}}
	if r := tdxAttest(t, e, "2025-06-01", map[string]any{"quote": body["quote"], "runtimeData": body["runtimeData"], "nvgpu": nv2}); r.status != 400 || !strings.Contains(string(r.body), "gpu_nonce_mismatch") {
		t.Errorf("GPU nonce of another challenge: %d %s", r.status, r.body)
	}
	// A GPU running firmware its RIMs do not describe fails the request.
	mism, _ := g.Item(gn[:], nvgpusim.ReportOptions{Measurements: map[int][]byte{3: make([]byte, 48)}})
	nv3 := map[string]any{"verifier_nonce": nvgpu["verifier_nonce"], "arch": "HOPPER", "evidence_list": []map[string]string{{"evidence": mism.Evidence, "certificate": mism.Certificate}}}
	if r := tdxAttest(t, e, "2025-06-01", map[string]any{"quote": body["quote"], "runtimeData": body["runtimeData"], "nvgpu": nv3}); r.status != 400 || !strings.Contains(string(r.body), "gpu_measurement_mismatch") {
		t.Errorf("mismatched GPU: %d %s", r.status, r.body)
	}
	// TdxVm's GPU settings reach the GPUs beside the quote.
	owner := &service.Principal{ID: "t", Role: store.RoleOwner}
	if _, err := e.svc.UpdateProviderSettings(context.Background(), owner, "contoso", service.ProviderSettings{TypeSettings: map[string]map[string]string{"TdxVm": {"gpuMaxRevocationAge": "168h"}}}); err != nil {
		t.Fatal(err)
	}
	if c := claimsOf(t, tdxAttest(t, e, "2025-06-01", body)); c["x-avow-gpu-ocsp-max-age"] != "168h0m0s" {
		t.Errorf("TdxVm gpu setting: %v", c["x-avow-gpu-ocsp-max-age"])
	}
	if _, err := e.svc.UpdateProviderSettings(context.Background(), owner, "contoso", service.ProviderSettings{TypeSettings: map[string]map[string]string{"TdxVm": {"gpuMaxRevocationAge": "soon"}}}); err == nil {
		t.Error("a bad TdxVm gpu setting was accepted")
	}
	// Both conventions at once.
	if r := tdxAttest(t, e, "2025-06-01", map[string]any{"quote": body["quote"], "nvgpu": nvgpu, "additionalEvidence": "{}"}); r.status != 400 {
		t.Errorf("both conventions: %d %s", r.status, r.body)
	}
}

// TestAttestTdxVmWithGPUTrustee: Trustee's convention — GPU nonce = the
// first 32 bytes of SHA-384(JCS(runtime data)), REPORTDATA =
// SHA-384(JCS(runtime data + additional-evidence)) zero-padded.
func TestAttestTdxVmWithGPUTrustee(t *testing.T) {
	e, g := compositeEnv(t)
	enc := base64.RawURLEncoding.EncodeToString
	runtime := []byte(`{"tee-pubkey":{"kty":"EC","crv":"P-256","alg":"ES256","x":"eA","y":"eQ"},"nonce":"kbs-challenge-42"}`)
	canon, err := jcs.Canonicalize(runtime)
	if err != nil {
		t.Fatal(err)
	}
	gh := sha512.Sum384(canon)
	item, err := g.Item(gh[:32], nvgpusim.ReportOptions{Versioned: true, FSPSVN: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Trustee's attester: evidence hex or base64, certificate base64 of PEM.
	add, _ := json.Marshal(map[string]any{"nvidia": map[string]any{"device_evidence_list": []map[string]string{
		{"arch": "Hopper", "uuid": "GPU-1", "evidence": item.Evidence, "certificate": item.Certificate}}}})
	var rt map[string]any
	json.Unmarshal(runtime, &rt)
	rt["additional-evidence"] = string(add)
	canon2, err := jcs.Value(rt)
	if err != nil {
		t.Fatal(err)
	}
	ph := sha512.Sum384(canon2)
	rd := append(ph[:], make([]byte, 16)...)
	body := map[string]any{"quote": enc(tdQuote(t, sgxsim.QuoteOptions{ReportData: rd})),
		"runtimeData": map[string]string{"data": enc(runtime), "dataType": "JSON"}, "additionalEvidence": string(add)}
	c := claimsOf(t, tdxAttest(t, e, "2025-06-01", body))
	if c["x-avow-binding"] != "trustee" || c["x-avow-all-bound"] != true || c["x-nvidia-gpu-measres"] != "success" {
		t.Errorf("claims %v", c)
	}
	if rtc, _ := c["x-ms-runtime"].(map[string]any); rtc["nonce"] != "kbs-challenge-42" {
		t.Errorf("x-ms-runtime %v", c["x-ms-runtime"])
	}
	// The additional evidence changed after the quote was made: refused.
	add2 := strings.Replace(string(add), `"GPU-1"`, `"GPU-2"`, 1)
	body2 := map[string]any{"quote": body["quote"], "runtimeData": body["runtimeData"], "additionalEvidence": add2}
	if r := tdxAttest(t, e, "2025-06-01", body2); r.status != 400 || !strings.Contains(string(r.body), "runtime_data_mismatch") {
		t.Errorf("changed additional evidence: %d %s", r.status, r.body)
	}
	// Another challenge in the runtime data: the GPU nonce no longer holds.
	rt3 := []byte(strings.Replace(string(runtime), "kbs-challenge-42", "kbs-challenge-43", 1))
	body3 := map[string]any{"quote": body["quote"], "runtimeData": map[string]string{"data": enc(rt3), "dataType": "JSON"}, "additionalEvidence": string(add)}
	if r := tdxAttest(t, e, "2025-06-01", body3); r.status != 400 || !strings.Contains(string(r.body), "runtime_data_mismatch") {
		t.Errorf("another challenge: %d %s", r.status, r.body)
	}
	// Binary runtime data cannot carry Trustee's binding.
	body4 := map[string]any{"quote": body["quote"], "runtimeData": map[string]string{"data": enc(runtime), "dataType": "Binary"}, "additionalEvidence": string(add)}
	if r := tdxAttest(t, e, "2025-06-01", body4); r.status != 400 {
		t.Errorf("binary runtime data: %d %s", r.status, r.body)
	}
	// A plain TdxVm request on the same server still works as MAA's.
	sum := sha256.Sum256(runtime)
	plain := map[string]any{"quote": enc(tdQuote(t, sgxsim.QuoteOptions{ReportData: sum[:]})), "runtimeData": map[string]string{"data": enc(runtime), "dataType": "JSON"}}
	if c := claimsOf(t, tdxAttest(t, e, "2025-06-01", plain)); c["x-avow-binding"] != nil || c["x-nvidia-gpu-count"] != nil {
		t.Errorf("plain TdxVm carries GPU claims: %v", c)
	}
}

func TestContainsFold(t *testing.T) {
	for _, tc := range []struct {
		s, name string
		want    bool
	}{
		{`{"quote":"x","NVGPU":{}}`, "nvgpu", true},
		{`{"quote":"x","additionalevidence":"{}"}`, "additionalEvidence", true},
		{`{"quote":"nvgp"}`, "nvgpu", false},
		{``, "nvgpu", false},
	} {
		if got := containsFold([]byte(tc.s), tc.name); got != tc.want {
			t.Errorf("%s %s: %v", tc.s, tc.name, got)
		}
	}
}

// TestAttestSevSnpVmWithGPUTrustee: an SEV-SNP report and its GPU's
// evidence in Trustee's convention — GPU nonce from SHA-384 of the runtime
// data, REPORT_DATA SHA-384 of the runtime data with the additional
// evidence — into one token with a section per device; a changed GPU
// evidence or challenge is refused.
func TestAttestSevSnpVmWithGPUTrustee(t *testing.T) {
	g, err := nvgpusim.New(testNow.AddDate(0, -1, 0))
	if err != nil {
		t.Fatal(err)
	}
	src, err := g.Source(func() time.Time { return testNow })
	if err != nil {
		t.Fatal(err)
	}
	sim, err := snpsim.New()
	if err != nil {
		t.Fatal(err)
	}
	roots := snp.AMDRoots().Clone()
	roots.Add(sim.Root())
	e := newEnvWith(t, Options{}, func(c *service.Config) {
		c.Types = builtin.New(builtin.Options{
			SevSnp: &sevsnp.Config{Roots: roots},
			GPU:    nvidia.NvidiaGpu{Collateral: src, DeviceRoots: []*x509.Certificate{g.DeviceRoot()}, RIMRoots: []*x509.Certificate{g.RIMRoot()}},
		})
		c.SimulatedKeys = [][]byte{g.DeviceRoot().RawSubjectPublicKeyInfo}
	})
	enc := base64.RawURLEncoding.EncodeToString
	runtime := []byte(`{"tee-pubkey":{"kty":"EC","crv":"P-256","alg":"ES256","x":"eA","y":"eQ"},"nonce":"kbs-challenge-7"}`)
	canon, err := jcs.Canonicalize(runtime)
	if err != nil {
		t.Fatal(err)
	}
	gh := sha512.Sum384(canon)
	item, err := g.Item(gh[:32], nvgpusim.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	add, _ := json.Marshal(map[string]any{"nvidia": map[string]any{"device_evidence_list": []map[string]string{
		{"arch": "Hopper", "uuid": "GPU-1", "evidence": item.Evidence, "certificate": item.Certificate}}}})
	var rt map[string]any
	json.Unmarshal(runtime, &rt)
	rt["additional-evidence"] = string(add)
	canon2, err := jcs.Value(rt)
	if err != nil {
		t.Fatal(err)
	}
	ph := sha512.Sum384(canon2)
	raw, vcek, err := sim.Report(snpsim.ReportOptions{Measurement: make([]byte, 48), ReportData: append(ph[:], make([]byte, 16)...)})
	if err != nil {
		t.Fatal(err)
	}
	report := client.SevSnpReport(raw, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vcek}))
	attest := func(body map[string]any) response {
		b, _ := json.Marshal(body)
		return e.do(t, "POST", "/providers/contoso/attest/SevSnpVm?api-version=2025-06-01", "", bytes.NewReader(b), "Content-Type", "application/json")
	}
	rtData := map[string]string{"data": enc(runtime), "dataType": "JSON"}
	c := claimsOf(t, attest(map[string]any{"report": enc(report), "runtimeData": rtData, "additionalEvidence": string(add)}))
	if c["x-avow-binding"] != "trustee" || c["x-avow-all-bound"] != true || c["x-nvidia-gpu-measres"] != "success" ||
		c["x-ms-attestation-type"] != "sevsnpvm" || c["x-ms-sevsnpvm-launchmeasurement"] == nil {
		t.Errorf("claims %v", c)
	}
	if sec, _ := c["x-avow-sections"].(map[string]any); sec["sevsnp"] == nil || sec["nvgpu"] == nil {
		t.Errorf("sections %v", c["x-avow-sections"])
	}
	if rtc, _ := c["x-ms-runtime"].(map[string]any); rtc["nonce"] != "kbs-challenge-7" {
		t.Errorf("x-ms-runtime %v", c["x-ms-runtime"])
	}
	add2 := strings.Replace(string(add), `"GPU-1"`, `"GPU-2"`, 1)
	if r := attest(map[string]any{"report": enc(report), "runtimeData": rtData, "additionalEvidence": add2}); r.status != 400 || !strings.Contains(string(r.body), "runtime_data_mismatch") {
		t.Errorf("changed additional evidence: %d %s", r.status, r.body)
	}
	rt3 := []byte(strings.Replace(string(runtime), "kbs-challenge-7", "kbs-challenge-8", 1))
	if r := attest(map[string]any{"report": enc(report), "runtimeData": map[string]string{"data": enc(rt3), "dataType": "JSON"}, "additionalEvidence": string(add)}); r.status != 400 || !strings.Contains(string(r.body), "runtime_data_mismatch") {
		t.Errorf("another challenge: %d %s", r.status, r.body)
	}
	// Without the GPU evidence the same report is an SNP report whose
	// REPORT_DATA does not hold SHA-256 of the runtime data: refused.
	if r := attest(map[string]any{"report": enc(report), "runtimeData": rtData}); r.status != 400 || !strings.Contains(string(r.body), "binding_mismatch") {
		t.Errorf("report alone: %d %s", r.status, r.body)
	}
}
