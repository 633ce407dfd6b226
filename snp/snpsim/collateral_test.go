package snpsim

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/avowhq/avow/snp"
)

// memCache is a snp.Cache in memory (the server's is the store).
type memCache struct {
	mu   sync.Mutex
	rows map[string][]byte
}

func (m *memCache) Get(_ context.Context, kind, key string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rows[kind+"|"+key], nil
}

func (m *memCache) Put(_ context.Context, kind, key string, data []byte, _ time.Time, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rows == nil {
		m.rows = map[string][]byte{}
	}
	m.rows[kind+"|"+key] = data
	return nil
}

// fakeKDS serves a simulated platform's VCEKs and CRL on KDS's paths.
type fakeKDS struct {
	srv   *httptest.Server
	mu    sync.Mutex
	files map[string][]byte // path?query → body
	hits  atomic.Int32
	down  atomic.Bool
}

func newFakeKDS(t *testing.T) *fakeKDS {
	f := &fakeKDS{files: map[string][]byte{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		if f.down.Load() {
			http.Error(w, "rate limited", http.StatusTooManyRequests)
			return
		}
		f.mu.Lock()
		b, ok := f.files[r.URL.RequestURI()]
		f.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeKDS) put(url string, b []byte) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.files[url[len(f.srv.URL):]] = b
}

// A bare report (no VCEK) verifies with the VCEK fetched from the KDS,
// which is verified, cached, and keeps working when the KDS fails; the CRL
// is fetched, checked, and refreshed before its nextUpdate.
func TestKDSCollateral(t *testing.T) {
	ctx := context.Background()
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 10, 0, 0, 0, 0, time.UTC)
	clock := now
	kds := newFakeKDS(t)
	k := &snp.KDS{BaseURL: kds.srv.URL}
	raw, vcek, err := p.Report(ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tcb := ComposeTCB(p.TCB())
	kds.put(k.VCEKURL(Product, p.ChipID(), tcb), vcek)
	crl1, _ := p.CRL(now.Add(-time.Hour))
	kds.put(kds.srv.URL+"/vcek/v1/Milan/crl", crl1)

	roots := snp.AMDRoots().Clone()
	roots.Add(p.Root())
	cache := &memCache{}
	col := &snp.CachedCollateral{Source: k, SourceName: kds.srv.URL, Cache: cache, Roots: roots, Now: func() time.Time { return clock }, RefreshLead: 24 * time.Hour}
	r, _ := snp.ParseReport(raw)
	verify := func(c snp.Collateral) (*snp.Result, error) {
		return snp.NewVerifier().Verify(ctx, &snp.Evidence{Report: r}, snp.Options{Now: clock, Roots: roots, Collateral: c})
	}
	res, err := verify(col)
	if err != nil {
		t.Fatal(err)
	}
	if !res.CRLChecked {
		t.Error("the CRL was not checked")
	}
	if cache.rows["vcek|"+snp.VCEKKey(Product, p.ChipID(), tcb)] == nil || cache.rows["crl|Milan/vcek"] == nil {
		t.Errorf("not cached: %v", len(cache.rows))
	}
	// The KDS fails: the cached VCEK and CRL keep working, also for a new
	// collateral over the same cache (a restarted node).
	kds.down.Store(true)
	col2 := &snp.CachedCollateral{Source: k, Cache: cache, Roots: roots, Now: func() time.Time { return clock }}
	for _, c := range []snp.Collateral{col, col2} {
		if _, err := verify(c); err != nil {
			t.Fatalf("with the KDS down: %v", err)
		}
	}
	// Inside the refresh lead, a new CRL is fetched; while the KDS fails the
	// current one is used.
	clock = now.Add(6*24*time.Hour + time.Hour)
	if _, err := verify(col); err != nil {
		t.Fatalf("KDS down, CRL due but current: %v", err)
	}
	kds.down.Store(false)
	crl2, _ := p.CRL(clock)
	kds.put(kds.srv.URL+"/vcek/v1/Milan/crl", crl2)
	before := kds.hits.Load()
	if err := col.Refresh(ctx); err == nil {
		t.Log("refresh fetched every CRL") // vlek and other products are not served: errors expected
	}
	if kds.hits.Load() == before || string(cache.rows["crl|Milan/vcek"]) != string(crl2) {
		t.Error("Refresh did not fetch the due CRL")
	}
	// A CRL revoking the ASK.
	crl3, _ := p.CRL(clock, p.Root().Ask.SerialNumber)
	kds.put(kds.srv.URL+"/vcek/v1/Milan/crl", crl3)
	col3 := &snp.CachedCollateral{Source: k, Roots: roots, Now: func() time.Time { return clock }}
	if _, err := verify(col3); !errors.Is(err, snp.ErrRevoked) {
		t.Fatalf("revoked ASK: %v", err)
	}
}

// A VCEK of another chip, or a CRL of another ARK, is refused and not cached.
func TestKDSCollateralRefusesForeign(t *testing.T) {
	ctx := context.Background()
	p, _ := New()
	other, _ := New()
	kds := newFakeKDS(t)
	k := &snp.KDS{BaseURL: kds.srv.URL}
	raw, _, _ := p.Report(ReportOptions{})
	_, otherVCEK, _ := other.Report(ReportOptions{})
	tcb := ComposeTCB(p.TCB())
	kds.put(k.VCEKURL(Product, p.ChipID(), tcb), otherVCEK)
	otherCRL, _ := other.CRL(time.Now().Add(-time.Hour))
	kds.put(kds.srv.URL+"/vcek/v1/Milan/crl", otherCRL)
	roots := snp.AMDRoots().Clone()
	roots.Add(p.Root())
	cache := &memCache{}
	col := &snp.CachedCollateral{Source: k, Cache: cache, Roots: roots}
	r, _ := snp.ParseReport(raw)
	_, err := snp.NewVerifier().Verify(ctx, &snp.Evidence{Report: r}, snp.Options{Now: time.Now(), Roots: roots, Collateral: col})
	if !errors.Is(err, snp.ErrNoEndorsementKey) {
		t.Fatalf("foreign VCEK: %v", err)
	}
	if der, _ := col.CRL(ctx, Product, "vcek"); der != nil {
		t.Error("a CRL of another ARK was accepted")
	}
	if len(cache.rows) != 0 {
		t.Errorf("cached %d foreign rows", len(cache.rows))
	}
}

// A folder laid out as export writes it serves an air-gapped server.
func TestDirCollateral(t *testing.T) {
	p, _ := New()
	dir := snp.Dir(t.TempDir())
	raw, vcek, _ := p.Report(ReportOptions{})
	tcb := ComposeTCB(p.TCB())
	path := dir.VCEKPath(Product, p.ChipID(), tcb)
	os.MkdirAll(filepath.Dir(path), 0o755)
	os.WriteFile(path, vcek, 0o644)
	roots := snp.AMDRoots().Clone()
	roots.Add(p.Root())
	r, _ := snp.ParseReport(raw)
	col := &snp.CachedCollateral{Source: dir, Roots: roots}
	if _, err := snp.NewVerifier().Verify(context.Background(), &snp.Evidence{Report: r}, snp.Options{Now: time.Now(), Roots: roots, Collateral: col}); err != nil {
		t.Fatal(err)
	}
}
