package sgxsim

import (
	"strconv"
	"strings"
)

// Defect is one deliberate fault injected into a quote or into collateral.
// Pass the same Defect in QuoteOptions and CollateralOptions: each defect
// acts on exactly one side (Side) and the other side ignores it, so the pair
// (quote, collateral) carries exactly that one defect and nothing else.
// Verified with the platform's root as trust anchor at a time in
// [CollateralOptions.Now, Now+Validity), the pair gives ExpectedResult.
type Defect int

// The defects. NoDefect is the zero value.
const (
	NoDefect Defect = iota

	// Collateral side.
	RevokedPCK             // the PCK CRL lists the PCK certificate (of every preset TCB)
	RevokedIntermediate    // the root CA CRL lists the PCK Platform CA
	RevokedTCBSigning      // the root CA CRL lists the TCB signing certificate
	WrongFMSPC             // the TCB info is for another FMSPC
	ExpiredCollateral      // TCB info, QE identity and both CRLs expired before Now
	BadTCBInfoSignature    // TCB info signature does not verify
	BadQEIdentitySignature // QE identity signature does not verify
	BadRootCRLSignature    // root CA CRL signature does not verify
	BadPCKCRLSignature     // PCK CRL signature does not verify
	QEIdentityMismatch     // the QE identity names another MRSIGNER

	// Quote side.
	BadQuoteSignature    // quote signature (attestation key) does not verify
	BadQEReportSignature // QE report signature (PCK key) does not verify
	BadQEReportData      // QE report data does not bind the attestation key (report correctly signed)
	BadPCKCertSignature  // the PCK certificate's signature does not verify under the Platform CA
	UntrustedRoot        // the PCK chain ends in another root with the same name
	TCBBelowEveryLevel   // the PCK certificate's TCB is below every TCB level
	TCBRevoked           // the PCK certificate's TCB matches a Revoked level
	TDXModuleMismatch    // MRSIGNERSEAM is not the TCB info's TDX module signer (TDX only)
	BadQEVendorID        // the header's QE vendor ID is not Intel's

	numDefects
)

// Side says which artefact a defect modifies.
type Side string

// The sides.
const (
	SideNone       Side = ""
	SideQuote      Side = "quote"
	SideCollateral Side = "collateral"
)

type defectInfo struct {
	name   string
	side   Side
	result string
	doc    string
}

// defects is the defect table: name (for the CLI), side, the result class a
// QVL-rules verifier must report (../shared/vectors/dcap/README.md "Result
// classes"), and why.
var defects = [numDefects]defectInfo{
	NoDefect:               {"none", SideNone, "ok", "valid quote and collateral (TCB status UpToDate)"},
	RevokedPCK:             {"revoked-pck", SideCollateral, "pck_revoked", "PCK serial in the PCK CRL: STATUS_SGX_PCK_REVOKED (0xE031)"},
	RevokedIntermediate:    {"revoked-intermediate", SideCollateral, "pck_revoked", "Platform CA serial in the root CA CRL: STATUS_SGX_INTERMEDIATE_CA_REVOKED (0xE031)"},
	RevokedTCBSigning:      {"revoked-tcb-signing", SideCollateral, "pck_revoked", "TCB signing serial in the root CA CRL: STATUS_SGX_TCB_SIGNING_CERT_REVOKED (0xE031)"},
	WrongFMSPC:             {"wrong-fmspc", SideCollateral, "tcb_info_mismatch", "TCB info fmspc differs from the PCK certificate's: STATUS_TCB_INFO_MISMATCH (0xE024)"},
	ExpiredCollateral:      {"expired-collateral", SideCollateral, "ok", "nextUpdate of TCB info, QE identity and both CRLs is 1 h before Now: expiry is non-terminal under QVL; collateral_expired is true, TCB status UpToDate"},
	BadTCBInfoSignature:    {"bad-tcb-info-signature", SideCollateral, "tcb_info_invalid", "STATUS_TCB_INFO_INVALID_SIGNATURE (0xE03A)"},
	BadQEIdentitySignature: {"bad-qe-identity-signature", SideCollateral, "qe_identity_invalid", "STATUS_SGX_ENCLAVE_IDENTITY_INVALID_SIGNATURE (0xE039)"},
	BadRootCRLSignature:    {"bad-root-crl-signature", SideCollateral, "crl_invalid", "STATUS_SGX_CRL_INVALID_SIGNATURE (0xE068)"},
	BadPCKCRLSignature:     {"bad-pck-crl-signature", SideCollateral, "crl_invalid", "STATUS_SGX_CRL_INVALID_SIGNATURE (0xE068)"},
	QEIdentityMismatch:     {"qe-identity-mismatch", SideCollateral, "qe_identity_mismatch", "QE identity mrsigner differs from the QE report's MRSIGNER: STATUS_QE_IDENTITY_MISMATCH (0xE026)"},
	BadQuoteSignature:      {"bad-quote-signature", SideQuote, "invalid_quote_signature", "STATUS_INVALID_QUOTE_SIGNATURE (0xE068)"},
	BadQEReportSignature:   {"bad-qe-report-signature", SideQuote, "invalid_qe_report_signature", "STATUS_INVALID_QE_REPORT_SIGNATURE (0xE01F)"},
	BadQEReportData:        {"bad-qe-report-data", SideQuote, "invalid_qe_report_data", "SHA-256(attestation key ‖ auth data) ≠ report data[0:32]: STATUS_INVALID_QE_REPORT_DATA (0xE001)"},
	BadPCKCertSignature:    {"bad-pck-cert-signature", SideQuote, "pck_chain_invalid", "STATUS_SGX_PCK_INVALID_ISSUER (0xE022)"},
	UntrustedRoot:          {"untrusted-root", SideQuote, "pck_chain_untrusted", "the chain's root has the root's name but another key: STATUS_SGX_PCK_CERT_CHAIN_UNTRUSTED (0xE022)"},
	TCBBelowEveryLevel:     {"tcb-below-every-level", SideQuote, "tcb_not_supported", "PCK TCB is the \"unsupported\" preset: STATUS_TCB_NOT_SUPPORTED (0xE066)"},
	TCBRevoked:             {"tcb-revoked", SideQuote, "tcb_revoked", "PCK TCB is the \"revoked\" preset: STATUS_TCB_REVOKED (0xE032)"},
	TDXModuleMismatch:      {"tdx-module-mismatch", SideQuote, "tdx_module_mismatch", "MRSIGNERSEAM is not zero (TDX_01's mrsigner): STATUS_TDX_MODULE_MISMATCH (0xE060); TDX only"},
	BadQEVendorID:          {"bad-qe-vendor-id", SideQuote, "unsupported_quote_format", "STATUS_UNSUPPORTED_QUOTE_FORMAT (0xE01D)"},
}

func (d Defect) valid() bool { return d >= 0 && d < numDefects }

// AllDefects returns every defect except NoDefect, in declaration order.
func AllDefects() []Defect {
	out := make([]Defect, 0, numDefects-1)
	for d := NoDefect + 1; d < numDefects; d++ {
		out = append(out, d)
	}
	return out
}

// String returns the defect's name, as the CLI's --defect flag takes it.
func (d Defect) String() string {
	if !d.valid() {
		return "defect(" + strconv.Itoa(int(d)) + ")"
	}
	return defects[d].name
}

// ParseDefect returns the defect with the given name ("revoked-pck", ...;
// "" and "none" are NoDefect).
func ParseDefect(name string) (Defect, error) {
	n := strings.ToLower(strings.ReplaceAll(name, "_", "-"))
	if n == "" {
		return NoDefect, nil
	}
	for d := NoDefect; d < numDefects; d++ {
		if defects[d].name == n {
			return d, nil
		}
	}
	return NoDefect, ErrInvalidOptions.Wrapf("unknown defect %q (see `avow sim defects`)", name)
}

// Side returns the artefact the defect modifies.
func (d Defect) Side() Side {
	if !d.valid() {
		return SideNone
	}
	return defects[d].side
}

// ExpectedResult returns the result a QVL-rules verifier must report for a
// quote and collateral both made with this defect: "ok" or an error class
// of ../shared/vectors/dcap/README.md (dcap's sentinel codes). For "ok",
// the TCB status is UpToDate (for ExpiredCollateral with
// CollateralExpired() true).
func (d Defect) ExpectedResult() string {
	if !d.valid() {
		return ""
	}
	return defects[d].result
}

// CollateralExpired reports whether the collateral made with this defect is
// expired at its Now (QvE's collateral_expiration_status).
func (d Defect) CollateralExpired() bool { return d == ExpiredCollateral }

// Description explains the defect and the QVL status behind its result.
func (d Defect) Description() string {
	if !d.valid() {
		return ""
	}
	return defects[d].doc
}

// Applies reports whether the defect can be made for tee (TDXModuleMismatch
// is TDX only).
func (d Defect) Applies(tee TEE) bool {
	return d != TDXModuleMismatch || tee == TDX
}
