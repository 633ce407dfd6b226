// Package nvidia is the NvidiaGpu attestation type: the evidence of one or
// more NVIDIA confidential GPUs (Hopper, Blackwell), in the shape NVIDIA's
// and Intel Trust Authority's clients send it, verified offline by nvgpu
// with the RIMs and OCSP answers the deployment holds (docs/gpu.md).
//
//	POST {attestUri}/attest/NvidiaGpu
//	{"evidence": [{"arch": "HOPPER", "certificate": base64(PEM chain), "evidence": base64(report)}, …],
//	 "nonce": "hex"  |  "runtimeData": {"data": base64url, "dataType": "JSON"|"Binary"}}
//
// The GPUs' SPDM nonce is either the request's "nonce" (32 bytes in hex,
// as NVIDIA's clients send it) or SHA-256 of the runtime data (the binding
// avow's TdxVm uses for REPORTDATA[0:32]); a request with neither is
// refused, since an unbound report could be replayed.
package nvidia

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/nvgpu"
)

// Name is the type's name: the path segment and the policy type.
const Name = "NvidiaGpu"

// DefaultPolicy permits only when every GPU's measurements match NVIDIA's
// RIMs (a GPU whose report, chain or revocation fails never reaches a
// policy).
const DefaultPolicy = `version= 1.0;
authorizationrules{
	c:[type=="x-nvidia-gpu-measres", value=="success"] => permit();
};
issuancerules{
	c:[type=="x-nvidia-gpu-measres"] => issue(type="x-nvidia-gpu-measres", value=c.value);
	c:[type=="x-nvidia-gpu-driver-version"] => issue(type="x-nvidia-gpu-driver-version", value=c.value);
	c:[type=="x-nvidia-gpu-vbios-version"] => issue(type="x-nvidia-gpu-vbios-version", value=c.value);
};
`

// Collateral is what a service offers NvidiaGpu in attestation.Env: the
// RIMs and OCSP answers it holds for the provider.
type Collateral interface {
	NvidiaCollateral() nvgpu.Collateral
}

// The provider settings of NvidiaGpu (typeSettings: {"NvidiaGpu":
// {"maxRevocationAge": "168h", "expiredRimCertificates": "allow"}}).
const (
	SettingMaxRevocationAge       = "maxRevocationAge"
	SettingExpiredRIMCertificates = "expiredRimCertificates"
)

// Settings are a provider's GPU settings.
type Settings struct {
	// MaxRevocationAge > 0 judges each OCSP answer at its own thisUpdate
	// and accepts it while younger than this at the verification time (an
	// air-gapped server with collateral fetched earlier); 0 requires every
	// answer to be current.
	MaxRevocationAge time.Duration
	// AllowExpiredRIMCerts accepts RIMs whose signer certificates have
	// expired, checked as of their expiry.
	AllowExpiredRIMCerts bool
}

// ParseSettings reads the GPU settings of a provider (attestation.Env.
// Settings); an unknown key or a bad value is an error.
func ParseSettings(kv map[string]string) (Settings, error) {
	var s Settings
	for k, v := range kv {
		switch k {
		case SettingMaxRevocationAge:
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				return s, attestation.ErrInvalidRequest.Wrapf("%s %q is not a duration such as 0s or 168h", k, v)
			}
			s.MaxRevocationAge = d
		case SettingExpiredRIMCertificates:
			switch strings.ToLower(v) {
			case "refuse":
			case "allow":
				s.AllowExpiredRIMCerts = true
			default:
				return s, attestation.ErrInvalidRequest.Wrapf("%s %q is neither allow nor refuse", k, v)
			}
		default:
			return s, attestation.ErrInvalidRequest.Wrapf("NvidiaGpu has no setting %q (%s, %s)", k, SettingMaxRevocationAge, SettingExpiredRIMCertificates)
		}
	}
	return s, nil
}

// CheckSetting accepts maxRevocationAge (a Go duration) and
// expiredRimCertificates (allow or refuse).
func (NvidiaGpu) CheckSetting(key, value string) error {
	_, err := ParseSettings(map[string]string{key: value})
	return err
}

// NvidiaGpu is the attestation type. The zero value trusts NVIDIA's roots
// and takes its collateral from the service (attestation.Env); Collateral,
// when set, is used where the service offers none (the deployment's folder).
type NvidiaGpu struct {
	Collateral  nvgpu.Collateral
	DeviceRoots []*x509.Certificate // beside NVIDIA's: simulated GPUs in --dev
	RIMRoots    []*x509.Certificate
}

var (
	_ attestation.Type            = NvidiaGpu{}
	_ attestation.SettingsChecker = NvidiaGpu{}
)

func (NvidiaGpu) Name() string          { return Name }
func (NvidiaGpu) EvidenceField() string { return "evidence" }
func (NvidiaGpu) DefaultPolicy() string { return DefaultPolicy }

// Evidence is the parsed request: the GPUs and the explicit nonce, if any.
type Evidence struct {
	GPUs  []*nvgpu.Evidence
	Nonce []byte
}

func (*Evidence) TEE() string { return "nvgpu" }

// ErrNonce is a request nonce that is not 32 bytes of hex.
var ErrNonce = errs.New("gpu_nonce_invalid", "the GPU nonce must be 32 bytes in hex")

// Parse reads {"evidence": [...], "nonce": "hex"} (what the HTTP layer
// hands a type whose evidence member is "evidence").
func (NvidiaGpu) Parse(raw []byte) (attestation.Evidence, error) {
	var req struct {
		Evidence json.RawMessage `json:"evidence"`
		Nonce    *string         `json:"nonce"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return nil, nvgpu.ErrMalformedEvidence.Wrapf("%v", err)
	}
	var items []nvgpu.Item
	if err := json.Unmarshal(req.Evidence, &items); err != nil {
		return nil, nvgpu.ErrMalformedEvidence.Wrapf("evidence is not a list of {arch, certificate, evidence}: %v", err)
	}
	gpus, err := nvgpu.ParseItems(items)
	if err != nil {
		return nil, err
	}
	ev := &Evidence{GPUs: gpus}
	if req.Nonce != nil {
		n, err := hex.DecodeString(strings.TrimSpace(*req.Nonce))
		if err != nil || len(n) != nvgpu.NonceLen {
			return nil, ErrNonce
		}
		ev.Nonce = n
	}
	return ev, nil
}

// Result is NvidiaGpu's own verification result.
type Result struct {
	GPUs     []*nvgpu.Result
	Settings Settings
	Nonce    []byte // the explicit nonce; nil: bound to the runtime data in Claims
}

// Verify verifies every GPU. A GPU that is not genuine (report, nonce,
// signature, chain, FWID), whose revocation cannot be established, or
// whose RIMs cannot be had or do not verify fails the attestation; a GPU
// whose measurements do not match its RIMs is reported in the claims
// (measres "fail") for the policy to refuse.
func (t NvidiaGpu) Verify(ctx context.Context, e attestation.Evidence, env attestation.Env) (*attestation.Verified, error) {
	ev, ok := e.(*Evidence)
	if !ok {
		return nil, fmt.Errorf("nvidia: evidence of another type (%T)", e)
	}
	set, err := ParseSettings(env.Settings)
	if err != nil {
		return nil, err
	}
	col := t.Collateral
	if c, ok := env.Collateral.(Collateral); ok && c.NvidiaCollateral() != nil {
		col = c.NvidiaCollateral()
	}
	opts := nvgpu.Options{Now: env.Now, Collateral: col, MaxRevocationAge: set.MaxRevocationAge}
	if set.MaxRevocationAge > 0 {
		opts.OCSPMode = nvgpu.OCSPAsOfThisUpdate
	}
	if set.AllowExpiredRIMCerts {
		opts.ExpiredRIM = nvgpu.AllowExpiredRIM
	}
	if len(t.DeviceRoots) > 0 {
		opts.DeviceRoots = append(nvgpu.DeviceRoots(), t.DeviceRoots...)
	}
	if len(t.RIMRoots) > 0 {
		opts.RIMRoots = append(nvgpu.RIMRoots(), t.RIMRoots...)
	}
	res := &Result{Settings: set, Nonce: ev.Nonce}
	v := &attestation.Verified{Evidence: ev, PlatformKind: "GPU", TCBStatus: "UpToDate", Result: res}
	var models []string
	for i, g := range ev.GPUs {
		o := opts
		o.Nonce = ev.Nonce
		if o.Nonce == nil {
			o.Nonce = g.Report.Request.Nonce[:] // bound to the runtime data in Claims
		}
		r, err := nvgpu.Verify(ctx, g, o)
		if err != nil && !errors.Is(err, nvgpu.ErrMeasurementMismatch) {
			return nil, wrapGPU(i, err)
		}
		res.GPUs = append(res.GPUs, r)
		models = append(models, r.HWModel)
		if i == 0 {
			v.RootKey = g.Chain[len(g.Chain)-1].RawSubjectPublicKeyInfo
		}
	}
	v.PlatformID = strings.Join(dedupe(models), ",")
	return v, nil
}

// wrapGPU names the GPU in the error's cause, keeping its code.
func wrapGPU(i int, err error) error {
	var e *errs.Error
	if errors.As(err, &e) {
		return &errs.Error{Code: e.Code, Message: e.Message, Cause: fmt.Errorf("GPU-%d: %w", i, errOrNil(e.Cause))}
	}
	return fmt.Errorf("GPU-%d: %w", i, err)
}

func errOrNil(err error) error {
	if err == nil {
		return errors.New("failed")
	}
	return err
}

func dedupe(s []string) []string {
	m := map[string]bool{}
	var out []string
	for _, x := range s {
		if !m[x] {
			m[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}

// Claims are flat summary claims for policies (x-nvidia-gpu-*: every GPU's
// verdict folded in), the per-GPU claims with NVIDIA's names under
// x-nvidia-gpus (an object GPU-0, GPU-1, … as NRAS's submods), the
// provider's GPU settings that applied, and the runtime data.
func (NvidiaGpu) Claims(v *attestation.Verified, runtime, initTime *attestation.Data) (map[string]any, error) {
	res, ok := v.Result.(*Result)
	if !ok {
		return nil, fmt.Errorf("nvidia: result of another type (%T)", v.Result)
	}
	if initTime != nil {
		return nil, attestation.ErrInvalidRequest.Wrapf("NvidiaGpu takes no initTimeData")
	}
	if res.Nonce == nil {
		if runtime == nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("send the GPUs' nonce as \"nonce\" or bind it with runtimeData")
		}
		sum := sha256.Sum256(runtime.Bytes)
		for i, g := range res.GPUs {
			if !bytes.Equal(g.Report.Request.Nonce[:], sum[:]) {
				return nil, attestation.ErrRuntimeDataMismatch.Wrapf("GPU-%d's nonce %x is not SHA-256 of the runtime data (%x)", i, g.Report.Request.Nonce, sum)
			}
		}
	}
	c := map[string]any{
		"x-ms-attestation-type": "nvidiagpu",
		"x-nvidia-gpu-count":    len(res.GPUs),
	}
	per := map[string]any{}
	measres := "success"
	var drivers, vbioses []string
	var asOf time.Time
	for i, g := range res.GPUs {
		gc := g.Claims()
		per[fmt.Sprintf("GPU-%d", i)] = gc
		if g.MeasRes != "success" {
			measres = "fail"
		}
		drivers = append(drivers, g.DriverVersion)
		vbioses = append(vbioses, g.VBIOSVersion)
		if !g.RevocationAsOf.IsZero() && (asOf.IsZero() || g.RevocationAsOf.Before(asOf)) {
			asOf = g.RevocationAsOf
		}
	}
	c["x-nvidia-gpus"] = per
	c["x-nvidia-gpu-measres"] = measres
	c["x-nvidia-gpu-driver-version"] = strings.Join(dedupe(drivers), ",")
	c["x-nvidia-gpu-vbios-version"] = strings.Join(dedupe(vbioses), ",")
	c["x-nvidia-gpu-hwmodel"] = v.PlatformID
	if !asOf.IsZero() {
		c["x-avow-gpu-revocation-as-of"] = asOf.UTC().Format(time.RFC3339)
	}
	if res.Nonce != nil {
		c["x-nvidia-gpu-nonce"] = hex.EncodeToString(res.Nonce)
	}
	// The relaxations that applied, visible in every token.
	c["x-avow-gpu-ocsp-max-age"] = ""
	if res.Settings.MaxRevocationAge > 0 {
		c["x-avow-gpu-ocsp-max-age"] = res.Settings.MaxRevocationAge.String()
	}
	c["x-avow-gpu-expired-rim-certificates"] = "refuse"
	if res.Settings.AllowExpiredRIMCerts {
		c["x-avow-gpu-expired-rim-certificates"] = "allow"
	}
	if runtime != nil {
		if err := claims.AddRuntimeData(c, runtime.Bytes, runtime.DataType); err != nil {
			return nil, err
		}
		// The Binary form's SGX names do not apply to a GPU.
		for _, k := range []string{"x-ms-sgx-ehd", "aas-ehd", "maa-ehd"} {
			delete(c, k)
		}
	}
	return c, nil
}
