package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/sgxsim"
)

// TestTrustRootAndCollateralSource: a node started with --trust-root (the
// simulated platform's root), --collateral-source (a PCCS-like server
// serving the simulated collateral) and nothing imported attests a
// simulated SGX and TDX quote; the tokens are marked x-avow-private-root;
// a second attestation makes no request.
func TestTrustRootAndCollateralSource(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim, rootFile := simWithRootFile(t, dir)
	pccs := pcsfake.New(pcs.KindPCCS)
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		col, err := sim.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: now.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if err := pccs.Add(col); err != nil {
			t.Fatal(err)
		}
	}
	down := pcsfake.New(pcs.KindPCCS)
	downURL := down.Start(t)
	down.Fail(502)
	url := pccs.Start(t)
	ctx := context.Background()
	n, c := startNode(t, dir, func(cfg *Config) {
		cfg.Dev = false
		cfg.Clock = fixedClock{now}
		cfg.Collateral = CollateralOptions{Sources: SplitSources(downURL + "/sgx/certification/v4/, " + url), TrustRoots: []string{rootFile}}
	})
	if cs, err := c.ListCollateral(ctx); err != nil || len(cs) != 0 {
		t.Fatalf("collateral before the first attestation: %v, %v", cs, err)
	}
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "private"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := sim.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := client.DecodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if decoded.Claims["x-avow-private-root"] != true || decoded.Claims["x-avow-simulated"] != nil {
		t.Errorf("claims %v", decoded.Claims)
	}
	tq, err := sim.Quote(sgxsim.QuoteOptions{TEE: sgxsim.TDX})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttestTDX(ctx, p.AttestURI, tq, client.AttestOptions{}); err != nil {
		t.Fatalf("TDX: %v", err)
	}
	before := pccs.Requests()
	if _, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{}); err != nil {
		t.Fatal(err)
	}
	if pccs.Requests() != before {
		t.Errorf("a warm attestation made %d requests", pccs.Requests()-before)
	}
	cs, err := c.ListCollateral(ctx)
	if err != nil || len(cs) != 2 || cs[0].Source != "pccs "+url {
		t.Errorf("stored collateral %+v, %v", cs, err)
	}
	rep, err := n.Service.CollateralReport(ctx)
	if err != nil || rep.Counters.SourceErrors["pccs "+downURL] == 0 {
		t.Errorf("report %+v, %v", rep, err)
	}
}

// TestRealQuoteFromPCS: a production node (Intel's root only) with a
// PCS-like source attests a real quote with nothing imported.
func TestRealQuoteFromPCS(t *testing.T) {
	set := filepath.Join(vectors.Dir(t, "dcap"), "S02-tdx-v4-phala")
	raw, err := os.ReadFile(filepath.Join(set, "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	col, err := pcs.Load(filepath.Join(set, "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv := pcsfake.New(pcs.KindPCS)
	if err := srv.Add(col); err != nil {
		t.Fatal(err)
	}
	srv.Start(t)
	srv.APIKey = "k"
	ctx := context.Background()
	// Intel's PCS: the key goes to https://api.trustedservices.intel.com
	// only; the fake's client takes every request to it.
	_, c := startNode(t, t.TempDir(), func(cfg *Config) {
		cfg.Dev = false
		cfg.Clock = fixedClock{time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)}
		cfg.Collateral = CollateralOptions{Sources: []string{"pcs"}, PCSAPIKey: "k", HTTPClient: srv.Client()}
	})
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "phala"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AttestTDX(ctx, p.AttestURI, raw, client.AttestOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestCollateralOptionsErrors(t *testing.T) {
	dir := t.TempDir()
	notRoot := filepath.Join(dir, "chain.pem")
	sim := sgxsim.Default()
	col, _ := sim.Collateral(sgxsim.CollateralOptions{Now: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
	// The TCB signing certificate comes first in its chain.
	if err := os.WriteFile(notRoot, col.TCBInfoIssuerChain, 0o644); err != nil {
		t.Fatal(err)
	}
	for name, o := range map[string]CollateralOptions{
		"missing root file": {TrustRoots: []string{filepath.Join(dir, "missing.pem")}},
		"not a root":        {TrustRoots: []string{notRoot}},
		"bad source":        {Sources: []string{"pcs:ftp://x"}},
		"folder allowed":    {ProviderSourceAllow: []string{"dir:" + dir}},
		"path allowed":      {ProviderSourceAllow: []string{dir}},
		"bad allow URL":     {ProviderSourceAllow: []string{"https://x/?a=b"}},
		"missing folder":    {Sources: []string{filepath.Join(dir, "nowhere")}},
		"bad CA file":       {Sources: []string{"https://pccs.example"}, CACertFile: notRoot + ".missing"},
	} {
		_, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, strings.ReplaceAll(name, " ", "-")), Collateral: o})
		if err == nil || !strings.Contains(err.Error(), "invalid_config") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestCollateralEndpointsErrors: the collateral management routes refuse
// malformed input with stable codes.
func TestCollateralEndpointsErrors(t *testing.T) {
	n, _ := startNode(t, t.TempDir(), nil) // dev mode: the simulated collateral is stored
	hc := mustHTTP(t, n)
	call := func(method, path, body string) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, _ := http.NewRequest(method, n.URL+path, rd)
		req.Header.Set("Authorization", "Bearer "+n.AdminToken.Secret)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct{ Error struct{ Code string } }
		data, _ := io.ReadAll(resp.Body)
		_ = json.Unmarshal(data, &e)
		return resp.StatusCode, e.Error.Code
	}
	for _, c := range []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"GET", "/management/collateral/sgx/zz/0000", "", 400, "invalid_request"},
		{"GET", "/management/collateral/sgx/00906ed50000/0000", "", 400, "collateral_not_found"},
		{"GET", "/management/collateral/sgx/00feed000000/0000/bundle?id=x", "", 400, "invalid_request"},
		{"GET", "/management/collateral/sgx/00feed000000/0000/bundle?id=999999", "", 400, "collateral_not_found"},
		{"GET", "/management/collateral/sgx/00feed000000", "", 404, "not_found"},
		{"POST", "/management/collateral/sgx/00feed000000/0000", "{}", 405, "method_not_allowed"},
		{"POST", "/management/collateral:prune", "{}", 400, "invalid_json"},
		{"POST", "/management/collateral:prune", `{"olderThan":"soon"}`, 400, "invalid_json"},
		{"POST", "/management/collateral:refresh", "", 400, "collateral_sources_not_configured"},
		{"POST", "/management/collateral:refresh", `{"keys":["arm/1"]}`, 400, "invalid_request"},
		{"GET", "/management/collateral:refresh", "", 405, "method_not_allowed"},
	} {
		if status, code := call(c.method, c.path, c.body); status != c.status || code != c.code {
			t.Errorf("%s %s %s: %d %s, want %d %s", c.method, c.path, c.body, status, code, c.status, c.code)
		}
	}
	if status, _ := call("GET", "/management/collateral/sgx/00feed000000/0000", ""); status != 200 {
		t.Errorf("show: %d", status)
	}
	if status, _ := call("POST", "/management/collateral:prune", `{"olderThan":"30d"}`); status != 200 {
		t.Errorf("prune: %d", status)
	}
}

// simWithRootFile opens the simulated platform in dir/sim and writes its
// root certificate to a file, for --trust-root.
func simWithRootFile(t *testing.T, dir string) (*sgxsim.Platform, string) {
	t.Helper()
	sim, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	rootFile := filepath.Join(dir, "sim-root.pem")
	if err := os.WriteFile(rootFile, sim.RootPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	return sim, rootFile
}
