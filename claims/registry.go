package claims

import (
	"slices"
	"strings"
	"sync"
)

// The registry: every claim type an attestation type gives a policy, in one
// place. The policy linter (policy.Parse) warns about a condition on a
// claim type in avow's namespaces that is not here, because such a
// condition never matches and the policy then refuses every attestation
// (a misspelled x-ms-sgx-is-debugable passes the grammar). The builders'
// tests check every claim they emit against these lists, so a claim cannot
// be added without being registered.
//
// To add an attestation type, add a list of its claims and an entry in
// byType. Claims every type emits go in commonClaims.

// Claims the service adds to the claims of every attestation type.
const (
	// Simulated marks a token for evidence of the simulated platform
	// (avow serve --dev).
	Simulated = "x-avow-simulated"
	// PrivateRoot marks a token for evidence that chains to a private
	// (non-Intel) root the operator trusts.
	PrivateRoot = "x-avow-private-root"
)

// Claims the service adds to the claims of Intel DCAP quotes (SGX, TDX):
// the TCB baseline the quote was verified against and a relaxation of its
// TCB status (docs/tcb-baselines.md). The service spells them too
// (service/baselines.go; it does not import this package).
const (
	TCBBaseline             = "x-avow-tcb-baseline"
	TCBEvaluationDataNumber = "x-avow-tcb-evaluation-data-number"
	TCBGrace                = "x-avow-tcb-grace"
)

// DCAPServiceClaims are the service's claims of Intel DCAP quotes.
var DCAPServiceClaims = []string{TCBBaseline, TCBEvaluationDataNumber, TCBGrace}

// commonClaims are given to the policy for every attestation type.
var commonClaims = []string{
	"x-ms-ver", "x-ms-attestation-type",
	"x-ms-runtime", "x-ms-inittime", // AddRuntimeData, AddInitTimeData (JSON)
	Simulated, PrivateRoot,
}

// sgxClaims: SGX enclaves and OpenEnclave reports (x-ms-attestation-type
// "sgx"): FromQuote, AddRuntimeData, AddVerification and the legacy aliases
// of AddPolicyAliases.
var sgxClaimNames = []string{
	"x-ms-sgx-is-debuggable", "x-ms-sgx-product-id", "x-ms-sgx-svn", "x-ms-sgx-mrenclave", "x-ms-sgx-mrsigner",
	"x-ms-sgx-report-data",
	// KSS enclaves only.
	"x-ms-sgx-config-id", "x-ms-sgx-config-svn", "x-ms-sgx-isv-extended-product-id", "x-ms-sgx-isv-family-id",
	// Binary runtime data.
	"x-ms-sgx-ehd", "aas-ehd", "maa-ehd",
	// Verification.
	"x-ms-sgx-collateral", "maa-attestationcollateral",
	"x-ms-sgx-tcb-status", "x-ms-sgx-advisory-ids", "x-ms-sgx-tcb-date", "x-ms-sgx-collateral-expired",
	// Legacy names, still emitted by MAA (maa.md §2.3).
	"is-debuggable", "product-id", "svn", "sgx-mrenclave", "sgx-mrsigner", "tee",
	// MAA's 2020 names, given to the policy only (AddPolicyAliases).
	"$is-debuggable", "$product-id", "$svn", "$sgx-mrenclave", "$sgx-mrsigner", "$tee",
}

// tdxClaimNames: TDX VMs (x-ms-attestation-type "tdxvm"), MAA's EAT profile
// with avow's additions.
var tdxClaimNames = []string{
	"eat_profile", "intuse", "dbgstat",
	"tdx_mrtd", "tdx_rtmr0", "tdx_rtmr1", "tdx_rtmr2", "tdx_rtmr3",
	"tdx_mrseam", "tdx_mrsignerseam", "tdx_mrconfigid", "tdx_mrowner", "tdx_mrownerconfig",
	"tdx_report_data", "tdx_seam_attributes", "tdx_td_attributes", "tdx_xfam", "tdx_tee_tcb_svn", "tdx_seamsvn",
	"tdx_td_attributes_debug", "tdx_td_attributes_septve_disable", "tdx_td_attributes_protection_keys",
	"tdx_td_attributes_key_locker", "tdx_td_attributes_perfmon",
	// TDX 1.5 bodies.
	"tdx_mrservicetd", "tdx_tee_tcb_svn2",
	// The quoting enclave's and PCE's SVNs.
	"pce_svn", "qe_svn",
	// Verification.
	"attester_tcb_status", "attester_advisory_ids", "attester_tcb_date", "attester_collateral_expired",
}

// sevSnpVmClaimNames: AMD SEV-SNP VMs (x-ms-attestation-type "sevsnpvm",
// package snp), MAA's names; snp's tests check its claims against them.
var sevSnpVmClaimNames = []string{
	"x-ms-sevsnpvm-authorkeydigest", "x-ms-sevsnpvm-bootloader-svn", "x-ms-sevsnpvm-familyId",
	"x-ms-sevsnpvm-guestsvn", "x-ms-sevsnpvm-hostdata", "x-ms-sevsnpvm-idkeydigest", "x-ms-sevsnpvm-imageId",
	"x-ms-sevsnpvm-is-debuggable", "x-ms-sevsnpvm-launchmeasurement", "x-ms-sevsnpvm-microcode-svn",
	"x-ms-sevsnpvm-migration-allowed", "x-ms-sevsnpvm-reportdata", "x-ms-sevsnpvm-reportid",
	"x-ms-sevsnpvm-smt-allowed", "x-ms-sevsnpvm-snpfw-svn", "x-ms-sevsnpvm-tee-svn", "x-ms-sevsnpvm-vmpl",
}

// byType maps x-ms-attestation-type to the claims of that type (besides
// commonClaims).
var byType = map[string][]string{
	TypeSGX:      append(slices.Clip(sgxClaimNames), DCAPServiceClaims...),
	TypeTDX:      append(slices.Clip(tdxClaimNames), DCAPServiceClaims...),
	TypeSevSnpVm: sevSnpVmClaimNames,
}

var registry = sync.OnceValue(func() map[string]bool {
	m := make(map[string]bool)
	for _, n := range commonClaims {
		m[n] = true
	}
	for _, names := range byType {
		for _, n := range names {
			m[n] = true
		}
	}
	return m
})

// Known reports whether some attestation type gives the policy a claim of
// this type (matched exactly: claim types are case-sensitive).
func Known(name string) bool { return registry()[name] }

var sortedNames = sync.OnceValue(func() []string {
	m := registry()
	out := make([]string, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
})

// Names returns every registered claim type, sorted.
func Names() []string { return slices.Clone(sortedNames()) }

// NamesOf returns the claim types of an attestation type
// (x-ms-attestation-type: TypeSGX, TypeTDX), common ones included, sorted;
// nil for a type that is not registered.
func NamesOf(attestationType string) []string {
	names, ok := byType[attestationType]
	if !ok {
		return nil
	}
	out := slices.Concat(commonClaims, names)
	slices.Sort(out)
	return slices.Compact(out)
}

// Namespaces are the prefixes of claim types that only attestation types
// define (MAA's x-ms-, avow's x-avow-, the TDX profile's tdx_ and
// attester_, MAA's 2020 $-names): a policy condition on an unregistered
// type in one of them is almost certainly a misspelling.
var Namespaces = []string{"x-ms-", "x-avow-", "tdx_", "attester_", "$"}

// otherTypes are the claim prefixes of MAA attestation types avow does not
// implement (TPM, VBS, Azure VMs; SEV-SNP's are registered now): a
// policy written for them is not avow's to judge, so InNamespace leaves
// their claims alone while no registered claim has the prefix.
var otherTypes = []string{"x-ms-tpm-", "x-ms-vbs-", "x-ms-azurevm-", "x-ms-sevsnpvm-", "x-ms-isolation-tee"}

// InNamespace reports whether name is in one of Namespaces (any case), or
// is a near miss (edit distance at most 2) of a registered claim type
// without a namespace, such as the legacy is-debuggable or eat_profile.
// It is false for registered types, and for claims of MAA attestation
// types avow does not implement.
func InNamespace(name string) bool {
	if Known(name) {
		return false
	}
	lower := strings.ToLower(name)
	for _, p := range otherTypes {
		if strings.HasPrefix(lower, p) && !registeredPrefix(p) {
			return false
		}
	}
	for _, p := range Namespaces {
		if strings.HasPrefix(lower, p) {
			return true
		}
	}
	if len(name) < 5 {
		return false // svn, tee: too short to tell a misspelling from another claim
	}
	for _, n := range sortedNames() {
		if len(n) >= 5 && !hasNamespace(n) && near(lower, strings.ToLower(n)) {
			return true
		}
	}
	return false
}

// near reports an edit distance of at most 2, skipping the distance when
// the lengths alone differ by more.
func near(a, b string) bool {
	return len(a)-len(b) <= 2 && len(b)-len(a) <= 2 && EditDistance(a, b) <= 2
}

func registeredPrefix(prefix string) bool {
	for n := range registry() {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}

func hasNamespace(name string) bool {
	for _, p := range Namespaces {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// Suggest returns the registered claim type closest to name (edit
// distance at most 2, ignoring case), or "" when none is that close. Ties
// go to the first in sorted order.
func Suggest(name string) string {
	lower := strings.ToLower(name)
	best, bestD := "", 3
	for _, n := range sortedNames() {
		if len(lower)-len(n) > 2 || len(n)-len(lower) > 2 {
			continue
		}
		if d := EditDistance(lower, strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// EditDistance is the Levenshtein distance of a and b in bytes; strings
// longer than 64 bytes are "far" (99), which bounds the work on hostile
// input.
func EditDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 99
	}
	var rows [2][65]int
	prev, cur := rows[0][:len(b)+1], rows[1][:len(b)+1]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// policyAliases are MAA's 2020 claim names ($-names) and the claim each
// copies. MAA gives them to SGX policies (its 2020 default policy and the
// signed-policy sample of its documentation test $is-debuggable), but they
// are not token claims.
var policyAliases = [...]struct{ alias, of string }{
	{"$is-debuggable", "x-ms-sgx-is-debuggable"},
	{"$product-id", "x-ms-sgx-product-id"},
	{"$svn", "x-ms-sgx-svn"},
	{"$sgx-mrenclave", "x-ms-sgx-mrenclave"},
	{"$sgx-mrsigner", "x-ms-sgx-mrsigner"},
	{"$tee", "x-ms-attestation-type"},
}

// AddPolicyAliases adds the $-names of an SGX claim set (c from FromQuote)
// for the policy to read: $is-debuggable, $product-id, $svn,
// $sgx-mrenclave, $sgx-mrsigner and $tee. ForToken removes them again. A
// TDX claim set gets none.
func AddPolicyAliases(c map[string]any) {
	if c["x-ms-attestation-type"] != TypeSGX {
		return
	}
	for _, a := range policyAliases {
		if v, ok := c[a.of]; ok {
			c[a.alias] = v
		}
	}
}

// PolicyAlias returns the claim a $-name copies ("" when name is not one).
func PolicyAlias(name string) string {
	for _, a := range policyAliases {
		if a.alias == name {
			return a.of
		}
	}
	return ""
}
