// Package builtin is the registry of the attestation types avow ships:
// what avow serve, the quickstart and the tests give the service.
package builtin

import (
	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/attestation/tdx"
)

// Registry returns a new registry of avow's attestation types, in the order
// MAA lists them, then avow's own (NvidiaGpu with NVIDIA's roots and no
// collateral of its own: see With).
func Registry() *attestation.Registry { return With(nvidia.NvidiaGpu{}) }

// With is Registry with a configured NvidiaGpu: the deployment's GPU
// collateral (a folder of RIMs and OCSP answers) and, in --dev, the
// simulated GPU's roots.
func With(gpu nvidia.NvidiaGpu) *attestation.Registry {
	r, err := attestation.NewRegistry(sgx.SgxEnclave{}, sgx.OpenEnclave{}, tdx.TdxVm{GPU: gpu}, gpu)
	if err != nil {
		panic(err) // the built-in names are distinct
	}
	return r
}
