package snp

import "github.com/avowhq/avow/errs"

// One sentinel per result class of ../shared/vectors/snp/README.md, in the
// order a strict verifier meets them; the codes are stable (CLI output, HTTP
// error bodies).
var (
	// ErrUnsupportedReport: not a well-formed, supported ATTESTATION_REPORT
	// (length, version, signature algorithm, reserved fields), or an envelope
	// (HCL report, request body) that cannot be read. Found before any cryptography.
	ErrUnsupportedReport = errs.New("unsupported_report", "the evidence is not a well-formed, supported SEV-SNP attestation report")
	// ErrCertExpired: the verification time lies outside the validity of a
	// certificate of the endorsement chain.
	ErrCertExpired = errs.New("cert_expired", "a certificate of the VCEK/VLEK chain is not valid at the verification time")
	// ErrChainInvalid: the VCEK/VLEK does not chain to a pinned AMD root, or
	// is not a certificate AMD's KDS issues.
	ErrChainInvalid = errs.New("vcek_chain_invalid", "the VCEK/VLEK certificate does not chain to a trusted AMD root")
	// ErrRevoked: AMD's CRL revokes the intermediate or the endorsement key.
	ErrRevoked = errs.New("vcek_revoked", "AMD's certificate revocation list revokes a certificate of the VCEK/VLEK chain")
	// ErrCRLUnavailable: Options.RequireCRL and no current AMD CRL of the
	// product line is available.
	ErrCRLUnavailable = errs.New("crl_unavailable", "no current AMD certificate revocation list is available to check the VCEK/VLEK chain")
	// ErrMismatch: a genuine VCEK, but not the key of this report (HWID vs
	// CHIP_ID, TCB extensions vs REPORTED_TCB).
	ErrMismatch = errs.New("vcek_mismatch", "the VCEK does not belong to the reporting chip and TCB")
	// ErrSignature: the report signature does not verify under the VCEK/VLEK.
	ErrSignature = errs.New("report_signature_invalid", "the report signature does not verify under the VCEK/VLEK")
	// ErrBinding: SHA-256 of the runtime data is not REPORT_DATA[0:32], or
	// SHA-256 of the init-time data is not HOST_DATA.
	ErrBinding = errs.New("binding_mismatch", "the runtime or init-time data is not bound by the report")
	// ErrNoEndorsementKey: the evidence carries no VCEK/VLEK and none could be
	// found in the collateral cache or fetched from AMD's KDS.
	ErrNoEndorsementKey = errs.New("vcek_unavailable", "the VCEK/VLEK certificate of the report is neither in the evidence nor available from the collateral sources")
	// ErrTCBBelowMinimum: REPORTED_TCB is below the configured minimum.
	ErrTCBBelowMinimum = errs.New("tcb_below_minimum", "the platform's reported TCB is below the accepted minimum")
)

// Classes lists every error class in the order Verify checks them.
var Classes = []*errs.Error{
	ErrUnsupportedReport, ErrNoEndorsementKey, ErrCertExpired, ErrChainInvalid, ErrCRLUnavailable, ErrRevoked, ErrMismatch,
	ErrSignature, ErrTCBBelowMinimum, ErrBinding,
}
