package claims

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
)

func verifySet(t *testing.T, name, at string) (map[string]any, []byte) {
	t.Helper()
	dir := filepath.Join(vectors.Dir(t, "dcap"), name)
	raw, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := os.ReadFile(filepath.Join(dir, "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	col, err := pcs.ParseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, at)
	res, q, err := dcap.VerifyQuote(raw, col, dcap.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	c := FromQuote(q)
	AddVerification(c, q, col.Hashes(), res)
	return roundTrip(t, c), raw
}

func TestVerificationClaimsSGX(t *testing.T) {
	c, raw := verifySet(t, "S01-sgx-v3-phala", "2025-07-01T00:00:00Z")
	sum := sha256.Sum256(raw)
	coll, ok := c["x-ms-sgx-collateral"].(map[string]any)
	if !ok {
		t.Fatalf("x-ms-sgx-collateral missing: %v", c)
	}
	if coll["quotehash"] != hex.EncodeToString(sum[:]) {
		t.Errorf("quotehash %v", coll["quotehash"])
	}
	for _, k := range []string{"qeidcertshash", "qeidcrlhash", "qeidhash", "tcbinfocertshash", "tcbinfocrlhash", "tcbinfohash"} {
		if s, _ := coll[k].(string); len(s) != 64 {
			t.Errorf("%s = %v", k, coll[k])
		}
	}
	if c["x-ms-sgx-tcb-status"] != "ConfigurationAndSWHardeningNeeded" {
		t.Errorf("x-ms-sgx-tcb-status %v", c["x-ms-sgx-tcb-status"])
	}
	ids, _ := c["x-ms-sgx-advisory-ids"].([]any)
	if len(ids) != 2 || ids[0] != "INTEL-SA-00289" || ids[1] != "INTEL-SA-00615" {
		t.Errorf("x-ms-sgx-advisory-ids %v", c["x-ms-sgx-advisory-ids"])
	}
	if c["x-ms-sgx-collateral-expired"] != false {
		t.Errorf("x-ms-sgx-collateral-expired %v", c["x-ms-sgx-collateral-expired"])
	}
}

func TestVerificationClaimsTDX(t *testing.T) {
	c, _ := verifySet(t, "S08-tdx-v4-automata-0625", "2025-06-05T03:45:00Z")
	if c["attester_tcb_status"] != "OutOfDate" {
		t.Errorf("attester_tcb_status %v", c["attester_tcb_status"])
	}
	if ids, _ := c["attester_advisory_ids"].([]any); len(ids) != 3 {
		t.Errorf("attester_advisory_ids %v", c["attester_advisory_ids"])
	}
	if _, ok := c["x-ms-sgx-collateral"]; ok {
		t.Error("a TDX token carries x-ms-sgx-collateral")
	}
}
