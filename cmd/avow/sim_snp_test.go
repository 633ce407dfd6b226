package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The documented flow: a simulated SNP report from `avow sim snp`, sent
// with `avow attest --type SevSnpVm` to a --dev server with a SevSnpVm
// policy, verified through OpenID discovery.
func TestAttestSevSnpVmCLI(t *testing.T) {
	_, conn, simDir := liveServer(t)
	dir := t.TempDir()
	mustRemote(t, 0, append([]string{"provider", "create", "cvm"}, conn...)...)
	pol := filepath.Join(dir, "snp.policy")
	if err := os.WriteFile(pol, []byte(`version= 1.0;
authorizationrules{
	c:[type=="x-ms-sevsnpvm-is-debuggable", value==false] => permit();
};
issuancerules{
	c:[type=="x-ms-sevsnpvm-snpfw-svn"] => issue(type="snpfw-svn", value=c.value);
};
`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustRemote(t, 0, append([]string{"policy", "set", "cvm", pol, "--type", "sevsnpvm"}, conn...)...)
	rd := filepath.Join(dir, "key.json")
	os.WriteFile(rd, []byte(`{"kid":"k1"}`), 0o644)
	report := filepath.Join(dir, "snp.json")
	mustRemote(t, 0, "sim", "snp", "report", "--sim-dir", simDir, "--out", report, "--runtime-data", rd, "--tcb", "bl=4,tee=0,snp=9,ucode=200")
	out, _ := mustRemote(t, 0, append([]string{"attest", "--url", "cvm", "--quote", report, "--runtime-data", rd, "--json", "--verify", "-o", "json"}, conn...)...)
	var got attestOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Type != "SevSnpVm" || got.Verified == nil || !*got.Verified || got.Claims["x-avow-simulated"] != true ||
		got.Claims["x-ms-sevsnpvm-microcode-svn"] != float64(200) || got.Claims["x-ms-runtime"] == nil {
		t.Errorf("%s", out)
	}
	if pol, _ := got.Claims["x-ms-policy"].(map[string]any); pol["snpfw-svn"] != float64(9) {
		t.Errorf("x-ms-policy %v", got.Claims["x-ms-policy"])
	}
	// A debuggable VM is refused by the policy (exit 1).
	mustRemote(t, 0, "sim", "snp", "report", "--sim-dir", simDir, "--out", report, "--runtime-data", rd, "--debug")
	out, errOut := mustRemote(t, 1, append([]string{"attest", "--url", "cvm", "--quote", report, "--type", "SevSnpVm", "--runtime-data", rd, "--json"}, conn...)...)
	if !strings.Contains(out+errOut, "policy_denied") {
		t.Errorf("debuggable: %s %s", out, errOut)
	}
	// The simulated root verifies offline with avow snp verify --roots.
	roots := filepath.Join(dir, "roots.pem")
	mustRemote(t, 0, "sim", "snp", "root", "--sim-dir", simDir, "--out", roots)
	out, _ = mustRemote(t, 0, "snp", "verify", report, "--roots", roots, "--runtime-data", rd)
	if !strings.Contains(out, `"result": "ok"`) || !strings.Contains(out, `"x-ms-sevsnpvm-is-debuggable": true`) {
		t.Errorf("snp verify: %s", out)
	}
}
