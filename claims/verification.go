package claims

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

// AddVerification adds the claims that only a verified quote has: which
// collateral verified it and what the verifier concluded about the
// platform's TCB.
//
// SGX: x-ms-sgx-collateral (and its legacy copy maa-attestationcollateral),
// the SHA-256 digests of the collateral used (h: pcs.Collateral.Hashes) and of
// the quote (quotehash); and, as avow additions that MAA does not emit,
// x-ms-sgx-tcb-status, x-ms-sgx-advisory-ids, x-ms-sgx-tcb-date and
// x-ms-sgx-collateral-expired, so that policies can judge the TCB and a
// relying party sees every relaxation in the token.
//
// TDX: attester_tcb_status (MAA's TDX EAT profile) and, as avow additions
// named in the same family, attester_advisory_ids, attester_tcb_date and
// attester_collateral_expired.
//
// The advisory ids are a JSON array for the policy (its JSON text, which
// JmesPath reads); ForToken turns them into one comma-separated string for
// the token.
func AddVerification(c map[string]any, q *quote.Quote, h pcs.CollateralHashes, res *dcap.Result) {
	advisories := make([]any, len(res.AdvisoryIDs))
	for i, id := range res.AdvisoryIDs {
		advisories[i] = id
	}
	tcbDate := res.TCBDate.UTC().Format(time.RFC3339)
	if q.IsTDX() {
		c["attester_tcb_status"] = string(res.TCBStatus)
		c["attester_advisory_ids"] = advisories
		c["attester_tcb_date"] = tcbDate
		c["attester_collateral_expired"] = res.CollateralExpired
		return
	}
	quoteHash := sha256.Sum256(q.Raw)
	collateral := map[string]any{
		"qeidcertshash":    h.QEIDCertsHash,
		"qeidcrlhash":      h.QEIDCRLHash,
		"qeidhash":         h.QEIDHash,
		"quotehash":        hex.EncodeToString(quoteHash[:]),
		"tcbinfocertshash": h.TCBInfoCertsHash,
		"tcbinfocrlhash":   h.TCBInfoCRLHash,
		"tcbinfohash":      h.TCBInfoHash,
	}
	c["x-ms-sgx-collateral"] = collateral
	c["maa-attestationcollateral"] = collateral
	c["x-ms-sgx-tcb-status"] = string(res.TCBStatus)
	c["x-ms-sgx-advisory-ids"] = advisories
	c["x-ms-sgx-tcb-date"] = tcbDate
	c["x-ms-sgx-collateral-expired"] = res.CollateralExpired
}

// listClaims are the claims whose value is a list of strings.
var listClaims = []string{"x-ms-sgx-advisory-ids", "attester_advisory_ids"}

// ForToken makes c fit for a token once the policy has seen it: the
// policy-only $-names of AddPolicyAliases are removed, and no claim at the
// top level is a JSON array. Microsoft.Data.SqlClient (and other
// .NET relying parties) load a token's claims into a dictionary, where an
// array becomes several claims of one type and validation throws; MAA's
// own SGX tokens carry no array. The advisory ids become one string, the
// ids joined with commas ("" when there are none).
func ForToken(c map[string]any) {
	for _, a := range policyAliases {
		delete(c, a.alias)
	}
	for _, k := range listClaims {
		ids, ok := c[k].([]any)
		if !ok {
			continue
		}
		parts := make([]string, 0, len(ids))
		for _, id := range ids {
			if s, ok := id.(string); ok {
				parts = append(parts, s)
			}
		}
		c[k] = strings.Join(parts, ",")
	}
}
