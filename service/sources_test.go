package service

import (
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/attestation/tdx"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/internal/testenv"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

type sourcesSetup struct {
	clock  Clock
	cfg    CollateralConfig
	roots  []*x509.Certificate // PrivateRoots
	dbPath string              // shared store file; "" for a new one
	log    *slog.Logger        // nil: discarded
}

func newSourcesService(t testing.TB, o sourcesSetup) *Service {
	t.Helper()
	path := o.dbPath
	if path == "" {
		path = filepath.Join(t.TempDir(), "avow.db")
	}
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(Config{Store: st, Types: builtin.Registry(), KEK: make([]byte, 32), PublicURL: "https://avow.test", Clock: o.clock,
		PrivateRoots: o.roots, Collateral: o.cfg, Logger: o.log})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func source(t testing.TB, spec string, client *pcsfake.Server) pcs.Source {
	t.Helper()
	src, err := pcs.ParseSource(spec, pcs.SourceOptions{Client: client.Client()})
	if err != nil {
		t.Fatal(err)
	}
	return src
}

type vectorSet struct {
	quote []byte
	col   *pcs.Collateral
	at    time.Time
}

func loadVector(t testing.TB, name string, at string) vectorSet {
	t.Helper()
	dir := filepath.Join(vectors.Dir(t, "dcap"), name)
	raw, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	col, err := pcs.Load(filepath.Join(dir, "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	when, err := time.Parse(time.RFC3339, at)
	if err != nil {
		t.Fatal(err)
	}
	return vectorSet{raw, col, when}
}

func createProvider(t testing.TB, s *Service, name string, statuses ...string) {
	t.Helper()
	req := ProviderRequest{Name: name}
	if len(statuses) > 0 {
		req.Settings = &ProviderSettings{AcceptedTCBStatuses: statuses}
	}
	if _, err := s.CreateProvider(context.Background(), owner, req); err != nil {
		t.Fatal(err)
	}
}

func auditOps(t testing.TB, s *Service, op string) []store.AuditEntry {
	t.Helper()
	entries, err := s.st.ListAudit(context.Background(), store.AuditFilter{OperationPrefix: op, Kind: store.AuditManagement})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

// TestAttestFetchesRealCollateral: real SGX and TDX quotes attest with an
// empty store, their collateral fetched from a PCCS-like and a PCS-like
// server (with the service clock pinned to the vectors' time); the token's
// collateral hashes are those of the fetched collateral; attestations with
// warm caches make no request.
func TestAttestFetchesRealCollateral(t *testing.T) {
	sgxv := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	tdxv := loadVector(t, "S02-tdx-v4-phala", "2025-07-01T00:00:00Z")
	for _, kind := range []string{pcs.KindPCCS, pcs.KindPCS} {
		t.Run(kind, func(t *testing.T) {
			srv := pcsfake.New(kind)
			for _, v := range []vectorSet{sgxv, tdxv} {
				if err := srv.Add(v.col); err != nil {
					t.Fatal(err)
				}
			}
			base := srv.Start(t)
			s := newSourcesService(t, sourcesSetup{clock: &fixedClock{sgxv.at},
				cfg: CollateralConfig{Sources: []pcs.Source{source(t, kind+":"+base, srv)}}})
			createProvider(t, s, "real", "UpToDate", "ConfigurationAndSWHardeningNeeded")
			ctx := context.Background()
			res, err := s.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: sgxv.quote})
			if err != nil {
				t.Fatal(err)
			}
			h := sgxv.col.Hashes()
			got, _ := res.Claims["x-ms-sgx-collateral"].(map[string]any)
			if got["tcbinfohash"] != h.TCBInfoHash || got["qeidcertshash"] != h.QEIDCertsHash || got["tcbinfocrlhash"] != h.TCBInfoCRLHash {
				t.Errorf("x-ms-sgx-collateral %v, want the fetched collateral's %+v", got, h)
			}
			if _, err := s.Attest(ctx, "real", AttestRequest{Type: tdx.Name, Evidence: tdxv.quote}); err != nil {
				t.Fatalf("TDX: %v", err)
			}
			rows, err := s.st.ListCollateral(ctx)
			if err != nil || len(rows) != 2 {
				t.Fatalf("stored rows %v, %v", rows, err)
			}
			for _, r := range rows {
				if r.Source != kind+" "+base {
					t.Errorf("row %s source %q", r.Key, r.Source)
				}
			}
			if n := len(auditOps(t, s, "collateral.fetch")); n != 2 {
				t.Errorf("%d collateral.fetch audit entries, want 2", n)
			}
			before := srv.Requests()
			for range 3 {
				if _, err := s.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: sgxv.quote}); err != nil {
					t.Fatal(err)
				}
				if _, err := s.Attest(ctx, "real", AttestRequest{Type: tdx.Name, Evidence: tdxv.quote}); err != nil {
					t.Fatal(err)
				}
			}
			if after := srv.Requests(); after != before {
				t.Errorf("warm attestations made %d requests", after-before)
			}
			rep, err := s.CollateralReport(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Counters.Fetched != 2 || len(rep.Items) != 2 || rep.Items[0].TimeToExpiry <= 0 || rep.Items[0].Expired {
				t.Errorf("report %+v", rep)
			}
		})
	}
}

// TestSourceDownFallsThrough: a source answering 503 and one that does not
// answer within the timeout are skipped; the third serves.
func TestSourceDownFallsThrough(t *testing.T) {
	v := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	down, stalled, good := pcsfake.New(pcs.KindPCCS), pcsfake.New(pcs.KindPCCS), pcsfake.New(pcs.KindPCCS)
	for _, srv := range []*pcsfake.Server{down, stalled, good} {
		if err := srv.Add(v.col); err != nil {
			t.Fatal(err)
		}
		srv.Start(t)
	}
	down.Fail(503)
	stalled.Stall(time.Minute)
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at}, cfg: CollateralConfig{Timeout: 200 * time.Millisecond,
		Sources: []pcs.Source{source(t, down.URL(), down), source(t, stalled.URL(), stalled), source(t, good.URL(), good)}}})
	createProvider(t, s, "real", "ConfigurationAndSWHardeningNeeded")
	start := time.Now()
	if _, err := s.Attest(context.Background(), "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("attestation took %s", d)
	}
	rows, _ := s.st.ListCollateral(context.Background())
	if len(rows) != 1 || rows[0].Source != "pccs "+good.URL() {
		t.Errorf("rows %+v", rows)
	}
	if rep, _ := s.CollateralReport(context.Background()); len(rep.Items) != 1 {
		t.Errorf("report %+v", rep)
	}
	c := s.collateralCounters()
	if c.SourceErrors["pccs "+down.URL()] == 0 || c.SourceErrors["pccs "+stalled.URL()] == 0 || c.Fetched != 1 {
		t.Errorf("counters %+v", c)
	}
}

// TestTamperedCollateralRejected: a source whose TCB info was changed is
// rejected (never stored) and the next source serves; with only that
// source the attestation fails naming the FMSPC and the rejection, and
// the back-off keeps further attestations from asking again.
func TestTamperedCollateralRejected(t *testing.T) {
	v := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	bad, good := pcsfake.New(pcs.KindPCCS), pcsfake.New(pcs.KindPCCS)
	for _, srv := range []*pcsfake.Server{bad, good} {
		if err := srv.Add(v.col); err != nil {
			t.Fatal(err)
		}
		srv.Start(t)
	}
	bad.TamperTCBInfo(true)
	ctx := context.Background()

	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at}, cfg: CollateralConfig{
		Sources: []pcs.Source{source(t, bad.URL(), bad), source(t, good.URL(), good)}}})
	createProvider(t, s, "real", "ConfigurationAndSWHardeningNeeded")
	res, err := s.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote})
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Claims["x-ms-sgx-collateral"].(map[string]any)["tcbinfohash"]; got != v.col.Hashes().TCBInfoHash {
		t.Errorf("tcbinfohash %v", got)
	}
	if c := s.collateralCounters(); c.Rejected != 1 {
		t.Errorf("rejected %d, want 1", c.Rejected)
	}

	only := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at}, cfg: CollateralConfig{Sources: []pcs.Source{source(t, bad.URL(), bad)}}})
	createProvider(t, only, "real", "ConfigurationAndSWHardeningNeeded")
	_, err = only.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote})
	if !errors.Is(err, ErrCollateralNotFound) || !strings.Contains(err.Error(), "00a067110000") {
		t.Fatalf("err = %v", err)
	}
	// The rejection is for the operator (audit log, server log), not in
	// the attestation error.
	if entries := auditOps(t, only, "collateral.fetch"); len(entries) != 1 || !strings.Contains(entries[0].Details["errors"], "rejected: tcb_info_invalid") {
		t.Fatalf("audit %+v", entries)
	}
	if rows, _ := only.st.ListCollateral(ctx); len(rows) != 0 {
		t.Errorf("tampered collateral was stored: %+v", rows)
	}
	n := bad.Requests()
	if _, err := only.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote}); !errors.Is(err, ErrCollateralNotFound) || !strings.Contains(err.Error(), "next attempt after") {
		t.Errorf("second attempt: %v", err)
	}
	if bad.Requests() != n {
		t.Errorf("the back-off did not hold: %d more requests", bad.Requests()-n)
	}
	if entries := auditOps(t, only, "collateral.fetch"); len(entries) != 1 || entries[0].Outcome != "failure" {
		t.Errorf("audit %+v", entries)
	}
}

// TestUnknownFMSPC: a source without the platform answers 404; the error
// names the FMSPC, the audit entry the 404.
func TestUnknownFMSPC(t *testing.T) {
	v := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	srv := pcsfake.New(pcs.KindPCCS)
	if err := srv.Add(loadVector(t, "S02-tdx-v4-phala", "2025-07-01T00:00:00Z").col); err != nil {
		t.Fatal(err)
	}
	srv.Start(t)
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at}, cfg: CollateralConfig{Sources: []pcs.Source{source(t, srv.URL(), srv)}}})
	createProvider(t, s, "real")
	_, err := s.Attest(context.Background(), "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote})
	if !errors.Is(err, ErrCollateralNotFound) || !strings.Contains(err.Error(), "FMSPC 00a067110000") {
		t.Fatalf("err = %v", err)
	}
	if entries := auditOps(t, s, "collateral.fetch"); len(entries) != 1 || !strings.Contains(entries[0].Details["errors"], "404") {
		t.Fatalf("audit %+v", entries)
	}
}

// simSources sets up the simulated platform behind a PCCS-like server
// serving SGX and TDX collateral issued at issued.
func simSources(t testing.TB, p *sgxsim.Platform, issued time.Time) *pcsfake.Server {
	t.Helper()
	srv := pcsfake.New(pcs.KindPCCS)
	addSim(t, srv, p, issued)
	srv.Start(t)
	return srv
}

func addSim(t testing.TB, srv *pcsfake.Server, p *sgxsim.Platform, issued time.Time) {
	t.Helper()
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		col, err := p.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: issued})
		if err != nil {
			t.Fatal(err)
		}
		if err := srv.Add(col); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRefreshBeforeNextUpdate: the refresh job replaces collateral
// RefreshLead before its nextUpdate (and not earlier), keeps the history,
// audits the outcome, backs off after a failure, and the attestations
// after the old nextUpdate need no fetch.
func TestRefreshBeforeNextUpdate(t *testing.T) {
	p := sgxsim.Default()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	srv := simSources(t, p, t0)
	clock := testenv.NewClock(t0.Add(time.Hour))
	s := newSourcesService(t, sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()}, cfg: CollateralConfig{
		Sources: []pcs.Source{source(t, srv.URL(), srv)}, RefreshLead: 72 * time.Hour, RefreshMaxAge: -1,
		RetryMin: time.Minute, RetryMax: time.Hour}})
	createProvider(t, s, "sim")
	ctx := context.Background()
	quote := simQuote(t, p, sgxsim.QuoteOptions{})
	res, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote})
	if err != nil {
		t.Fatal(err)
	}
	if res.Claims["x-avow-private-root"] != true || res.Claims["x-avow-simulated"] != nil {
		t.Errorf("root marking: private %v, simulated %v", res.Claims["x-avow-private-root"], res.Claims["x-avow-simulated"])
	}
	rows, _ := s.st.ListCollateral(ctx)
	if len(rows) != 1 {
		t.Fatalf("rows %+v", rows)
	}
	key := rows[0].Key

	// 26 days in: not due yet (nextUpdate t0+30d, lead 3 days).
	addSim(t, srv, p, t0.Add(20*24*time.Hour))
	clock.Set(t0.Add(26 * 24 * time.Hour))
	n := srv.Requests()
	if out := s.refreshDue(ctx); len(out) != 0 || srv.Requests() != n {
		t.Fatalf("refreshed too early: %+v", out)
	}
	// A failing source: failure audited, back-off respected.
	clock.Set(t0.Add(27*24*time.Hour + time.Minute))
	srv.Fail(503)
	out := s.refreshDue(ctx)
	if len(out) != 1 || out[0].Outcome != OutcomeFailed || out[0].RetryAt.IsZero() || !strings.Contains(strings.Join(out[0].Errors, ";"), "503") {
		t.Fatalf("failing refresh: %+v", out)
	}
	srv.Fail(0)
	n = srv.Requests()
	if out := s.refreshDue(ctx); len(out) != 0 || srv.Requests() != n {
		t.Fatalf("refresh during back-off: %+v", out)
	}
	clock.Set(out[0].RetryAt.Add(time.Second))
	out = s.refreshDue(ctx)
	if len(out) != 1 || out[0].Outcome != OutcomeUpdated {
		t.Fatalf("refresh: %+v", out)
	}
	want := t0.Add(50 * 24 * time.Hour)
	if !out[0].NextUpdate.Equal(want) {
		t.Errorf("next update %s, want %s", out[0].NextUpdate, want)
	}
	hist, err := s.st.CollateralHistory(ctx, key)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %d rows, %v", len(hist), err)
	}
	refreshes := auditOps(t, s, "collateral.refresh")
	if len(refreshes) != 2 || refreshes[0].Outcome != "success" || refreshes[1].Outcome != "failure" || refreshes[0].Actor != "system" {
		t.Errorf("audit %+v", refreshes)
	}
	// Past the old nextUpdate the new collateral serves, without a request.
	clock.Set(t0.Add(31 * 24 * time.Hour))
	n = srv.Requests()
	if _, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote}); err != nil {
		t.Fatal(err)
	}
	if srv.Requests() != n {
		t.Errorf("attestation after refresh made %d requests", srv.Requests()-n)
	}
	// Unchanged collateral: checked, not stored again.
	v, err := s.RefreshCollateral(ctx, owner, []store.CollateralKey{key})
	if err != nil || len(v) != 1 || v[0].Outcome != OutcomeUnchanged {
		t.Fatalf("manual refresh: %+v, %v", v, err)
	}
	if hist, _ := s.st.CollateralHistory(ctx, key); len(hist) != 2 {
		t.Errorf("unchanged refresh added a row: %d", len(hist))
	}
}

// TestTwoNodesOneRefresh: two services sharing a store; only the lease
// holder refreshes.
func TestTwoNodesOneRefresh(t *testing.T) {
	p := sgxsim.Default()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	srv := simSources(t, p, t0)
	clock := testenv.NewClock(t0.Add(time.Hour))
	path := filepath.Join(t.TempDir(), "shared.db")
	cfg := func(node string) sourcesSetup {
		return sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()}, dbPath: path,
			cfg: CollateralConfig{Sources: []pcs.Source{source(t, srv.URL(), srv)}, NodeID: node}}
	}
	a, b := newSourcesService(t, cfg("node-a")), newSourcesService(t, cfg("node-b"))
	createProvider(t, a, "sim")
	ctx := context.Background()
	if _, err := a.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{})}); err != nil {
		t.Fatal(err)
	}
	addSim(t, srv, p, t0.Add(2*24*time.Hour))
	clock.Set(t0.Add(2*24*time.Hour + time.Hour)) // RefreshMaxAge (24h) has passed
	var wg sync.WaitGroup
	var outA, outB []RefreshResult
	wg.Add(2)
	go func() { defer wg.Done(); outA = a.refreshDue(ctx) }()
	go func() { defer wg.Done(); outB = b.refreshDue(ctx) }()
	wg.Wait()
	if (len(outA) == 0) == (len(outB) == 0) {
		t.Fatalf("both or neither node refreshed: a %+v, b %+v", outA, outB)
	}
	if n := len(auditOps(t, a, "collateral.refresh")); n != 1 {
		t.Errorf("%d refresh audit entries, want 1", n)
	}
	// The holder keeps the lease on its next pass; the other stays idle.
	other := b
	if len(outB) > 0 {
		other = a
	}
	if out := other.refreshDue(ctx); out != nil {
		t.Errorf("the other node refreshed: %+v", out)
	}
}

// TestExpiredAndNoFreshCollateral: stored collateral past nextUpdate, the
// source down: refused with the FMSPC and the expiry (the source error is
// in the collateral report); accepted within the provider's grace period.
func TestExpiredAndNoFreshCollateral(t *testing.T) {
	p := sgxsim.Default()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	srv := simSources(t, p, t0)
	clock := testenv.NewClock(t0.Add(time.Hour))
	s := newSourcesService(t, sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()},
		cfg: CollateralConfig{Sources: []pcs.Source{source(t, srv.URL(), srv)}}})
	createProvider(t, s, "sim")
	grace := 48 * time.Hour
	if _, err := s.CreateProvider(context.Background(), owner, ProviderRequest{Name: "lenient", Settings: &ProviderSettings{CollateralGracePeriod: &grace}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	quote := simQuote(t, p, sgxsim.QuoteOptions{})
	if _, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote}); err != nil {
		t.Fatal(err)
	}
	srv.Fail(500)
	clock.Set(t0.Add(31 * 24 * time.Hour))
	_, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote})
	if !errors.Is(err, ErrCollateralExpired) || !strings.Contains(err.Error(), "2026-03-31T00:00:00Z") ||
		!strings.Contains(err.Error(), "no fresh collateral could be fetched") ||
		!strings.Contains(strings.ToLower(err.Error()), "fmspc") {
		t.Fatalf("err = %v", err)
	}
	rep, err := s.CollateralReport(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Items) == 0 || !strings.Contains(strings.Join(rep.Items[0].LastErrors, "; "), "500 Internal Server Error") ||
		strings.Contains(strings.Join(rep.Items[0].LastErrors, "; "), "no answer within") {
		t.Fatalf("report items %+v", rep.Items)
	}
	if _, err := s.Attest(ctx, "lenient", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote}); err != nil {
		t.Fatalf("within the grace period: %v", err)
	}
	// The source is back and has newer collateral: the next attestation
	// after the back-off fetches it.
	srv.Fail(0)
	addSim(t, srv, p, t0.Add(31*24*time.Hour-time.Hour))
	clock.Set(t0.Add(31*24*time.Hour + 2*time.Hour))
	if _, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote}); err != nil {
		t.Fatalf("after the source recovered: %v", err)
	}
}

// TestSimulatedUntrustedNoFetch: a quote whose chain ends in an untrusted
// root never makes the service fetch.
func TestSimulatedUntrustedNoFetch(t *testing.T) {
	p := sgxsim.Default()
	srv := simSources(t, p, testNow.Add(-time.Hour))
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{testNow}, cfg: CollateralConfig{Sources: []pcs.Source{source(t, srv.URL(), srv)}}})
	createProvider(t, s, "prod")
	_, err := s.Attest(context.Background(), "prod", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{})})
	if !errors.Is(err, dcap.ErrPCKChainUntrusted) || srv.Requests() != 0 {
		t.Fatalf("err = %v, %d requests", err, srv.Requests())
	}
}

func TestCollateralAdmin(t *testing.T) {
	p := sgxsim.Default()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	clock := testenv.NewClock(t0.Add(time.Hour))
	noSources := newSourcesService(t, sourcesSetup{clock: clock})
	ctx := context.Background()
	if _, err := noSources.RefreshCollateral(ctx, owner, nil); !errors.Is(err, ErrNoSources) {
		t.Errorf("refresh without sources: %v", err)
	}
	s := newSourcesService(t, sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()}})
	var key store.CollateralKey
	for i := range 3 {
		col, err := p.Collateral(sgxsim.CollateralOptions{Now: t0.Add(time.Duration(i) * time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		clock.Set(t0.Add(time.Duration(i)*time.Hour + time.Minute))
		row, _, err := s.ImportCollateral(ctx, owner, col, "test")
		if err != nil {
			t.Fatal(err)
		}
		key = row.Key
	}
	reader := &Principal{ID: "r", Role: store.RoleReader}
	v, err := s.GetCollateral(ctx, reader, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.History) != 3 || v.History[0].ID != v.ID || v.History[0].Hashes.TCBInfoHash == "" || v.NextUpdate.IsZero() {
		t.Errorf("view %+v", v)
	}
	oldest := v.History[2]
	row, err := s.CollateralBundle(ctx, reader, key, oldest.ID)
	if err != nil || row.ID != oldest.ID || len(row.Bundle) == 0 {
		t.Fatalf("bundle of row %d: %v", oldest.ID, err)
	}
	if _, err := s.CollateralBundle(ctx, reader, store.CollateralKey{TEE: "tdx", FMSPC: key.FMSPC, PCEID: key.PCEID}, oldest.ID); !errors.Is(err, ErrCollateralNotFound) {
		t.Errorf("row of another key: %v", err)
	}
	if _, err := s.PruneCollateral(ctx, reader, t0.Add(24*time.Hour)); !errors.Is(err, ErrForbidden) {
		t.Errorf("reader prune: %v", err)
	}
	n, err := s.PruneCollateral(ctx, owner, t0.Add(2*time.Hour))
	if err != nil || n != 2 {
		t.Errorf("prune: %d, %v", n, err)
	}
	if entries := auditOps(t, s, "collateral.prune"); len(entries) != 1 || entries[0].Details["deleted"] != "2" {
		t.Errorf("prune audit %+v", entries)
	}
	for in, want := range map[string]string{"sgx/00906ED50000": "sgx/00906ed50000/0000", "TDX/00806f050000/0000": "tdx/00806f050000/0000"} {
		if k, err := ParseCollateralKey(in); err != nil || k.String() != want {
			t.Errorf("ParseCollateralKey(%q) = %v, %v", in, k, err)
		}
	}
	for _, bad := range []string{"sgx", "sgx/xyz", "arm/00906ed50000/0000"} {
		if _, err := ParseCollateralKey(bad); !errors.Is(err, ErrInvalidRequest) {
			t.Errorf("ParseCollateralKey(%q): %v", bad, err)
		}
	}
}

// TestBrokenImportReplaced: imported collateral that does not verify (an
// import is only parsed) is replaced from the sources on the next
// attestation; a source serving revoking CRLs is not shopped around.
func TestBrokenImportReplaced(t *testing.T) {
	p := sgxsim.Default()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	srv := simSources(t, p, t0)
	clock := testenv.NewClock(t0.Add(time.Hour))
	s := newSourcesService(t, sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()},
		cfg: CollateralConfig{Sources: []pcs.Source{source(t, srv.URL(), srv)}}})
	createProvider(t, s, "sim")
	ctx := context.Background()
	bad, err := p.Collateral(sgxsim.CollateralOptions{Now: t0, Defect: sgxsim.BadTCBInfoSignature})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ImportCollateral(ctx, owner, bad, "broken import"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{})}); err != nil {
		t.Fatalf("attest with a broken import and a good source: %v", err)
	}
	rows, _ := s.st.ListCollateral(ctx)
	if len(rows) != 1 || rows[0].Source != "pccs "+srv.URL() {
		t.Errorf("rows %+v", rows)
	}

	// A quote the source's valid CRL revokes stays refused: the second
	// source, with a CRL that does not list it, is not asked.
	revoking, lenient := pcsfake.New(pcs.KindPCCS), pcsfake.New(pcs.KindPCCS)
	rc, err := p.Collateral(sgxsim.CollateralOptions{Now: t0, Defect: sgxsim.RevokedPCK})
	if err != nil {
		t.Fatal(err)
	}
	revoking.Add(rc)
	revoking.Start(t)
	addSim(t, lenient, p, t0)
	lenient.Start(t)
	s2 := newSourcesService(t, sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()},
		cfg: CollateralConfig{Sources: []pcs.Source{source(t, revoking.URL(), revoking), source(t, lenient.URL(), lenient)}}})
	createProvider(t, s2, "sim")
	_, err = s2.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{})})
	if !errors.Is(err, dcap.ErrPCKRevoked) || lenient.Requests() != 0 {
		t.Errorf("revoked: %v, %d requests to the second source", err, lenient.Requests())
	}
}
