package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/snp/snpsim"
)

// fetch (from an httptest KDS) → folder → import into a store → export →
// the same folder; snp verify of a bare report with --kds FOLDER.
func TestSNPCollateralCLI(t *testing.T) {
	dir := t.TempDir()
	simDir := filepath.Join(dir, "sim")
	sim, err := snpsim.Open(snpsim.DirBeside(simDir))
	if err != nil {
		t.Fatal(err)
	}
	_, vcek, _ := sim.Report(snpsim.ReportOptions{})
	crl, _ := sim.CRL(time.Now().Add(-time.Hour))
	files := map[string][]byte{}
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, ok := files[r.URL.RequestURI()]; ok {
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	defer kds.Close()
	k := &snp.KDS{BaseURL: kds.URL}
	files[strings.TrimPrefix(k.VCEKURL(snpsim.Product, sim.ChipID(), snpsim.ComposeTCB(sim.TCB())), kds.URL)] = vcek
	files["/vcek/v1/Milan/crl"] = crl

	report := filepath.Join(dir, "report.bin")
	roots := filepath.Join(dir, "roots.pem")
	mustRemote(t, 0, "sim", "snp", "report", "--sim-dir", simDir, "--format", "raw", "--out", report)
	mustRemote(t, 0, "sim", "snp", "root", "--sim-dir", simDir, "--out", roots)
	fetched := filepath.Join(dir, "fetched")
	out, _ := mustRemote(t, 0, "snp", "collateral", "fetch", "--kds", kds.URL, "--roots", roots, "--out", fetched, report)
	if !strings.Contains(out, "VCEK Milan/") || !strings.Contains(out, "CRL Milan/vcek") {
		t.Errorf("fetch: %s", out)
	}
	// Verify the bare report offline from the folder.
	out, _ = mustRemote(t, 0, "snp", "verify", report, "--roots", roots, "--kds", fetched)
	if !strings.Contains(out, `"result": "ok"`) || !strings.Contains(out, `"crl_checked": true`) {
		t.Errorf("verify --kds folder: %s", out)
	}
	db := "sqlite:" + filepath.Join(dir, "avow.db")
	mustRemote(t, 0, "snp", "collateral", "import", fetched, "--store", db, "--roots", roots)
	exported := filepath.Join(dir, "exported")
	mustRemote(t, 0, "snp", "collateral", "export", "--store", db, "--out", exported)
	for _, rel := range []string{
		filepath.Join("crl", "Milan-vcek.crl"),
		strings.TrimPrefix(snp.Dir("").VCEKPath(snpsim.Product, sim.ChipID(), snpsim.ComposeTCB(sim.TCB())), "/"),
	} {
		a, err1 := os.ReadFile(filepath.Join(fetched, rel))
		b, err2 := os.ReadFile(filepath.Join(exported, rel))
		if err1 != nil || err2 != nil || string(a) != string(b) {
			t.Errorf("%s: fetched and exported differ (%v %v)", rel, err1, err2)
		}
	}
	// Without --roots the simulated VCEK is refused at import (exit 1).
	mustRemote(t, 1, "snp", "collateral", "import", fetched, "--store", "sqlite:"+filepath.Join(dir, "other.db"))
}
