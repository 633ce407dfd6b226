package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/fakemaa"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/vectors"
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
	if !strings.Contains(out, "STATUS") || !strings.Contains(out, "expires in ") {
		t.Errorf("list status of fresh collateral:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "list", "-o", "json")...)
	var list struct{ Collateral []map[string]any }
	if json.Unmarshal([]byte(out), &list) != nil || len(list.Collateral) != 1 || list.Collateral[0]["sha256"] == "" || list.Collateral[0]["expired"] != false {
		t.Errorf("list json:\n%s", out)
	}

	// Real collateral of 2025 is expired at the server's time: the import
	// says so on stderr (and in JSON), the list marks the row.
	expired := filepath.Join(vectors.Dir(t, "dcap"), "S01-sgx-v3-phala", "collateral.json")
	out, errOut := mustRemote(t, 0, remoteArgs(conn, "collateral", "import", expired)...)
	if !strings.Contains(out, "imported collateral") || !strings.Contains(errOut, "avow: warning: "+expired+": sgx/00906ED50000/0000: the collateral is expired: QE identity") {
		t.Errorf("import of expired collateral:\n%s\nstderr:\n%s", out, errOut)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "import", expired, "-o", "json")...)
	var imported client.Collateral
	if err := json.Unmarshal([]byte(out), &imported); err != nil || !imported.Expired || len(imported.ExpiredDocuments) == 0 || imported.ExpiredDocuments[0].Document != "QE identity" {
		t.Errorf("import json %+v %v\n%s", imported, err, out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "list")...)
	if !strings.Contains(out, "EXPIRED 1 year 4 months ago") {
		t.Errorf("list does not mark expired collateral:\n%s", out)
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
