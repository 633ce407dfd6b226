package tdx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/dcapquote"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/nvgpu"
)

// Composite CPU+GPU evidence: a TD quote with the evidence of the VM's
// GPUs beside it, in either published convention (docs/gpu.md):
//
//   - Intel Trust Authority's ("nvgpu": {"verifier_nonce": {"val", "iat"},
//     "gpu_nonce", "arch", "evidence_list": [{"evidence", "certificate"}]}):
//     GPU nonce = SHA-256(val ‖ iat); REPORTDATA = SHA-512(val ‖ iat ‖ user
//     data), the user data being the request's runtimeData
//     (trustauthority-client-for-go: go-nvgpu/gpu_adapter.go,
//     go-tdx/tdx_adapter.go).
//   - Trustee's ("additionalEvidence": the attester's additional-evidence
//     string, {"nvidia": {"device_evidence_list": [...]}}, and runtimeData
//     JSON {"nonce", "tee-pubkey"}): GPU nonce = the first 32 bytes of
//     SHA-384 over the RFC 8785 form of the runtime data; REPORTDATA =
//     SHA-384 over the RFC 8785 form of the runtime data with
//     "additional-evidence" added, zero-padded to 64 bytes
//     (kbs/src/attestation/backend.rs, attestation-service/src/lib.rs,
//     deps/verifier regularize_data).
//
// Either way both devices are bound to one challenge and the CPU to the
// GPU evidence or its nonce; a binding that does not hold refuses the
// request (runtime_data_mismatch), and a GPU whose measurements do not
// match its RIMs fails it (TdxVm's default policy does not look at GPU
// claims).

const (
	fieldITA     = "nvgpu"
	fieldTrustee = nvidia.FieldTrustee
	bindingITA   = "ita"
	bindingCoCo  = nvidia.BindingTrustee
	maxExtra     = nvidia.MaxBeside
)

// ErrComposite is composite evidence that cannot be read.
var ErrComposite = nvidia.ErrComposite

// ExtraFields names the members of composite requests.
func (TdxVm) ExtraFields() []string { return []string{fieldITA, fieldTrustee} }

type itaNonce struct {
	Val []byte `json:"val"`
	Iat []byte `json:"iat"`
}

type compositeEvidence struct {
	*dcapquote.Evidence
	gpus       []*nvgpu.Evidence
	binding    string
	ita        *itaNonce
	gpuNonce   []byte // ITA's gpu_nonce, when sent
	additional string // Trustee's additional-evidence, verbatim
}

// ParseExtra parses the quote and the GPU evidence beside it.
func (t TdxVm) ParseExtra(raw []byte, extra map[string][]byte) (attestation.Evidence, error) {
	cpu, err := dcapquote.Parse(raw, Name, false, true)
	if err != nil {
		return nil, err
	}
	ita, coco := extra[fieldITA], extra[fieldTrustee]
	if len(ita)+len(coco) > maxExtra {
		return nil, ErrComposite.Wrapf("more than %d bytes", maxExtra)
	}
	ce := &compositeEvidence{Evidence: cpu}
	switch {
	case ita != nil && coco != nil:
		return nil, ErrComposite.Wrapf("send %q or %q, not both", fieldITA, fieldTrustee)
	case ita != nil:
		var m struct {
			GPUNonce      string    `json:"gpu_nonce"`
			VerifierNonce *itaNonce `json:"verifier_nonce"`
			Arch          string    `json:"arch"`
			EvidenceList  []struct {
				Evidence    string `json:"evidence"`
				Certificate string `json:"certificate"`
			} `json:"evidence_list"`
		}
		if err := json.Unmarshal(ita, &m); err != nil {
			return nil, ErrComposite.Wrapf("%s: %v", fieldITA, err)
		}
		if m.VerifierNonce == nil || len(m.VerifierNonce.Val) == 0 || len(m.VerifierNonce.Iat) == 0 {
			return nil, ErrComposite.Wrapf("%s: no verifier_nonce {val, iat}", fieldITA)
		}
		items := make([]nvgpu.Item, len(m.EvidenceList))
		for i, e := range m.EvidenceList {
			items[i] = nvgpu.Item{Arch: m.Arch, Certificate: e.Certificate, Evidence: e.Evidence}
		}
		if ce.gpus, err = nvgpu.ParseItems(items); err != nil {
			return nil, err
		}
		if m.GPUNonce != "" {
			if ce.gpuNonce, err = hex.DecodeString(m.GPUNonce); err != nil {
				return nil, ErrComposite.Wrapf("%s: gpu_nonce is not hex", fieldITA)
			}
		}
		ce.binding, ce.ita = bindingITA, m.VerifierNonce
	case coco != nil:
		if ce.additional, ce.gpus, err = nvidia.ParseTrustee(coco); err != nil {
			return nil, err
		}
		ce.binding = bindingCoCo
	default:
		return cpu, nil
	}
	return ce, nil
}

type compositeResult struct {
	cpu *attestation.Verified
	gpu *attestation.Verified
	ev  *compositeEvidence
}

func (t TdxVm) verifyComposite(ctx context.Context, ce *compositeEvidence, env attestation.Env) (*attestation.Verified, error) {
	cpu, err := dcapquote.Verify(ctx, ce.Evidence, env)
	if err != nil {
		return nil, err
	}
	var nonce []byte
	if ce.binding == bindingITA {
		sum := sha256.Sum256(append(append([]byte{}, ce.ita.Val...), ce.ita.Iat...))
		if ce.gpuNonce != nil && !bytes.Equal(ce.gpuNonce, sum[:]) {
			return nil, attestation.ErrRuntimeDataMismatch.Wrapf("gpu_nonce %x is not SHA-256 of the verifier nonce (%x)", ce.gpuNonce, sum)
		}
		nonce = sum[:]
	}
	gpu, err := t.GPU.VerifyBeside(ctx, ce.gpus, nonce, env, gpuSettings(env.Settings))
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

func (t TdxVm) compositeClaims(cr *compositeResult, runtime, initTime *attestation.Data) (map[string]any, error) {
	c, err := dcapquote.Claims(cr.cpu, nil, initTime)
	if err != nil {
		return nil, err
	}
	rd := cr.ev.Quote.ReportData()
	gres := cr.gpu.Result.(*nvidia.Result)
	var gpuNonce []byte
	switch cr.ev.binding {
	case bindingITA:
		var user []byte
		if runtime != nil {
			user = runtime.Bytes
		}
		h := sha512.New()
		h.Write(cr.ev.ita.Val)
		h.Write(cr.ev.ita.Iat)
		h.Write(user)
		if want := h.Sum(nil); !bytes.Equal(want, rd[:]) {
			return nil, attestation.ErrRuntimeDataMismatch.Wrapf("REPORTDATA is not SHA-512(val ‖ iat ‖ runtime data) (%x)", want)
		}
		gpuNonce = gres.Nonce
		c["x-avow-verifier-nonce"] = map[string]any{"val": base64.StdEncoding.EncodeToString(cr.ev.ita.Val), "iat": base64.StdEncoding.EncodeToString(cr.ev.ita.Iat)}
	case bindingCoCo:
		if gpuNonce, err = nvidia.TrusteeBinding(runtime, cr.ev.additional, rd[:], gres); err != nil {
			return nil, err
		}
	default:
		return nil, errors.New("tdx: composite evidence without a binding")
	}
	if runtime != nil {
		if err := claims.AddRuntimeData(c, runtime.Bytes, runtime.DataType); err != nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
		}
	}
	if err := nvidia.AddBeside(c, cr.gpu, gpuNonce, cr.ev.binding, "tdx"); err != nil {
		return nil, err
	}
	return c, nil
}

// String names the binding (audit, errors).
func (ce *compositeEvidence) String() string {
	return fmt.Sprintf("TD quote + %d GPU(s), %s binding", len(ce.gpus), ce.binding)
}

// TdxVm's settings for the GPUs beside its quote: NvidiaGpu's, prefixed
// (typeSettings: {"TdxVm": {"gpuMaxRevocationAge": "168h"}}).
const (
	SettingGPUMaxRevocationAge       = nvidia.SettingBesideMaxRevocationAge
	SettingGPUExpiredRIMCertificates = nvidia.SettingBesideExpiredRIMCertificates
)

// CheckSetting accepts the GPU settings (NvidiaGpu's, prefixed "gpu").
func (t TdxVm) CheckSetting(key, value string) error {
	return nvidia.CheckBesideSetting(Name, key, value)
}

func gpuSettings(kv map[string]string) map[string]string { return nvidia.BesideSettings(kv) }
