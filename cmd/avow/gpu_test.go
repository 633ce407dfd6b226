package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ocsp"

	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/nvgpu"
)

const gpuNonce = "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb"

func gpuSet(t *testing.T) string {
	return filepath.Join(vectors.Dir(t, "nvgpu"), "h100-550.90.07-complete")
}

func decodeGPUOutput(t *testing.T, out string) []gpuOutput {
	t.Helper()
	var got []gpuOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	return got
}

// TestGPUVerifyVectors: the complete H100 set verifies with each OCSP
// answer judged at its own time, and is rejected with every answer judged
// at --at; exit codes 0 and 1.
func TestGPUVerifyVectors(t *testing.T) {
	set := gpuSet(t)
	base := []string{"gpu", "verify", filepath.Join(set, "evidence/hopperAttestationReport.txt"),
		"--certificate", filepath.Join(set, "evidence/hopperCertChain.txt"), "--nonce", gpuNonce,
		"--collateral", set, "--at", "2025-10-24T12:00:00Z", "--output", "json"}

	code, out := runCLI(t, append(base, "--ocsp-max-age", "2160h")...)
	got := decodeGPUOutput(t, out)
	if code != 0 || len(got) != 1 || got[0].Result != "ok" {
		t.Fatalf("exit %d: %s", code, out)
	}
	c := got[0].Claims
	if c["measres"] != "success" || c["hwmodel"] != "GH100 A01 GSP BROM" || c["x-nvidia-gpu-driver-version"] != "550.90.07" ||
		c["x-avow-gpu-revocation-as-of"] != "2025-08-21T06:47:07Z" {
		t.Errorf("claims %v", c)
	}
	if !strings.Contains(out, `"measurements_match": true`) {
		t.Errorf("checks: %s", out)
	}

	code, out = runCLI(t, base...)
	got = decodeGPUOutput(t, out)
	if code != 1 || got[0].Result != "gpu_ocsp_stale" {
		t.Errorf("judged at one instant: exit %d, %s", code, out)
	}

	// Evidence-only (no collateral): the evidence checks pass, the GPU is
	// rejected for want of revocation data.
	code, out = runCLI(t, "gpu", "verify", filepath.Join(set, "evidence/hopperAttestationReport.txt"),
		"--certificate", filepath.Join(set, "evidence/hopperCertChain.txt"), "--nonce", gpuNonce, "--at", "2025-08-21T12:00:00Z", "-o", "json")
	got = decodeGPUOutput(t, out)
	if code != 1 || got[0].Result != "gpu_ocsp_missing" || !strings.Contains(out, `"fwid_match": true`) {
		t.Errorf("without collateral: exit %d, %s", code, out)
	}
}

// TestGPUVerifyEvidenceList: FILE in NVIDIA's client shape, two GPUs,
// text output.
func TestGPUVerifyEvidenceList(t *testing.T) {
	set := gpuSet(t)
	report, err := os.ReadFile(filepath.Join(set, "evidence/test_raw_gpu_attestation_report.dat"))
	if err != nil {
		t.Fatal(err)
	}
	chain, err := os.ReadFile(filepath.Join(set, "evidence/hopperCertChain.txt"))
	if err != nil {
		t.Fatal(err)
	}
	item := map[string]string{"arch": "HOPPER", "certificate": base64.StdEncoding.EncodeToString(chain), "evidence": base64.StdEncoding.EncodeToString(report)}
	body, _ := json.Marshal(map[string]any{"evidence_list": []any{item, item}})
	file := filepath.Join(t.TempDir(), "evidence.json")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "gpu", "verify", file, "--nonce", gpuNonce, "--collateral", set, "--at", "2025-10-24T12:00:00Z", "--ocsp-max-age", "2160h")
	if code != 0 || strings.Count(out, ": ok — genuine NVIDIA GPU") != 2 || !strings.Contains(out, "GPU-1: ok") {
		t.Errorf("exit %d:\n%s", code, out)
	}
	// A wrong nonce rejects both.
	code, out = runCLI(t, "gpu", "verify", file, "--nonce", strings.Repeat("00", 32), "--collateral", set, "--at", "2025-10-24T12:00:00Z", "-o", "json")
	if got := decodeGPUOutput(t, out); code != 1 || len(got) != 2 || got[1].Result != "gpu_nonce_mismatch" {
		t.Errorf("wrong nonce: exit %d %s", code, out)
	}
}

func TestGPUVerifyUsage(t *testing.T) {
	set := gpuSet(t)
	for _, args := range [][]string{
		{"gpu", "verify", filepath.Join(set, "evidence/hopperAttestationReport.txt"), "--nonce", "abcd"},
		{"gpu", "verify", filepath.Join(set, "expected.json"), "--nonce", gpuNonce},
		{"gpu", "verify", filepath.Join(set, "evidence/hopperAttestationReport.txt"), "--certificate", filepath.Join(set, "evidence/hopperCertChain.txt"), "--nonce", gpuNonce, "--at", "yesterday"},
		{"gpu", "verify", filepath.Join(set, "evidence/hopperAttestationReport.txt"), "--certificate", filepath.Join(set, "evidence/hopperCertChain.txt"), "--nonce", gpuNonce, "-o", "yaml"},
	} {
		if code, _, _ := runAvow(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args[3:], code)
		}
	}
}

// TestCollateralFetchNvidia: fetch from a fake NVIDIA (httptest) into a
// folder, then verify offline with it.
func TestCollateralFetchNvidia(t *testing.T) {
	set := gpuSet(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/rim/{id}", func(w http.ResponseWriter, r *http.Request) {
		doc, err := os.ReadFile(filepath.Join(set, "rims", r.PathValue("id")+".xml"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"rim": base64.StdEncoding.EncodeToString(doc)})
	})
	answers := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(set, "ocsp", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		der, _ := nvgpu.DecodeOCSP(b)
		keys, _ := nvgpu.ResponseKeys(der)
		answers[keys[0].Serial] = der
	}
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, "bad", 400)
			return
		}
		w.Write(answers[strings.ToUpper(req.SerialNumber.Text(16))])
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	report, _ := os.ReadFile(filepath.Join(set, "evidence/test_raw_gpu_attestation_report.dat"))
	chain, _ := os.ReadFile(filepath.Join(set, "evidence/hopperCertChain.txt"))
	body, _ := json.Marshal([]map[string]string{{"arch": "HOPPER", "certificate": base64.StdEncoding.EncodeToString(chain), "evidence": base64.StdEncoding.EncodeToString(report)}})
	dir := t.TempDir()
	evFile := filepath.Join(dir, "evidence.json")
	os.WriteFile(evFile, body, 0o644)
	out := filepath.Join(dir, "nvidia")
	code, stdout := runCLI(t, "collateral", "fetch", "nvidia", "--from-evidence", evFile, "--out", out, "--rim-service", srv.URL+"/v1/rim/", "--ocsp-url", srv.URL+"/")
	if code != 0 || strings.Count(stdout, "rim  ") != 2 || strings.Count(stdout, "ocsp ") != 7 {
		t.Fatalf("fetch: exit %d\n%s", code, stdout)
	}
	code, stdout = runCLI(t, "gpu", "verify", evFile, "--nonce", gpuNonce, "--collateral", out, "--at", "2025-10-24T12:00:00Z", "--ocsp-max-age", "2160h")
	if code != 0 {
		t.Errorf("verify with fetched collateral: exit %d\n%s", code, stdout)
	}
	if code, _, _ := runAvow(t, "collateral", "fetch", "intel", "--from-evidence", evFile, "--out", out); code != 2 {
		t.Errorf("fetch intel: exit %d", code)
	}
}

// TestSimGPUVerifyOffline: avow sim gpu evidence and collateral, then avow
// gpu verify with the simulated roots; without them NVIDIA's pinned roots
// refuse the simulated GPU.
func TestSimGPUVerifyOffline(t *testing.T) {
	dir := t.TempDir()
	sim := filepath.Join(dir, "sim")
	nonce := strings.Repeat("ab", 32)
	ev, col := filepath.Join(dir, "ev.json"), filepath.Join(dir, "col")
	if code, _, errOut := runAvow(t, "sim", "--sim-dir", sim, "gpu", "evidence", "--nonce", nonce, "--out", ev, "--gpus", "2", "--nvdaod", "--fsp-svn", "3"); code != 0 {
		t.Fatalf("sim gpu evidence: %d %s", code, errOut)
	}
	if code, _, errOut := runAvow(t, "sim", "--sim-dir", sim, "gpu", "collateral", "--out", col); code != 0 {
		t.Fatalf("sim gpu collateral: %d %s", code, errOut)
	}
	code, out := runCLI(t, "gpu", "verify", ev, "--nonce", nonce, "--collateral", col, "--device-root", filepath.Join(col, "device-root.pem"),
		"--rim-root", filepath.Join(col, "rim-root.pem"), "--min-fsp-svn", "3", "-o", "json")
	got := decodeGPUOutput(t, out)
	if code != 0 || len(got) != 2 || got[1].Result != "ok" || got[0].Claims["x-avow-gpu-fsp-ucode-svn"] != float64(3) {
		t.Fatalf("exit %d: %s", code, out)
	}
	code, out = runCLI(t, "gpu", "verify", ev, "--nonce", nonce, "--collateral", col, "-o", "json")
	if got := decodeGPUOutput(t, out); code != 1 || got[0].Result != "gpu_chain_untrusted_root" {
		t.Errorf("NVIDIA's roots: exit %d %s", code, out)
	}
}

// TestGPUCollateralImportExport: a fetched folder imported into a store,
// exported again, and the export verifies the complete H100 set; a folder
// with a tampered RIM is refused (exit 1).
func TestGPUCollateralImportExport(t *testing.T) {
	set := gpuSet(t)
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "avow.db")
	code, out := runCLI(t, "gpu", "collateral", "import", set, "--store", db)
	if code != 0 || strings.Count(out, "rim ") != 2 || strings.Count(out, "ocsp ") != 7 {
		t.Fatalf("import: exit %d\n%s", code, out)
	}
	exported := filepath.Join(dir, "export")
	if code, _, errOut := runAvow(t, "gpu", "collateral", "export", "--store", db, "--out", exported); code != 0 || !strings.Contains(errOut, "wrote 9 items") {
		t.Fatalf("export: exit %d %s", code, errOut)
	}
	code, out = runCLI(t, "gpu", "verify", filepath.Join(set, "evidence/hopperAttestationReport.txt"), "--certificate", filepath.Join(set, "evidence/hopperCertChain.txt"),
		"--nonce", gpuNonce, "--collateral", exported, "--at", "2025-10-24T12:00:00Z", "--ocsp-max-age", "2160h")
	if code != 0 {
		t.Errorf("verify with the exported folder: exit %d\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad")
	os.MkdirAll(filepath.Join(bad, "rims"), 0o755)
	doc, _ := os.ReadFile(filepath.Join(set, "rims", "NV_GPU_DRIVER_GH100_550.90.07.xml"))
	os.WriteFile(filepath.Join(bad, "rims", "NV_GPU_DRIVER_GH100_550.90.07.xml"), bytes.Replace(doc, []byte(`Hash0="80161aac`), []byte(`Hash0="90161aac`), 1), 0o644)
	if code, _, errOut := runAvow(t, "gpu", "collateral", "import", bad, "--store", db); code != 1 || !strings.Contains(errOut, "gpu_rim_signature_invalid") {
		t.Errorf("tampered RIM: exit %d %s", code, errOut)
	}
}
