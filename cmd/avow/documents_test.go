package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/fakemaa"
	"github.com/avowhq/avow/policy"
)

// TestCLIDocumentClaims is issue 13 item 6 on avow's side: every document
// the CLI signs (policy set --key, policy reset --key, signer add and
// remove, policy sign) carries iat and nbf (now) and exp (now + --validity,
// default 10 minutes); a signer change names its operation
// (x-avow-operation), so that the server refuses an add as a remove and
// the reverse. --validity 0 leaves the time claims out.
func TestCLIDocumentClaims(t *testing.T) {
	f, conn := remoteFake(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	setRemoteNow(t, now)
	f.AddProvider("contoso", "")
	keyA, certA := fakemaa.Signer(t, "signer A")
	_, certB := fakemaa.Signer(t, "signer B")
	f.AddProvider("fabrikam", "Isolated", certA)
	keyFile, certFile := writeSigner(t, keyA, certA)
	_, certBFile := writeSigner(t, keyA, certB)
	dir := t.TempDir()
	policyFile := filepath.Join(dir, "policy.txt")
	os.WriteFile(policyFile, []byte("version=1.0; authorizationrules { => permit(); };"), 0o644)

	sent := func() *policy.Document {
		t.Helper()
		body := f.LastRequest().Body
		var s string
		if json.Unmarshal(body, &s) != nil {
			s = string(body)
		}
		d, err := policy.ParseManagementDocument(strings.TrimSpace(s))
		if err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		return d
	}
	check := func(what string, d *policy.Document, op string, validity time.Duration) {
		t.Helper()
		if d.Operation != op {
			t.Errorf("%s: operation %q, want %q", what, d.Operation, op)
		}
		if validity == 0 {
			if !d.IssuedAt.IsZero() || !d.NotBefore.IsZero() || !d.Expiry.IsZero() {
				t.Errorf("%s: time claims with --validity 0: %v %v %v", what, d.IssuedAt, d.NotBefore, d.Expiry)
			}
			return
		}
		if !d.IssuedAt.Equal(now) || !d.NotBefore.Equal(now) || !d.Expiry.Equal(now.Add(validity)) {
			t.Errorf("%s: iat %v nbf %v exp %v, want %v + %v", what, d.IssuedAt, d.NotBefore, d.Expiry, now, validity)
		}
	}
	signer := []string{"--key", keyFile, "--cert", certFile}
	mustRemote(t, 0, remoteArgs(conn, append([]string{"policy", "set", "contoso", policyFile}, signer...)...)...)
	check("policy set", sent(), "", 10*time.Minute)
	mustRemote(t, 0, remoteArgs(conn, append([]string{"policy", "reset", "contoso", "--validity", "1h"}, signer...)...)...)
	d := sent()
	check("policy reset", d, "", time.Hour)
	if !strings.Contains(d.Raw, "..") {
		t.Errorf("reset payload not empty: %s", d.Raw)
	}
	mustRemote(t, 0, remoteArgs(conn, append([]string{"signer", "add", "fabrikam", certBFile}, signer...)...)...)
	check("signer add", sent(), "add", 10*time.Minute)
	mustRemote(t, 0, remoteArgs(conn, append([]string{"signer", "remove", "fabrikam", certBFile, "--validity", "0"}, signer...)...)...)
	check("signer remove", sent(), "remove", 0)

	out := filepath.Join(dir, "signed.jws")
	if code, o, e := runAvow(t, append([]string{"policy", "sign", policyFile, "--out", out, "--validity", "30m"}, signer...)...); code != 0 {
		t.Fatalf("policy sign: %d %s %s", code, o, e)
	}
	b, _ := os.ReadFile(out)
	d, err := policy.ParseManagementDocument(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	check("policy sign", d, "", 30*time.Minute)
	if code, _, _ := runAvow(t, append([]string{"policy", "sign", policyFile, "--validity", "-1m"}, signer...)...); code != 2 {
		t.Errorf("negative --validity: exit %d", code)
	}
}
