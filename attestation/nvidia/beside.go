package nvidia

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/json"
	"strings"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/jcs"
	"github.com/avowhq/avow/nvgpu"
)

// GPUs beside a CPU's evidence (composite CPU+GPU attestation, docs/gpu.md):
// what TdxVm and SevSnpVm share — reading Trustee's additional evidence,
// verifying the GPUs, checking Trustee's binding and merging the GPU
// claims into the CPU's.

// ErrComposite is composite evidence that cannot be read.
var ErrComposite = errs.New("composite_evidence_malformed", "the GPU evidence beside the CPU's evidence is malformed")

// FieldTrustee is the request member with Trustee's additional evidence:
// the attester's additional-evidence string, {"nvidia":
// {"device_evidence_list": [...]}}.
const FieldTrustee = "additionalEvidence"

// BindingTrustee names Trustee's binding in tokens (x-avow-binding).
const BindingTrustee = "trustee"

// MaxBeside bounds the bytes of GPU evidence beside a CPU's.
const MaxBeside = 1 << 20

// ParseTrustee reads Trustee's additional evidence (the JSON string of the
// request member): the string itself, verbatim (it is hashed into the
// CPU's report data), and the GPUs in it.
func ParseTrustee(member []byte) (additional string, gpus []*nvgpu.Evidence, err error) {
	if len(member) > MaxBeside {
		return "", nil, ErrComposite.Wrapf("more than %d bytes", MaxBeside)
	}
	if err := json.Unmarshal(member, &additional); err != nil {
		return "", nil, ErrComposite.Wrapf("%s must be a string (the attester's additional-evidence): %v", FieldTrustee, err)
	}
	var byTEE map[string]json.RawMessage
	if err := json.Unmarshal([]byte(additional), &byTEE); err != nil {
		return "", nil, ErrComposite.Wrapf("%s: %v", FieldTrustee, err)
	}
	var nv struct {
		List []nvgpu.Item `json:"device_evidence_list"`
	}
	if err := json.Unmarshal(byTEE["nvidia"], &nv); err != nil {
		return "", nil, ErrComposite.Wrapf("%s: no nvidia device_evidence_list: %v", FieldTrustee, err)
	}
	if gpus, err = nvgpu.ParseItems(nv.List); err != nil {
		return "", nil, err
	}
	return additional, gpus, nil
}

// VerifyBeside verifies the GPUs beside a CPU's evidence with the GPU
// settings given (settings: NvidiaGpu's names). nonce is the GPUs' expected
// SPDM nonce when the binding fixes it before the claims (ITA's), nil when
// Claims checks it (Trustee's). A GPU whose measurements do not match its
// RIMs fails the composite attestation: the CPU's policy does not look at
// GPU claims.
func (t NvidiaGpu) VerifyBeside(ctx context.Context, gpus []*nvgpu.Evidence, nonce []byte, env attestation.Env, settings map[string]string) (*attestation.Verified, error) {
	genv := env
	genv.Settings = settings
	gpu, err := t.Verify(ctx, &Evidence{GPUs: gpus, Nonce: nonce}, genv)
	if err != nil {
		return nil, err
	}
	for i, g := range gpu.Result.(*Result).GPUs {
		if g.MeasRes != "success" {
			return nil, nvgpu.ErrMeasurementMismatch.Wrapf("GPU-%d: SPDM blocks %v", i, g.Mismatches)
		}
	}
	return gpu, nil
}

// SimulatedRoot returns the GPU's root key when it is not NVIDIA's (the
// simulated GPU), for the composite token to be marked as the CPU's root
// would mark it; nil for NVIDIA's roots.
func SimulatedRoot(gpu *attestation.Verified) []byte {
	for _, r := range nvgpu.DeviceRoots() {
		if bytes.Equal(r.RawSubjectPublicKeyInfo, gpu.RootKey) {
			return nil
		}
	}
	return gpu.RootKey
}

// TrusteeBinding checks Trustee's binding of a CPU report to its GPUs: the
// runtime data is JSON ({"nonce", "tee-pubkey"}); every GPU's nonce is the
// first 32 bytes of SHA-384 over its RFC 8785 form; the CPU's 64-byte
// report data is SHA-384 over the RFC 8785 form of the runtime data with
// "additional-evidence" added, zero-padded (kbs/src/attestation/backend.rs,
// attestation-service/src/lib.rs, deps/verifier regularize_data). It
// returns the GPU nonce.
func TrusteeBinding(runtime *attestation.Data, additional string, reportData []byte, gres *Result) ([]byte, error) {
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
	gpuNonce := g[:32]
	for i, gr := range gres.GPUs {
		if !bytes.Equal(gr.Report.Request.Nonce[:], gpuNonce) {
			return nil, attestation.ErrRuntimeDataMismatch.Wrapf("GPU-%d's nonce is not the first 32 bytes of SHA-384 of the runtime data (%x)", i, gpuNonce)
		}
	}
	rt["additional-evidence"] = additional
	canon, err = jcs.Value(rt)
	if err != nil {
		return nil, attestation.ErrInvalidRequest.Wrapf("runtimeData: %v", err)
	}
	p := sha512.Sum384(canon)
	want := append(p[:], make([]byte, 16)...)
	if !bytes.Equal(want, reportData) {
		return nil, attestation.ErrRuntimeDataMismatch.Wrapf("the report data is not SHA-384 of the runtime data with the additional evidence (%x)", p)
	}
	return gpuNonce, nil
}

// AddBeside merges the GPUs' claims into a CPU's (gpuNonce: the nonce the
// binding established) and marks the token: x-avow-binding, a section per
// device (cpuSection: "tdx", "sevsnp") and x-avow-all-bound.
func AddBeside(c map[string]any, gpu *attestation.Verified, gpuNonce []byte, binding, cpuSection string) error {
	g := *gpu.Result.(*Result)
	g.Nonce = gpuNonce // bound by the caller
	gc, err := NvidiaGpu{}.Claims(&attestation.Verified{Result: &g, PlatformID: gpu.PlatformID}, nil, nil)
	if err != nil {
		return err
	}
	delete(gc, "x-ms-attestation-type")
	for k, v := range gc {
		c[k] = v
	}
	c["x-avow-binding"] = binding
	c["x-avow-sections"] = map[string]any{
		cpuSection: map[string]any{"bound": true},
		"nvgpu":    map[string]any{"bound": true, "count": len(g.GPUs)},
	}
	c["x-avow-all-bound"] = true
	return nil
}

// The settings a CPU type takes for the GPUs beside its evidence:
// NvidiaGpu's, prefixed "gpu" (typeSettings: {"TdxVm":
// {"gpuMaxRevocationAge": "168h"}}).
const (
	SettingBesideMaxRevocationAge       = "gpuMaxRevocationAge"
	SettingBesideExpiredRIMCertificates = "gpuExpiredRimCertificates"
)

// CheckBesideSetting checks one of a CPU type's GPU settings (typ: the CPU
// type's name, for the message).
func CheckBesideSetting(typ, key, value string) error {
	switch key {
	case SettingBesideMaxRevocationAge, SettingBesideExpiredRIMCertificates:
		_, err := ParseSettings(BesideSettings(map[string]string{key: value}))
		return err
	}
	return attestation.ErrInvalidRequest.Wrapf("%s has no setting %q (%s, %s)", typ, key, SettingBesideMaxRevocationAge, SettingBesideExpiredRIMCertificates)
}

// BesideSettings maps a CPU type's GPU settings to NvidiaGpu's names,
// leaving out its other settings.
func BesideSettings(kv map[string]string) map[string]string {
	var out map[string]string
	for k, v := range kv {
		var name string
		switch k {
		case SettingBesideMaxRevocationAge:
			name = SettingMaxRevocationAge
		case SettingBesideExpiredRIMCertificates:
			name = SettingExpiredRIMCertificates
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
