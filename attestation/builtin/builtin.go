// Package builtin is the registry of the attestation types avow ships:
// what avow serve, the quickstart and the tests give the service.
package builtin

import (
	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/attestation/tdx"
)

// Registry returns a new registry of avow's attestation types, in the order
// MAA lists them.
func Registry() *attestation.Registry {
	r, err := attestation.NewRegistry(sgx.SgxEnclave{}, sgx.OpenEnclave{}, tdx.TdxVm{})
	if err != nil {
		panic(err) // the built-in names are distinct
	}
	return r
}
