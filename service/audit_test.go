package service

import (
	"context"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

// countingStore counts AppendAudit calls and can hold them until release
// is closed.
type countingStore struct {
	store.Store
	mu      sync.Mutex
	calls   int
	entries int
	hold    chan struct{}
}

func (c *countingStore) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	if c.hold != nil {
		<-c.hold
	}
	c.mu.Lock()
	c.calls++
	c.entries += len(entries)
	c.mu.Unlock()
	return c.Store.AppendAudit(ctx, entries...)
}

func (c *countingStore) counts() (calls, entries int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.entries
}

// recorder is an Observer that keeps what it is told.
type recorder struct {
	NopObserver
	mu       sync.Mutex
	stages   map[Stage]int
	attested []AttestRecord
	lookups  map[string][2]int // misses, hits
	dropped  map[string]int
	written  int
}

func newRecorder() *recorder {
	return &recorder{stages: map[Stage]int{}, lookups: map[string][2]int{}, dropped: map[string]int{}}
}

func (r *recorder) AttestStage(s Stage, d time.Duration) {
	r.mu.Lock()
	r.stages[s]++
	r.mu.Unlock()
}

func (r *recorder) Attested(a AttestRecord) {
	r.mu.Lock()
	r.attested = append(r.attested, a)
	r.mu.Unlock()
}

func (r *recorder) CacheLookup(c string, hit bool) {
	r.mu.Lock()
	v := r.lookups[c]
	if hit {
		v[1]++
	} else {
		v[0]++
	}
	r.lookups[c] = v
	r.mu.Unlock()
}

func (r *recorder) AuditWritten(n int, d time.Duration, err error) {
	r.mu.Lock()
	r.written += n
	r.mu.Unlock()
}

func (r *recorder) AuditDropped(n int, reason string) {
	r.mu.Lock()
	r.dropped[reason] += n
	r.mu.Unlock()
}

// auditSetup is simSetup with a counting store, an observer and an audit
// configuration.
func auditSetup(t testing.TB, cfg AuditConfig) (*Service, *sgxsim.Platform, *countingStore, *recorder, *fixedClock) {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "avow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cs := &countingStore{Store: st}
	rec := newRecorder()
	p := sgxsim.Default()
	clock := &fixedClock{testNow}
	s, err := New(Config{Store: cs, Types: builtin.Registry(), KEK: make([]byte, 32), PublicURL: "https://avow.test", Clock: clock,
		ExtraRoots: []*x509.Certificate{p.Root()}, Simulated: true, Observer: rec, Audit: cfg})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	col, err := p.Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.ImportCollateral(ctx, owner, col, "sgxsim"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "contoso"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(recommended)); err != nil {
		t.Fatal(err)
	}
	return s, p, cs, rec, clock
}

func TestAttestationAudit(t *testing.T) {
	s, p, _, rec, _ := auditSetup(t, AuditConfig{})
	mrsigner := mustHex(t, "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5")
	good := simQuote(t, p, sgxsim.QuoteOptions{MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2})
	svn1 := simQuote(t, p, sgxsim.QuoteOptions{MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 1})
	ctx := WithRequestID(context.Background(), "req-good")
	if _, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: good}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attest(WithRequestID(context.Background(), "req-denied"), "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: svn1}); err == nil {
		t.Fatal("svn 1 permitted")
	}
	if _, err := s.Attest(WithRequestID(context.Background(), "req-unknown"), "nobody", AttestRequest{Type: "sgxenclave", Evidence: good}); err == nil {
		t.Fatal("unknown provider attested")
	}
	if err := s.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(context.Background(), owner, store.AuditFilter{Kind: store.AuditAttestation})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 3 {
		t.Fatalf("%d attestation records, want 3: %+v", len(entries), entries)
	}
	byReq := map[string]store.AuditEntry{}
	for _, e := range entries {
		byReq[e.RequestID] = e
		if e.Actor != "" {
			t.Errorf("attestation record with actor %q", e.Actor)
		}
	}
	g := byReq["req-good"]
	if g.Provider != "contoso" || g.Operation != "attest.SgxEnclave" || g.Outcome != "success" || !g.Time.Equal(testNow) ||
		g.Details["tcb_status"] != "UpToDate" || g.Details["policy_hash"] != policy.PolicyHash(recommended) ||
		g.Details["tee"] != "sgx" || g.Details["simulated"] != "true" || g.Details["duration_ms"] == "" || g.Details["fmspc"] == "" ||
		g.Details["failure_code"] != "" {
		t.Errorf("success record %+v", g)
	}
	d := byReq["req-denied"]
	if d.Outcome != "policy_denied" || d.Details["failure_code"] != "policy_denied" || d.Details["tcb_status"] != "UpToDate" ||
		d.Details["message"] == "" || d.Details["policy_hash"] == "" {
		t.Errorf("denied record %+v", d)
	}
	// Refused before a policy: counted, not recorded one by one.
	u := byReq[""]
	if u.Provider != "" || u.Outcome != "provider_not_found" || u.Operation != OperationAttestRefused ||
		u.Details["count"] != "1" || u.Details["type"] != sgx.NameSgxEnclave || !u.Time.Equal(testNow.Truncate(time.Minute)) {
		t.Errorf("unknown provider record %+v", u)
	}
	// No evidence in the log: no detail is longer than a hash or a message.
	for _, e := range entries {
		for k, v := range e.Details {
			if len(v) > maxAuditText+3 {
				t.Errorf("detail %s has %d bytes", k, len(v))
			}
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.stages[StageVerify] != 2 || rec.stages[StagePolicy] != 2 || rec.stages[StageSign] != 1 {
		t.Errorf("stages %v", rec.stages)
	}
	if len(rec.attested) != 3 || rec.attested[0].Outcome != OutcomeSuccess || rec.attested[2].ProviderKnown {
		t.Errorf("attested %+v", rec.attested)
	}
	if l := rec.lookups[CacheProvider]; l[1] == 0 {
		t.Errorf("provider cache lookups %v", l)
	}
}

func TestManagementAuditCarriesRequestID(t *testing.T) {
	s, _, _, _, _ := auditSetup(t, AuditConfig{})
	ctx := WithRequestID(context.Background(), "req-mgmt-1")
	tok, err := s.CreateAdminToken(ctx, owner, store.RoleOwner, "for the test")
	if err != nil {
		t.Fatal(err)
	}
	who, err := s.Authenticate(ctx, tok.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if who.RequestID != "req-mgmt-1" {
		t.Fatalf("principal %+v", who)
	}
	if _, err := s.CreateProvider(ctx, who, ProviderRequest{Name: "fabrikam"}); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(ctx, who, store.AuditFilter{Kind: store.AuditManagement, Provider: "fabrikam"})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].RequestID != "req-mgmt-1" || entries[0].Actor != tok.ID || entries[0].Operation != "provider.create" {
		t.Errorf("entries %+v", entries)
	}
	if _, err := s.ListAudit(ctx, nil, store.AuditFilter{}); err == nil {
		t.Error("anonymous audit read")
	}
	if _, err := s.ListAudit(ctx, who, store.AuditFilter{Kind: "other"}); err == nil {
		t.Error("unknown kind accepted")
	}
}

// TestAuditBatches: many attestations are written in few transactions.
func TestAuditBatches(t *testing.T) {
	s, p, cs, _, _ := auditSetup(t, AuditConfig{Linger: 50 * time.Millisecond})
	q := simQuote(t, p, sgxsim.QuoteOptions{})
	callsBefore, _ := cs.counts()
	const n = 60
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Attest(context.Background(), "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
		}()
	}
	wg.Wait()
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	calls, entries := cs.counts()
	if entries != n {
		t.Fatalf("%d records written, want %d", entries, n)
	}
	if calls-callsBefore >= n/2 {
		t.Errorf("%d transactions for %d records", calls-callsBefore, n)
	}
	// After Close, records are dropped, not queued.
	s.Attest(context.Background(), "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
	if _, e := cs.counts(); e != n {
		t.Errorf("a record was written after Close")
	}
}

// TestAuditQueueFullNeverBlocks: with the store stuck, attestations go on
// and the records beyond the queue are counted as dropped.
func TestAuditQueueFullNeverBlocks(t *testing.T) {
	hold := make(chan struct{})
	s, p, cs, rec, _ := auditSetup(t, AuditConfig{Queue: 4, MaxBatch: 2, Linger: time.Millisecond})
	q := simQuote(t, p, sgxsim.QuoteOptions{})
	cs.hold = hold
	done := make(chan struct{})
	go func() {
		for i := 0; i < 20; i++ {
			s.Attest(context.Background(), "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("attestations blocked on the audit log")
	}
	rec.mu.Lock()
	dropped := rec.dropped["queue_full"]
	rec.mu.Unlock()
	if dropped < 20-4-2 {
		t.Errorf("dropped %d, want at least 14", dropped)
	}
	close(hold)
	if err := s.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, entries := cs.counts()
	if entries+dropped != 20 {
		t.Errorf("written %d + dropped %d != 20", entries, dropped)
	}
}

func TestPruneAudit(t *testing.T) {
	s, p, _, _, clock := auditSetup(t, AuditConfig{})
	q := simQuote(t, p, sgxsim.QuoteOptions{})
	s.Attest(context.Background(), "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
	s.FlushAudit(context.Background())
	clock.t = testNow.Add(31 * 24 * time.Hour)
	s.Attest(context.Background(), "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
	s.FlushAudit(context.Background())
	n, err := s.PruneAudit(context.Background(), DefaultAuditRetention)
	if err != nil || n != 1 {
		t.Fatalf("pruned %d, %v; want 1", n, err)
	}
	all, _ := s.ListAudit(context.Background(), owner, store.AuditFilter{})
	var att, mgmt int
	for _, e := range all {
		if e.Kind == store.AuditAttestation {
			att++
		} else {
			mgmt++
		}
	}
	if att != 1 || mgmt == 0 {
		t.Errorf("after pruning: %d attestation, %d management records", att, mgmt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.RunAuditRetention(ctx, time.Hour, time.Hour) // returns at once on a cancelled context
}

func TestAuditDisabled(t *testing.T) {
	s, p, cs, _, _ := auditSetup(t, AuditConfig{Disabled: true})
	q := simQuote(t, p, sgxsim.QuoteOptions{})
	_, before := cs.counts()
	s.Attest(context.Background(), "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: q})
	s.FlushAudit(context.Background())
	if _, after := cs.counts(); after != before {
		t.Errorf("records written with the audit writer disabled")
	}
}

// Issue 13, item 7: every refused request was one audit record (83k in
// 20 s, +33 MB). Attestations refused before a provider's policy are now
// counted per provider, type, failure code and minute; attestations that
// reach a policy keep their own records.
func TestAuditRefusalsCounted(t *testing.T) {
	s, p, _, _, clock := auditSetup(t, AuditConfig{})
	ctx := context.Background()
	good := simQuote(t, p, sgxsim.QuoteOptions{})
	bad := simQuote(t, p, sgxsim.QuoteOptions{Defect: sgxsim.BadQuoteSignature})
	const n = 2000
	for i := 0; i < n; i++ {
		s.Attest(ctx, fmt.Sprintf("nobody-%d", i), AttestRequest{Type: sgx.NameSgxEnclave, Evidence: good}) // unknown providers
		s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: []byte("garbage")})      // malformed evidence
		s.Attest(ctx, "contoso", AttestRequest{Type: "Nonsense" + strconv.Itoa(i), Evidence: good})         // unknown types
	}
	s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: bad}) // evidence that does not verify
	clock.t = clock.t.Add(time.Minute)
	s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: []byte("garbage")}) // the next minute
	s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: good})              // reaches the policy: denied
	if err := s.FlushAudit(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := s.ListAudit(ctx, owner, store.AuditFilter{Kind: store.AuditAttestation})
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]string{}
	policyRecords := 0
	for _, e := range entries {
		switch e.Operation {
		case OperationAttestRefused:
			key := e.Time.Format("15:04") + " " + e.Provider + "/" + e.Details["type"] + " " + e.Outcome
			counts[key] = e.Details["count"]
		case "attest." + sgx.NameSgxEnclave:
			policyRecords++
		default:
			t.Errorf("record %+v", e)
		}
	}
	m0, m1 := testNow.Truncate(time.Minute).Format("15:04"), testNow.Add(time.Minute).Truncate(time.Minute).Format("15:04")
	want := map[string]string{
		m0 + " /SgxEnclave provider_not_found":              "2000",
		m0 + " contoso/SgxEnclave unsupported_quote_format": "2000",
		m0 + " contoso/ unknown_attestation_type":           "2000",
		m0 + " contoso/SgxEnclave invalid_quote_signature":  "1",
		m1 + " contoso/SgxEnclave unsupported_quote_format": "1",
	}
	if fmt.Sprint(counts) != fmt.Sprint(want) {
		t.Errorf("refusal counts\n got %v\nwant %v", counts, want)
	}
	if policyRecords != 1 {
		t.Errorf("%d records of attestations that reached the policy, want 1", policyRecords)
	}
}
