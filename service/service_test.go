package service

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
	"github.com/avowhq/avow/token"
)

// fixedClock is a pinned clock for tests.
type fixedClock struct{ t time.Time }

func (c *fixedClock) Now() time.Time { return c.t }

var (
	testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	owner   = &Principal{ID: "test-owner", Role: store.RoleOwner}
)

// recommended is the condensed policy published for Always Encrypted.
const recommended = `version= 1.0;
       [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-product-id", value==4639 ]
        && [ type=="x-ms-sgx-svn", value>= 2 ]
        && [ type=="x-ms-sgx-mrsigner", value=="e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5"] 
    => permit();
`

func newTestService(t testing.TB, clock Clock, roots ...*x509.Certificate) *Service {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "avow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s, err := New(Config{Store: st, Types: builtin.Registry(), KEK: make([]byte, 32), PublicURL: "https://avow.test", Clock: clock,
		ExtraRoots: roots, Simulated: len(roots) > 0})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b := make([]byte, len(s)/2)
	for i := range b {
		var v byte
		for _, c := range s[2*i : 2*i+2] {
			v <<= 4
			switch {
			case c >= '0' && c <= '9':
				v |= byte(c - '0')
			case c >= 'a' && c <= 'f':
				v |= byte(c-'a') + 10
			}
		}
		b[i] = v
	}
	return b
}

func simSetup(t testing.TB) (*Service, *sgxsim.Platform) {
	t.Helper()
	p := sgxsim.Default()
	s := newTestService(t, &fixedClock{testNow}, p.Root())
	ctx := context.Background()
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		col, err := p.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: testNow.Add(-time.Hour)})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.ImportCollateral(ctx, owner, col, "sgxsim"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "contoso"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SetPolicy(ctx, owner, "contoso", sgx.NameSgxEnclave, policy.UnsignedDocument(recommended)); err != nil {
		t.Fatal(err)
	}
	return s, p
}

func simQuote(t testing.TB, p *sgxsim.Platform, o sgxsim.QuoteOptions) []byte {
	t.Helper()
	q, err := p.Quote(o)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

func TestAttestRecommendedPolicy(t *testing.T) {
	s, p := simSetup(t)
	ctx := context.Background()
	mrsigner := mustHex(t, "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5")
	good := sgxsim.QuoteOptions{MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2}
	res, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, good)})
	if err != nil {
		t.Fatal(err)
	}
	keys := token.PublicKeys([]*token.SigningKey{mustActive(t, s, "contoso")})
	got, _, err := token.Verify(res.Token, keys, token.VerifyOptions{Issuer: "https://avow.test/providers/contoso", Now: testNow})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"x-ms-sgx-product-id": "4639", "x-ms-sgx-svn": "2",
		"x-ms-sgx-is-debuggable": false, "x-avow-simulated": true, "x-ms-sgx-tcb-status": "UpToDate",
		"x-ms-policy-hash": policy.PolicyHash(recommended), "x-ms-attestation-type": "sgx"} {
		if fmt.Sprint(got[k]) != fmt.Sprint(want) {
			t.Errorf("claim %s = %v (%T), want %v", k, got[k], got[k], want)
		}
	}

	deny := map[string]sgxsim.QuoteOptions{
		"debuggable": {MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2, Debug: true},
		"product":    {MRSigner: mrsigner, ISVProdID: 4640, ISVSVN: 2},
		"svn":        {MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 1},
		"mrsigner":   {ISVProdID: 4639, ISVSVN: 2},
		"outofdate":  {MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2, TCB: preset(t, sgxsim.PresetOutOfDate)},
		"bad quote":  {MRSigner: mrsigner, ISVProdID: 4639, ISVSVN: 2, Defect: sgxsim.BadQuoteSignature},
	}
	wantCode := map[string]error{"debuggable": ErrPolicyDenied, "product": ErrPolicyDenied, "svn": ErrPolicyDenied,
		"mrsigner": ErrPolicyDenied, "outofdate": ErrTCBNotAccepted, "bad quote": dcap.ErrInvalidQuoteSignature}
	for name, o := range deny {
		_, err := s.Attest(ctx, "contoso", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, o)})
		if !errors.Is(err, wantCode[name]) {
			t.Errorf("%s: err = %v, want %v", name, err, wantCode[name])
		}
	}
}

func preset(t testing.TB, name string) *sgxsim.TCB {
	for _, p := range sgxsim.Presets() {
		if p.Name == name {
			tcb := p.TCB
			return &tcb
		}
	}
	t.Fatalf("no preset %s", name)
	return nil
}

func mustActive(t testing.TB, s *Service, provider string) *token.SigningKey {
	k, err := s.activeKey(context.Background(), provider)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestAttestRealQuote attests a real SGX quote with its Intel collateral
// at the vector's verification time, with Intel's pinned root only.
func TestAttestRealQuote(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t, "dcap"), "S01-sgx-v3-phala")
	raw, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	col, err := pcs.Load(filepath.Join(dir, "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	s := newTestService(t, &fixedClock{at})
	ctx := context.Background()
	if _, _, err := s.ImportCollateral(ctx, owner, col, "vector S01"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "real", Settings: &ProviderSettings{
		AcceptedTCBStatuses: []string{"UpToDate", "ConfigurationAndSWHardeningNeeded"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := s.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: raw})
	if err != nil {
		t.Fatal(err)
	}
	if res.Claims["x-ms-sgx-tcb-status"] != "ConfigurationAndSWHardeningNeeded" ||
		res.Claims["x-ms-sgx-mrenclave"] != "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb" {
		t.Errorf("claims %v", res.Claims)
	}
	if _, ok := res.Claims["x-avow-simulated"]; ok {
		t.Error("a real quote is marked simulated")
	}
	// Default policy: issues the legacy names into x-ms-policy.
	if issued, _ := res.Claims["x-ms-policy"].(map[string]any); issued["tee"] != "sgx" {
		t.Errorf("x-ms-policy %v", res.Claims["x-ms-policy"])
	}
	// The same provider refuses the quote once the status is not accepted.
	if _, err := s.UpdateProviderSettings(ctx, owner, "real", ProviderSettings{AcceptedTCBStatuses: []string{"UpToDate"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Attest(ctx, "real", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: raw}); !errors.Is(err, ErrTCBNotAccepted) {
		t.Fatalf("err = %v, want tcb_status_not_accepted", err)
	}
}

func TestSimulatedQuoteRefusedWithoutDevRoot(t *testing.T) {
	p := sgxsim.Default()
	s := newTestService(t, &fixedClock{testNow})
	ctx := context.Background()
	col, _ := p.Collateral(sgxsim.CollateralOptions{Now: testNow.Add(-time.Hour)})
	if _, _, err := s.ImportCollateral(ctx, owner, col, "sgxsim"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "prod"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.Attest(ctx, "prod", AttestRequest{Type: sgx.NameSgxEnclave, Evidence: simQuote(t, p, sgxsim.QuoteOptions{})})
	if !errors.Is(err, dcap.ErrPCKChainUntrusted) {
		t.Fatalf("err = %v, want pck_chain_untrusted", err)
	}
}

func TestUpdateSettingsKeepsOmitted(t *testing.T) {
	s := newTestService(t, &fixedClock{testNow})
	ctx := context.Background()
	grace := 72 * time.Hour
	if _, err := s.CreateProvider(ctx, owner, ProviderRequest{Name: "patchy", Settings: &ProviderSettings{CollateralGracePeriod: &grace}}); err != nil {
		t.Fatal(err)
	}
	v, err := s.UpdateProviderSettings(ctx, owner, "patchy", ProviderSettings{AcceptedTCBStatuses: []string{"UpToDate"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Settings.CollateralGracePeriod != grace || len(v.Settings.AcceptedTCBStatuses) != 1 {
		t.Errorf("settings after patch: %+v", v.Settings)
	}
	if _, err := s.UpdateProviderSettings(ctx, owner, "patchy", ProviderSettings{AcceptedTCBStatuses: []string{"Revoked"}}); !errors.Is(err, ErrInvalidRequest) {
		t.Errorf("accepting Revoked: %v", err)
	}
	reader := &Principal{ID: "r", Role: store.RoleReader}
	if _, err := s.UpdateProviderSettings(ctx, reader, "patchy", ProviderSettings{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("reader patch: %v", err)
	}
}
