package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/fakemaa"
)

func TestSignerCLI(t *testing.T) {
	f, conn := remoteFake(t)
	keyA, certA := fakemaa.Signer(t, "signer A")
	keyB, certB := fakemaa.Signer(t, "signer B")
	f.AddProvider("fabrikam", "Isolated", certA)
	keyAFile, certAFile := writeSigner(t, keyA, certA)
	keyBFile, certBFile := writeSigner(t, keyB, certB)

	out, _ := mustRemote(t, 0, remoteArgs(conn, "signer", "list", "fabrikam")...)
	if !strings.Contains(out, "SHA-1 THUMBPRINT") || !strings.Contains(out, "CN=signer A") {
		t.Errorf("list:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "signer", "add", "fabrikam", certBFile, "--key", keyAFile, "--cert", certAFile)...)
	if !strings.Contains(out, "IsPresent") || !strings.Contains(out, "x-ms-certificate-thumbprint") {
		t.Errorf("add:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "signer", "list", "fabrikam", "-o", "json")...)
	var list struct {
		AttestURI string
		Signers   []certSummary
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Signers) != 2 || list.Signers[1].Subject != "CN=signer B" ||
		len(list.Signers[1].SHA1) != 40 || !strings.HasPrefix(list.Signers[1].PEM, "-----BEGIN CERTIFICATE-----") || list.AttestURI != f.AttestURI("fabrikam") {
		t.Errorf("list json %+v %v\n%s", list, err, out)
	}
	// By attest URI, JSON.
	out, _ = mustRemote(t, 0, "signer", "remove", f.AttestURI("fabrikam"), certBFile, "--key", keyBFile, "--cert", certBFile,
		"--token", fakemaa.OwnerToken, "--ca-cert", conn[5], "-o", "json")
	var rm struct{ Result, Thumbprint string }
	if json.Unmarshal([]byte(out), &rm) != nil || rm.Result != "IsAbsent" || rm.Thumbprint == "" {
		t.Errorf("remove json:\n%s", out)
	}
	// B is no longer a signer: refused.
	_, errOut := mustRemote(t, 1, remoteArgs(conn, "signer", "add", "fabrikam", certBFile, "--key", keyBFile, "--cert", certBFile)...)
	if !strings.Contains(errOut, "policy_signer_untrusted") {
		t.Errorf("stderr: %s", errOut)
	}
	for _, args := range [][]string{
		remoteArgs(conn, "signer", "add", "fabrikam", certBFile),
		remoteArgs(conn, "signer", "add", "fabrikam", certBFile, "--key", keyAFile),
		remoteArgs(conn, "signer", "add", "fabrikam", certBFile, "--key", keyAFile, "--cert", certBFile),
		remoteArgs(conn, "signer", "add", "fabrikam", "/nonexistent.pem", "--key", keyAFile, "--cert", certAFile),
		remoteArgs(conn, "signer", "list"),
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}
