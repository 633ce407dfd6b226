package dcap

import "github.com/avowhq/avow/errs"

// One sentinel per verification failure, in the order in which QVL checks
// them (../shared/vectors/dcap/README.md, "Result classes"). The codes are
// stable: they appear in `avow quote verify` output and in HTTP error bodies.
var (
	ErrUnsupportedQuoteFormat       = errs.New("unsupported_quote_format", "the quote format is not supported")
	ErrUnsupportedCertificationData = errs.New("unsupported_certification_data", "the quote does not carry its PCK certificate chain (certification data type 5)")
	ErrPCKChainInvalid              = errs.New("pck_chain_invalid", "the PCK certificate chain is invalid")
	ErrPCKChainUntrusted            = errs.New("pck_chain_untrusted", "the PCK certificate chain does not end in a trusted root")
	ErrUnknownCRLIssuer             = errs.New("unknown_crl_issuer", "a CRL is not issued by the CA it is checked against")
	ErrCRLInvalid                   = errs.New("crl_invalid", "a CRL is invalid or its signature does not verify")
	ErrPCKRevoked                   = errs.New("pck_revoked", "a certificate of the platform's chain is revoked")
	ErrTCBSigningChainInvalid       = errs.New("tcb_signing_chain_invalid", "the TCB signing certificate chain is invalid")
	ErrTCBInfoInvalid               = errs.New("tcb_info_invalid", "the TCB info is malformed or its signature does not verify")
	ErrQEIdentityInvalid            = errs.New("qe_identity_invalid", "the QE identity is malformed or its signature does not verify")
	ErrTCBInfoMismatch              = errs.New("tcb_info_mismatch", "the TCB info does not belong to this platform (TEE type, FMSPC or PCE ID)")
	ErrTDXModuleMismatch            = errs.New("tdx_module_mismatch", "the TDX module does not match the TCB info's module identity")
	ErrInvalidQEReportSignature     = errs.New("invalid_qe_report_signature", "the QE report signature does not verify under the PCK key")
	ErrInvalidQEReportData          = errs.New("invalid_qe_report_data", "the QE report does not bind the attestation key")
	ErrQEIdentityMismatch           = errs.New("qe_identity_mismatch", "the quoting enclave does not match the QE identity")
	ErrInvalidQuoteSignature        = errs.New("invalid_quote_signature", "the quote signature does not verify under the attestation key")
	ErrTCBNotSupported              = errs.New("tcb_not_supported", "no TCB level of the TCB info matches the platform")
	ErrTCBRevoked                   = errs.New("tcb_revoked", "the platform's TCB level is revoked")
	ErrCollateralExpired            = errs.New("collateral_expired", "the collateral has expired")
	ErrMissingCollateral            = errs.New("collateral_invalid", "the collateral is incomplete")
	errMissingTime                  = errs.New("invalid_options", "the verification time is required")
)

// Classes lists every error class in QVL order; tests and docs iterate it.
var Classes = []*errs.Error{
	ErrUnsupportedQuoteFormat, ErrUnsupportedCertificationData, ErrPCKChainInvalid, ErrPCKChainUntrusted,
	ErrUnknownCRLIssuer, ErrCRLInvalid, ErrPCKRevoked, ErrTCBSigningChainInvalid, ErrTCBInfoInvalid,
	ErrQEIdentityInvalid, ErrTCBInfoMismatch, ErrTDXModuleMismatch, ErrInvalidQEReportSignature,
	ErrInvalidQEReportData, ErrQEIdentityMismatch, ErrInvalidQuoteSignature, ErrTCBNotSupported, ErrTCBRevoked,
	ErrCollateralExpired,
}
