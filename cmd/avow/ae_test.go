package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/alwaysencrypted/aesim"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/server"
)

func TestAECLI(t *testing.T) {
	n, _, simDir := liveServer(t)
	ca := n.CertFile
	hc, _ := n.HTTPClient()
	admin, _ := client.New(n.URL, client.WithHTTPClient(hc), client.WithToken(n.AdminToken.Secret))
	ctx := context.Background()
	p, err := admin.CreateProvider(ctx, client.CreateProviderRequest{Name: "sql"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SetPolicy(ctx, p.AttestURI, "SgxEnclave", policy.UnsignedDocument(aesim.RecommendedPolicy)); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	params, key, info := filepath.Join(dir, "params.bin"), filepath.Join(dir, "client-key.pem"), filepath.Join(dir, "info.bin")
	attestURL := p.AttestURI + "/attest/SgxEnclave"

	out, _ := mustRemote(t, 0, "ae", "params", "--url", attestURL, "--out", params, "--key-out", key)
	if !strings.Contains(out, "wrote "+params) || !strings.Contains(out, "wrote "+key) {
		t.Errorf("params output:\n%s", out)
	}
	if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, %v", st.Mode(), err)
	}
	out, _ = mustRemote(t, 0, "ae", "enclave", "--params", params, "--out", info, "--ca-cert", ca, "--sim-dir", simDir, "-o", "json")
	var enc aeEnclaveOutput
	if err := json.Unmarshal([]byte(out), &enc); err != nil || enc.EnclaveType != "sgx" || len(enc.SessionKeySHA256) != 64 || enc.AttestURI != p.AttestURI {
		t.Fatalf("enclave output %+v %v\n%s", enc, err, out)
	}
	for _, k := range []string{`"enclave_type"`, `"session_id"`, `"session_key_sha256"`} {
		if !strings.Contains(out, k) {
			t.Errorf("enclave JSON lacks %s", k)
		}
	}

	verify := []string{"ae", "verify", info, "--params", params, "--key", key, "--ca-cert", ca, "--retry-wait", "0"}
	out, _ = mustRemote(t, 0, append(verify, "--issuer", p.AttestURI, "-o", "json")...)
	var got aeVerifyOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if got.Result != "ok" || got.SessionKeySHA256 != enc.SessionKeySHA256 || got.SessionID != enc.SessionID || got.Claims["aas-ehd"] == nil || len(got.Checks) != 14 {
		t.Errorf("verify %+v", got)
	}
	names := []string{}
	for _, c := range got.Checks {
		names = append(names, c.Name)
	}
	if strings.Join(names, ",") != "client_key,attestation_info,instance_url,signing_keys,token_format,token_signature,token_lifetime,token_issuer,claims,aas_ehd,rp_data,enclave_rsa_key,dh_signature,session_key" {
		t.Errorf("checks %v", names)
	}
	out, _ = mustRemote(t, 0, append(verify, "--issuer", p.AttestURI)...)
	for _, s := range []string{"ACCEPTED", "session key sha256:  " + enc.SessionKeySHA256, "CHECK", "DRIVER", "aas_ehd", "OK", "SKIPPED", "claims:", "x-ms-sgx-product-id"} {
		if !strings.Contains(out, s) {
			t.Errorf("table lacks %q:\n%s", s, out)
		}
	}

	// By the drivers' rules a path-based provider's keys are not found: exit 1.
	out, _ = mustRemote(t, 1, append(verify, "-o", "json")...)
	got = aeVerifyOutput{}
	json.Unmarshal([]byte(out), &got)
	if got.Result != "ae_signing_keys_unavailable" || got.Checks[len(got.Checks)-1].Name != "signing_keys" || got.SessionKeySHA256 != "" {
		t.Errorf("driver rules on a path provider: %+v", got)
	}
	// A tampered signature on the DH key.
	blob, _ := os.ReadFile(info)
	blob[len(blob)-1] ^= 1
	bad := filepath.Join(dir, "bad.bin")
	os.WriteFile(bad, blob, 0o644)
	out, _ = mustRemote(t, 1, "ae", "verify", bad, "--params", params, "--key", key, "--ca-cert", ca, "--issuer", p.AttestURI)
	if !strings.Contains(out, "REFUSED: ae_dh_signature_invalid") || !strings.Contains(out, "FAILED ae_dh_signature_invalid") {
		t.Errorf("tampered:\n%s", out)
	}
	// Another client's key.
	params2, key2 := filepath.Join(dir, "p2.bin"), filepath.Join(dir, "k2.pem")
	mustRemote(t, 0, "ae", "params", "--url", attestURL, "--out", params2, "--key-out", key2, "-o", "json")
	out, _ = mustRemote(t, 1, "ae", "verify", info, "--params", params, "--key", key2, "--ca-cert", ca, "--issuer", p.AttestURI)
	if !strings.Contains(out, "ae_client_key_mismatch") {
		t.Errorf("other key:\n%s", out)
	}

	// The recommended policy refuses an enclave of SVN 1: exit 1, no info.
	refused := filepath.Join(dir, "refused.bin")
	out, errOut := mustRemote(t, 1, "ae", "enclave", "--params", params, "--out", refused, "--ca-cert", ca, "--sim-dir", simDir, "--svn", "1", "-o", "json")
	if !strings.Contains(errOut, "the server refused (400") || !strings.Contains(out, `"status": 400`) {
		t.Errorf("refused enclave:\n%s\n%s", out, errOut)
	}
	if _, err := os.Stat(refused); err == nil {
		t.Error("an attestation info was written for a refused enclave")
	}

	for _, args := range [][]string{
		{"ae", "params", "--url", "not a url", "--out", params, "--key-out", key},
		{"ae", "params", "--url", attestURL, "--out", params},
		{"ae", "params", "--url", attestURL, "--out", params, "--key-out", key, "-o", "yaml"},
		{"ae", "enclave", "--params", params, "--out", info, "--mrsigner", "abcd", "--sim-dir", simDir},
		{"ae", "enclave", "--params", key, "--out", info, "--sim-dir", simDir},
		{"ae", "enclave", "--params", filepath.Join(dir, "missing"), "--out", info, "--sim-dir", simDir},
		{"ae", "verify", info, "--params", key, "--key", key},
		{"ae", "verify", info, "--params", params, "--key", params},
		{"ae", "verify", filepath.Join(dir, "missing"), "--params", params, "--key", key},
		{"ae", "verify", info, "--params", params, "--key", key, "--at", "yesterday"},
		{"ae", "verify", info, "--params", params},
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// TestAECLIHostNamed runs the three commands as the README shows them
// against a server with host-named providers: no --issuer, the drivers'
// rules as they are; provider create prints the host-named attest URI, and
// a provider name given to avow attest resolves to it.
func TestAECLIHostNamed(t *testing.T) {
	remoteEnv(t)
	dir := t.TempDir()
	simDir := filepath.Join(dir, "sim")
	n, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		Dev: true, SimDir: simDir, ProviderDomain: "avow.localhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	conn := []string{"--server", n.URL, "--token", n.AdminToken.Secret, "--ca-cert", n.CertFile}
	port := n.URL[strings.LastIndex(n.URL, ":"):]
	attestURI := "https://sql.avow.localhost" + port
	out, _ := mustRemote(t, 0, append([]string{"provider", "create", "sql"}, conn...)...)
	if !strings.Contains(out, attestURI) {
		t.Fatalf("provider create does not print %s:\n%s", attestURI, out)
	}
	pol := filepath.Join(dir, "policy.txt")
	os.WriteFile(pol, []byte(aesim.RecommendedPolicy), 0o600)
	mustRemote(t, 0, append([]string{"policy", "set", "sql", "--type", "SgxEnclave", pol}, conn...)...)

	params, key, info := filepath.Join(dir, "params.bin"), filepath.Join(dir, "client-key.pem"), filepath.Join(dir, "info.bin")
	mustRemote(t, 0, "ae", "params", "--url", attestURI+"/attest/SgxEnclave", "--out", params, "--key-out", key)
	out, _ = mustRemote(t, 0, "ae", "enclave", "--params", params, "--out", info, "--ca-cert", n.CertFile, "--sim-dir", simDir, "-o", "json")
	var enc aeEnclaveOutput
	if err := json.Unmarshal([]byte(out), &enc); err != nil || enc.AttestURI != attestURI {
		t.Fatalf("enclave output %+v %v\n%s", enc, err, out)
	}
	out, _ = mustRemote(t, 0, "ae", "verify", info, "--params", params, "--key", key, "--ca-cert", n.CertFile, "-o", "json")
	var got aeVerifyOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Result != "ok" || got.SessionKeySHA256 != enc.SessionKeySHA256 ||
		got.InstanceURL != attestURI || got.Claims["iss"] != attestURI {
		t.Errorf("verify %+v %v", got, err)
	}
	// A debuggable enclave is refused by the policy: exit 1, no info.
	out, errOut := mustRemote(t, 1, "ae", "enclave", "--params", params, "--out", filepath.Join(dir, "debug.bin"), "--ca-cert", n.CertFile, "--sim-dir", simDir, "--debug")
	if !strings.Contains(out+errOut, "policy_denied") {
		t.Errorf("debuggable enclave:\n%s%s", out, errOut)
	}
	// avow attest with a provider name reaches the host-named provider.
	q := filepath.Join(dir, "quote.bin")
	mustRemote(t, 0, "sim", "quote", "--sim-dir", simDir, "--out", q, "--mrsigner", aesim.SQLServerMRSignerHex, "--product-id", "4639", "--svn", "2")
	out, _ = mustRemote(t, 0, append([]string{"attest", "--url", "sql", "--quote", q, "--verify", "-o", "json"}, conn...)...)
	if !strings.Contains(out, `"attestUri": "`+attestURI+`"`) && !strings.Contains(out, `"attestUri":"`+attestURI+`"`) {
		t.Errorf("attest --url sql:\n%s", out)
	}
}
