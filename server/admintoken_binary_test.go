package server

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAdminTokenFileBinary is issue 13 item 9(c) against the avow binary:
// with --admin-token-file, avow serve does not print the secret (the
// operator has it) but that the file's token was registered; after the
// token is revoked, a restart with the same file serves, says why the
// token stays revoked, and does not fail with "conflict"; a token shorter
// than 32 characters is refused before anything starts.
func TestAdminTokenFileBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and starts the avow binary: skipped with -short")
	}
	bin := buildAvow(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "admin-token")
	secret := "avow_file_token_0123456789abcdef0123456789"
	os.WriteFile(file, []byte(secret+"\n"), 0o600)
	args := []string{"--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--admin-token-file", file}

	n := startAvow(t, "first start", bin, args...)
	time.Sleep(100 * time.Millisecond) // the lines after the URL
	out := n.out.String()
	if strings.Contains(out, secret) {
		t.Errorf("the secret from the file is printed:\n%s", out)
	}
	if !strings.Contains(out, "admin token registered from "+file) {
		t.Errorf("no word of the token from the file:\n%s", out)
	}
	// A second owner revokes the file's token.
	var second struct{ Token string }
	if st, _, raw, err := n.do("POST", "/management/admin-tokens", secret, map[string]string{"role": "owner"}, &second); err != nil || st != 201 {
		t.Fatalf("second owner: %d %v %s", st, err, raw)
	}
	var list struct {
		Tokens []struct{ ID, Description string }
	}
	if st, _, raw, err := n.do("GET", "/management/admin-tokens", secret, nil, &list); err != nil || st != 200 {
		t.Fatalf("list: %d %v %s", st, err, raw)
	}
	for _, tok := range list.Tokens {
		if tok.Description == "initial owner token" {
			if st, _, raw, err := n.do("DELETE", "/management/admin-tokens/"+tok.ID, second.Token, nil, nil); err != nil || st != 204 {
				t.Fatalf("revoke: %d %v %s", st, err, raw)
			}
		}
	}
	n.cmd.Process.Signal(os.Interrupt)
	<-n.exited

	n = startAvow(t, "restart", bin, args...)
	if st, _, _, err := n.do("GET", "/management/providers", secret, nil, nil); err != nil || st != 401 {
		t.Errorf("the revoked token after a restart: %d %v", st, err)
	}
	if st, _, _, err := n.do("GET", "/management/providers", second.Token, nil, nil); err != nil || st != 200 {
		t.Errorf("the second owner after a restart: %d %v", st, err)
	}
	time.Sleep(100 * time.Millisecond)
	if out := n.out.String(); !strings.Contains(out, "revoked") || strings.Contains(out, "conflict") || strings.Contains(out, secret) {
		t.Errorf("restart output:\n%s", out)
	}
	n.cmd.Process.Signal(os.Interrupt)
	<-n.exited

	// Too short: refused with a clear error, nothing served.
	os.WriteFile(file, []byte("avow_short_token\n"), 0o600)
	outb, err := exec.Command(bin, append([]string{"serve"}, args...)...).CombinedOutput()
	if err == nil || !strings.Contains(string(outb), "at least 32 characters") || strings.Contains(string(outb), "avow listening") {
		t.Errorf("short token: %v\n%s", err, outb)
	}
}
