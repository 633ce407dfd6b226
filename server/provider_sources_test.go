package server

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/sgxsim"
)

// TestProviderCollateralSourcesAPI: on a node without --collateral-source
// and nothing imported, a provider created with settings.collateralSources
// (a PCCS-like server with the simulated collateral, allowed by
// --provider-collateral-source-allow) attests; a provider
// without gets collateral_not_found; a bad source is a 400
// invalid_request; a PATCH without the member keeps it and
// "collateralSources": [] drops it.
func TestProviderCollateralSourcesAPI(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim, rootFile := simWithRootFile(t, dir)
	pccs := pcsfake.New(pcs.KindPCCS)
	col, err := sim.Collateral(sgxsim.CollateralOptions{TEE: sgxsim.SGX, Now: now.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := pccs.Add(col); err != nil {
		t.Fatal(err)
	}
	url := pccs.Start(t)
	ctx := context.Background()
	n, c := startNode(t, dir, func(cfg *Config) {
		cfg.Dev = false
		cfg.Clock = fixedClock{now}
		cfg.Collateral = CollateralOptions{TrustRoots: []string{rootFile}, ProviderSourceAllow: []string{url}}
	})
	q, err := sim.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	code := func(err error) string {
		var e *client.Error
		if errors.As(err, &e) {
			return e.Code
		}
		return "not an API error: " + errString(err)
	}

	if _, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "bad", Settings: &client.Settings{
		CollateralSources: []string{"pccs:/relative"}}}); code(err) != "invalid_request" {
		t.Errorf("bad source: %v, want invalid_request", err)
	}
	specs := []string{url + "/sgx/certification/v4/"}
	own, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "own", Settings: &client.Settings{CollateralSources: specs}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(own.Settings.CollateralSources, specs) {
		t.Fatalf("settings.collateralSources %q", own.Settings.CollateralSources)
	}
	plain, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "plain"})
	if err != nil {
		t.Fatal(err)
	}
	if len(plain.Settings.CollateralSources) != 0 {
		t.Fatalf("plain provider's sources %q", plain.Settings.CollateralSources)
	}
	if _, err := c.AttestSGX(ctx, plain.AttestURI, q, client.AttestOptions{}); code(err) != "collateral_not_found" {
		t.Fatalf("provider without sources: %v, want collateral_not_found", err)
	}
	if pccs.Requests() != 0 {
		t.Fatalf("%d requests for a provider without sources", pccs.Requests())
	}
	if _, err := c.AttestSGX(ctx, own.AttestURI, q, client.AttestOptions{}); err != nil {
		t.Fatalf("provider with sources: %v", err)
	}

	// PATCH without the member keeps it; [] drops it.
	hc := mustHTTP(t, n)
	req, _ := http.NewRequest(http.MethodPatch, n.URL+"/management/providers/own", strings.NewReader(`{"settings":{"collateralGracePeriod":"1h"}}`))
	req.Header.Set("Authorization", "Bearer "+n.AdminToken.Secret)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("PATCH: %d", resp.StatusCode)
	}
	got, err := c.GetProvider(ctx, "own")
	if err != nil || !slices.Equal(got.Settings.CollateralSources, specs) || got.Settings.CollateralGracePeriod != "1h0m0s" {
		t.Fatalf("after a PATCH without the member: %+v, %v", got, err)
	}
	if _, err := c.UpdateProviderSettings(ctx, "own", client.Settings{CollateralSources: []string{"pcs:"}}); code(err) != "invalid_request" {
		t.Errorf("PATCH with a bad source: %v, want invalid_request", err)
	}
	got, err = c.UpdateProviderSettings(ctx, "own", client.Settings{UseDeploymentSources: true})
	if err != nil || len(got.Settings.CollateralSources) != 0 || got.Settings.CollateralGracePeriod != "1h0m0s" {
		t.Fatalf("after UseDeploymentSources: %+v, %v", got, err)
	}
}

func errString(err error) string {
	if err == nil {
		return "nil"
	}
	return err.Error()
}

// TestProviderSourcesRefusedAPI: through the management API (POST and
// PATCH) an owner cannot set a file or folder source or a URL outside
// --provider-collateral-source-allow (400 collateral_source_not_allowed,
// naming the flag); an anonymous attestation against a provider whose
// allowed source fails with a marker in its error body gets an error body
// without the marker, the source's URL or its status.
func TestProviderSourcesRefusedAPI(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	sim, rootFile := simWithRootFile(t, dir)
	const marker = "MARKER-of-the-source-body"
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, marker+": internal details", http.StatusBadGateway)
	}))
	t.Cleanup(failing.Close)
	other := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(other.Close)
	n, c := startNode(t, dir, func(cfg *Config) {
		cfg.Dev = false
		cfg.Clock = fixedClock{now}
		cfg.Collateral = CollateralOptions{TrustRoots: []string{rootFile}, ProviderSourceAllow: []string{failing.URL}}
	})
	ctx := context.Background()
	refused := func(what string, err error) {
		t.Helper()
		var e *client.Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "collateral_source_not_allowed" {
			t.Errorf("%s: %v, want 400 collateral_source_not_allowed", what, err)
		} else if !strings.Contains(e.Message, "--provider-collateral-source-allow") && !strings.Contains(e.Message, "operator") {
			t.Errorf("%s: %q names neither the flag nor the operator", what, e.Message)
		}
	}
	for _, spec := range []string{"dir:" + dir, "file:/etc/passwd", "/etc", other.URL, "pcs"} {
		_, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "bad", Settings: &client.Settings{CollateralSources: []string{spec}}})
		refused("create with "+spec, err)
	}
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "own", Settings: &client.Settings{CollateralSources: []string{failing.URL}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, spec := range []string{"file:/etc/passwd", other.URL} {
		_, err := c.UpdateProviderSettings(ctx, "own", client.Settings{CollateralSources: []string{spec}})
		refused("PATCH with "+spec, err)
	}

	// The attestation, anonymous, over plain HTTP to see the body.
	q, err := sim.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	body := `{"quote":"` + base64.RawURLEncoding.EncodeToString(q) + `"}`
	resp, err := mustHTTP(t, n).Post(p.AttestURI+"/attest/SgxEnclave?api-version=2022-08-01", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(raw), "collateral_not_found") {
		t.Fatalf("attestation: %d %s", resp.StatusCode, raw)
	}
	for _, hidden := range []string{"MARKER", strings.TrimPrefix(failing.URL, "http://"), "Bad Gateway"} {
		if strings.Contains(string(raw), hidden) {
			t.Errorf("the anonymous error body shows %q: %s", hidden, raw)
		}
	}
}
