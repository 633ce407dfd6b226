package service

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/pcs"
)

// TestProviderCollateralSources: a provider whose collateralSources point
// at a PCCS-like server attests with nothing imported while the deployment
// has no sources; a provider without the setting on the same service gets
// collateral_not_found and the server sees no request for it; a bad source
// is refused (files and the allow-list: provider_sources_allow_test.go); an update without the member keeps it; an empty list drops it.
func TestProviderCollateralSources(t *testing.T) {
	v := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	srv := pcsfake.New(pcs.KindPCCS)
	if err := srv.Add(v.col); err != nil {
		t.Fatal(err)
	}
	base := srv.Start(t)
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at},
		cfg: CollateralConfig{SourceOptions: pcs.SourceOptions{Client: srv.Client()}, ProviderSourceRules: mustRules(t, base)}})
	ctx := context.Background()
	statuses := []string{"UpToDate", "ConfigurationAndSWHardeningNeeded"}

	// The deployment-wide provider is created first and attests first:
	// nothing is stored and the deployment has no sources.
	createProvider(t, s, "plain", statuses...)
	if _, err := s.Attest(ctx, "plain", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote}); !errors.Is(err, ErrCollateralNotFound) {
		t.Fatalf("provider without sources: %v, want collateral_not_found", err)
	}
	if n := srv.Requests(); n != 0 {
		t.Fatalf("%d requests for a provider without sources", n)
	}

	for _, bad := range [][]string{{"pcs:not-a-url"}, {""}} {
		_, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "bad", Settings: &ProviderSettings{CollateralSources: bad}})
		if !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("create with sources %q: %v, want invalid_request", bad, err)
		}
	}

	specs := []string{"pccs:" + base}
	pv, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "own", Settings: &ProviderSettings{
		AcceptedTCBStatuses: statuses, CollateralSources: specs}})
	if err != nil {
		t.Fatal(err)
	}
	if got := CollateralSources(pv.Settings); !slices.Equal(got, specs) {
		t.Fatalf("created with sources %q", got)
	}
	if _, err := s.Attest(ctx, "own", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote}); err != nil {
		t.Fatalf("provider with sources: %v", err)
	}
	if srv.Requests() == 0 {
		t.Fatal("no request to the provider's source")
	}
	rows, err := s.st.ListCollateral(ctx)
	if err != nil || len(rows) != 1 || rows[0].Source != "pccs "+base {
		t.Fatalf("stored rows %v, %v", rows, err)
	}

	// Updates: a bad source is refused and changes nothing; an update
	// without the member keeps it (and the token algorithm beside it).
	if _, err := s.UpdateProviderSettings(ctx, owner, "own", ProviderSettings{CollateralSources: []string{"pccs:ftp://x"}}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("update with a bad source: %v, want invalid_request", err)
	}
	alg := "ES256"
	grace := time.Hour
	pv, err = s.UpdateProviderSettings(ctx, owner, "own", ProviderSettings{CollateralGracePeriod: &grace, TokenAlgorithm: &alg})
	if err != nil {
		t.Fatal(err)
	}
	if got := CollateralSources(pv.Settings); !slices.Equal(got, specs) || TokenAlgorithm(pv.Settings) != "ES256" {
		t.Errorf("after an update without the member: sources %q, algorithm %s", got, TokenAlgorithm(pv.Settings))
	}
	pv, err = s.UpdateProviderSettings(ctx, owner, "own", ProviderSettings{CollateralSources: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if got := CollateralSources(pv.Settings); got != nil || TokenAlgorithm(pv.Settings) != "ES256" {
		t.Errorf("after an empty list: sources %q, algorithm %s", got, TokenAlgorithm(pv.Settings))
	}
	if set := s.sourcesFor(pv.Provider); set.id != "" || len(set.list) != 0 {
		t.Errorf("sources after dropping the setting: %+v", set)
	}
}

// TestProviderSourcesFetchState: a failed fetch with a provider's sources
// backs off only that list: a provider with working sources fetches the
// same platform at once.
func TestProviderSourcesFetchState(t *testing.T) {
	v := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	good, down := pcsfake.New(pcs.KindPCCS), pcsfake.New(pcs.KindPCCS)
	for _, srv := range []*pcsfake.Server{good, down} {
		if err := srv.Add(v.col); err != nil {
			t.Fatal(err)
		}
	}
	goodURL, downURL := good.Start(t), down.Start(t)
	down.Fail(503)
	// No SourceOptions: http.DefaultClient reaches both servers.
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at},
		cfg: CollateralConfig{ProviderSourceRules: mustRules(t, goodURL, downURL)}})
	ctx := context.Background()
	statuses := []string{"UpToDate", "ConfigurationAndSWHardeningNeeded"}
	for name, src := range map[string]string{"down": "pccs:" + downURL, "good": "pccs:" + goodURL} {
		if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: name, Settings: &ProviderSettings{
			AcceptedTCBStatuses: statuses, CollateralSources: []string{src}}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Attest(ctx, "down", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote}); !errors.Is(err, ErrCollateralNotFound) {
		t.Fatalf("provider with a failing source: %v, want collateral_not_found", err)
	}
	if _, err := s.Attest(ctx, "good", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote}); err != nil {
		t.Fatalf("provider with a working source after the other's failure: %v", err)
	}
}
