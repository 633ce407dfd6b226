package nvgpu

import (
	"encoding/hex"
	"time"
)

// Claims returns one GPU's claims with NVIDIA's names (NRAS's and the
// local verifier's claims 3.0 shape) where they exist and avow's
// additions (x-avow-gpu-*) for what NVIDIA's verifiers leave out: the
// collateral's content hashes, the time revocation was established as of,
// and the relaxations that were applied. Claims reflect res whatever its
// outcome; a failed check is false.
func (res *Result) Claims() map[string]any {
	ok := func(name string) bool { v, _ := res.Checks.Get(name); return v }
	c := map[string]any{
		"x-nvidia-gpu-arch-check":                               res.Arch == Hopper || res.Arch == Blackwell,
		"x-nvidia-gpu-attestation-report-parsed":                ok("report_parsed"),
		"x-nvidia-gpu-attestation-report-nonce-match":           ok("nonce_match"),
		"x-nvidia-gpu-attestation-report-signature-verified":    ok("report_signature"),
		"x-nvidia-gpu-attestation-report-cert-chain-fwid-match": ok("fwid_match"),
		"x-nvidia-gpu-driver-version":                           res.DriverVersion,
		"x-nvidia-gpu-vbios-version":                            res.VBIOSVersion,
		"x-nvidia-gpu-attestation-report-cert-chain":            certChainClaim(ok("cert_chain"), ok("cert_chain_ocsp"), res.DeviceOCSP, res.LeafNotAfter),
		"x-nvidia-gpu-driver-rim-fetched":                       res.DriverRIM != nil,
		"x-nvidia-gpu-vbios-rim-fetched":                        res.VBIOSRIM != nil,
		"x-nvidia-gpu-driver-rim-signature-verified":            ok("driver_rim"),
		"x-nvidia-gpu-vbios-rim-signature-verified":             ok("vbios_rim"),
		"x-nvidia-gpu-driver-rim-version-match":                 ok("driver_rim"),
		"x-nvidia-gpu-vbios-rim-version-match":                  ok("vbios_rim"),
		"x-nvidia-gpu-vbios-index-no-conflict":                  ok("measurements_match") || (res.MeasRes == "fail" && len(res.Mismatches) > 0),
		"x-avow-gpu-arch":                                       string(res.Arch),
	}
	if res.Nonce != nil {
		c["eat_nonce"] = hex.EncodeToString(res.Nonce)
	}
	if res.HWModel != "" {
		c["hwmodel"] = res.HWModel
	}
	if res.UEID != "" {
		c["ueid"] = res.UEID
	}
	if res.OEMID != "" {
		c["oemid"] = res.OEMID
	}
	if res.Report != nil {
		c["x-avow-gpu-opaque-data-version"] = res.Report.Response.Opaque.Version()
		if svn, ok := res.Report.Response.Opaque.FSPUcodeSVN(); ok {
			c["x-avow-gpu-fsp-ucode-svn"] = svn
		}
	}
	if res.FWID != nil {
		c["x-avow-gpu-fwid"] = hex.EncodeToString(res.FWID)
	}
	if res.DriverRIM != nil {
		c["x-nvidia-gpu-driver-rim-cert-chain"] = certChainClaim(ok("driver_rim"), ok("driver_rim"), res.DriverRIM.OCSP, res.DriverRIM.SignerNotAfter)
		c["x-avow-gpu-driver-rim-sha256"] = res.DriverRIM.SHA256
		c["x-avow-gpu-driver-rim-id"] = res.DriverRIM.ID
		c["x-avow-gpu-driver-rim-cert-expired"] = res.DriverRIM.CertExpired
		// avow checks the structure it reads (root, resources, hashes), not
		// the whole SWID XSD; the claim keeps NVIDIA's name for that.
		c["x-nvidia-gpu-driver-rim-schema-validated"] = true
		c["x-nvidia-gpu-driver-rim-measurements-available"] = res.DriverRIM.Active > 0
	}
	if res.VBIOSRIM != nil {
		c["x-nvidia-gpu-vbios-rim-cert-chain"] = certChainClaim(ok("vbios_rim"), ok("vbios_rim"), res.VBIOSRIM.OCSP, res.VBIOSRIM.SignerNotAfter)
		c["x-avow-gpu-vbios-rim-sha256"] = res.VBIOSRIM.SHA256
		c["x-avow-gpu-vbios-rim-id"] = res.VBIOSRIM.ID
		c["x-avow-gpu-vbios-rim-cert-expired"] = res.VBIOSRIM.CertExpired
		c["x-nvidia-gpu-vbios-rim-schema-validated"] = true
		c["x-nvidia-gpu-vbios-rim-measurements-available"] = res.VBIOSRIM.Active > 0
	}
	if res.MeasRes != "" {
		c["measres"] = res.MeasRes
	}
	if res.MeasRes == "success" {
		// As NVIDIA's verifiers: set only when the measurements match.
		c["secboot"] = true
		c["dbgstat"] = "disabled"
	}
	if !res.RevocationAsOf.IsZero() {
		c["x-avow-gpu-revocation-as-of"] = rfc(res.RevocationAsOf)
	}
	return c
}

func certChainClaim(valid, ocspOK bool, st []OCSPStatus, expires time.Time) map[string]any {
	m := map[string]any{"x-nvidia-cert-status": "invalid", "x-nvidia-cert-ocsp-status": "unknown", "x-nvidia-cert-revocation-reason": nil}
	if valid {
		m["x-nvidia-cert-status"] = "valid"
	}
	if ocspOK && len(st) > 0 {
		m["x-nvidia-cert-ocsp-status"] = "good"
	}
	for _, s := range st {
		if s.Status == "revoked" {
			m["x-nvidia-cert-ocsp-status"] = "revoked"
			m["x-nvidia-cert-revocation-reason"] = s.Reason
		}
	}
	if !expires.IsZero() {
		m["x-nvidia-cert-expiration-date"] = rfc(expires)
	}
	return m
}
