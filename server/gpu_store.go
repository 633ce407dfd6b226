package server

import (
	"context"
	"crypto/x509"
	"strings"
	"sync"
	"time"

	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/store"
)

// GPUCollateralType is the store's type of NVIDIA GPU collateral rows:
// kind "rim" keyed "<RIM id>/<sha256>", kind "ocsp" keyed
// "<certificate serial>/<sha256>" — RIMs and answers by content hash, so
// that re-issued RIMs and newer answers sit beside the older ones.
const GPUCollateralType = nvidia.Name

// gpuStoreSnapshot is how long a node serves the store's GPU collateral
// before reading it again (imports on another node show within it).
const gpuStoreSnapshot = 5 * time.Second

// GPUStore is NVIDIA GPU collateral in the store: nvgpu.Collateral for
// verification, Import and Export for the CLI.
type GPUStore struct {
	st  store.Store
	now func() time.Time

	mu     sync.Mutex
	snap   *nvgpu.Store
	readAt time.Time
}

// NewGPUStore returns the store's GPU collateral.
func NewGPUStore(st store.Store, now func() time.Time) *GPUStore {
	if now == nil {
		now = time.Now
	}
	return &GPUStore{st: st, now: now}
}

func (g *GPUStore) snapshot(ctx context.Context) (*nvgpu.Store, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.snap != nil && time.Since(g.readAt) < gpuStoreSnapshot {
		return g.snap, nil
	}
	s, err := g.Export(ctx)
	if err != nil {
		return nil, err
	}
	g.snap, g.readAt = s, time.Now()
	return s, nil
}

// RIMs implements nvgpu.Collateral.
func (g *GPUStore) RIMs(ctx context.Context, id string) ([][]byte, error) {
	s, err := g.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return s.RIMs(ctx, id)
}

// OCSP implements nvgpu.Collateral.
func (g *GPUStore) OCSP(ctx context.Context, cert, issuer *x509.Certificate) ([][]byte, error) {
	s, err := g.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	return s.OCSP(ctx, cert, issuer)
}

// Export reads every GPU collateral row into an nvgpu.Store (WriteDir
// writes it as a folder).
func (g *GPUStore) Export(ctx context.Context) (*nvgpu.Store, error) {
	rows, err := g.st.ListTypeCollateral(ctx, GPUCollateralType)
	if err != nil {
		return nil, err
	}
	s := nvgpu.NewStore()
	for _, r := range rows {
		key, _, _ := strings.Cut(r.Key, "/")
		if err := s.Add(nvgpu.StoreItem{Kind: r.Kind, Key: key, Data: r.Data}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Import stores the RIMs and OCSP answers of s. RIMs are checked first —
// XML signature, signer chain to rimRoots (nil: NVIDIA's) — and refused
// otherwise; OCSP answers must parse (their certificates are known only at
// verification, where they are checked). It returns the rows written.
func (g *GPUStore) Import(ctx context.Context, s *nvgpu.Store, rimRoots []*x509.Certificate, source string) ([]store.TypeCollateral, error) {
	var out []store.TypeCollateral
	for _, it := range s.Items() {
		row := store.TypeCollateral{Type: GPUCollateralType, Kind: it.Kind, Key: it.Key + "/" + it.SHA256, Data: it.Data, Source: source}
		switch it.Kind {
		case "rim":
			r, err := nvgpu.CheckRIM(it.Data, rimRoots)
			if err != nil {
				return out, err
			}
			row.NotAfter = r.Chain[0].NotAfter
		case "ocsp":
			if _, err := nvgpu.ResponseKeys(it.Data); err != nil {
				return out, err
			}
		}
		saved, err := g.st.PutTypeCollateral(ctx, row)
		if err != nil {
			return out, err
		}
		out = append(out, saved)
	}
	g.mu.Lock()
	g.snap = nil
	g.mu.Unlock()
	return out, nil
}
