package service

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/internal/testenv"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/sgxsim"
)

// syncBuffer is a log destination tests read while the service writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// markerSource answers every request with a 500 whose body carries a
// marker, unless serving is on (then it is fake).
type markerSource struct {
	fake    *pcsfake.Server
	serving atomic.Bool
}

const bodyMarker = "MARKER-from-the-source-body"

func (m *markerSource) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if m.serving.Load() && m.fake != nil {
		m.fake.ServeHTTP(w, r)
		return
	}
	http.Error(w, bodyMarker+" internal details", http.StatusInternalServerError)
}

// checkAnonymous fails when an attestation error shows a source's body,
// URL or path.
func checkAnonymous(t *testing.T, what string, err error, hidden ...string) {
	t.Helper()
	if err == nil {
		return
	}
	text := err.Error()
	for _, h := range append(hidden, "MARKER") {
		if strings.Contains(text, h) {
			t.Errorf("%s: the attestation error shows %q: %s", what, h, text)
		}
	}
}

// TestAttestErrorHidesSources: when no source has collateral, the
// attestation error (anonymous callers see it) names the FMSPC and the
// next attempt but no source: not its error body, URL or path. The
// per-source errors are in the server log and the collateral.fetch audit
// entry.
func TestAttestErrorHidesSources(t *testing.T) {
	v := loadVector(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	ts := httptest.NewServer(&markerSource{})
	t.Cleanup(ts.Close)
	folder := filepath.Join(t.TempDir(), "MARKER-folder")
	if err := os.Mkdir(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{v.at}, log: slog.New(slog.NewTextHandler(&logs, nil)),
		cfg: CollateralConfig{Sources: []pcs.Source{mustSource(t, "pccs:"+ts.URL), mustSource(t, "dir:"+folder)}}})
	createProvider(t, s, "real", "UpToDate", "ConfigurationAndSWHardeningNeeded")
	ctx := context.Background()
	host := strings.TrimPrefix(ts.URL, "http://")
	for _, attempt := range []string{"first attempt", "in back-off"} {
		_, err := s.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: v.quote})
		if !errors.Is(err, ErrCollateralNotFound) || !strings.Contains(err.Error(), "FMSPC 00a067110000") || !strings.Contains(err.Error(), "next attempt after") {
			t.Fatalf("%s: %v", attempt, err)
		}
		checkAnonymous(t, attempt, err, host, folder, "Internal Server Error")
	}
	if l := logs.String(); !strings.Contains(l, bodyMarker) || !strings.Contains(l, folder) {
		t.Errorf("the log lacks the sources' errors:\n%s", l)
	}
	entries := auditOps(t, s, "collateral.fetch")
	if len(entries) != 1 || !strings.Contains(entries[0].Details["errors"], bodyMarker) {
		t.Errorf("audit %+v", entries)
	}
}

// TestExpiredErrorHidesSources: stored collateral expired, the source
// failing with a marker body: collateral_expired names the expiry but not
// the source's error.
func TestExpiredErrorHidesSources(t *testing.T) {
	p := sgxsim.Default()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	fake := pcsfake.New(pcs.KindPCCS)
	addSim(t, fake, p, t0)
	src := &markerSource{fake: fake}
	src.serving.Store(true)
	ts := httptest.NewServer(src)
	t.Cleanup(ts.Close)
	clock := testenv.NewClock(t0.Add(time.Hour))
	s := newSourcesService(t, sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()},
		cfg: CollateralConfig{Sources: []pcs.Source{mustSource(t, "pccs:"+ts.URL)}}})
	createProvider(t, s, "sim")
	ctx := context.Background()
	quote := simQuote(t, p, sgxsim.QuoteOptions{})
	if _, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote}); err != nil {
		t.Fatal(err)
	}
	src.serving.Store(false)
	clock.Set(t0.Add(31 * 24 * time.Hour))
	_, err := s.Attest(ctx, "sim", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: quote})
	if !errors.Is(err, ErrCollateralExpired) || !strings.Contains(err.Error(), "2026-03-31T00:00:00Z") || !strings.Contains(err.Error(), "no fresh collateral could be fetched") {
		t.Fatalf("err = %v", err)
	}
	checkAnonymous(t, "expired", err, strings.TrimPrefix(ts.URL, "http://"), "Internal Server Error")
}

func mustSource(t *testing.T, spec string) pcs.Source {
	t.Helper()
	src, err := pcs.ParseSource(spec, pcs.SourceOptions{})
	if err != nil {
		t.Fatalf("%s: %s", spec, errs.Detail(err))
	}
	return src
}
