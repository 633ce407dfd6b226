package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/internal/testenv"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/sgxsim"
)

// collateralNode starts a real server with the given collateral options
// and returns the connection flags for it.
func collateralNode(t *testing.T, clock *testenv.Clock, o server.CollateralOptions) []string {
	t.Helper()
	n, err := server.Start(context.Background(), server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "data"),
		Clock: clock, Collateral: o})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	return []string{"--server", n.URL, "--token", n.AdminToken.Secret, "--ca-cert", n.CertFile}
}

// TestCollateralLifecycleCLI: import, refresh from a PCCS-like source,
// show with history and hashes, a history bundle, export to a folder and
// import it on an air-gapped server, prune, a failing refresh, and an
// export fetched straight from a source.
func TestCollateralLifecycleCLI(t *testing.T) {
	remoteEnv(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sim := sgxsim.Default()
	rootFile := filepath.Join(t.TempDir(), "sim-root.pem")
	os.WriteFile(rootFile, sim.RootPEM(), 0o644)
	pccs := pcsfake.New(pcs.KindPCCS)
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		col, err := sim.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: t0})
		if err != nil {
			t.Fatal(err)
		}
		pccs.Add(col)
	}
	url := pccs.Start(t)
	clock := testenv.NewClock(t0.Add(time.Hour))
	conn := collateralNode(t, clock, server.CollateralOptions{Sources: []string{url}, TrustRoots: []string{rootFile}})

	out, _ := mustRemote(t, 0, remoteArgs(conn, "collateral", "refresh")...)
	if !strings.Contains(out, "no collateral stored") {
		t.Errorf("refresh with nothing stored:\n%s", out)
	}
	old, err := sim.Collateral(sgxsim.CollateralOptions{Now: t0.Add(-48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := pcs.Identify(old)
	key := "sgx/" + id.FMSPC
	oldFile := filepath.Join(t.TempDir(), "old.json")
	b, _ := old.MarshalBundle()
	os.WriteFile(oldFile, b, 0o644)
	mustRemote(t, 0, remoteArgs(conn, "collateral", "import", oldFile)...)

	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "refresh", key)...)
	if !strings.Contains(out, "updated") || !strings.Contains(out, "2026-03-31T00:00:00Z") {
		t.Errorf("refresh:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "show", key)...)
	if !strings.Contains(out, "TCBINFOHASH") || !strings.Contains(out, old.Hashes().TCBInfoHash) || !strings.Contains(out, "pccs "+url) {
		t.Errorf("show:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "show", key, "-o", "json")...)
	var view struct {
		History []struct {
			ID     int64
			Hashes struct{ TCBInfoHash string }
		}
		Expired bool
	}
	if err := json.Unmarshal([]byte(out), &view); err != nil || len(view.History) != 2 || view.Expired {
		t.Fatalf("show json: %v\n%s", err, out)
	}
	oldest := view.History[1]
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "show", key, "--bundle", "--id", strconv.FormatInt(oldest.ID, 10))...)
	if got, err := pcs.ParseBundle([]byte(out)); err != nil || !bytes.Equal(got.TCBInfo, old.TCBInfo) {
		t.Errorf("history bundle: %v", err)
	}

	dir := filepath.Join(t.TempDir(), "export")
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "export", dir)...)
	if !strings.Contains(out, "exported 1 collateral sets") {
		t.Errorf("export:\n%s", out)
	}
	if cols, err := pcs.LoadAll(dir); err != nil || len(cols) != 1 {
		t.Fatalf("exported folder: %d sets, %v", len(cols), err)
	}
	if _, err := os.Stat(filepath.Join(dir, "sgx-"+id.FMSPC+"-0000.json")); err != nil {
		t.Error(err)
	}
	airgapped := collateralNode(t, clock, server.CollateralOptions{TrustRoots: []string{rootFile}})
	mustRemote(t, 0, remoteArgs(airgapped, "collateral", "import", dir)...)
	out, _ = mustRemote(t, 0, remoteArgs(airgapped, "collateral", "list")...)
	if !strings.Contains(out, id.FMSPC) {
		t.Errorf("air-gapped list:\n%s", out)
	}
	// Refresh needs sources.
	mustRemote(t, 1, remoteArgs(airgapped, "collateral", "refresh")...)

	clock.Advance(2 * time.Hour)
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "prune", "--older-than", "1h")...)
	if !strings.Contains(out, "deleted 1 collateral history rows") {
		t.Errorf("prune:\n%s", out)
	}
	pccs.Fail(503)
	out, _ = mustRemote(t, 1, remoteArgs(conn, "collateral", "refresh")...)
	if !strings.Contains(out, "failed") || !strings.Contains(out, "503") {
		t.Errorf("failing refresh:\n%s", out)
	}
	pccs.Fail(0)

	direct := filepath.Join(t.TempDir(), "direct")
	out, _ = mustRemote(t, 0, "collateral", "export", direct, "--source", url, "--platform", "tdx/"+id.FMSPC, "--trust-root", rootFile)
	if cols, err := pcs.LoadAll(direct); err != nil || len(cols) != 1 {
		t.Fatalf("direct export: %v\n%s", err, out)
	}
	// Without --trust-root the simulated collateral does not verify.
	mustRemote(t, 2, "collateral", "export", filepath.Join(t.TempDir(), "x"), "--source", url, "--platform", "tdx/"+id.FMSPC)
}

// TestCollateralTCBNumbersCLI: a server holding two TCB evaluation data
// numbers of one platform lists both (the older pinned), exports both and
// an air-gapped server importing the folder holds both with the newer
// current; export --source fetches a baseline by number; tcb-numbers lists
// a PCCS's signed numbers (Intel's real TDX list).
func TestCollateralTCBNumbersCLI(t *testing.T) {
	remoteEnv(t)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	sim := sgxsim.Default()
	rootFile := filepath.Join(t.TempDir(), "sim-root.pem")
	os.WriteFile(rootFile, sim.RootPEM(), 0o644)
	clock := testenv.NewClock(t0.Add(time.Hour))
	conn := collateralNode(t, clock, server.CollateralOptions{TrustRoots: []string{rootFile}})
	pccs := pcsfake.New(pcs.KindPCCS)
	var fmspc string
	for _, n := range []int{sgxsim.RecoveredTCBEvaluationDataNumber, sgxsim.TCBEvaluationDataNumber} { // 18 first: 17 is pinned
		col, err := sim.Collateral(sgxsim.CollateralOptions{Now: t0, TCBEvaluationDataNumber: n})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := pcs.Identify(col)
		fmspc = id.FMSPC
		f := filepath.Join(t.TempDir(), "c.json")
		b, _ := col.MarshalBundle()
		os.WriteFile(f, b, 0o644)
		mustRemote(t, 0, remoteArgs(conn, "collateral", "import", f)...)
		if n == sgxsim.RecoveredTCBEvaluationDataNumber {
			pccs.Add(col)
		} else {
			pccs.AddBaseline(col)
		}
	}
	out, _ := mustRemote(t, 0, remoteArgs(conn, "collateral", "list")...)
	if !strings.Contains(out, "TCB EVAL") || !strings.Contains(out, "17 (pinned)") || !strings.Contains(out, "18 ") {
		t.Errorf("list:\n%s", out)
	}
	dir := filepath.Join(t.TempDir(), "export")
	mustRemote(t, 0, remoteArgs(conn, "collateral", "export", dir)...)
	for _, f := range []string{"sgx-" + fmspc + "-0000.json", "sgx-" + fmspc + "-0000-tcb17.json"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	airgapped := collateralNode(t, clock, server.CollateralOptions{TrustRoots: []string{rootFile}})
	mustRemote(t, 0, remoteArgs(airgapped, "collateral", "import", dir)...)
	out, _ = mustRemote(t, 0, remoteArgs(airgapped, "collateral", "list", "-o", "json")...)
	var list struct {
		Collateral []struct {
			TCBEvaluationDataNumber uint32
			Pinned                  bool
		}
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list.Collateral) != 2 ||
		list.Collateral[0].TCBEvaluationDataNumber != 17 || list.Collateral[1].TCBEvaluationDataNumber != 18 || list.Collateral[1].Pinned {
		t.Errorf("air-gapped list: %v\n%s", err, out)
	}

	url := pccs.Start(t)
	direct := filepath.Join(t.TempDir(), "direct")
	mustRemote(t, 0, "collateral", "export", direct, "--source", url, "--platform", "sgx/"+fmspc+":platform", "--trust-root", rootFile, "--tcb-evaluation-data-number", "17")
	if _, err := os.Stat(filepath.Join(direct, "sgx-"+fmspc+"-0000-tcb17.json")); err != nil {
		t.Errorf("direct export of baseline 17: %v", err)
	}
	mustRemote(t, 2, "collateral", "export", filepath.Join(t.TempDir(), "x"), "--source", url, "--platform", "sgx/"+fmspc+":platform", "--trust-root", rootFile, "--tcb-evaluation-data-number", "16")

	raw := filepath.Join("..", "..", "testdata", "vectors", "dcap", "raw", "automata-dcap-attestation")
	body, err := os.ReadFile(filepath.Join(raw, "evm-0625-tdx-v4", "tdxtcbeval.json"))
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, f := range []string{"evm-common/tcb_signing.der", "evm-common/root_ca.der"} {
		der, _ := os.ReadFile(filepath.Join(raw, f))
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	pccs.SetTCBEvaluationDataNumbers("tdx", body, chain)
	out, _ = mustRemote(t, 0, "collateral", "tcb-numbers", "--source", url, "--tee", "tdx")
	for _, want := range []string{"TCB EVAL", "19", "2025-05-13T00:00:00Z", "2024-11-13T00:00:00Z", "17"} {
		if !strings.Contains(out, want) {
			t.Errorf("tcb-numbers lacks %q:\n%s", want, out)
		}
	}
	mustRemote(t, 2, "collateral", "tcb-numbers", "--source", url, "--tee", "sgx")
}

// TestCollateralExpiredCLI: on a real server whose clock is past the
// collateral's dates, importing real collateral (S01) warns with the
// expired documents and since when, the list marks the row and show says
// "EXPIRED 1 year 4 months ago" (not a negative Go duration).
func TestCollateralExpiredCLI(t *testing.T) {
	remoteEnv(t)
	clock := testenv.NewClock(time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC))
	conn := collateralNode(t, clock, server.CollateralOptions{})
	file := filepath.Join(vectors.Dir(t, "dcap"), "S01-sgx-v3-phala", "collateral.json")
	out, errOut := mustRemote(t, 0, remoteArgs(conn, "collateral", "import", file)...)
	want := "avow: warning: " + file + ": sgx/00a067110000/0000: the collateral is expired: QE identity expired 1 year 4 months ago (2025-07-19T10:01:18Z), PCK CRL expired 1 year 4 months ago"
	if !strings.Contains(out, "imported collateral from "+file) || !strings.Contains(errOut, want) {
		t.Errorf("import:\n%s\nstderr:\n%s\nwant %s", out, errOut, want)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "list")...)
	if !strings.Contains(out, "STATUS") || !strings.Contains(out, "EXPIRED 1 year 4 months ago") {
		t.Errorf("list:\n%s", out)
	}
	out, _ = mustRemote(t, 0, remoteArgs(conn, "collateral", "show", "sgx/00a067110000")...)
	if !strings.Contains(out, "2025-07-19T10:01:18Z (EXPIRED 1 year 4 months ago)") || !strings.Contains(out, "age:") || strings.Contains(out, "-12") {
		t.Errorf("show:\n%s", out)
	}
}
