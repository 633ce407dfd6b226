package service

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/store"
)

func mustRules(t *testing.T, values ...string) []pcs.SourceRule {
	t.Helper()
	var out []pcs.SourceRule
	for _, v := range values {
		r, err := pcs.ParseSourceRule(v)
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		out = append(out, r)
	}
	return out
}

// TestProviderSourcesOperatorOnlyFiles: a provider may not set a file or
// folder source, whether the path exists or not (no probing the server's
// files), on create or update, even as owner; nothing is read.
func TestProviderSourcesOperatorOnlyFiles(t *testing.T) {
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{testNow},
		cfg: CollateralConfig{Sources: []pcs.Source{mustSource(t, "dir:"+t.TempDir())}}})
	ctx := context.Background()
	createProvider(t, s, "own")
	existing := t.TempDir()
	for _, spec := range []string{existing, "dir:" + existing, "file:" + existing, "/etc/passwd", "file:/etc/passwd", "/no/such/folder", "relative/path"} {
		_, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "files", Settings: &ProviderSettings{CollateralSources: []string{spec}}})
		if !errors.Is(err, ErrSourceNotAllowed) || !strings.Contains(errs.Detail(err), "operator") {
			t.Errorf("create with %q: %v, want collateral_source_not_allowed", spec, err)
		}
		_, err = s.UpdateProviderSettings(ctx, owner, "own", ProviderSettings{CollateralSources: []string{spec}})
		if !errors.Is(err, ErrSourceNotAllowed) {
			t.Errorf("update with %q: %v, want collateral_source_not_allowed", spec, err)
		}
	}
}

// TestProviderSourcesAllowList: without --provider-collateral-source-allow
// a provider may use only the server's own URL sources; with it, also
// URLs under its prefixes ("pcs": Intel's PCS). Anything else is a 400
// collateral_source_not_allowed naming the flag.
func TestProviderSourcesAllowList(t *testing.T) {
	own, other := pcsfake.New(pcs.KindPCCS), pcsfake.New(pcs.KindPCCS)
	ownURL, otherURL := own.Start(t), other.Start(t)
	ctx := context.Background()
	try := func(s *Service, spec string) error {
		_, err := s.UpdateProviderSettings(ctx, owner, "prov", ProviderSettings{CollateralSources: []string{spec}})
		return err
	}

	strict := newSourcesService(t, sourcesSetup{clock: &fixedClock{testNow},
		cfg: CollateralConfig{Sources: []pcs.Source{mustSource(t, ownURL)}}})
	createProvider(t, strict, "prov")
	for _, spec := range []string{ownURL, "pccs:" + ownURL + "/sgx/certification/v3/"} {
		if err := try(strict, spec); err != nil {
			t.Errorf("the server's own source %s: %v", spec, err)
		}
	}
	for _, spec := range []string{otherURL, "pcs", "pcs:" + strings.Replace(ownURL, "http:", "https:", 1), "http://169.254.169.254/latest"} {
		err := try(strict, spec)
		if !errors.Is(err, ErrSourceNotAllowed) || !strings.Contains(errs.Detail(err), "--provider-collateral-source-allow") {
			t.Errorf("%s: %v, want collateral_source_not_allowed naming the flag", spec, err)
		}
	}

	open := newSourcesService(t, sourcesSetup{clock: &fixedClock{testNow},
		cfg: CollateralConfig{ProviderSourceRules: mustRules(t, otherURL+"/pccs", "pcs")}})
	createProvider(t, open, "prov")
	for _, spec := range []string{otherURL + "/pccs", otherURL + "/pccs/sgx/certification/v4/", "pcs", "https://api.trustedservices.intel.com/sgx/certification/v3/"} {
		if err := try(open, spec); err != nil {
			t.Errorf("allowed %s: %v", spec, err)
		}
	}
	for _, spec := range []string{otherURL, otherURL + "/pccsx", otherURL + "/pccs/../admin", ownURL, "pcs:http://api.trustedservices.intel.com"} {
		if err := try(open, spec); !errors.Is(err, ErrSourceNotAllowed) {
			t.Errorf("%s: %v, want collateral_source_not_allowed", spec, err)
		}
	}
}

// TestStoredSourceNoLongerAllowed: a provider's stored source that the
// operator no longer allows after a restart (or a folder source stored
// before providers lost them) is not asked: the attestation fails like
// one whose sources have nothing, the log says why.
func TestStoredSourceNoLongerAllowed(t *testing.T) {
	v := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	srv := pcsfake.New(pcs.KindPCCS)
	if err := srv.Add(v.col); err != nil {
		t.Fatal(err)
	}
	base := srv.Start(t)
	db := filepath.Join(t.TempDir(), "avow.db")
	before := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at}, dbPath: db,
		cfg: CollateralConfig{ProviderSourceRules: mustRules(t, base)}})
	ctx := context.Background()
	statuses := []string{"UpToDate", "ConfigurationAndSWHardeningNeeded"}
	if _, err := before.CreateProvider(ctx, owner, ProviderRequest{Name: "own", Settings: &ProviderSettings{
		AcceptedTCBStatuses: statuses, CollateralSources: []string{base}}}); err != nil {
		t.Fatal(err)
	}
	// As stored by an older version: a folder source.
	createProvider(t, before, "files", statuses...)
	folder := t.TempDir()
	err := before.st.WithTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetProvider(ctx, "files")
		if err != nil {
			return err
		}
		if p.Settings.Extra, err = withCollateralSources(p.Settings.Extra, []string{"dir:" + folder}); err != nil {
			return err
		}
		_, err = tx.UpdateProvider(ctx, p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	var logs syncBuffer
	after := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at}, dbPath: db, log: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, name := range []string{"own", "files"} {
		_, err := after.Attest(ctx, name, AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote})
		if !errors.Is(err, ErrCollateralNotFound) {
			t.Errorf("%s: %v, want collateral_not_found", name, err)
		}
		checkAnonymous(t, name, err, base, folder)
	}
	if n := srv.Requests(); n != 0 {
		t.Errorf("%d requests to a source the operator no longer allows", n)
	}
	l := logs.String()
	for _, want := range []string{"provider=own", "provider=files", "collateral_source_not_allowed"} {
		if !strings.Contains(l, want) {
			t.Errorf("the log lacks %q:\n%s", want, l)
		}
	}
}
