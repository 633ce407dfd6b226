package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/fakemaa"
)

func TestAdminTokenCLI(t *testing.T) {
	f, conn := remoteFake(t)
	out, _ := mustRemote(t, 0, remoteArgs(conn, "admin", "token", "create", "--role", "policy-admin", "--description", "CI pipeline")...)
	if !strings.Contains(out, "admin token: avow_secret_1") || !strings.Contains(out, "tok-1") || !strings.Contains(out, "shown only now") {
		t.Errorf("create:\n%s", out)
	}
	if req := f.LastRequest(); string(req.Body) != `{"role":"policy-admin","description":"CI pipeline"}` {
		t.Errorf("create body %s", req.Body)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "admin", "token", "create", "--role", "Reader", "-o", "json")...)
	var created struct{ ID, Role, Token string }
	if json.Unmarshal([]byte(out), &created) != nil || created.Token != "avow_secret_1" || created.Role != "reader" {
		t.Errorf("create json:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "admin", "token", "list")...)
	if !strings.Contains(out, "ROLE") || !strings.Contains(out, "policy-admin") || !strings.Contains(out, "CI pipeline") || strings.Contains(out, "avow_secret") {
		t.Errorf("list:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "admin", "token", "list", "-o", "json")...)
	var list struct{ Tokens []map[string]any }
	if json.Unmarshal([]byte(out), &list) != nil || len(list.Tokens) != 2 {
		t.Errorf("list json:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "admin", "token", "revoke", "tok-1")...)
	if !strings.Contains(out, "revoked admin token tok-1") {
		t.Errorf("revoke:\n%s", out)
	}
	_, errOut := mustRemote(t, 1, remoteArgs(conn, "admin", "token", "revoke", "tok-9")...)
	if !strings.Contains(errOut, "not_found") {
		t.Errorf("stderr %s", errOut)
	}
	// A reader token cannot create: 403, exit 1.
	mustRemote(t, 1, "admin", "token", "create", "--role", "owner", "--server", f.URL, "--token", fakemaa.ReaderToken, "--ca-cert", conn[5])
	for _, args := range [][]string{
		remoteArgs(conn, "admin", "token", "create"),
		remoteArgs(conn, "admin", "token", "create", "--role", "root"),
		remoteArgs(conn, "admin", "token", "revoke"),
		remoteArgs(conn, "admin", "token", "list", "extra"),
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}
