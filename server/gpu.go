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
	if cfg.GPUOnline || cfg.GPURIMService != "" || cfg.GPUOCSPURL != "" {
		cols = append(cols, &nvgpu.Online{Fetcher: nvgpu.Fetcher{RIMService: cfg.GPURIMService, OCSP: cfg.GPUOCSPURL}, Now: now})
		cfg.Logger.Info("GPU collateral: NVIDIA's services are asked for what is missing", "rim_service", orURL(cfg.GPURIMService, nvgpu.DefaultRIMServiceURL), "ocsp", orURL(cfg.GPUOCSPURL, nvgpu.DefaultOCSPURL))
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

func orURL(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
