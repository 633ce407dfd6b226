// Package sevsnp is the SevSnpVm attestation type: AMD SEV-SNP evidence
// (MAA's {"SnpReport", "VcekCertChain"} report, an Azure HCL report or a
// raw ATTESTATION_REPORT) verified by package snp against AMD's pinned
// roots, with MAA's x-ms-sevsnpvm-* claims (docs/snp.md).
package sevsnp

import (
	"context"
	"fmt"
	"strings"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/nvidia"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/snp"
)

// Name is MAA's name of the type.
const Name = "SevSnpVm"

// DefaultPolicy is the default for SevSnpVm: MAA's is not public and its
// tokens carry no x-ms-policy, so an authorization-only permit (as TdxVm).
const DefaultPolicy = `version= 1.0;
authorizationrules{
	=> permit();
};
`

// TCB statuses of verified SNP evidence, judged by the provider's
// acceptedTcbStatuses as Intel's are: UpToDate when REPORTED_TCB meets
// Config.MinimumTCB (or none is set), OutOfDate below it.
const (
	StatusUpToDate  = "UpToDate"
	StatusOutOfDate = "OutOfDate"
)

// Config configures the type; the zero value trusts AMD's pinned roots,
// fetches nothing and sets no minimum TCB.
type Config struct {
	// Roots are the trusted roots (nil: AMD's pinned roots). The
	// simulated platform's root is added in development mode.
	Roots *snp.Roots
	// Collateral fetches VCEKs that evidence lacks and AMD's CRLs (the
	// KDS source and its cache); nil: evidence must carry its VCEK.
	Collateral snp.Collateral
	// RequireCRL refuses evidence without a current AMD CRL.
	RequireCRL bool
	// MinimumTCB is the lowest REPORTED_TCB reported as UpToDate.
	MinimumTCB *snp.TCB
	// Verifier caches verified chains (nil: a shared one).
	Verifier *snp.Verifier
}

// SevSnpVm attests SEV-SNP evidence sent as "report", alone or with the
// VM's GPUs beside it (composite.go).
type SevSnpVm struct {
	Config *Config
	// GPU verifies the GPUs beside a report (their collateral and roots).
	GPU nvidia.NvidiaGpu
}

var _ attestation.Type = SevSnpVm{}

func (SevSnpVm) Name() string          { return Name }
func (SevSnpVm) EvidenceField() string { return "report" }
func (SevSnpVm) DefaultPolicy() string { return DefaultPolicy }

// Evidence is parsed SNP evidence.
type Evidence struct{ *snp.Evidence }

// TEE is "snp".
func (*Evidence) TEE() string { return "snp" }

// Parse reads the decoded "report" member: MAA's {"SnpReport",
// "VcekCertChain"}, or (told apart by content) an HCL report or a raw report.
func (SevSnpVm) Parse(raw []byte) (attestation.Evidence, error) {
	ev, err := snp.Parse(raw)
	if err != nil {
		return nil, err
	}
	if ev.Kind == snp.KindRequest {
		return nil, snp.ErrUnsupportedReport.Wrapf("the report member holds a whole SevSnpVm request")
	}
	return &Evidence{ev}, nil
}

var defaultVerifier = snp.NewVerifier()

// Verify verifies the evidence at env.Now. The collateral is the type's
// configured source, or env.Collateral when the service offers SNP
// collateral (snp.Collateral).
func (t SevSnpVm) Verify(ctx context.Context, ev attestation.Evidence, env attestation.Env) (*attestation.Verified, error) {
	if ce, ok := ev.(*compositeEvidence); ok {
		return t.verifyComposite(ctx, ce, env)
	}
	e, ok := ev.(*Evidence)
	if !ok {
		return nil, errs.Internal("the evidence is not SEV-SNP evidence").Wrapf("%T", ev)
	}
	cfg := t.Config
	if cfg == nil {
		cfg = &Config{}
	}
	v := cfg.Verifier
	if v == nil {
		v = defaultVerifier
	}
	opts := snp.Options{Now: env.Now, Roots: cfg.Roots, Collateral: cfg.Collateral, RequireCRL: cfg.RequireCRL}
	if c, ok := env.Collateral.(snp.Collateral); ok {
		opts.Collateral = c
	}
	res, err := v.Verify(ctx, e.Evidence, opts)
	if err != nil {
		return nil, err
	}
	status := StatusUpToDate
	if m := cfg.MinimumTCB; m != nil && !res.ReportedTCB.AtLeast(*m) {
		status = StatusOutOfDate
	}
	if spec, ok := env.Settings[SettingMinimumTCB]; ok {
		m, err := snp.ParseTCB(spec) // checked when the provider's settings were set
		if err != nil {
			return nil, err
		}
		if !res.ReportedTCB.AtLeast(m) {
			status = StatusOutOfDate
		}
	}
	return &attestation.Verified{
		Evidence:     e,
		PlatformID:   fmt.Sprintf("%s/%016x", res.Product, res.Report.Proto.GetReportedTcb()),
		PlatformKind: "SEV-SNP product/REPORTED_TCB",
		TCBStatus:    status,
		RootKey:      res.Root.KeyHash[:],
		Result:       res,
	}, nil
}

// SettingMinimumTCB is the provider setting (typeSettings.SevSnpVm) of the
// lowest REPORTED_TCB the provider calls UpToDate, beside the server's
// --snp-minimum-tcb: a TCB below either is OutOfDate, which the provider's
// acceptedTcbStatuses then refuses (or, listed there, accepts visibly).
const SettingMinimumTCB = "minimumTcb"

// CheckSetting accepts minimumTcb written as bl=N,tee=N,snp=N,ucode=N, and
// the settings of the GPUs beside a report (gpuMaxRevocationAge,
// gpuExpiredRimCertificates: NvidiaGpu's).
func (SevSnpVm) CheckSetting(key, value string) error {
	if key == SettingMinimumTCB {
		_, err := snp.ParseTCB(value)
		return err
	}
	return nvidia.CheckBesideSetting(Name, key, value)
}

// Claims returns MAA's SevSnpVm claims with the request's runtime and
// init-time data bound (SHA-256 == REPORT_DATA[0:32], == HOST_DATA) and
// added: JSON as x-ms-runtime / x-ms-inittime. Evidence that carried its
// own runtime data (an HCL report) gives x-ms-runtime from it when the
// request has none.
func (t SevSnpVm) Claims(v *attestation.Verified, runtime, initTime *attestation.Data) (map[string]any, error) {
	if cr, ok := v.Result.(*compositeResult); ok {
		return t.compositeClaims(cr, runtime, initTime)
	}
	return t.claimsWith(v, runtime, initTime)
}

// claimsWith is Claims of a report alone.
func (SevSnpVm) claimsWith(v *attestation.Verified, runtime, initTime *attestation.Data) (map[string]any, error) {
	e, ok := v.Evidence.(*Evidence)
	res, ok2 := v.Result.(*snp.Result)
	if !ok || !ok2 {
		return nil, errs.Internal("the verified evidence is not SEV-SNP evidence").Wrapf("%T, %T", v.Evidence, v.Result)
	}
	data := &snp.Evidence{RuntimeData: e.RuntimeData, InitTimeData: e.InitTimeData}
	if runtime != nil {
		data.RuntimeData = &snp.Data{Bytes: runtime.Bytes, DataType: runtime.DataType}
	}
	if initTime != nil {
		data.InitTimeData = &snp.Data{Bytes: initTime.Bytes, DataType: initTime.DataType}
	}
	if err := snp.CheckBindings(res.Report, data.RuntimeData, data.InitTimeData); err != nil {
		return nil, err
	}
	for _, d := range []*snp.Data{data.RuntimeData, data.InitTimeData} {
		if d != nil && !strings.EqualFold(d.DataType, "JSON") && !strings.EqualFold(d.DataType, "Binary") {
			return nil, attestation.ErrInvalidRequest.Wrapf("data type %q is neither Binary nor JSON", d.DataType)
		}
	}
	c := res.Claims()
	if err := snp.AddDataClaims(c, data); err != nil {
		return nil, attestation.ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	return c, nil
}
