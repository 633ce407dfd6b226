package nvgpusim

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/avowhq/avow/nvgpu"
)

var now = time.Date(2026, 12, 8, 12, 0, 0, 0, time.UTC)

func verify(t *testing.T, g *GPU, o ReportOptions, vo func(*nvgpu.Options)) (*nvgpu.Result, error) {
	t.Helper()
	nonce := make([]byte, 32)
	nonce[0] = 7
	item, err := g.Item(nonce, o)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := nvgpu.ParseItems([]nvgpu.Item{item})
	if err != nil {
		t.Fatal(err)
	}
	col, err := g.Collateral(now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	opts := nvgpu.Options{Now: now, Nonce: nonce, Collateral: col,
		DeviceRoots: []*x509.Certificate{g.DeviceRoot()}, RIMRoots: []*x509.Certificate{g.RIMRoot()}}
	if vo != nil {
		vo(&opts)
	}
	return nvgpu.Verify(context.Background(), evs[0], opts)
}

func TestSimulatedGPUVerifies(t *testing.T) {
	g, err := New(now.AddDate(0, -1, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range []ReportOptions{{}, {Versioned: true, FSPSVN: 3}} {
		res, err := verify(t, g, o, func(opts *nvgpu.Options) { opts.MinFSPUcodeSVN = int(o.FSPSVN) })
		if err != nil {
			t.Fatalf("versioned %v: %v %+v", o.Versioned, err, res.Checks)
		}
		if res.MeasRes != "success" || res.HWModel != "SIM100 A01 GSP BROM" || res.DriverVersion != DriverVersion || res.VBIOSVersion != VBIOSVersion {
			t.Errorf("%+v", res)
		}
	}
	// Other firmware: a mismatch at block 8 (RIM index 7, the driver's).
	res, err := verify(t, g, ReportOptions{Measurements: map[int][]byte{8: make([]byte, 48)}}, nil)
	if !errors.Is(err, nvgpu.ErrMeasurementMismatch) || len(res.Mismatches) != 1 || res.Mismatches[0] != 8 {
		t.Errorf("mismatch: %v %v", err, res.Mismatches)
	}
	// An SVN floor above the report's.
	if _, err := verify(t, g, ReportOptions{Versioned: true, FSPSVN: 2}, func(o *nvgpu.Options) { o.MinFSPUcodeSVN = 3 }); !errors.Is(err, nvgpu.ErrSVNBelowFloor) {
		t.Errorf("svn floor: %v", err)
	}
	// Not trusted by default: NVIDIA's roots only.
	if _, err := verify(t, g, ReportOptions{}, func(o *nvgpu.Options) { o.DeviceRoots = nil }); !errors.Is(err, nvgpu.ErrChainRoot) {
		t.Errorf("NVIDIA's roots: %v", err)
	}
	if _, err := verify(t, g, ReportOptions{}, func(o *nvgpu.Options) { o.RIMRoots = nil }); !errors.Is(err, nvgpu.ErrRIMChain) {
		t.Errorf("NVIDIA's RIM root: %v", err)
	}
}

func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	g, err := Open(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	h, err := Open(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if !g.DeviceRoot().Equal(h.DeviceRoot()) || string(g.Chain()) != string(h.Chain()) {
		t.Error("reloaded GPU differs")
	}
	if _, err := verify(t, h, ReportOptions{}, nil); err != nil {
		t.Error(err)
	}
}
