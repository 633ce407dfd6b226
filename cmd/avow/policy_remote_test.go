package main

import (
	"crypto/x509"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/fakemaa"

	"github.com/avowhq/avow/policy"
)

func TestPolicyRemoteCLI(t *testing.T) {
	f, conn := remoteFake(t)
	f.AddProvider("contoso", "")
	dir := t.TempDir()
	const text = "version= 1.0;\nauthorizationrules { => permit(); };\nissuancerules { => issue(type=\"custom\", value=true); };\n"
	file := filepath.Join(dir, "policy.txt")
	os.WriteFile(file, []byte(text), 0o644)

	out, _ := mustRemote(t, 0, remoteArgs(conn, "policy", "get", "contoso", "--type", "sgxenclave")...)
	if out != fakemaa.DefaultText {
		t.Errorf("default policy %q", out)
	}
	if req := f.LastRequest(); req.Path != "/providers/contoso/policies/SgxEnclave" {
		t.Errorf("type not canonical: %s", req.Path)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "policy", "set", "contoso", file)...)
	doc := policy.UnsignedDocument(text)
	if !strings.Contains(out, "Updated") || !strings.Contains(out, policy.PolicyTokenHash(doc)) || !strings.Contains(out, "none (unsigned)") {
		t.Errorf("set:\n%s", out)
	}
	// A policy on a misspelled claim is stored; the server's warning is
	// shown with the file's line and column (stderr; in JSON, "warnings").
	typo := filepath.Join(dir, "typo.txt")
	os.WriteFile(typo, []byte("version= 1.0;\nauthorizationrules {\n  [type==\"x-ms-sgx-is-debugable\", value==false] => permit();\n};\n"), 0o644)
	out, errOut := mustRemote(t, 0, remoteArgs(conn, "policy", "set", "contoso", typo)...)
	if want := typo + ":3:10: warning: no attestation type gives a policy the claim x-ms-sgx-is-debugable, so this condition never matches; did you mean x-ms-sgx-is-debuggable? (policy_unknown_claim)"; !strings.Contains(errOut, want) || !strings.Contains(out, "Updated") {
		t.Errorf("set with a misspelled claim:\n%s\nstderr:\n%s\nwant %s", out, errOut, want)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "policy", "set", "contoso", typo, "-o", "json")...)
	var typoSet policyChangeOutput
	if err := json.Unmarshal([]byte(out), &typoSet); err != nil || len(typoSet.Warnings) != 1 || typoSet.Warnings[0].Code != "policy_unknown_claim" || typoSet.Warnings[0].Line != 3 {
		t.Errorf("set json with a misspelled claim %+v %v\n%s", typoSet, err, out)
	}
	if _, errOut = mustRemote(t, 0, remoteArgs(conn, "policy", "set", "contoso", file)...); errOut != "" {
		t.Errorf("a clean policy warns: %s", errOut)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "policy", "get", "contoso", "--jws")...)
	if strings.TrimSpace(out) != doc {
		t.Errorf("get --jws %q", out)
	}
	// By attest URI, without --server; JSON output.
	out, _ = mustRemote(t, 0, "policy", "get", f.AttestURI("contoso"), "--token", fakemaa.OwnerToken, "--ca-cert", conn[5], "-o", "json")
	var got policyGetOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || got.Text != text || got.JWS != doc || got.Signed || got.Type != "SgxEnclave" {
		t.Errorf("get json %+v %v\n%s", got, err, out)
	}

	// Signed with --key/--cert.
	key, cert := fakemaa.Signer(t, "policy author")
	keyFile, certFile := writeSigner(t, key, cert)
	out, _ = mustRemote(t, 0, remoteArgs(conn, "policy", "set", "contoso", file, "--key", keyFile, "--cert", certFile, "-o", "json")...)
	var set policyChangeOutput
	if err := json.Unmarshal([]byte(out), &set); err != nil || set.Result != "Updated" || set.Signer != "CN=policy author" || set.Claims["x-ms-policy-signer"] == nil {
		t.Errorf("signed set %+v\n%s", set, out)
	}
	// A ready document is sent verbatim.
	signed, _ := policy.SignDocument(text, key, []*x509.Certificate{cert})
	jwsFile := filepath.Join(dir, "policy.jws")
	os.WriteFile(jwsFile, []byte(signed+"\n"), 0o644)
	mustRemote(t, 0, remoteArgs(conn, "policy", "set", "contoso", jwsFile)...)
	if req := f.LastRequest(); string(req.Body) != signed {
		t.Errorf("document not sent verbatim: %s", req.Body)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "policy", "reset", "contoso")...)
	if !strings.Contains(out, "Removed") {
		t.Errorf("reset:\n%s", out)
	}

	// Isolated: unsigned refused (exit 1), signed by a signer accepted.
	f.AddProvider("fabrikam", "Isolated", cert)
	_, errOut = mustRemote(t, 1, remoteArgs(conn, "policy", "set", "fabrikam", file)...)
	if !strings.Contains(errOut, "policy_signer_untrusted") {
		t.Errorf("stderr: %s", errOut)
	}
	mustRemote(t, 1, remoteArgs(conn, "policy", "reset", "fabrikam")...)
	mustRemote(t, 0, remoteArgs(conn, "policy", "set", "fabrikam", file, "--key", keyFile, "--cert", certFile)...)
	mustRemote(t, 0, remoteArgs(conn, "policy", "reset", "fabrikam", "--key", keyFile, "--cert", certFile)...)

	// Usage.
	for _, args := range [][]string{
		remoteArgs(conn, "policy", "set", "contoso", file, "--key", keyFile),
		remoteArgs(conn, "policy", "set", "contoso", jwsFile, "--key", keyFile, "--cert", certFile),
		remoteArgs(conn, "policy", "set", "contoso", filepath.Join(dir, "missing.txt")),
		remoteArgs(conn, "policy", "set", "contoso", file, "--key", certFile, "--cert", certFile),
		remoteArgs(conn, "policy", "get"),
		{"policy", "get", "contoso"}, // a name needs --server
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}
