// Package builtin is the registry of the attestation types avow ships:
// what avow serve, the quickstart and the tests give the service.
package builtin

import (
	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/attestation/sevsnp"
	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/attestation/tdx"
)

// Options configure the built-in types that take configuration.
type Options struct {
	// SevSnp configures SevSnpVm (nil: AMD's pinned roots, no collateral
	// source, no minimum TCB).
	SevSnp *sevsnp.Config
	// GPU configures NvidiaGpu and the GPUs beside a TdxVm quote or a
	// SevSnpVm report: the
	// deployment's GPU collateral (a folder of RIMs and OCSP answers) and,
	// in --dev, the simulated GPU's roots (zero: NVIDIA's roots, no
	// collateral).
	GPU nvidia.NvidiaGpu
}

// Registry returns a new registry of avow's attestation types, in the order
// MAA lists them, then avow's own (NvidiaGpu).
func Registry() *attestation.Registry { return New(Options{}) }

// New returns a new registry of avow's attestation types configured by o.
func New(o Options) *attestation.Registry {
	r, err := attestation.NewRegistry(sgx.SgxEnclave{}, sgx.OpenEnclave{}, sevsnp.SevSnpVm{Config: o.SevSnp, GPU: o.GPU}, tdx.TdxVm{GPU: o.GPU}, o.GPU)
	if err != nil {
		panic(err) // the built-in names are distinct
	}
	return r
}
