package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/attestation/tdx"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
)

// baselinePolicy is a permit-all policy selecting a TCB baseline.
func baselinePolicy(id string) string {
	return `version= 1.1;
configurationrules{
	=> issueproperty(type="x-ms-sgx-tcbidentifier", value="` + id + `");
};
authorizationrules{
	=> permit();
};`
}

func setBaseline(t testing.TB, s *Service, provider, typ, id string) {
	t.Helper()
	if _, _, err := s.SetPolicy(context.Background(), owner, provider, typ, policy.UnsignedDocument(baselinePolicy(id))); err != nil {
		t.Fatalf("set policy with baseline %s: %v", id, err)
	}
}

// TestBaselinesRealQuote: one real TDX quote (S09, FMSPC 90c06f000000) and
// two real snapshots of its platform's collateral, TCB evaluation data
// numbers 17 (S09, June 2025) and 18 (S03, February 2026: Intel's TCB
// recovery of November 2024). Selecting a baseline gives that snapshot's
// status at its time: UpToDate under 17, OutOfDate with the recovery's
// five advisories under 18; azuredefault is the current collateral (18);
// a number without collateral is tcb_baseline_unavailable.
func TestBaselinesRealQuote(t *testing.T) {
	v17 := loadVector(t, "S09-tdx-v5-automata-alibaba", "2025-06-15T00:00:00Z")
	v18 := loadVector(t, "S03-tdx-v5-phala-no-tcb-level", "2026-03-01T00:00:00Z")
	advisories18 := []string{"INTEL-SA-01036", "INTEL-SA-01079", "INTEL-SA-01099", "INTEL-SA-01103", "INTEL-SA-01111"}
	for _, order := range [][]vectorSet{{v17, v18}, {v18, v17}} {
		t.Run(fmt.Sprintf("import %d first", number(t, order[0].col)), func(t *testing.T) {
			clock := &fixedClock{v18.at}
			s := newTestService(t, clock)
			ctx := context.Background()
			for _, v := range order {
				if _, _, err := s.ImportCollateral(ctx, owner, v.col, "vectors"); err != nil {
					t.Fatal(err)
				}
			}
			// 18 is the current collateral whatever the order: an older
			// number imported later is pinned to its number.
			rows, err := s.ListCollateralNumbers(ctx, owner)
			if err != nil || len(rows) != 2 || rows[0].TCBEvaluationDataNumber != 17 || rows[1].TCBEvaluationDataNumber != 18 || rows[1].Pinned {
				t.Fatalf("numbers: %+v, %v", rows, err)
			}
			cur, err := s.st.GetCollateral(ctx, store.CollateralKey{TEE: "tdx", FMSPC: "90c06f000000", PCEID: "0000"})
			if err != nil || cur.TCBEvaluationDataNumber != 18 {
				t.Fatalf("current collateral: %+v, %v", cur, err)
			}
			// The management view's head is the current collateral, even
			// when a pinned row is newer; the history has both.
			if v, err := s.GetCollateral(ctx, owner, cur.Key); err != nil || v.ID != cur.ID || len(v.History) != 2 {
				t.Fatalf("collateral view: %+v, %v", v, err)
			}
			createProvider(t, s, "real", "UpToDate", "OutOfDate")
			for _, c := range []struct {
				id     string
				at     time.Time
				status string
				adv    []string
				number int64
			}{
				{"17", v17.at, "UpToDate", nil, 17},
				{"18", v18.at, "OutOfDate", advisories18, 18},
				{"azuredefault", v18.at, "OutOfDate", advisories18, 18},
			} {
				setBaseline(t, s, "real", tdx.Name, c.id)
				clock.t = c.at
				res, err := s.Attest(ctx, "real", AttestRequest{Type: tdx.Name, Evidence: v17.quote})
				if err != nil {
					t.Fatalf("baseline %s: %v", c.id, err)
				}
				if v := res.Verification; v.TCBStatus != c.status || !slices.Equal(v.AdvisoryIDs, c.adv) || v.CollateralExpired {
					t.Errorf("baseline %s: %s %v (expired %v), want %s %v", c.id, v.TCBStatus, v.AdvisoryIDs, v.CollateralExpired, c.status, c.adv)
				}
				if res.Claims[ClaimTCBBaseline] != c.id || res.Claims[ClaimTCBEvaluationDataNumber] != c.number {
					t.Errorf("baseline %s: claims %v %v", c.id, res.Claims[ClaimTCBBaseline], res.Claims[ClaimTCBEvaluationDataNumber])
				}
			}
			// A baseline without collateral: a typed error, never another
			// baseline's collateral.
			setBaseline(t, s, "real", tdx.Name, "16")
			_, err = s.Attest(ctx, "real", AttestRequest{Type: tdx.Name, Evidence: v17.quote})
			if !errors.Is(err, ErrTCBBaselineUnavailable) || !strings.Contains(errs.Detail(err), "TCB evaluation data number 16") {
				t.Errorf("baseline 16: %v, want tcb_baseline_unavailable", err)
			}
		})
	}
}

func number(t testing.TB, col *pcs.Collateral) uint32 {
	t.Helper()
	id, err := pcs.Identify(col)
	if err != nil {
		t.Fatal(err)
	}
	return id.TCBEvaluationDataNumber
}

// recoverySetup is a service with the simulated platform's SGX collateral
// of both baselines imported and a provider that accepts UpToDate only.
func recoverySetup(t testing.TB) (*Service, *sgxsim.Platform, *fixedClock) {
	t.Helper()
	p := sgxsim.Default()
	clock := &fixedClock{testNow}
	s := newTestService(t, clock, p.Root())
	for _, n := range []int{sgxsim.TCBEvaluationDataNumber, sgxsim.RecoveredTCBEvaluationDataNumber} {
		col, err := p.Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-time.Hour), TCBEvaluationDataNumber: n})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ImportCollateral(context.Background(), owner, col, "sgxsim"); err != nil {
			t.Fatal(err)
		}
	}
	createProvider(t, s, "contoso", "UpToDate")
	return s, p, clock
}

// TestBaselineRecoverySimulated walks through a TCB recovery with the
// simulated platform: the old baseline (17) permits a platform that is not
// updated, the recovered one (18) refuses it as OutOfDate with the
// recovery's advisory, the provider's tcbGrace admits it until its date —
// visible in the token and the audit record — and refuses it after; an
// updated platform passes both baselines without grace.
func TestBaselineRecoverySimulated(t *testing.T) {
	s, p, clock := recoverySetup(t)
	ctx := context.Background()
	old := simQuote(t, p, sgxsim.QuoteOptions{TCB: preset(t, sgxsim.PresetUpToDate)})
	updated := simQuote(t, p, sgxsim.QuoteOptions{TCB: preset(t, sgxsim.PresetRecovered)})
	attest := func(q []byte) (*AttestResult, error) {
		return s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
	}

	setBaseline(t, s, "contoso", sgx.NameSgxEnclave, "17")
	res, err := attest(old)
	if err != nil || res.Claims[ClaimTCBEvaluationDataNumber] != int64(17) || res.Claims[ClaimTCBGrace] != nil {
		t.Fatalf("baseline 17: %v, %v", err, res)
	}

	setBaseline(t, s, "contoso", sgx.NameSgxEnclave, "18")
	_, err = attest(old)
	if !errors.Is(err, ErrTCBNotAccepted) || !strings.Contains(errs.Detail(err), "OutOfDate (advisories "+sgxsim.RecoveryAdvisoryID+")") {
		t.Fatalf("baseline 18: %v, want tcb_status_not_accepted OutOfDate with %s", err, sgxsim.RecoveryAdvisoryID)
	}
	if res, err := attest(updated); err != nil || res.Verification.TCBStatus != "UpToDate" {
		t.Fatalf("updated platform under 18: %v", err)
	}

	// Grace with an end.
	until := testNow.Add(14 * 24 * time.Hour)
	grace := []TCBGrace{{AdvisoryIDs: []string{strings.ToLower(sgxsim.RecoveryAdvisoryID)}, Until: until}}
	if _, err := s.UpdateProviderSettings(ctx, owner, "contoso", ProviderSettings{TCBGrace: &grace}); err != nil {
		t.Fatal(err)
	}
	res, err = attest(old)
	if err != nil {
		t.Fatalf("within the grace: %v", err)
	}
	want := map[string]any{"tcbStatus": "OutOfDate", "advisoryIds": []any{sgxsim.RecoveryAdvisoryID}, "until": until.Format(time.RFC3339)}
	if got := res.Claims[ClaimTCBGrace]; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("grace claim %v, want %v", got, want)
	}
	if res.Verification.TCBStatus != "OutOfDate" || res.Claims[ClaimTCBBaseline] != "18" {
		t.Errorf("graced attestation: %s, baseline %v", res.Verification.TCBStatus, res.Claims[ClaimTCBBaseline])
	}
	s.FlushAudit(ctx)
	entries, err := s.st.ListAudit(ctx, store.AuditFilter{Kind: store.AuditAttestation})
	if err != nil {
		t.Fatalf("audit: %v", err)
	}
	var graced []store.AuditEntry
	for _, e := range entries {
		if e.Details["tcb_grace"] != "" {
			graced = append(graced, e)
		}
	}
	if len(graced) != 1 {
		t.Fatalf("%d audit records with tcb_grace, want 1", len(graced))
	}
	if d := graced[0].Details; graced[0].Outcome != "success" || d["tcb_grace"] != "OutOfDate "+sgxsim.RecoveryAdvisoryID+" until "+until.Format(time.RFC3339) || d["tcb_baseline"] != "18 (18)" || d["tcb_status"] != "OutOfDate" {
		t.Errorf("audit of the graced attestation: %s %v", graced[0].Outcome, d)
	}
	if res, err := attest(updated); err != nil || res.Claims[ClaimTCBGrace] != nil {
		t.Errorf("updated platform is marked graced: %v", err)
	}

	clock.t = until
	_, err = attest(old)
	if !errors.Is(err, ErrTCBNotAccepted) || !strings.Contains(errs.Detail(err), "grace for "+sgxsim.RecoveryAdvisoryID+" ended at") {
		t.Errorf("after the grace: %v", err)
	}
}

// TestTCBGraceRules: the setting is validated (an end is required, ids are
// Intel's form) and admits OutOfDate only, and only when every advisory
// is listed in an entry that has not ended.
func TestTCBGraceRules(t *testing.T) {
	now := testNow
	if _, err := checkTCBGrace([]TCBGrace{{AdvisoryIDs: []string{"INTEL-SA-01213"}}}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("no end: %v", err)
	}
	if _, err := checkTCBGrace([]TCBGrace{{AdvisoryIDs: []string{"SA 1"}, Until: now}}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("bad id: %v", err)
	}
	if _, err := checkTCBGrace([]TCBGrace{{Until: now}}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("no ids: %v", err)
	}
	g, err := checkTCBGrace([]TCBGrace{
		{AdvisoryIDs: []string{"intel-sa-00002", "INTEL-SA-00001", "INTEL-SA-00001"}, Until: now.Add(time.Hour)},
		{AdvisoryIDs: []string{"INTEL-SA-00003"}, Until: now.Add(2 * time.Hour)},
		{AdvisoryIDs: []string{"INTEL-SA-00001"}, Until: now.Add(3 * time.Hour)},
	})
	if err != nil || !slices.Equal(g[0].AdvisoryIDs, []string{"INTEL-SA-00001", "INTEL-SA-00002"}) {
		t.Fatalf("normalised: %v, %v", g, err)
	}
	for _, c := range []struct {
		status string
		adv    []string
		at     time.Time
		until  time.Time // zero: not admitted
	}{
		{"OutOfDate", []string{"INTEL-SA-00001"}, now, now.Add(3 * time.Hour)},
		{"OutOfDate", []string{"INTEL-SA-00001", "INTEL-SA-00003"}, now, now.Add(2 * time.Hour)},
		{"OutOfDate", []string{"INTEL-SA-00002", "INTEL-SA-00003"}, now, now.Add(time.Hour)},
		{"OutOfDate", []string{"INTEL-SA-00002"}, now.Add(time.Hour), time.Time{}},
		{"OutOfDate", []string{"INTEL-SA-00001", "INTEL-SA-00009"}, now, time.Time{}},
		{"OutOfDate", nil, now, time.Time{}},
		{"OutOfDateConfigurationNeeded", []string{"INTEL-SA-00001"}, now, time.Time{}},
		{"Revoked", []string{"INTEL-SA-00001"}, now, time.Time{}},
	} {
		r := tcbGraceFor(g, c.status, c.adv, c.at)
		if c.until.IsZero() != (r == nil) || r != nil && !r.Until.Equal(c.until) {
			t.Errorf("%s %v at %s: %+v, want until %s", c.status, c.adv, c.at, r, c.until)
		}
	}
}

// TestBaselineIdentifiers: MAA's values are accepted (azuredefault in any
// case, decimal numbers), anything else is refused when the policy is set
// and when a draft policy is evaluated.
func TestBaselineIdentifiers(t *testing.T) {
	for _, c := range []struct {
		v    any
		want tcbBaseline
		ok   bool
	}{
		{"azuredefault", tcbBaseline{id: "azuredefault"}, true},
		{"AzureDefault", tcbBaseline{id: "azuredefault"}, true},
		{"17", tcbBaseline{id: "17", number: 17}, true},
		{"017", tcbBaseline{id: "17", number: 17}, true},
		{"0", tcbBaseline{}, false},
		{"-1", tcbBaseline{}, false},
		{"17a", tcbBaseline{}, false},
		{"", tcbBaseline{}, false},
		{"99999999999", tcbBaseline{}, false},
		{int64(17), tcbBaseline{}, false},
	} {
		got, err := parseTCBIdentifier(c.v)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%#v: %+v, %v", c.v, got, err)
		}
	}
	s, p, _ := recoverySetup(t)
	ctx := context.Background()
	_, _, err := s.SetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(baselinePolicy("latest")))
	if !errors.Is(err, ErrPolicyInvalid) || !strings.Contains(errs.Detail(err), `"latest" is neither`) {
		t.Errorf("set policy with baseline latest: %v", err)
	}
	draft := baselinePolicy("latest")
	_, err = s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{}), DraftPolicy: &draft})
	if !errors.Is(err, ErrPolicyInvalid) {
		t.Errorf("draft policy with baseline latest: %v", err)
	}
	// A draft policy's baseline applies to its attestation.
	draft = baselinePolicy("17")
	res, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{}), DraftPolicy: &draft})
	if err != nil || res.Claims[ClaimTCBEvaluationDataNumber] != int64(17) {
		t.Errorf("draft with baseline 17: %v", err)
	}
	// The default policy's azuredefault is the current collateral (18).
	res, err = s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{TCB: preset(t, sgxsim.PresetRecovered)})})
	if err != nil || res.Claims[ClaimTCBBaseline] != "azuredefault" || res.Claims[ClaimTCBEvaluationDataNumber] != int64(18) {
		t.Errorf("default policy: %v, %v", err, res)
	}
}

// TestBaselineFetchedByNumber: with a collateral source and an empty
// store, a policy selecting 17 makes the service fetch the TCB info and QE
// identity of number 17 (tcbEvaluationDataNumber=17) and store them
// pinned: the platform's current collateral is still fetched separately,
// as 18, for azuredefault; a number the source lacks is
// tcb_baseline_unavailable.
func TestBaselineFetchedByNumber(t *testing.T) {
	p := sgxsim.Default()
	srv := pcsfake.New(pcs.KindPCCS)
	for _, n := range []int{sgxsim.RecoveredTCBEvaluationDataNumber, sgxsim.TCBEvaluationDataNumber} {
		col, err := p.Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-time.Hour), TCBEvaluationDataNumber: n})
		if err != nil {
			t.Fatal(err)
		}
		add := srv.AddBaseline
		if n == sgxsim.RecoveredTCBEvaluationDataNumber {
			add = srv.Add
		}
		if err := add(col); err != nil {
			t.Fatal(err)
		}
	}
	base := srv.Start(t)
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{testNow}, roots: []*x509.Certificate{p.Root()},
		cfg: CollateralConfig{Sources: []pcs.Source{source(t, "pccs:"+base, srv)}}})
	createProvider(t, s, "contoso", "UpToDate", "OutOfDate")
	ctx := context.Background()
	q := simQuote(t, p, sgxsim.QuoteOptions{})
	attest := func() (*AttestResult, error) {
		return s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
	}
	setBaseline(t, s, "contoso", sgx.NameSgxEnclave, "17")
	res, err := attest()
	if err != nil || res.Verification.TCBStatus != "UpToDate" || res.Claims[ClaimTCBEvaluationDataNumber] != int64(17) {
		t.Fatalf("baseline 17 fetched: %v", err)
	}
	rows, err := s.ListCollateralNumbers(ctx, owner)
	if err != nil || len(rows) != 1 || rows[0].TCBEvaluationDataNumber != 17 || !rows[0].Pinned {
		t.Fatalf("after fetching 17: %+v, %v", rows, err)
	}
	if hits := srv.Requests(); hits == 0 {
		t.Fatal("no request")
	}
	setBaseline(t, s, "contoso", sgx.NameSgxEnclave, "azuredefault")
	res, err = attest()
	if err != nil || res.Verification.TCBStatus != "OutOfDate" || res.Claims[ClaimTCBEvaluationDataNumber] != int64(18) {
		t.Fatalf("azuredefault fetched: %v", err)
	}
	rows, _ = s.ListCollateralNumbers(ctx, owner)
	if len(rows) != 2 || rows[1].TCBEvaluationDataNumber != 18 || rows[1].Pinned {
		t.Fatalf("after fetching the current collateral: %+v", rows)
	}
	// Stored now: no more requests for either baseline.
	before := srv.Requests()
	for _, id := range []string{"17", "azuredefault"} {
		setBaseline(t, s, "contoso", sgx.NameSgxEnclave, id)
		if _, err := attest(); err != nil {
			t.Fatal(err)
		}
	}
	if srv.Requests() != before {
		t.Errorf("stored baselines were fetched again")
	}
	setBaseline(t, s, "contoso", sgx.NameSgxEnclave, "15")
	if _, err := attest(); !errors.Is(err, ErrTCBBaselineUnavailable) {
		t.Errorf("baseline 15: %v, want tcb_baseline_unavailable", err)
	}
}

// TestRefreshPinnedBaseline: the refresh job refreshes collateral kept for
// a TCB baseline for its number (tcbEvaluationDataNumber=17), before it
// expires, and keeps it pinned.
func TestRefreshPinnedBaseline(t *testing.T) {
	p := sgxsim.Default()
	srv := pcsfake.New(pcs.KindPCCS)
	publish := func(at time.Time) {
		for _, n := range []int{sgxsim.RecoveredTCBEvaluationDataNumber, sgxsim.TCBEvaluationDataNumber} {
			col, err := p.Collateral(sgxsim.CollateralOptions{Now: at, TCBEvaluationDataNumber: n})
			if err != nil {
				t.Fatal(err)
			}
			add := srv.AddBaseline
			if n == sgxsim.RecoveredTCBEvaluationDataNumber {
				add = srv.Add
			}
			if err := add(col); err != nil {
				t.Fatal(err)
			}
		}
	}
	publish(testNow.Add(-time.Hour))
	base := srv.Start(t)
	clock := &fixedClock{testNow}
	s := newSourcesService(t, sourcesSetup{clock: clock, roots: []*x509.Certificate{p.Root()},
		cfg: CollateralConfig{Sources: []pcs.Source{source(t, "pccs:"+base, srv)}, RefreshLead: 72 * time.Hour, RefreshMaxAge: -1}})
	createProvider(t, s, "contoso", "UpToDate")
	setBaseline(t, s, "contoso", sgx.NameSgxEnclave, "17")
	ctx := context.Background()
	if _, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{})}); err != nil {
		t.Fatal(err)
	}
	first, err := s.ListCollateralNumbers(ctx, owner)
	if err != nil || len(first) != 1 || !first[0].Pinned {
		t.Fatalf("after the attestation: %+v, %v", first, err)
	}
	if res := s.refreshDue(ctx); len(res) != 0 {
		t.Fatalf("refreshed before due: %+v", res)
	}
	publish(testNow.Add(27 * 24 * time.Hour))
	clock.t = testNow.Add(28 * 24 * time.Hour) // within RefreshLead of the 30-day nextUpdate
	res := s.refreshDue(ctx)
	if len(res) != 1 || res[0].Outcome != OutcomeUpdated {
		t.Fatalf("refresh: %+v", res)
	}
	after, err := s.ListCollateralNumbers(ctx, owner)
	if err != nil || len(after) != 1 || !after[0].Pinned || after[0].TCBEvaluationDataNumber != 17 || after[0].ID == first[0].ID ||
		!after[0].IssueDate.After(first[0].IssueDate) {
		t.Fatalf("after the refresh: %+v, %v", after, err)
	}
	if _, err := s.st.GetCollateral(ctx, store.CollateralKey{TEE: "sgx", FMSPC: "00feed000000", PCEID: "0000"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the refreshed baseline became current collateral: %v", err)
	}
}

// TestDraftBaselineNeverFetches: a draft policy selecting a number the
// service does not hold is refused without asking the sources (anonymous
// callers cannot make the server fetch arbitrary numbers); the stored
// policy selecting it fetches.
func TestDraftBaselineNeverFetches(t *testing.T) {
	p := sgxsim.Default()
	srv := pcsfake.New(pcs.KindPCCS)
	col, err := p.Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Add(col); err != nil {
		t.Fatal(err)
	}
	base := srv.Start(t)
	s := newSourcesService(t, sourcesSetup{clock: &fixedClock{testNow}, roots: []*x509.Certificate{p.Root()},
		cfg: CollateralConfig{Sources: []pcs.Source{source(t, "pccs:"+base, srv)}}})
	createProvider(t, s, "contoso", "UpToDate")
	ctx := context.Background()
	q := simQuote(t, p, sgxsim.QuoteOptions{})
	draft := baselinePolicy("17")
	_, err = s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q, DraftPolicy: &draft})
	if !errors.Is(err, ErrTCBBaselineUnavailable) || srv.Requests() != 0 {
		t.Fatalf("draft: %v, %d requests", err, srv.Requests())
	}
	setBaseline(t, s, "contoso", sgx.NameSgxEnclave, "17")
	if _, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q}); err != nil || srv.Requests() == 0 {
		t.Fatalf("stored policy: %v", err)
	}
	// Stored now: the draft uses it.
	if _, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q, DraftPolicy: &draft}); err != nil {
		t.Errorf("draft with the number stored: %v", err)
	}
}
