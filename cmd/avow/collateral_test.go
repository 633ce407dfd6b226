package main

import (
	"bytes"
	"encoding/json"
	"github.com/avowhq/avow/internal/fakemaa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/sgxsim"
)

func TestCollateralCLI(t *testing.T) {
	f, conn := remoteFake(t)
	col, err := sgxsim.Default().Collateral(sgxsim.CollateralOptions{Now: fakemaa.Now})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := col.MarshalBundle()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "collateral.json")
	os.WriteFile(file, bundle, 0o644)

	out, _ := mustRemote(t, 0, remoteArgs(conn, "collateral", "import", file)...)
	if !strings.Contains(out, "imported collateral from "+file) || !strings.Contains(out, "fmspc:") || !strings.Contains(out, "00906ED50000") {
		t.Errorf("import:\n%s", out)
	}
	req := f.LastRequest()
	if req.Path != "/management/collateral" || req.Auth != "Bearer "+fakemaa.OwnerToken {
		t.Errorf("request %+v", req)
	}
	if got, err := pcs.ParseBundle(req.Body); err != nil || !bytes.Equal(got.TCBInfo, col.TCBInfo) {
		t.Errorf("sent bundle: %v", err)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "list")...)
	if !strings.Contains(out, "FMSPC") || !strings.Contains(out, "sgx") || !strings.Contains(out, "import") {
		t.Errorf("list:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "list", "-o", "json")...)
	var list struct{ Collateral []map[string]any }
	if json.Unmarshal([]byte(out), &list) != nil || len(list.Collateral) != 1 || list.Collateral[0]["sha256"] == "" {
		t.Errorf("list json:\n%s", out)
	}
	// A reader cannot import: exit 1.
	mustRemote(t, 1, "collateral", "import", file, "--server", f.URL, "--token", fakemaa.ReaderToken, "--ca-cert", conn[5])
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"tcbInfo": 1}`), 0o644)
	for _, args := range [][]string{
		remoteArgs(conn, "collateral", "import"),
		remoteArgs(conn, "collateral", "import", filepath.Join(dir, "missing.json")),
		remoteArgs(conn, "collateral", "import", bad),
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
}
