package server

import (
	"path/filepath"
	"time"

	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/nvgpu/nvgpusim"
	"github.com/avowhq/avow/store"
)

// gpuType is the NvidiaGpu type of a node: the GPU collateral in the
// store, the deployment's GPU collateral folder and, in development mode, the simulated GPU (its
// roots trusted, its collateral served live; simulated tokens marked by
// the keys returned).
func gpuType(cfg Config, st store.Store) (nvidia.NvidiaGpu, [][]byte, error) {
	var t nvidia.NvidiaGpu
	now := time.Now
	if cfg.Clock != nil {
		now = cfg.Clock.Now
	}
	// The store's (imported with avow gpu collateral import), then the
	// operator's folder, then the simulated GPU's.
	cols := nvgpu.Multi{NewGPUStore(st, now)}
	if cfg.GPUCollateral != "" {
		st, err := nvgpu.LoadDir(cfg.GPUCollateral)
		if err != nil {
			return t, nil, ErrConfig.Wrapf("GPU collateral %s: %v", cfg.GPUCollateral, err)
		}
		cols = append(cols, st)
		cfg.Logger.Info("GPU collateral loaded", "folder", cfg.GPUCollateral, "rims", len(st.RIMIDs()))
	}
	var keys [][]byte
	if cfg.Dev {
		g, err := nvgpusim.Open(filepath.Join(cfg.SimDir, "gpu"), now())
		if err != nil {
			return t, nil, ErrConfig.Wrapf("simulated GPU: %v", err)
		}
		src, err := g.Source(now)
		if err != nil {
			return t, nil, ErrConfig.Wrapf("simulated GPU: %v", err)
		}
		cols = append(cols, src)
		t.DeviceRoots, t.RIMRoots = append(t.DeviceRoots, g.DeviceRoot()), append(t.RIMRoots, g.RIMRoot())
		keys = append(keys, g.DeviceRoot().RawSubjectPublicKeyInfo)
	}
	t.Collateral = cols
	return t, keys, nil
}
