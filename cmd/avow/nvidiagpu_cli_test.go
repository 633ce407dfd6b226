package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestAttestNvidiaGpuCLI: the documented GPU flow against a development
// server — `avow sim gpu evidence` for a nonce, `avow attest --type
// NvidiaGpu` sending it with the nonce, the token verified, the simulated
// GPU's claims in it; a wrong nonce is refused (exit 1).
func TestAttestNvidiaGpuCLI(t *testing.T) {
	_, conn, simDir := liveServer(t)
	mustRemote(t, 0, append([]string{"provider", "create", "contoso"}, conn...)...)
	dir := t.TempDir()
	nonce := strings.Repeat("5a", 32)
	ev := filepath.Join(dir, "gpu.json")
	mustRemote(t, 0, "sim", "--sim-dir", simDir, "gpu", "evidence", "--nonce", nonce, "--gpus", "2", "--out", ev)
	out, _ := mustRemote(t, 0, append([]string{"attest", "--url", "contoso", "--quote", ev, "--type", "NvidiaGpu",
		"--nonce", nonce, "--verify", "-o", "json"}, conn...)...)
	var got attestOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := got.Claims
	if got.Type != "NvidiaGpu" || got.Verified == nil || !*got.Verified || c["x-ms-attestation-type"] != "nvidiagpu" ||
		c["x-nvidia-gpu-measres"] != "success" || c["x-nvidia-gpu-count"] != float64(2) || c["x-avow-simulated"] != true {
		t.Errorf("NvidiaGpu attestation: %+v\n%s", got, out)
	}
	mustRemote(t, 1, append([]string{"attest", "--url", "contoso", "--quote", ev, "--type", "nvidiagpu", "--nonce", strings.Repeat("00", 32)}, conn...)...)
	// The provider's GPU settings, set and shown, and in the next token.
	mustRemote(t, 0, append([]string{"provider", "update", "contoso", "--type-setting", "NvidiaGpu.maxRevocationAge=168h", "--type-setting", "NvidiaGpu.expiredRimCertificates=allow"}, conn...)...)
	show, _ := mustRemote(t, 0, append([]string{"provider", "show", "contoso"}, conn...)...)
	if !strings.Contains(show, "168h") || !strings.Contains(show, "allow") {
		t.Errorf("provider show: %s", show)
	}
	out, _ = mustRemote(t, 0, append([]string{"attest", "--url", "contoso", "--quote", ev, "--type", "NvidiaGpu", "--nonce", nonce, "-o", "json"}, conn...)...)
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Claims["x-avow-gpu-ocsp-max-age"] != "168h0m0s" || got.Claims["x-avow-gpu-expired-rim-certificates"] != "allow" {
		t.Errorf("settings in the token: %v %s", err, out)
	}
	mustRemote(t, 1, append([]string{"provider", "update", "contoso", "--type-setting", "NvidiaGpu.expiredRimCertificates=sometimes"}, conn...)...)
	// The GPU policy is reachable by its type name.
	pol, _ := mustRemote(t, 0, append([]string{"policy", "get", "contoso", "--type", "nvidiagpu"}, conn...)...)
	if !strings.Contains(pol, "x-nvidia-gpu-measres") {
		t.Errorf("policy get: %s", pol)
	}
}
