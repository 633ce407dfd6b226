package main

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/fakemaa"

	"github.com/avowhq/avow/client"
)

func TestAttestCLI(t *testing.T) {
	f, conn := remoteFake(t)
	f.AddProvider("contoso", "")
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sgx := []byte{3, 0, 2, 0, 0, 0, 0, 0, 9, 9, 9, 9}
	tdx := []byte{4, 0, 2, 0, 0x81, 0, 0, 0, 9, 9, 9, 9}
	sgxHex := write("sgx.hex", []byte(hex.EncodeToString(sgx)+"\n"))
	tdxBin := write("tdx.bin", tdx)
	oeBin := write("oe.bin", client.OpenEnclaveReport(sgx))
	rd := write("rd.json", []byte(`{"jwk":{"kty":"EC"}}`))
	uri := f.AttestURI("contoso")
	setRemoteNow(t, fakemaa.Now.Add(time.Minute))

	out, _ := mustRemote(t, 0, "attest", "--url", uri, "--quote", sgxHex, "--runtime-data", rd, "--json", "--nonce", "n-42", "--ca-cert", conn[5])
	for _, s := range []string{"attestation type: SgxEnclave", "token:\neyJ", "header:", "alg:", "RS256", "claims:", "nonce:", "n-42", "x-ms-runtime:", `{"jwk":{"kty":"EC"}}`} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	req := f.LastRequest()
	if req.Path != "/providers/contoso/attest/SgxEnclave" || req.Auth != "" {
		t.Errorf("request %s auth %q", req.Path, req.Auth)
	}
	var body map[string]any
	json.Unmarshal(req.Body, &body)
	if body["quote"] != "AwACAAAAAAAJCQkJ" || body["runtimeData"].(map[string]any)["dataType"] != "JSON" {
		t.Errorf("body %s", req.Body)
	}

	// Type from the evidence; a provider name with --server; JSON; --verify.
	out, _ = mustRemote(t, 0, remoteArgs(conn, "attest", "--url", "contoso", "--quote", tdxBin, "--verify", "-o", "json")...)
	var got attestOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Type != "TdxVm" || got.Verified == nil || !*got.Verified || got.Claims["x-ms-attestation-type"] != "tdxvm" || got.Header.KID != f.Key.KID {
		t.Errorf("tdx %+v %v\n%s", got, err, out)
	}
	mustRemote(t, 0, remoteArgs(conn, "attest", "--url", uri, "--quote", oeBin)...)
	if req := f.LastRequest(); req.Path != "/providers/contoso/attest/OpenEnclave" || !strings.Contains(string(req.Body), `"report":"AQAAAAIAAAAMAAAAAAAAAAMAAgAAAAAACQkJCQ"`) {
		t.Errorf("OpenEnclave request %s %s", req.Path, req.Body)
	}
	mustRemote(t, 0, remoteArgs(conn, "attest", "--url", uri, "--quote", oeBin, "--type", "sgxenclave")...)
	if req := f.LastRequest(); !strings.Contains(string(req.Body), `"quote":"AwACAAAAAAAJCQkJ"`) {
		t.Errorf("OE report sent as SgxEnclave: %s", req.Body)
	}
	// A draft policy gives an unsigned token.
	pol := write("draft.txt", []byte("version=1.0; authorizationrules{=>permit();};"))
	out, _ = mustRemote(t, 0, remoteArgs(conn, "attest", "--url", uri, "--quote", sgxHex, "--draft-policy", pol)...)
	if !strings.Contains(out, "unsigned token (draft policy)") {
		t.Errorf("draft:\n%s", out)
	}
	// --verify failing: 9 hours later the token has expired.
	setRemoteNow(t, fakemaa.Now.Add(9*time.Hour))
	out, errOut := mustRemote(t, 1, remoteArgs(conn, "attest", "--url", uri, "--quote", sgxHex, "--verify")...)
	if !strings.Contains(out, "verified:         NO: token_expired") || !strings.Contains(errOut, "does not verify") {
		t.Errorf("verify failure:\n%s\n%s", out, errOut)
	}
	// Refused by the server.
	_, errOut = mustRemote(t, 1, remoteArgs(conn, "attest", "--url", "nobody", "--quote", sgxHex)...)
	if !strings.Contains(errOut, "404 not_found") {
		t.Errorf("stderr %s", errOut)
	}
	for _, args := range [][]string{
		remoteArgs(conn, "attest", "--quote", sgxHex),
		remoteArgs(conn, "attest", "--url", uri),
		remoteArgs(conn, "attest", "--url", uri, "--quote", sgxHex, "--json"),
		remoteArgs(conn, "attest", "--url", uri, "--quote", sgxHex, "--type", "Tpm"),
		remoteArgs(conn, "attest", "--url", uri, "--quote", filepath.Join(dir, "missing")),
		remoteArgs(conn, "attest", "--url", uri, "--quote", write("empty", nil)),
		remoteArgs(conn, "attest", "--url", uri, "--quote", sgxHex, "--draft-policy", pol, "--verify"),
		{"attest", "--url", "contoso", "--quote", sgxHex},
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}

// TestAttestTokenOut: --token-out writes the token alone, which token verify
// reads; the output is printed as without the flag.
func TestAttestTokenOut(t *testing.T) {
	f, conn := remoteFake(t)
	f.AddProvider("contoso", "")
	dir := t.TempDir()
	sgx := filepath.Join(dir, "sgx.hex")
	if err := os.WriteFile(sgx, []byte("0300020000000000090909090a"), 0o644); err != nil {
		t.Fatal(err)
	}
	uri := f.AttestURI("contoso")
	setRemoteNow(t, fakemaa.Now.Add(time.Minute))
	tokFile := filepath.Join(dir, "token.jwt")
	out, _ := mustRemote(t, 0, remoteArgs(conn, "attest", "--url", uri, "--quote", sgx, "--token-out", tokFile, "-o", "json")...)
	var got attestOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	b, err := os.ReadFile(tokFile)
	if err != nil || string(b) != got.Token+"\n" || !strings.HasPrefix(got.Token, "eyJ") {
		t.Fatalf("--token-out wrote %q (%v), the output's token is %q", b, err, got.Token)
	}
	out, _ = mustRemote(t, 0, "token", "verify", tokFile, "--issuer", uri, "--ca-cert", conn[5])
	if !strings.Contains(out, "x-ms-attestation-type") {
		t.Errorf("token verify of the --token-out file:\n%s", out)
	}
	// A file that cannot be written: usage error, exit 2.
	code, _, errOut := runAvow(t, remoteArgs(conn, "attest", "--url", uri, "--quote", sgx, "--token-out", filepath.Join(dir, "no", "such", "dir"))...)
	if code != 2 || !strings.Contains(errOut, "--token-out") {
		t.Errorf("unwritable --token-out: exit %d, %s", code, errOut)
	}
}
