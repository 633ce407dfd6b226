package claims

import (
	"bytes"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

// emitted runs every builder of this package on a verified quote of a set
// (with both data types, and KSS for SGX) and returns the claim types it
// made, as the service does before the policy: FromQuote,
// AddVerification, AddRuntimeData, AddInitTimeData, AddPolicyAliases.
func emitted(t *testing.T, set, at string, kss bool) (string, map[string]bool) {
	t.Helper()
	dir := filepath.Join(vectors.Dir(t, "dcap"), set)
	raw := read(t, filepath.Join(dir, "quote.bin"))
	col, err := pcs.ParseBundle(read(t, filepath.Join(dir, "collateral.json")))
	if err != nil {
		t.Fatal(err)
	}
	now, _ := time.Parse(time.RFC3339, at)
	res, q, err := dcap.VerifyQuote(raw, col, dcap.Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if kss {
		b := bytes.Clone(raw)
		b[48+48] |= 0x80 // FLAGS.KSS
		if q, err = quote.Parse(b); err != nil {
			t.Fatal(err)
		}
	}
	out := map[string]bool{}
	for _, dataType := range []string{DataTypeBinary, DataTypeJSON} {
		c := FromQuote(q)
		AddVerification(c, q, col.Hashes(), res)
		if err := AddRuntimeData(c, []byte(`{"k":1}`), dataType); err != nil {
			t.Fatal(err)
		}
		if err := AddInitTimeData(c, []byte(`{"k":1}`), dataType); err != nil {
			t.Fatal(err)
		}
		AddPolicyAliases(c)
		for k := range c {
			out[k] = true
		}
	}
	typ, _ := FromQuote(q)["x-ms-attestation-type"].(string)
	return typ, out
}

// TestRegistryMatchesBuilders: every claim the builders emit is registered
// for its attestation type, and every registered claim of a type is
// emitted by some quote of it (no stale names). Simulated and PrivateRoot
// are the service's.
func TestRegistryMatchesBuilders(t *testing.T) {
	seen := map[string]map[string]bool{}
	for _, s := range []struct {
		set, at string
		kss     bool
	}{
		{"S01-sgx-v3-phala", "2025-07-01T00:00:00Z", false},
		{"S01-sgx-v3-phala", "2025-07-01T00:00:00Z", true},
		{"S08-tdx-v4-automata-0625", "2025-06-05T03:45:00Z", false},
		{"S09-tdx-v5-automata-alibaba", "2025-06-15T00:00:00Z", false},
	} {
		typ, names := emitted(t, s.set, s.at, s.kss)
		registered := NamesOf(typ)
		if registered == nil {
			t.Fatalf("%s: attestation type %q has no claims registered", s.set, typ)
		}
		for n := range names {
			if !slices.Contains(registered, n) || !Known(n) {
				t.Errorf("%s: claim %s is emitted for %s but not registered in claims/registry.go", s.set, n, typ)
			}
		}
		if seen[typ] == nil {
			seen[typ] = map[string]bool{Simulated: true, PrivateRoot: true}
			for _, n := range DCAPServiceClaims { // the service's (service/baselines.go)
				seen[typ][n] = true
			}
		}
		for n := range names {
			seen[typ][n] = true
		}
	}
	for typ := range byType {
		if seen[typ] == nil {
			continue // a type built outside this package (sevsnpvm: package snp's TestMAATokenClaims)
		}
		for _, n := range NamesOf(typ) {
			if !seen[typ][n] {
				t.Errorf("%s is registered for %s but no builder emits it here (remove it, or add evidence of %s that has it to this test)", n, typ, typ)
			}
		}
	}
}

// TestPolicyAliasesAreNotTokenClaims: every $-name starts with "$", the
// mark attestation.ForToken removes before a token is made.
func TestPolicyAliasesAreNotTokenClaims(t *testing.T) {
	c := map[string]any{"x-ms-attestation-type": TypeSGX, "x-ms-sgx-is-debuggable": false, "x-ms-sgx-product-id": 1,
		"x-ms-sgx-svn": 2, "x-ms-sgx-mrenclave": "a", "x-ms-sgx-mrsigner": "b"}
	AddPolicyAliases(c)
	n := 0
	for k := range c {
		if PolicyAlias(k) != "" {
			n++
			if !strings.HasPrefix(k, "$") {
				t.Errorf("policy-only name %s does not start with $", k)
			}
		}
	}
	if n != 6 {
		t.Errorf("%d $-names added, want 6", n)
	}
	if PolicyAlias("$is-debuggable") != "x-ms-sgx-is-debuggable" || PolicyAlias("is-debuggable") != "" {
		t.Error("PolicyAlias")
	}
}

func TestNamespaceAndSuggest(t *testing.T) {
	for _, c := range []struct {
		name    string
		in      bool
		suggest string
	}{
		{"x-ms-sgx-is-debuggable", false, "x-ms-sgx-is-debuggable"},
		{"x-ms-sgx-is-debugable", true, "x-ms-sgx-is-debuggable"},
		{"X-MS-SGX-MRSIGNER", true, "x-ms-sgx-mrsigner"},
		{"$is-debugable", true, "$is-debuggable"},
		{"x-avow-simulate", true, "x-avow-simulated"},
		{"tdx_mrtd1", true, "tdx_mrtd"},
		{"attester_tcb_stat", true, "attester_tcb_status"},
		{"is-debugable", true, "is-debuggable"},
		{"eat_profil", true, "eat_profile"},
		{"x-ms-tpm-request-key", false, ""},
		{"x-ms-policy-hash", true, ""}, // added after the policy ran
		{"secureBootEnabled", false, ""},
		{"my-claim", false, ""},
		{"sv", false, "svn"},
	} {
		if got := InNamespace(c.name); got != c.in {
			t.Errorf("InNamespace(%q) = %v", c.name, got)
		}
		if got := Suggest(c.name); got != c.suggest {
			t.Errorf("Suggest(%q) = %q, want %q", c.name, got, c.suggest)
		}
	}
	if n := Names(); !slices.IsSorted(n) || len(n) < 50 {
		t.Errorf("Names() = %v", n)
	}
}
