package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/sevsnp"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/snp"
	"github.com/avowhq/avow/snp/snpsim"
)

const snpPolicy = `version= 1.0;
authorizationrules{
	c:[type=="x-ms-sevsnpvm-is-debuggable", value==false] => permit();
};
issuancerules{
	c:[type=="x-ms-sevsnpvm-launchmeasurement"] => issue(type="measurement", value=c.value);
};
`

// A simulated SEV-SNP VM attests end to end over HTTPS with a SevSnpVm
// policy on a --dev server; a debuggable one is refused by the policy.
func TestSevSnpVmSimulatedOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, c := startNode(t, dir, nil)
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "cvm"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetPolicy(ctx, p.AttestURI, sevsnp.Name, policy.UnsignedDocument(snpPolicy)); err != nil {
		t.Fatal(err)
	}
	sim, err := snpsim.Open(snpsim.DirBeside(filepath.Join(dir, "sim")))
	if err != nil {
		t.Fatal(err)
	}
	runtime := []byte(`{"keys":[{"kid":"HCLAkPub","kty":"RSA","e":"AQAB","n":"AQAB"}]}`)
	report := simSNPReport(t, sim, runtime, false)
	tok, err := c.AttestSevSnp(ctx, p.AttestURI, report, client.AttestOptions{RuntimeData: runtime, RuntimeDataJSON: true, Nonce: "n-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.VerifyToken(ctx, tok, p.AttestURI); err != nil {
		t.Fatalf("the token does not verify: %v", err)
	}
	d, _ := client.DecodeToken(tok)
	for k, want := range map[string]string{
		"x-ms-attestation-type": `"sevsnpvm"`, "x-avow-simulated": "true", "nonce": `"n-1"`,
		"x-ms-sevsnpvm-is-debuggable": "false", "x-ms-sevsnpvm-microcode-svn": "115",
		"x-ms-sevsnpvm-launchmeasurement": `"` + strings.Repeat("ab", 48) + `"`,
	} {
		if got, _ := json.Marshal(d.Claims[k]); string(got) != want {
			t.Errorf("%s = %s, want %s", k, got, want)
		}
	}
	if rt, ok := d.Claims["x-ms-runtime"].(map[string]any); !ok || rt["keys"] == nil {
		t.Errorf("x-ms-runtime = %v", d.Claims["x-ms-runtime"])
	}
	if pol, ok := d.Claims["x-ms-policy"].(map[string]any); !ok || pol["measurement"] != strings.Repeat("ab", 48) {
		t.Errorf("x-ms-policy = %v", d.Claims["x-ms-policy"])
	}
	// A debuggable VM: the policy refuses it.
	_, err = c.AttestSevSnp(ctx, p.AttestURI, simSNPReport(t, sim, runtime, true), client.AttestOptions{RuntimeData: runtime, RuntimeDataJSON: true})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Code != "policy_denied" {
		t.Fatalf("debuggable VM: %v", err)
	}
	// Runtime data the report does not bind.
	_, err = c.AttestSevSnp(ctx, p.AttestURI, report, client.AttestOptions{RuntimeData: []byte(`{}`), RuntimeDataJSON: true})
	if !errors.As(err, &ce) || ce.Code != "binding_mismatch" {
		t.Fatalf("unbound runtime data: %v", err)
	}
}

func simSNPReport(t *testing.T, sim *snpsim.Platform, runtime []byte, debug bool) []byte {
	t.Helper()
	o := snpsim.ReportOptions{Measurement: bytes.Repeat([]byte{0xab}, 48)}
	h := sha256Sum(runtime)
	o.ReportData = h[:]
	if debug {
		o.Policy = snpsim.DefaultPolicy | snpsim.PolicyDebug
	}
	raw, vcek, err := sim.Report(o)
	if err != nil {
		t.Fatal(err)
	}
	return client.SevSnpReport(raw, pemCert(vcek))
}

// A server without --dev does not trust the simulated SNP platform.
func TestSevSnpVmSimulatedRefusedInProduction(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, c := startNode(t, dir, func(cfg *Config) { cfg.Dev = false })
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	sim, err := snpsim.New()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.AttestSevSnp(ctx, p.AttestURI, simSNPReport(t, sim, []byte("x"), false), client.AttestOptions{})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 || ce.Code != "vcek_chain_invalid" {
		t.Fatalf("simulated report on a production server: %v", err)
	}
}

// The MAA request vector sets go to POST /attest/SevSnpVm verbatim, with the
// server's clock pinned to each set's time: S04 gets MAA's report claims,
// S07 its class.
func TestSevSnpVmVectorsOverHTTPS(t *testing.T) {
	sets, _ := filepath.Glob(filepath.Join(vectors.Dir(t, "snp"), "S*"))
	sort.Strings(sets)
	ran := 0
	for _, dir := range sets {
		var e struct {
			Kind   string         `json:"kind"`
			At     time.Time      `json:"at"`
			Result string         `json:"result"`
			Claims map[string]any `json:"claims"`
		}
		b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatal(err)
		}
		if e.Kind != "maa-sevsnpvm-request" {
			continue
		}
		ran++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join(dir, "request.json"))
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			n, c := startNode(t, t.TempDir(), func(cfg *Config) { cfg.Dev = false; cfg.Clock = fixedClock{e.At} })
			p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "maa"})
			if err != nil {
				t.Fatal(err)
			}
			hc, _ := n.HTTPClient()
			resp, err := hc.Post(p.AttestURI+"/attest/SevSnpVm?api-version=2022-08-01", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			out, _ := io.ReadAll(resp.Body)
			if e.Result != "ok" {
				var eb struct {
					Error struct{ Code string } `json:"error"`
				}
				_ = json.Unmarshal(out, &eb)
				if resp.StatusCode != http.StatusBadRequest || eb.Error.Code != e.Result {
					t.Fatalf("HTTP %d %s, want 400 %s", resp.StatusCode, out, e.Result)
				}
				return
			}
			var tr struct{ Token string }
			if resp.StatusCode != http.StatusOK || json.Unmarshal(out, &tr) != nil {
				t.Fatalf("HTTP %d %s", resp.StatusCode, out)
			}
			d, _ := client.DecodeToken(tr.Token)
			for k, want := range e.Claims {
				g, _ := json.Marshal(d.Claims[k])
				w, _ := json.Marshal(want)
				if string(g) != string(w) {
					t.Errorf("%s = %s, want %s", k, g, w)
				}
			}
			if d.Claims["x-ms-runtime"] == nil || d.Claims["x-avow-simulated"] != nil {
				t.Errorf("x-ms-runtime %v, x-avow-simulated %v", d.Claims["x-ms-runtime"], d.Claims["x-avow-simulated"])
			}
		})
	}
	if ran == 0 {
		t.Fatal("no request sets")
	}
}

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

func pemCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// A bare report (no VCEK) attests with the VCEK fetched from a KDS
// (--snp-kds), which the store then caches: after a restart with the KDS
// failing, the cached VCEK still serves.
func TestSevSnpVmKDSOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sim, err := snpsim.Open(snpsim.DirBeside(filepath.Join(dir, "sim")))
	if err != nil {
		t.Fatal(err)
	}
	raw, vcek, err := sim.Report(snpsim.ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var down atomic.Bool
	var hits atomic.Int32
	files := map[string][]byte{}
	kds := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if b, ok := files[r.URL.RequestURI()]; ok && !down.Load() {
			w.Write(b)
			return
		}
		http.Error(w, "no", http.StatusServiceUnavailable)
	}))
	defer kds.Close()
	k := &snp.KDS{BaseURL: kds.URL}
	files[strings.TrimPrefix(k.VCEKURL(snpsim.Product, sim.ChipID(), snpsim.ComposeTCB(sim.TCB())), kds.URL)] = vcek
	crl, _ := sim.CRL(time.Now().Add(-time.Hour))
	files["/vcek/v1/Milan/crl"] = crl

	n, c := startNode(t, dir, func(cfg *Config) { cfg.SNP.KDS = kds.URL })
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "bare"})
	if err != nil {
		t.Fatal(err)
	}
	bare := client.SevSnpReport(raw, nil)
	if _, err := c.AttestSevSnp(ctx, p.AttestURI, bare, client.AttestOptions{}); err != nil {
		t.Fatal(err)
	}
	rows, err := n.store.ListTypeCollateral(ctx, SNPCollateralType)
	if err != nil || len(rows) < 2 {
		t.Fatalf("cached rows %+v %v", rows, err)
	}
	n.Shutdown(ctx)
	down.Store(true)
	_, c = startNode(t, dir, func(cfg *Config) { cfg.SNP.KDS = kds.URL })
	if _, err := c.AttestSevSnp(ctx, c.AttestURI("bare"), bare, client.AttestOptions{}); err != nil {
		t.Fatalf("with the KDS down after a restart: %v", err)
	}
}
