package policy

import (
	"errors"
	"fmt"
	"strings"

	"github.com/avowhq/avow/errs"
)

// Error codes. Every error returned by this package carries one of these
// codes (errs.Code(err) returns it, errors.Is(err, ErrX) matches it). The
// table is documented in docs/policy.md; codes are stable.
var (
	// Lexical and syntax errors (returned as *SyntaxError).
	ErrSyntax              = errs.New("policy_syntax", "the policy text is not valid claim-rule grammar")
	ErrSingleEquals        = errs.New("policy_single_equals", "a condition uses a single = where == is required")
	ErrMissingSemicolon    = errs.New("policy_missing_semicolon", "a statement is not terminated by ;")
	ErrUnknownKeyword      = errs.New("policy_unknown_keyword", "the policy uses a word that is not a keyword of the grammar")
	ErrSectionOrder        = errs.New("policy_section_order", "policy sections are not in the order configurationrules, authorizationrules, issuancerules")
	ErrDuplicateSection    = errs.New("policy_duplicate_section", "a policy section appears twice")
	ErrMissingSection      = errs.New("policy_missing_section", "the policy has no authorizationrules section")
	ErrMissingVersion      = errs.New("policy_missing_version", "the policy does not start with version=...;")
	ErrUnsupportedVersion  = errs.New("policy_unsupported_version", "the policy version is not 1.0, 1.1 or 1.2")
	ErrVersionFeature      = errs.New("policy_version_feature", "the policy uses a construct its version does not allow")
	ErrUnknownFunction     = errs.New("policy_unknown_function", "the policy calls a function that does not exist")
	ErrFunctionArity       = errs.New("policy_function_arity", "a function is called with the wrong number of arguments")
	ErrTypeError           = errs.New("policy_type_error", "an operator or function is applied to a value of the wrong type")
	ErrUnknownIdentifier   = errs.New("policy_unknown_identifier", "a rule refers to a claim identifier it does not bind")
	ErrDuplicateIdentifier = errs.New("policy_duplicate_identifier", "a rule binds the same claim identifier twice")
	ErrActionSection       = errs.New("policy_action_section", "an action is not allowed in this policy section")
	ErrUnterminatedString  = errs.New("policy_unterminated_string", "a string literal is not closed")
	ErrBadEscape           = errs.New("policy_bad_escape", "a string literal contains an unsupported escape sequence")
	ErrBadCharacter        = errs.New("policy_bad_character", "the policy contains a character that is not allowed")
	ErrBadNumber           = errs.New("policy_bad_number", "a number literal is not a decimal integer in range")
	ErrJmesPathSyntax      = errs.New("policy_jmespath_syntax", "a JmesPath query is not valid")
	ErrTooLarge            = errs.New("policy_too_large", "the policy exceeds a size or nesting limit")

	// Evaluation errors.
	ErrEval      = errs.New("policy_eval_error", "the policy failed while it was evaluated")
	ErrEvalLimit = errs.New("policy_eval_limit", "the policy evaluation exceeds its limits")
	ErrBadClaims = errs.New("policy_bad_claims", "the incoming claims are not valid")

	// Policy documents (JWS).
	ErrDocumentMalformed = errs.New("policy_document_malformed", "the policy document is not a valid JWS")
	ErrDocumentAlg       = errs.New("policy_document_alg", "the policy document uses an unsupported signature algorithm")
	ErrDocumentPayload   = errs.New("policy_document_payload", "the policy document payload is not an AttestationPolicy object")
	ErrSignatureInvalid  = errs.New("policy_signature_invalid", "the policy document signature does not verify")
	ErrSignerMissing     = errs.New("policy_signer_missing", "the signed policy document carries no signing certificate")
	ErrSignerCertificate = errs.New("policy_signer_certificate", "the policy signing certificate cannot be used")
	ErrSignKey           = errs.New("policy_sign_key", "the policy cannot be signed with this key and certificate")

	// Policy-management documents used for another operation, or outside
	// their validity (Document.CheckUse, CheckCertificateTime).
	ErrDocumentOperation      = errs.New("policy_document_operation", "the document is not made for this operation")
	ErrDocumentExpired        = errs.New("policy_document_expired", "the document has expired (exp)")
	ErrDocumentNotYetValid    = errs.New("policy_document_not_yet_valid", "the document is not valid yet (nbf)")
	ErrDocumentIssuedInFuture = errs.New("policy_document_issued_in_future", "the document is issued in the future (iat)")
	ErrSignerExpired          = errs.New("policy_signer_expired", "the signing certificate is outside its validity period")
)

// SyntaxError is a policy syntax or type error at a position of the text.
// It wraps the *errs.Error sentinel of its code, so errors.Is(err,
// ErrSingleEquals) and errs.Code(err) work on it.
type SyntaxError struct {
	Code    string // stable code, one of the policy_* codes
	Message string // one sentence for an administrator
	Line    int    // 1-based line
	Column  int    // 1-based column, in characters
	Snippet string // the offending line, then a line with a caret under the column

	sentinel *errs.Error
}

func (e *SyntaxError) Error() string {
	return e.Located() + " (" + e.Code + ")"
}

// Located is the error without its code: "line L, column C: message", for
// a caller that reports the code itself.
func (e *SyntaxError) Located() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
}

// Described is Located: errs.Detail renders the error without its code.
func (e *SyntaxError) Described() string { return e.Located() }

// Unwrap returns the sentinel of the error's code.
func (e *SyntaxError) Unwrap() error { return e.sentinel }

// Is reports whether target has the same code.
func (e *SyntaxError) Is(target error) bool {
	var t *errs.Error
	if errors.As(target, &t) {
		return t.Code == e.Code
	}
	var s *SyntaxError
	if errors.As(target, &s) {
		return s.Code == e.Code
	}
	return false
}

// Warning is a lint finding: the policy is valid, but something in it is
// probably not what its author meant or is not portable to MAA.
type Warning struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%d:%d: %s (%s)", w.Line, w.Column, w.Message, w.Code)
	}
	return fmt.Sprintf("%s (%s)", w.Message, w.Code)
}

// Warning codes.
const (
	WarnCondensedForm     = "policy_condensed_form"
	WarnKeywordCase       = "policy_keyword_case"
	WarnTypeMismatch      = "policy_type_mismatch"
	WarnHexCase           = "policy_hex_case"
	WarnUnknownProperty   = "policy_unknown_property"
	WarnUnknownClaim      = "policy_unknown_claim"
	WarnIssueInAuthz      = "policy_issue_in_authorization"
	WarnNoPermit          = "policy_no_permit"
	WarnRawPolicyDocument = "policy_document_raw_text"
)

// snippet renders the line holding offset with a caret under col.
func snippet(text string, lineStart int, col int) string {
	end := strings.IndexByte(text[lineStart:], '\n')
	line := text[lineStart:]
	if end >= 0 {
		line = text[lineStart : lineStart+end]
	}
	line = strings.TrimRight(line, "\r")
	var caret strings.Builder
	n := 0
	for _, r := range line {
		if n >= col-1 {
			break
		}
		if r == '\t' {
			caret.WriteByte('\t')
		} else {
			caret.WriteByte(' ')
		}
		n++
	}
	for ; n < col-1; n++ {
		caret.WriteByte(' ')
	}
	caret.WriteByte('^')
	return line + "\n" + caret.String()
}
