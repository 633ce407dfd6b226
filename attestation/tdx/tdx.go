// Package tdx is the TdxVm attestation type: an Intel TDX quote (v4 or v5)
// verified with Intel DCAP collateral, with the claims of MAA's TDX EAT
// profile (https://aka.ms/maa-eat-profile-tdxvm; docs/tdxvm.md).
package tdx

import (
	"context"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/dcapquote"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/claims"
)

// Name is MAA's name of the type.
const Name = "TdxVm"

// EATProfile is the eat_profile claim of TdxVm tokens.
const EATProfile = claims.EATProfileTDX

// DefaultPolicy is the default for TdxVm: MAA's is not public and its
// tokens carry no x-ms-policy, so an authorization-only permit.
const DefaultPolicy = `version= 1.0;
authorizationrules{
	=> permit();
};
`

// TdxVm attests a TDX quote sent as "quote", alone or with the evidence
// of the VM's NVIDIA GPUs beside it (composite.go); GPU verifies those.
type TdxVm struct {
	GPU nvidia.NvidiaGpu
}

var _ attestation.Type = TdxVm{}

func (TdxVm) Name() string          { return Name }
func (TdxVm) EvidenceField() string { return "quote" }
func (TdxVm) DefaultPolicy() string { return DefaultPolicy }

// TCBFamily is "tdx": TD quotes are judged against a TCB baseline of the
// service's TDX collateral (attestation.TCBBaselined).
func (TdxVm) TCBFamily() string { return "tdx" }

func (TdxVm) Parse(raw []byte) (attestation.Evidence, error) {
	return dcapquote.Parse(raw, Name, false, true)
}

func (t TdxVm) Verify(ctx context.Context, ev attestation.Evidence, env attestation.Env) (*attestation.Verified, error) {
	if ce, ok := ev.(*compositeEvidence); ok {
		return t.verifyComposite(ctx, ce, env)
	}
	return dcapquote.Verify(ctx, ev, env)
}

func (t TdxVm) Claims(v *attestation.Verified, runtime, initTime *attestation.Data) (map[string]any, error) {
	if cr, ok := v.Result.(*compositeResult); ok {
		return t.compositeClaims(cr, runtime, initTime)
	}
	return dcapquote.Claims(v, runtime, initTime)
}
