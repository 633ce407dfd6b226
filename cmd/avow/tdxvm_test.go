package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestAttestTdxVmCLI: the documented TdxVm flow against a development
// server — `avow sim quote --tee tdx` binding runtime data, `avow attest
// --type TdxVm` sending MAA's request, the token verified through the
// provider's OpenID metadata, with MAA's TDX EAT-profile claims.
func TestAttestTdxVmCLI(t *testing.T) {
	_, conn, simDir := liveServer(t)
	mustRemote(t, 0, append([]string{"provider", "create", "contoso"}, conn...)...)
	dir := t.TempDir()
	runtime := []byte(`{"user-data":"42","vm-configuration":{"secure-boot":true}}`)
	rt := filepath.Join(dir, "runtime.json")
	if err := os.WriteFile(rt, runtime, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(runtime)
	td := filepath.Join(dir, "td.bin")
	mustRemote(t, 0, "sim", "quote", "--sim-dir", simDir, "--tee", "tdx", "--report-data", hex.EncodeToString(sum[:]), "--out", td)
	out, _ := mustRemote(t, 0, append([]string{"attest", "--url", "contoso", "--quote", td, "--type", "TdxVm",
		"--runtime-data", rt, "--json", "--nonce", "n-7", "--verify", "-o", "json"}, conn...)...)
	var got attestOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	c := got.Claims
	rtc, _ := c["x-ms-runtime"].(map[string]any)
	if got.Type != "TdxVm" || got.Verified == nil || !*got.Verified || c["x-ms-attestation-type"] != "tdxvm" ||
		c["eat_profile"] != "https://aka.ms/maa-eat-profile-tdxvm" || c["attester_tcb_status"] != "UpToDate" ||
		c["nonce"] != "n-7" || rtc["user-data"] != "42" || c["tdx_report_data"] != hex.EncodeToString(append(sum[:], make([]byte, 32)...)) {
		t.Errorf("TdxVm attestation: %+v\n%s", got, out)
	}
	// Runtime data the TD did not bind: refused, exit 1.
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"user-data":"43"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRemote(t, 1, append([]string{"attest", "--url", "contoso", "--quote", td, "--type", "tdxvm", "--runtime-data", other, "--json"}, conn...)...)
}
