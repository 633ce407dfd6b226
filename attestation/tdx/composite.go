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
	"strings"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/dcapquote"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/jcs"
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
	fieldTrustee = "additionalEvidence"
	bindingITA   = "ita"
	bindingCoCo  = "trustee"
	maxExtra     = 1 << 20
)

// ErrComposite is composite evidence that cannot be read.
var ErrComposite = errs.New("composite_evidence_malformed", "the GPU evidence beside the quote is malformed")

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
		if err := json.Unmarshal(coco, &ce.additional); err != nil {
			return nil, ErrComposite.Wrapf("%s must be a string (the attester's additional-evidence): %v", fieldTrustee, err)
		}
		var byTEE map[string]json.RawMessage
		if err := json.Unmarshal([]byte(ce.additional), &byTEE); err != nil {
			return nil, ErrComposite.Wrapf("%s: %v", fieldTrustee, err)
		}
		var nv struct {
			List []nvgpu.Item `json:"device_evidence_list"`
		}
		if err := json.Unmarshal(byTEE["nvidia"], &nv); err != nil {
			return nil, ErrComposite.Wrapf("%s: no nvidia device_evidence_list: %v", fieldTrustee, err)
		}
		if ce.gpus, err = nvgpu.ParseItems(nv.List); err != nil {
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
	gev := &nvidia.Evidence{GPUs: ce.gpus}
	if ce.binding == bindingITA {
		sum := sha256.Sum256(append(append([]byte{}, ce.ita.Val...), ce.ita.Iat...))
		if ce.gpuNonce != nil && !bytes.Equal(ce.gpuNonce, sum[:]) {
			return nil, attestation.ErrRuntimeDataMismatch.Wrapf("gpu_nonce %x is not SHA-256 of the verifier nonce (%x)", ce.gpuNonce, sum)
		}
		gev.Nonce = sum[:]
	}
	genv := env
	genv.Settings = gpuSettings(env.Settings)
	gpu, err := t.GPU.Verify(ctx, gev, genv)
	if err != nil {
		return nil, err
	}
	for i, g := range gpu.Result.(*nvidia.Result).GPUs {
		if g.MeasRes != "success" {
			return nil, nvgpu.ErrMeasurementMismatch.Wrapf("GPU-%d: SPDM blocks %v", i, g.Mismatches)
		}
	}
	v := *cpu
	v.Evidence, v.Result = ce, &compositeResult{cpu: cpu, gpu: gpu, ev: ce}
	// A GPU that is not NVIDIA's (the simulated one) marks the token as
	// the CPU's root would.
	nvidiaRoot := false
	for _, r := range nvgpu.DeviceRoots() {
		if bytes.Equal(r.RawSubjectPublicKeyInfo, gpu.RootKey) {
			nvidiaRoot = true
		}
	}
	if !nvidiaRoot {
		v.RootKey = gpu.RootKey
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
		if runtime == nil || !strings.EqualFold(runtime.DataType, claims.DataTypeJSON) {
			return nil, attestation.ErrInvalidRequest.Wrapf("Trustee's binding needs runtimeData of type JSON ({\"nonce\", \"tee-pubkey\"})")
		}
		var rt map[string]any
		dec := json.NewDecoder(bytes.NewReader(runtime.Bytes))
		dec.UseNumber()
		if err := dec.Decode(&rt); err != nil || rt == nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("runtimeData is not a JSON object")
		}
		if _, ok := rt["additional-evidence"]; ok {
			return nil, attestation.ErrInvalidRequest.Wrapf("runtimeData must not carry additional-evidence itself")
		}
		canon, err := jcs.Value(rt)
		if err != nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("runtimeData: %v", err)
		}
		g := sha512.Sum384(canon)
		gpuNonce = g[:32]
		for i, gr := range gres.GPUs {
			if !bytes.Equal(gr.Report.Request.Nonce[:], gpuNonce) {
				return nil, attestation.ErrRuntimeDataMismatch.Wrapf("GPU-%d's nonce is not the first 32 bytes of SHA-384 of the runtime data (%x)", i, gpuNonce)
			}
		}
		rt["additional-evidence"] = cr.ev.additional
		canon, err = jcs.Value(rt)
		if err != nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("runtimeData: %v", err)
		}
		p := sha512.Sum384(canon)
		want := append(p[:], make([]byte, 16)...)
		if !bytes.Equal(want, rd[:]) {
			return nil, attestation.ErrRuntimeDataMismatch.Wrapf("REPORTDATA is not SHA-384 of the runtime data with the additional evidence (%x)", p)
		}
	default:
		return nil, errors.New("tdx: composite evidence without a binding")
	}
	if runtime != nil {
		if err := claims.AddRuntimeData(c, runtime.Bytes, runtime.DataType); err != nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
		}
	}
	g := *gres
	g.Nonce = gpuNonce // bound above
	gc, err := nvidia.NvidiaGpu{}.Claims(&attestation.Verified{Result: &g, PlatformID: cr.gpu.PlatformID}, nil, nil)
	if err != nil {
		return nil, err
	}
	delete(gc, "x-ms-attestation-type")
	for k, v := range gc {
		c[k] = v
	}
	c["x-avow-binding"] = cr.ev.binding
	c["x-avow-sections"] = map[string]any{
		"tdx":   map[string]any{"bound": true},
		"nvgpu": map[string]any{"bound": true, "count": len(gres.GPUs)},
	}
	c["x-avow-all-bound"] = true
	return c, nil
}

// String names the binding (audit, errors).
func (ce *compositeEvidence) String() string {
	return fmt.Sprintf("TD quote + %d GPU(s), %s binding", len(ce.gpus), ce.binding)
}

// TdxVm's settings for the GPUs beside its quote: NvidiaGpu's, prefixed
// (typeSettings: {"TdxVm": {"gpuMaxRevocationAge": "168h"}}).
const (
	SettingGPUMaxRevocationAge       = "gpuMaxRevocationAge"
	SettingGPUExpiredRIMCertificates = "gpuExpiredRimCertificates"
)

// CheckSetting accepts the GPU settings (NvidiaGpu's, prefixed "gpu").
func (t TdxVm) CheckSetting(key, value string) error {
	switch key {
	case SettingGPUMaxRevocationAge, SettingGPUExpiredRIMCertificates:
		_, err := nvidia.ParseSettings(gpuSettings(map[string]string{key: value}))
		return err
	}
	return attestation.ErrInvalidRequest.Wrapf("TdxVm has no setting %q (%s, %s)", key, SettingGPUMaxRevocationAge, SettingGPUExpiredRIMCertificates)
}

// gpuSettings maps TdxVm's GPU settings to NvidiaGpu's names.
func gpuSettings(kv map[string]string) map[string]string {
	var out map[string]string
	for k, v := range kv {
		var name string
		switch k {
		case SettingGPUMaxRevocationAge:
			name = nvidia.SettingMaxRevocationAge
		case SettingGPUExpiredRIMCertificates:
			name = nvidia.SettingExpiredRIMCertificates
		default:
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[name] = v
	}
	return out
}
