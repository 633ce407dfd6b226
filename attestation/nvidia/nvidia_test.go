package nvidia

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/policy"
)

const vecNonce = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"

func set(t *testing.T) string {
	return filepath.Join(vectors.Dir(t, "nvgpu"), "h100-550.90.07-complete")
}

// request is the body member the HTTP layer hands Parse.
func request(t *testing.T, gpus int, nonce *string) []byte {
	t.Helper()
	report, err := os.ReadFile(filepath.Join(set(t), "evidence/test_raw_gpu_attestation_report.dat"))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := os.ReadFile(filepath.Join(set(t), "evidence/hopperCertChain.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var items []nvgpu.Item
	for i := 0; i < gpus; i++ {
		items = append(items, nvgpu.Item{Arch: "HOPPER", Certificate: base64.StdEncoding.EncodeToString(chain), Evidence: base64.StdEncoding.EncodeToString(report)})
	}
	b, _ := json.Marshal(map[string]any{"evidence": items, "nonce": nonce})
	return b
}

func typ(t *testing.T) NvidiaGpu {
	st, err := nvgpu.LoadDir(set(t))
	if err != nil {
		t.Fatal(err)
	}
	return NvidiaGpu{Collateral: st}
}

var at = time.Date(2025, 10, 24, 12, 0, 0, 0, time.UTC)

func TestNvidiaGpuCompleteH100(t *testing.T) {
	n := vecNonce
	gt := typ(t)
	ev, err := gt.Parse(request(t, 2, &n))
	if err != nil {
		t.Fatal(err)
	}
	env := attestation.Env{Now: at, Settings: map[string]string{SettingMaxRevocationAge: "2160h"}}
	v, err := gt.Verify(context.Background(), ev, env)
	if err != nil {
		t.Fatal(err)
	}
	if v.TCBStatus != "UpToDate" || v.PlatformID != "GH100 A01 GSP BROM" || v.PlatformKind != "GPU" {
		t.Errorf("verified %+v", v)
	}
	c, err := gt.Claims(v, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c["x-nvidia-gpu-count"] != 2 || c["x-nvidia-gpu-measres"] != "success" || c["x-nvidia-gpu-driver-version"] != "550.90.07" ||
		c["x-avow-gpu-ocsp-max-age"] != "2160h0m0s" || c["x-avow-gpu-expired-rim-certificates"] != "refuse" ||
		c["x-avow-gpu-revocation-as-of"] != "2025-08-21T06:47:07Z" || c["x-nvidia-gpu-nonce"] != vecNonce {
		t.Errorf("claims %v", c)
	}
	g1 := c["x-nvidia-gpus"].(map[string]any)["GPU-1"].(map[string]any)
	if g1["measres"] != "success" || g1["hwmodel"] != "GH100 A01 GSP BROM" || g1["dbgstat"] != "disabled" {
		t.Errorf("GPU-1 %v", g1)
	}
	// The default policy permits.
	p, err := policy.Parse(DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Evaluate(policy.ClaimsFromMap(c), policy.EvalOptions{})
	if err != nil || !out.Permitted {
		t.Errorf("default policy: %+v %v", out, err)
	}

	// Strict (no maximum age): the device answers are stale at this time.
	if _, err := gt.Verify(context.Background(), ev, attestation.Env{Now: at}); !errors.Is(err, nvgpu.ErrRevocationStale) {
		t.Errorf("strict: %v", err)
	}
	// A wrong nonce names the GPU.
	z := "00000000000000000000000000000000000000000000000000000000000000ff"
	ev2, _ := gt.Parse(request(t, 1, &z))
	if _, err := gt.Verify(context.Background(), ev2, env); !errors.Is(err, nvgpu.ErrNonceMismatch) || !strings.Contains(err.Error(), "GPU-0") {
		t.Errorf("wrong nonce: %v", err)
	}
}

func TestNvidiaGpuBinding(t *testing.T) {
	gt := typ(t)
	ev, err := gt.Parse(request(t, 1, nil))
	if err != nil {
		t.Fatal(err)
	}
	v, err := gt.Verify(context.Background(), ev, attestation.Env{Now: at, Settings: map[string]string{SettingMaxRevocationAge: "2160h", SettingExpiredRIMCertificates: "allow"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := gt.Claims(v, nil, nil); !errors.Is(err, attestation.ErrInvalidRequest) {
		t.Errorf("neither nonce nor runtime data: %v", err)
	}
	if _, err := gt.Claims(v, &attestation.Data{Bytes: []byte(`{"k":1}`), DataType: "JSON"}, nil); !errors.Is(err, attestation.ErrRuntimeDataMismatch) {
		t.Errorf("runtime data the nonce does not hash: %v", err)
	}
	for _, bad := range []map[string]string{{SettingMaxRevocationAge: "soon"}, {SettingExpiredRIMCertificates: "maybe"}, {"minimumTcb": "x"}} {
		if _, err := gt.Verify(context.Background(), ev, attestation.Env{Now: at, Settings: bad}); !errors.Is(err, attestation.ErrInvalidRequest) {
			t.Errorf("%v: %v", bad, err)
		}
		for k, v := range bad {
			if err := gt.CheckSetting(k, v); err == nil {
				t.Errorf("CheckSetting(%s, %s) accepted", k, v)
			}
		}
	}
	if err := gt.CheckSetting(SettingMaxRevocationAge, "168h"); err != nil {
		t.Error(err)
	}
	for _, bad := range [][]byte{[]byte(`{}`), []byte(`{"evidence":"x"}`), []byte(`{"evidence":[]}`), []byte(`{"evidence":[{"arch":"AMPERE"}]}`)} {
		if _, err := gt.Parse(bad); err == nil {
			t.Errorf("%s parsed", bad)
		}
	}
	short := "abcd"
	if _, err := gt.Parse(request(t, 1, &short)); !errors.Is(err, ErrNonce) {
		t.Errorf("short nonce: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"evidence":[{"arch":"HOPPER","certificate":"","evidence":""}],"nonce":"00"}`))
	f.Fuzz(func(t *testing.T, b []byte) { _, _ = NvidiaGpu{}.Parse(b) })
}
