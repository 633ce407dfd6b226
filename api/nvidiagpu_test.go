package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/internal/testenv"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
	"github.com/avowhq/avow/wire"
)

// TestAttestNvidiaGpu: POST /attest/NvidiaGpu end to end with the real
// H100 vector, its RIMs and OCSP answers as the deployment's collateral,
// the provider's GPU settings (set through the management API) visible
// in the token, the default NvidiaGpu policy, and the refusals.
func TestAttestNvidiaGpu(t *testing.T) {
	set := filepath.Join(vectors.Dir(t, "nvgpu"), "h100-550.90.07-complete")
	col, err := nvgpu.LoadDir(set)
	if err != nil {
		t.Fatal(err)
	}
	clock := testenv.NewClock(testNow)
	e := newEnvWith(t, Options{}, func(c *service.Config) {
		c.Types = builtin.New(builtin.Options{GPU: nvidia.NvidiaGpu{Collateral: col}})
		c.Clock = clock
	})
	report, _ := os.ReadFile(filepath.Join(set, "evidence/test_raw_gpu_attestation_report.dat"))
	chain, _ := os.ReadFile(filepath.Join(set, "evidence/hopperCertChain.txt"))
	item := map[string]string{"arch": "HOPPER", "certificate": base64.StdEncoding.EncodeToString(chain), "evidence": base64.StdEncoding.EncodeToString(report)}
	attest := func(body map[string]any) response {
		b, _ := json.Marshal(body)
		return e.do(t, "POST", "/providers/contoso/attest/NvidiaGpu?api-version=2022-08-01", "", bytes.NewReader(b), "Content-Type", "application/json")
	}
	nonce := "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"
	clock.Set(time.Date(2025, 10, 24, 12, 0, 0, 0, time.UTC))

	// Strict by default: the device chain's OCSP answers are stale now.
	r := attest(map[string]any{"evidence": []any{item}, "nonce": nonce})
	if r.status != 400 || !strings.Contains(string(r.body), "gpu_ocsp_stale") {
		t.Fatalf("strict provider: %d %s", r.status, r.body)
	}

	// The owner allows OCSP answers up to 90 days old (an air-gapped server).
	owner := &service.Principal{ID: "t", Role: store.RoleOwner}
	if _, err := e.svc.UpdateProviderSettings(context.Background(), owner, "contoso", service.ProviderSettings{TypeSettings: map[string]map[string]string{"NvidiaGpu": {"maxRevocationAge": "2160h"}}}); err != nil {
		t.Fatal(err)
	}
	g := e.do(t, "GET", "/management/providers/contoso", e.reader, nil)
	var pv wire.Provider
	if err := json.Unmarshal(g.body, &pv); err != nil || pv.Settings.TypeSettings["NvidiaGpu"]["maxRevocationAge"] != "2160h" {
		t.Errorf("provider settings: %s", g.body)
	}
	r = attest(map[string]any{"evidence": []any{item, item}, "nonce": nonce})
	var out struct{ Token string }
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	c, _, err := token.DecodeUnverified(out.Token)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"x-ms-attestation-type":               "nvidiagpu",
		"x-nvidia-gpu-count":                  float64(2),
		"x-nvidia-gpu-measres":                "success",
		"x-nvidia-gpu-driver-version":         "550.90.07",
		"x-nvidia-gpu-vbios-version":          "96.00.9F.00.01",
		"x-avow-gpu-ocsp-max-age":             "2160h0m0s",
		"x-avow-gpu-expired-rim-certificates": "refuse",
		"x-avow-gpu-revocation-as-of":         "2025-08-21T06:47:07Z",
		"nonce":                               nonce,
	} {
		if fmt.Sprint(c[k]) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", k, c[k], want)
		}
	}
	gpus, _ := c["x-nvidia-gpus"].(map[string]any)
	g0, _ := gpus["GPU-0"].(map[string]any)
	if g0["hwmodel"] != "GH100 A01 GSP BROM" || g0["measres"] != "success" || g0["x-avow-gpu-driver-rim-sha256"] == nil || gpus["GPU-1"] == nil {
		t.Errorf("per-GPU claims %v", gpus)
	}

	// Refusals: a wrong nonce, no nonce nor runtime data, a malformed list.
	for _, tc := range []struct {
		body map[string]any
		code string
	}{
		{map[string]any{"evidence": []any{item}, "nonce": strings.Repeat("00", 32)}, "gpu_nonce_mismatch"},
		{map[string]any{"evidence": []any{item}}, "invalid_request"},
		{map[string]any{"evidence": "not a list"}, "invalid_json"},
		{map[string]any{"evidence": []any{"x"}, "nonce": nonce}, "gpu_evidence_malformed"},
		{map[string]any{"nonce": nonce}, "invalid_json"},
		{map[string]any{"evidence": []any{map[string]string{"arch": "AMPERE"}}, "nonce": nonce}, "gpu_arch_unsupported"},
	} {
		r := attest(tc.body)
		if r.status != 400 || !strings.Contains(string(r.body), tc.code) {
			t.Errorf("%v: %d %s, want %s", tc.body, r.status, r.body, tc.code)
		}
	}
}
