package nvgpu

import "github.com/avowhq/avow/errs"

// One sentinel per failure; the codes are stable (HTTP bodies, CLI output).
var (
	ErrMalformedReport   = errs.New("gpu_report_malformed", "the GPU attestation report is not a well-formed SPDM 1.1 GET_MEASUREMENTS transcript")
	ErrMalformedOpaque   = errs.New("gpu_opaque_malformed", "the GPU attestation report's opaque data is malformed")
	ErrMalformedChain    = errs.New("gpu_chain_malformed", "the GPU certificate chain cannot be read")
	ErrMalformedEvidence = errs.New("gpu_evidence_malformed", "the GPU evidence cannot be read")
	ErrUnsupportedArch   = errs.New("gpu_arch_unsupported", "the GPU architecture is not supported")
	ErrTrailingBytes     = errs.New("gpu_report_trailing_bytes", "bytes follow the GPU report's signature")

	ErrNonceMismatch       = errs.New("gpu_nonce_mismatch", "the GPU report's nonce is not the verifier's nonce")
	ErrReportSignature     = errs.New("gpu_report_signature_invalid", "the GPU report's signature does not verify with the device certificate")
	ErrChainLength         = errs.New("gpu_chain_incomplete", "the GPU certificate chain must hold the device certificate, its intermediates and NVIDIA's root")
	ErrChainInvalid        = errs.New("gpu_chain_invalid", "the GPU certificate chain does not verify")
	ErrChainRoot           = errs.New("gpu_chain_untrusted_root", "the GPU certificate chain does not end at a trusted NVIDIA root")
	ErrFWIDMissing         = errs.New("gpu_fwid_missing", "the GPU device certificate carries no FWID")
	ErrFWIDMismatch        = errs.New("gpu_fwid_mismatch", "the GPU device certificate's FWID is not the report's")
	ErrRevocationMissing   = errs.New("gpu_ocsp_missing", "no OCSP answer is available for a certificate of a GPU or RIM chain")
	ErrRevocationInvalid   = errs.New("gpu_ocsp_invalid", "an OCSP answer does not verify or is not for its certificate")
	ErrRevocationStale     = errs.New("gpu_ocsp_stale", "an OCSP answer is not current at the verification time")
	ErrRevoked             = errs.New("gpu_certificate_revoked", "a certificate of a GPU or RIM chain is revoked")
	ErrRIMMissing          = errs.New("gpu_rim_missing", "the reference measurements (RIM) for the GPU's driver or VBIOS are not available")
	ErrMalformedRIM        = errs.New("gpu_rim_malformed", "a RIM document is malformed")
	ErrRIMSignature        = errs.New("gpu_rim_signature_invalid", "a RIM document's XML signature does not verify")
	ErrRIMChain            = errs.New("gpu_rim_chain_invalid", "a RIM signer chain does not verify to NVIDIA's RIM root")
	ErrRIMCertExpired      = errs.New("gpu_rim_certificate_expired", "a RIM signer certificate has expired")
	ErrRIMVersionMismatch  = errs.New("gpu_rim_version_mismatch", "a RIM is not for the GPU's driver or VBIOS version")
	ErrRIMIndexConflict    = errs.New("gpu_rim_index_conflict", "the driver and VBIOS RIMs both claim a measurement index")
	ErrMeasurementMismatch = errs.New("gpu_measurement_mismatch", "the GPU's measurements do not match NVIDIA's reference measurements")
	ErrSVNBelowFloor       = errs.New("gpu_svn_below_floor", "a GPU security version is below its minimum")
)
