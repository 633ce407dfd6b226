package service

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
)

// TestPlayground: the playground answers what the pipeline answers, is
// one attestation (one record, one observed outcome) however it explains
// itself, and traces the policy on the claims the pipeline gave it.
func TestPlayground(t *testing.T) {
	s, p, _, rec, _ := auditSetup(t, AuditConfig{})
	ctx := context.Background()
	reader := &Principal{ID: "r", Role: store.RoleReader}
	mrsigner := mustHex(t, "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5")
	good := simQuote(t, p, sgxsim.QuoteOptions{MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2})
	svn1 := simQuote(t, p, sgxsim.QuoteOptions{MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 1})

	// The active policy (recommended): permitted, then refused by the SVN.
	ok, err := s.Playground(ctx, reader, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: good})
	if err != nil || !ok.Permitted || ok.Stage != "token" || ok.Token == "" || ok.Note != "" || len(ok.Trace) == 0 {
		t.Fatalf("good quote: %+v, %v", ok, err)
	}
	bad, err := s.Playground(ctx, reader, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: svn1})
	if err != nil || bad.Permitted || bad.Code != "policy_denied" || bad.Stage != "policy" || bad.Note != "" {
		t.Fatalf("svn 1: %+v, %v", bad, err)
	}
	if !strings.Contains(bad.Message, "x-ms-sgx-svn is 1") || !strings.Contains(bad.Reason, "x-ms-sgx-svn is 1") {
		t.Errorf("svn 1 explained as %q / %q", bad.Message, bad.Reason)
	}
	var svn any
	for _, c := range bad.Incoming {
		if c.Type == "x-ms-sgx-svn" {
			svn = c.Value
		}
	}
	if fmt.Sprint(svn) != "1" {
		t.Errorf("incoming x-ms-sgx-svn = %#v", svn)
	}
	// A draft that issues a claim: the issued claims and the token's agree.
	draft := `version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type=="x-ms-sgx-svn"] => issue(type="svn-seen", value=c.value); };`
	d, err := s.Playground(ctx, reader, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: svn1, DraftPolicy: &draft})
	if err != nil || !d.Permitted || d.Issued["svn-seen"] == nil {
		t.Fatalf("draft: %+v, %v", d, err)
	}
	if !reflect.DeepEqual(d.TokenClaims["x-ms-policy"], d.Issued) {
		t.Errorf("token's x-ms-policy %v, trace issued %v", d.TokenClaims["x-ms-policy"], d.Issued)
	}
	// Refused before the policy: no trace, the pipeline's code.
	early, err := s.Playground(ctx, reader, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: []byte("not a quote")})
	if err != nil || early.Permitted || early.Stage != "evidence" || early.Code == "" || len(early.Trace) != 0 {
		t.Errorf("garbage: %+v, %v", early, err)
	}
	if _, err := s.Playground(ctx, reader, "nobody", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: good}); err == nil {
		t.Error("unknown provider")
	}
	if _, err := s.Playground(ctx, nil, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: good}); err == nil {
		t.Error("anonymous")
	}

	// Four runs reached the pipeline: four outcomes observed; three
	// reached a policy: three draft records.
	rec.mu.Lock()
	n := len(rec.attested)
	drafts := 0
	for _, a := range rec.attested {
		if a.Draft {
			drafts++
		}
	}
	rec.mu.Unlock()
	if n != 4 || drafts != 3 {
		t.Errorf("observed %d attestations, %d drafts", n, drafts)
	}
	if err := s.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(ctx, reader, store.AuditFilter{Kind: store.AuditAttestation})
	if err != nil {
		t.Fatal(err)
	}
	records := 0
	for _, e := range entries {
		if e.Operation == "attest."+sgx.NameSgxEnclave {
			records++
			if e.Details["draft"] != "true" {
				t.Errorf("a playground record is not a draft: %+v", e)
			}
		}
	}
	if records != 3 {
		t.Errorf("%d attestation records, want 3", records)
	}
}

// TestPlaygroundIncomingAreThePolicysClaims: the incoming claims are those
// the policy was given, not the token's: lists as the JSON text the policy
// reads (the token joins them with commas), the "$" names the token drops.
func TestPlaygroundIncomingAreThePolicysClaims(t *testing.T) {
	s, p, _, _, _ := auditSetup(t, AuditConfig{})
	reader := &Principal{ID: "r", Role: store.RoleReader}
	q := simQuote(t, p, sgxsim.QuoteOptions{ISVProdID: 7, ISVSVN: 3})
	draft := `version=1.0; authorizationrules { => permit(); };`
	res, err := s.Playground(context.Background(), reader, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q, DraftPolicy: &draft})
	if err != nil || !res.Permitted || res.Note != "" {
		t.Fatalf("%+v, %v", res, err)
	}
	got := map[string]any{}
	for _, c := range res.Incoming {
		got[c.Type] = c.Value
	}
	if got["x-ms-sgx-advisory-ids"] != "[]" || res.TokenClaims["x-ms-sgx-advisory-ids"] != "" {
		t.Errorf("advisory ids: the policy saw %#v, the token has %#v", got["x-ms-sgx-advisory-ids"], res.TokenClaims["x-ms-sgx-advisory-ids"])
	}
	if got["$svn"] == nil || res.TokenClaims["$svn"] != nil {
		t.Errorf("$svn: the policy saw %#v, the token has %#v", got["$svn"], res.TokenClaims["$svn"])
	}
}

// TestPlaygroundTracesTheNamesTheTokenDrops: a policy on MAA's 2020 "$"
// names, which the token leaves out, is traced on them.
func TestPlaygroundTracesTheNamesTheTokenDrops(t *testing.T) {
	s, p, _, _, _ := auditSetup(t, AuditConfig{})
	reader := &Principal{ID: "r", Role: store.RoleReader}
	q := simQuote(t, p, sgxsim.QuoteOptions{ISVProdID: 7, ISVSVN: 3, Debug: true})
	draft := `version=1.0; authorizationrules { [type=="$is-debuggable", value==false] => permit(); };`
	res, err := s.Playground(context.Background(), reader, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q, DraftPolicy: &draft})
	if err != nil || res.Permitted || res.Code != "policy_denied" || res.Note != "" {
		t.Fatalf("%+v, %v", res, err)
	}
	var seen bool
	for _, c := range res.Incoming {
		seen = seen || c.Type == "$is-debuggable" && c.Value == true
	}
	if !seen || !strings.Contains(res.Reason, "$is-debuggable is true") {
		t.Errorf("reason %q; $is-debuggable among the incoming claims: %v", res.Reason, seen)
	}
}
