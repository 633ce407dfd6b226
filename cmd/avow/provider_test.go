package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/fakemaa"
)

// remoteEnv clears the environment variables of the remote commands.
func remoteEnv(t *testing.T) {
	t.Setenv(envServer, "")
	t.Setenv(envToken, "")
	t.Setenv(envCACert, "")
}

// setRemoteNow pins the verification clock of the CLI for the test.
func setRemoteNow(t *testing.T, now time.Time) {
	old := remoteNow
	remoteNow = func() time.Time { return now }
	t.Cleanup(func() { remoteNow = old })
}

// mustRemote runs avow and fails unless it exits with want.
func mustRemote(t *testing.T, want int, args ...string) (string, string) {
	t.Helper()
	code, out, errOut := runAvow(t, args...)
	if code != want {
		t.Fatalf("avow %s: exit %d, want %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out, errOut
}

// remoteFake starts the fake server and returns it with the connection
// flags for it (--server, --token owner, --ca-cert).
func remoteFake(t *testing.T) (*fakemaa.Server, []string) {
	t.Helper()
	remoteEnv(t)
	f := fakemaa.New(t)
	ca := filepath.Join(t.TempDir(), "server.pem")
	if err := os.WriteFile(ca, f.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return f, []string{"--server", f.URL, "--token", fakemaa.OwnerToken, "--ca-cert", ca}
}

func remoteArgs(args []string, more ...string) []string {
	return append(append([]string{}, more...), args...)
}

// writeSigner writes a signer's PKCS#8 key and certificate as PEM files.
func writeSigner(t *testing.T, key crypto.Signer, cert *x509.Certificate) (keyFile, certFile string) {
	t.Helper()
	dir := t.TempDir()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile = filepath.Join(dir, "signer.key"), filepath.Join(dir, "signer.pem")
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644)
	return keyFile, certFile
}

func TestProviderCLI(t *testing.T) {
	f, conn := remoteFake(t)
	key, cert := fakemaa.Signer(t, "first signer")
	_, certFile := writeSigner(t, key, cert)

	out, _ := mustRemote(t, 0, remoteArgs(conn, "provider", "create", "contoso")...)
	for _, s := range []string{"created provider contoso", "attest URI:", f.AttestURI("contoso"), "trust model:", "AAD", "UpToDate, SWHardeningNeeded"} {
		if !strings.Contains(out, s) {
			t.Errorf("create output lacks %q:\n%s", s, out)
		}
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "create", "fabrikam", "--trust-model", "isolated", "--signer-cert", certFile,
		"--accept-tcb", "UpToDate,SWHardeningNeeded", "--accept-tcb", "OutOfDate", "--grace", "72h", "-o", "json")...)
	var p struct {
		Name, TrustModel          string
		PolicySigningCertificates int
		Settings                  struct {
			AcceptedTcbStatuses   []string
			CollateralGracePeriod string
		}
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if p.TrustModel != "Isolated" || p.PolicySigningCertificates != 1 || len(p.Settings.AcceptedTcbStatuses) != 3 || p.Settings.CollateralGracePeriod != "72h0m0s" {
		t.Errorf("isolated provider %+v", p)
	}

	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "list")...)
	if !strings.Contains(out, "NAME") || !strings.Contains(out, "contoso") || !strings.Contains(out, "Isolated") {
		t.Errorf("list:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "list", "--output", "json")...)
	var list struct{ Providers []map[string]any }
	if json.Unmarshal([]byte(out), &list) != nil || len(list.Providers) != 2 {
		t.Errorf("list json:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "show", "contoso")...)
	if !strings.Contains(out, "SIGNING KEY (KID)") || !strings.Contains(out, "kid-1") || !strings.Contains(out, "retired") {
		t.Errorf("show:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "show", "contoso", "-o", "json")...)
	var show struct {
		Name string
		Keys []map[string]any
	}
	if json.Unmarshal([]byte(out), &show) != nil || show.Name != "contoso" || len(show.Keys) != 2 {
		t.Errorf("show json:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "update", "contoso", "--grace", "24h")...)
	if !strings.Contains(out, "24h0m0s") {
		t.Errorf("update:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "rotate-key", "contoso")...)
	if !strings.Contains(out, "kid-2") {
		t.Errorf("rotate-key:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "provider", "delete", "contoso")...)
	if !strings.Contains(out, "deleted provider contoso") {
		t.Errorf("delete:\n%s", out)
	}

	// The server refuses: exit 1, code and message on stderr (and JSON on
	// stdout with -o json).
	_, errOut := mustRemote(t, 1, remoteArgs(conn, "provider", "show", "contoso")...)
	if !strings.Contains(errOut, "404 not_found") || !strings.Contains(errOut, "provider contoso does not exist") || !strings.Contains(errOut, fakemaa.RequestID) {
		t.Errorf("stderr: %s", errOut)
	}
	out, _ = mustRemote(t, 1, remoteArgs(conn, "provider", "show", "contoso", "-o", "json")...)
	var e struct {
		Error struct {
			Status int
			Code   string
		}
	}
	if json.Unmarshal([]byte(out), &e) != nil || e.Error.Status != 404 || e.Error.Code != "not_found" {
		t.Errorf("json error:\n%s", out)
	}
	mustRemote(t, 1, "provider", "list", "--server", f.URL, "--ca-cert", conn[5]) // no token: 401
	mustRemote(t, 1, remoteArgs(conn, "provider", "create", "fabrikam")...)       // conflict
}

func TestProviderCLIUsageAndConnection(t *testing.T) {
	f, conn := remoteFake(t)
	for _, args := range [][]string{
		{"provider", "list"}, // no server
		remoteArgs(conn, "provider", "create"),
		remoteArgs(conn, "provider", "create", "x", "--trust-model", "Shared"),
		remoteArgs(conn, "provider", "create", "x", "--trust-model", "Isolated"),
		remoteArgs(conn, "provider", "create", "x", "--grace", "soon"),
		remoteArgs(conn, "provider", "create", "x", "--signer-cert", "/nonexistent.pem"),
		remoteArgs(conn, "provider", "update", "x"),
		remoteArgs(conn, "provider", "list", "-o", "yaml"),
		remoteArgs(conn, "provider", "show", "a", "b"),
		{"provider", "list", "--server", "localhost:8443"},
		{"provider", "list", "--server", f.URL, "--ca-cert", "/nonexistent.pem"},
		{"provider", "list", "--server", f.URL, "--token", fakemaa.OwnerToken}, // self-signed, untrusted
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	_, errOut := mustRemote(t, 2, "provider", "list", "--server", f.URL, "--token", fakemaa.OwnerToken)
	if !strings.Contains(errOut, "cannot reach "+f.URL+"/management/providers") || !strings.Contains(errOut, "--ca-cert") {
		t.Errorf("untrusted certificate: %s", errOut)
	}
	// --insecure-skip-verify instead of --ca-cert; the environment instead
	// of the flags.
	mustRemote(t, 0, "provider", "list", "--server", f.URL, "--token", fakemaa.OwnerToken, "--insecure-skip-verify")
	t.Setenv(envServer, f.URL)
	t.Setenv(envToken, fakemaa.OwnerToken)
	t.Setenv(envCACert, conn[5])
	out, _ := mustRemote(t, 0, "provider", "list")
	if !strings.Contains(out, "no providers") {
		t.Errorf("empty list: %q", out)
	}
	// Connection refused.
	f.Close()
	_, errOut = mustRemote(t, 2, "provider", "list")
	if !strings.Contains(errOut, "cannot reach") {
		t.Errorf("stderr: %s", errOut)
	}
}
