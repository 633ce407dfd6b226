package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/nvgpu/nvgpusim"
	"github.com/avowhq/avow/sgxsim"
)

// TestSimulatedGPUOverHTTPS: a --dev node trusts its simulated GPU; the
// GPU's evidence attests over HTTPS with an explicit nonce and bound to
// runtime data, the token is marked simulated and carries the GPU claims;
// a node without --dev refuses the same evidence.
func TestSimulatedGPUOverHTTPS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, c := startNode(t, dir, nil)
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "gpus"})
	if err != nil {
		t.Fatal(err)
	}
	g, err := nvgpusim.Load(filepath.Join(dir, "sim", "gpu"))
	if err != nil {
		t.Fatal(err)
	}
	nonce := sha256.Sum256([]byte("challenge"))
	item, err := g.Item(nonce[:], nvgpusim.ReportOptions{Versioned: true, FSPSVN: 4})
	if err != nil {
		t.Fatal(err)
	}
	ev := []client.GPUEvidence{{Arch: item.Arch, Certificate: item.Certificate, Evidence: item.Evidence}}
	tok, err := c.AttestGPU(ctx, p.AttestURI, ev, "", client.AttestOptions{RuntimeData: []byte("challenge")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := client.DecodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"x-avow-simulated":            "true",
		"x-nvidia-gpu-measres":        "success",
		"x-nvidia-gpu-driver-version": nvgpusim.DriverVersion,
		"x-nvidia-gpu-hwmodel":        "SIM100 A01 GSP BROM",
		"x-avow-gpu-ocsp-max-age":     "",
	} {
		if got := jsonString(d.Claims[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	gpus, _ := d.Claims["x-nvidia-gpus"].(map[string]any)
	g0, _ := gpus["GPU-0"].(map[string]any)
	if jsonString(g0["x-avow-gpu-fsp-ucode-svn"]) != "4" || g0["secboot"] != true {
		t.Errorf("GPU-0 %v", g0)
	}
	// Explicit nonce; runtime data that the nonce is not the hash of.
	if _, err := c.AttestGPU(ctx, p.AttestURI, ev, "00"+jsonHex(nonce[1:]), client.AttestOptions{}); err == nil {
		t.Error("a nonce the report does not carry was accepted")
	}
	if _, err := c.AttestGPU(ctx, p.AttestURI, ev, "", client.AttestOptions{RuntimeData: []byte("other")}); err == nil {
		t.Error("runtime data the nonce does not hash was accepted")
	}
	// Firmware the RIMs do not describe: the default policy refuses.
	bad, _ := g.Item(nonce[:], nvgpusim.ReportOptions{Measurements: map[int][]byte{2: make([]byte, 48)}})
	_, err = c.AttestGPU(ctx, p.AttestURI, []client.GPUEvidence{{Arch: bad.Arch, Certificate: bad.Certificate, Evidence: bad.Evidence}}, jsonHex(nonce[:]), client.AttestOptions{})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Code != "policy_denied" {
		t.Errorf("mismatched measurements: %v", err)
	}

	// A node without --dev does not trust the simulated GPU.
	_, c2 := startNode(t, t.TempDir(), func(cfg *Config) {
		cfg.Dev = false
		cfg.GPUCollateral = filepath.Join(vectors.Dir(t, "nvgpu"), "h100-550.90.07-complete")
	})
	p2, err := c2.CreateProvider(ctx, client.CreateProviderRequest{Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.AttestGPU(ctx, p2.AttestURI, ev, jsonHex(nonce[:]), client.AttestOptions{}); !errors.As(err, &ce) || ce.Code != "gpu_chain_untrusted_root" {
		t.Errorf("simulated GPU on a production node: %v", err)
	}
}

func jsonHex(b []byte) string {
	const h = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, x := range b {
		out = append(out, h[x>>4], h[x&15])
	}
	return string(out)
}

// TestSimulatedCPUAndGPUOverHTTPS: a simulated TDX VM with a simulated GPU
// attests over HTTPS into one token (Intel Trust Authority's binding: the
// GPU nonce and REPORTDATA from one verifier nonce), marked simulated.
func TestSimulatedCPUAndGPUOverHTTPS(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	n, c := startNode(t, dir, nil)
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "cvm"})
	if err != nil {
		t.Fatal(err)
	}
	platform, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	g, err := nvgpusim.Load(filepath.Join(dir, "sim", "gpu"))
	if err != nil {
		t.Fatal(err)
	}
	val, iat, user := []byte("challenge-value"), []byte("1733600000"), []byte("tls-key-hash")
	gn := sha256.Sum256(append(append([]byte{}, val...), iat...))
	rd := sha512.Sum512(append(append(append([]byte{}, val...), iat...), user...))
	q, err := platform.Quote(sgxsim.QuoteOptions{TEE: sgxsim.TDX, ReportData: rd[:]})
	if err != nil {
		t.Fatal(err)
	}
	item, err := g.Item(gn[:], nvgpusim.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(map[string]any{
		"quote":       enc(q),
		"runtimeData": map[string]string{"data": enc(user), "dataType": "Binary"},
		"nvgpu": map[string]any{"verifier_nonce": map[string]any{"val": val, "iat": iat}, "arch": "HOPPER",
			"evidence_list": []map[string]string{{"evidence": item.Evidence, "certificate": item.Certificate}}},
	})
	hc, err := n.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Post(p.AttestURI+"/attest/TdxVm?api-version=2025-06-01", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Token string }
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || json.Unmarshal(raw, &out) != nil {
		t.Fatalf("%d %s", resp.StatusCode, raw)
	}
	if !strings.HasPrefix(n.URL, "https://") {
		t.Errorf("not HTTPS: %s", n.URL)
	}
	d, err := client.DecodeToken(out.Token)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"x-ms-attestation-type": "tdxvm", "x-avow-binding": "ita", "x-avow-all-bound": "true",
		"x-nvidia-gpu-measres": "success", "x-avow-simulated": "true", "attester_tcb_status": "UpToDate",
	} {
		if got := jsonString(d.Claims[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
}

// TestRealGPUWithStoredCollateralOverHTTPS: an air-gapped node (no --dev,
// clock at the vector's time) with NVIDIA's collateral imported into its
// store attests the real H100 over HTTPS once the provider accepts OCSP
// answers judged at their own time.
func TestRealGPUWithStoredCollateralOverHTTPS(t *testing.T) {
	ctx := context.Background()
	set := filepath.Join(vectors.Dir(t, "nvgpu"), "h100-550.90.07-complete")
	n, c := startNode(t, t.TempDir(), func(cfg *Config) {
		cfg.Dev = false
		cfg.Clock = fixedClock{time.Date(2025, 10, 24, 12, 0, 0, 0, time.UTC)}
	})
	folder, err := nvgpu.LoadDir(set)
	if err != nil {
		t.Fatal(err)
	}
	if rows, err := NewGPUStore(n.store, nil).Import(ctx, folder, nil, "import"); err != nil || len(rows) != 9 {
		t.Fatalf("import: %d rows, %v", len(rows), err)
	}
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "h100", Settings: &client.Settings{TypeSettings: map[string]map[string]string{"NvidiaGpu": {"maxRevocationAge": "2160h"}}}})
	if err != nil {
		t.Fatal(err)
	}
	report, _ := os.ReadFile(filepath.Join(set, "evidence/test_raw_gpu_attestation_report.dat"))
	chain, _ := os.ReadFile(filepath.Join(set, "evidence/hopperCertChain.txt"))
	ev := []client.GPUEvidence{{Arch: "HOPPER", Certificate: base64.StdEncoding.EncodeToString(chain), Evidence: base64.StdEncoding.EncodeToString(report)}}
	tok, err := c.AttestGPU(ctx, p.AttestURI, ev, "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb", client.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := client.DecodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"x-nvidia-gpu-measres": "success", "x-avow-gpu-revocation-as-of": "2025-08-21T06:47:07Z",
		"x-avow-gpu-ocsp-max-age": "2160h0m0s", "x-nvidia-gpu-hwmodel": "GH100 A01 GSP BROM",
	} {
		if got := jsonString(d.Claims[k]); got != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if d.Claims["x-avow-simulated"] != nil {
		t.Error("a real GPU marked simulated")
	}
}

// TestRealGPUOnline: a node with --gpu-online (here a loopback mirror of
// NVIDIA's services serving the vectors' RIMs and OCSP answers) attests
// the real H100 without imported collateral.
func TestRealGPUOnline(t *testing.T) {
	ctx := context.Background()
	set := filepath.Join(vectors.Dir(t, "nvgpu"), "h100-550.90.07-complete")
	answers := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join(set, "ocsp", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		der, _ := nvgpu.DecodeOCSP(b)
		keys, _ := nvgpu.ResponseKeys(der)
		answers[keys[0].Serial] = der
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/rim/{id}", func(w http.ResponseWriter, r *http.Request) {
		doc, err := os.ReadFile(filepath.Join(set, "rims", r.PathValue("id")+".xml"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"rim": base64.StdEncoding.EncodeToString(doc)})
	})
	mux.HandleFunc("POST /ocsp", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		w.Write(answers[strings.ToUpper(req.SerialNumber.Text(16))])
	})
	mirror := httptest.NewServer(mux)
	defer mirror.Close()
	_, c := startNode(t, t.TempDir(), func(cfg *Config) {
		cfg.Dev = false
		cfg.Clock = fixedClock{time.Date(2025, 10, 24, 12, 0, 0, 0, time.UTC)}
		cfg.GPURIMService, cfg.GPUOCSPURL = mirror.URL+"/v1/rim/", mirror.URL+"/ocsp"
	})
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "online", Settings: &client.Settings{TypeSettings: map[string]map[string]string{"NvidiaGpu": {"maxRevocationAge": "2160h"}}}})
	if err != nil {
		t.Fatal(err)
	}
	report, _ := os.ReadFile(filepath.Join(set, "evidence/test_raw_gpu_attestation_report.dat"))
	chain, _ := os.ReadFile(filepath.Join(set, "evidence/hopperCertChain.txt"))
	ev := []client.GPUEvidence{{Arch: "HOPPER", Certificate: base64.StdEncoding.EncodeToString(chain), Evidence: base64.StdEncoding.EncodeToString(report)}}
	tok, err := c.AttestGPU(ctx, p.AttestURI, ev, "931d8dd0add203ac3d8b4fbde75e115278eefcdceac5b87671a748f32364dfcb", client.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, _ := client.DecodeToken(tok)
	if jsonString(d.Claims["x-nvidia-gpu-measres"]) != "success" {
		t.Errorf("claims %v", d.Claims)
	}
}
