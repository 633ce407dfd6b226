package sevsnp

import (
	"context"
	"fmt"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/nvgpu"
	"github.com/avowhq/avow/snp"
)

// Composite CPU+GPU evidence: an SEV-SNP report with the evidence of the
// VM's GPUs beside it, in Trustee's convention (docs/gpu.md), the one
// published for SNP VMs: the request's "additionalEvidence" is the
// attester's additional-evidence string ({"nvidia": {"device_evidence_list":
// [...]}}) and its runtimeData the JSON {"nonce", "tee-pubkey"}; each GPU's
// nonce is the first 32 bytes of SHA-384 over the RFC 8785 form of the
// runtime data, and REPORT_DATA is SHA-384 over that form with
// "additional-evidence" added, zero-padded to 64 bytes
// (nvidia.TrusteeBinding). Intel Trust Authority's convention is TDX's only.

// ExtraFields names the member of composite requests.
func (SevSnpVm) ExtraFields() []string { return []string{nvidia.FieldTrustee} }

type compositeEvidence struct {
	*Evidence
	gpus       []*nvgpu.Evidence
	additional string // Trustee's additional-evidence, verbatim
}

// String names the evidence (audit, errors).
func (ce *compositeEvidence) String() string {
	return fmt.Sprintf("SEV-SNP report + %d GPU(s), %s binding", len(ce.gpus), nvidia.BindingTrustee)
}

// ParseExtra parses the report and the GPU evidence beside it.
func (t SevSnpVm) ParseExtra(raw []byte, extra map[string][]byte) (attestation.Evidence, error) {
	ev, err := t.Parse(raw)
	if err != nil {
		return nil, err
	}
	member, ok := extra[nvidia.FieldTrustee]
	if !ok {
		return ev, nil
	}
	e := ev.(*Evidence)
	if e.RuntimeData != nil {
		return nil, nvidia.ErrComposite.Wrapf("an Azure HCL report binds REPORT_DATA to its own runtime data; send the SNP report itself beside the GPU evidence")
	}
	ce := &compositeEvidence{Evidence: e}
	if ce.additional, ce.gpus, err = nvidia.ParseTrustee(member); err != nil {
		return nil, err
	}
	return ce, nil
}

type compositeResult struct {
	cpu *attestation.Verified
	gpu *attestation.Verified
	ev  *compositeEvidence
}

func (t SevSnpVm) verifyComposite(ctx context.Context, ce *compositeEvidence, env attestation.Env) (*attestation.Verified, error) {
	cpu, err := t.Verify(ctx, ce.Evidence, env)
	if err != nil {
		return nil, err
	}
	gpu, err := t.GPU.VerifyBeside(ctx, ce.gpus, nil, env, nvidia.BesideSettings(env.Settings))
	if err != nil {
		return nil, err
	}
	v := *cpu
	v.Evidence, v.Result = ce, &compositeResult{cpu: cpu, gpu: gpu, ev: ce}
	if root := nvidia.SimulatedRoot(gpu); root != nil {
		v.RootKey = root // the simulated GPU marks the token as the CPU's root would
	}
	return &v, nil
}

func (t SevSnpVm) compositeClaims(cr *compositeResult, runtime, initTime *attestation.Data) (map[string]any, error) {
	res, ok := cr.cpu.Result.(*snp.Result)
	if !ok {
		return nil, errs.Internal("the verified evidence is not SEV-SNP evidence").Wrapf("%T", cr.cpu.Result)
	}
	gpuNonce, err := nvidia.TrusteeBinding(runtime, cr.ev.additional, res.Report.Proto.GetReportData(), cr.gpu.Result.(*nvidia.Result))
	if err != nil {
		return nil, err
	}
	// REPORT_DATA is bound above; init-time data as for any SNP report.
	c, err := t.claimsWith(cr.cpu, nil, initTime)
	if err != nil {
		return nil, err
	}
	if err := snp.AddDataClaims(c, &snp.Evidence{RuntimeData: &snp.Data{Bytes: runtime.Bytes, DataType: runtime.DataType}}); err != nil {
		return nil, attestation.ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	if err := nvidia.AddBeside(c, cr.gpu, gpuNonce, nvidia.BindingTrustee, "sevsnp"); err != nil {
		return nil, err
	}
	return c, nil
}
