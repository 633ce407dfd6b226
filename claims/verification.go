package claims

import (
	"crypto/sha256"
	"encoding/hex"
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
// named in the same family, attester_advisory_ids, attester_tcb_date,
// attester_collateral_expired, qe_svn and pce_svn.
//
// The advisory ids are a JSON array for the policy (its JSON text, which
// JmesPath reads); attestation.ForToken turns them into one comma-separated
// string for the token.
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
		// The SVNs TCB matching compared: the quoting enclave's (its
		// report's ISVSVN, against the QE identity) and the PCE's (the PCK
		// certificate's, against the TCB info).
		c["qe_svn"] = int(q.QEReport.ISVSVN)
		if res.PCK != nil {
			c["pce_svn"] = int(res.PCK.PCESVN)
		}
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
