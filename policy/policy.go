package policy

import (
	"fmt"
	"strings"

	"github.com/avowhq/avow/claims"
)

// Policy is a compiled attestation policy. It is immutable after Parse and
// safe for concurrent use by any number of goroutines.
type Policy struct {
	text         string
	version      string
	minor        int
	sections     [3]*section
	sectionOrder []Section
	allRules     []*rule
	warnings     []Warning
	condensed    bool
	canonical    string
	maxSlots     int
	hasPermit    bool
	noPermit     string // reason when the policy has no permit() rule
}

// Text returns the policy text as given to Parse.
func (p *Policy) Text() string { return p.text }

// Version returns the policy's grammar version: "1.0", "1.1" or "1.2".
func (p *Policy) Version() string { return p.version }

// Canonical returns the policy in canonical form: the text itself, or, for
// a condensed policy (rules written without a section), the text with the
// rules wrapped in authorizationrules { ... };.
func (p *Policy) Canonical() string {
	if p.condensed {
		return p.canonical
	}
	return p.text
}

// Condensed reports whether the policy was written in the condensed form.
func (p *Policy) Condensed() bool { return p.condensed }

// Warnings returns the lint findings of the policy. The slice must not be
// modified.
func (p *Policy) Warnings() []Warning { return p.warnings }

// RuleCount returns the number of rules of a section (0 if it is absent).
func (p *Policy) RuleCount(s Section) int {
	if int(s) >= len(p.sections) || p.sections[s] == nil {
		return 0
	}
	return len(p.sections[s].rules)
}

// HasSection reports whether the policy has the section.
func (p *Policy) HasSection(s Section) bool { return int(s) < len(p.sections) && p.sections[s] != nil }

func (p *Policy) finish() {
	if a := p.sections[Authorization]; a != nil {
		for _, r := range a.rules {
			if r.act.kind == aPermit {
				p.hasPermit = true
			}
		}
		if !p.hasPermit {
			line := 1
			if len(a.rules) > 0 {
				line = a.rules[0].line
			}
			p.noPermit = "the policy has no permit() rule in authorizationrules, so it never permits"
			p.warnings = append(p.warnings, Warning{Code: WarnNoPermit, Message: "authorizationrules has no permit() rule: this policy refuses every attestation", Line: line, Column: 1})
		}
	}
}

// knownClaims are the incoming claims whose types MAA documents; a
// condition comparing one of them with a literal of another type can never
// hold, which the linter reports.
var knownClaims = map[string]kind{
	"x-ms-sgx-is-debuggable": kBool, "x-ms-sgx-product-id": kInt, "x-ms-sgx-svn": kInt,
	"x-ms-sgx-mrsigner": kString, "x-ms-sgx-mrenclave": kString, "x-ms-attestation-type": kString,
	"x-ms-sgx-report-data": kString, "x-ms-sgx-ehd": kString, "x-ms-sgx-config-id": kString,
	"x-ms-sgx-config-svn": kInt, "x-ms-sgx-isv-extended-product-id": kString, "x-ms-sgx-isv-family-id": kString,
	"$is-debuggable": kBool, "$product-id": kInt, "$svn": kInt, "$sgx-mrsigner": kString,
	"$sgx-mrenclave": kString, "$tee": kString,
	"is-debuggable": kBool, "product-id": kInt, "svn": kInt, "sgx-mrsigner": kString, "sgx-mrenclave": kString, "tee": kString,
	"aikValidated": kBool, "aikPubHash": kString, "tpmVersion": kInt, "secureBootEnabled": kBool,
	"iommuEnabled": kBool, "bootDebuggingDisabled": kBool, "notSafeMode": kBool, "notWinPE": kBool,
	"vbsEnabled": kBool, "vbsReportPresent": kBool,
	"enclaveAuthorId": kString, "enclaveImageId": kString, "enclaveOwnerId": kString, "enclaveFamilyId": kString,
	"enclaveSvn": kInt, "enclavePlatformSvn": kInt, "enclaveFlags": kInt,
	"x-ms-sevsnpvm-is-debuggable": kBool, "x-ms-sevsnpvm-guestsvn": kInt, "x-ms-sevsnpvm-launchmeasurement": kString,
}

// hexClaims hold lower-case hex of a fixed number of characters.
var hexClaims = map[string]int{
	"x-ms-sgx-mrsigner": 64, "x-ms-sgx-mrenclave": 64, "$sgx-mrsigner": 64, "$sgx-mrenclave": 64,
	"sgx-mrsigner": 64, "sgx-mrenclave": 64, "x-ms-sgx-report-data": 128,
}

// knownProperties are the configuration and issuance properties MAA
// documents, with their types.
var knownProperties = map[Section]map[string]kind{
	Configuration: {"require_valid_aik_cert": kBool, "required_pcr_mask": kInt, "x-ms-sgx-tcbidentifier": kString},
	Issuance:      {"report_validity_in_minutes": kInt, "omit_x5c": kBool},
}

func (p *parser) lintCond(c *cond) {
	if !c.hasType {
		return
	}
	want, known := knownClaims[c.typeLit]
	for _, pr := range c.props {
		if pr.f != fValue || pr.rhs.kind != eLit {
			continue
		}
		lit := pr.rhs.lit
		if known && lit.k != want {
			p.warn(WarnTypeMismatch, pr.rhs.pos, fmt.Sprintf("%s is %s claim, but it is compared with %s (%s); values of different types are never equal, so this condition %s",
				c.typeLit, want.article(), lit.format(), lit.k.article(), map[bool]string{true: "always holds", false: "never holds"}[pr.o == opNe]))
		}
		if n, ok := hexClaims[c.typeLit]; ok && lit.k == kString && (pr.o == opEq || pr.o == opNe) {
			if strings.ToLower(lit.s) != lit.s && isHex(lit.s) {
				p.warn(WarnHexCase, pr.rhs.pos, fmt.Sprintf("%s is lower-case hex and strings compare case-sensitively; write %q", c.typeLit, strings.ToLower(lit.s)))
			} else if !isHex(lit.s) || len(lit.s) != n {
				p.warn(WarnTypeMismatch, pr.rhs.pos, fmt.Sprintf("%s is %d hex characters, but %s is not; this comparison never matches a real claim", c.typeLit, n, lit.format()))
			}
		}
	}
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (p *parser) lintAction(sec Section, a *action) {
	if a.kind != aIssueProperty || a.typ == nil || a.typ.kind != eLit {
		return
	}
	props := knownProperties[sec]
	want, ok := props[a.typ.lit.s]
	if !ok {
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		p.warn(WarnUnknownProperty, a.typ.pos, fmt.Sprintf("%q is not a property MAA documents for %s%s; it is set but nothing reads it", a.typ.lit.s, sectionNames[sec], suggest(a.typ.lit.s, names)))
		return
	}
	if a.val.kind == eLit && a.val.lit.k != want {
		p.fail(ErrTypeError, a.val.pos, fmt.Sprintf("the property %s is %s, but %s is %s", a.typ.lit.s, want.article(), a.val.lit.format(), a.val.lit.k.article()))
	}
}

// lintClaimTypes warns about conditions on a claim type in avow's
// namespaces (x-ms-, x-avow-, tdx_, attester_, the $-names, near misses of
// the legacy names) that no attestation type gives a policy
// (claims.Known) and the policy does not add, issue or set itself: such a
// condition never matches, so a misspelling such as x-ms-sgx-is-debugable
// refuses every attestation. Each distinct type is judged once, and only
// the first maxLintedClaimTypes unregistered ones (a judgement compares
// the name with every registered one), which bounds the work an anonymous
// draft policy can ask for.
func (p *parser) lintClaimTypes() {
	if p.anyType {
		return // a computed claim type could be any of them
	}
	type verdict struct {
		warn    bool
		suggest string
	}
	seen := map[string]verdict{}
	judged := 0
	for _, ref := range p.condTypes {
		v, ok := seen[ref.name]
		if !ok {
			if !claims.Known(ref.name) && !p.policyTypes[ref.name] {
				if judged == maxLintedClaimTypes {
					continue
				}
				judged++
				if claims.InNamespace(ref.name) {
					v = verdict{true, claims.Suggest(ref.name)}
				}
			}
			seen[ref.name] = v
		}
		if !v.warn {
			continue
		}
		msg := fmt.Sprintf("no attestation type gives a policy the claim %s, so this condition never matches", ref.name)
		if v.suggest != "" {
			msg += "; did you mean " + v.suggest + "?"
		}
		p.warn(WarnUnknownClaim, ref.pos, msg)
	}
}

// maxLintedClaimTypes bounds the distinct unregistered claim types
// lintClaimTypes judges (a real policy names a few).
const maxLintedClaimTypes = 64
