package dcap

import (
	"crypto/x509"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/sgxsim"
)

// simNow is the pinned issue and verification time of the simulated collateral.
var simNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func simOptions(p *sgxsim.Platform) Options {
	return Options{Now: simNow, TrustedRoots: []*x509.Certificate{p.Root()}, Cache: NewCache()}
}

// TestSimulatedDefects verifies the simulated platform's quotes with every
// injected defect, for SGX and TDX and every quote version, and expects the
// QVL result class the simulator documents for it.
func TestSimulatedDefects(t *testing.T) {
	p := sgxsim.Default()
	for _, tc := range []struct {
		tee     sgxsim.TEE
		version int
	}{{sgxsim.SGX, 3}, {sgxsim.SGX, 4}, {sgxsim.SGX, 5}, {sgxsim.TDX, 4}, {sgxsim.TDX, 5}} {
		for _, d := range append([]sgxsim.Defect{sgxsim.NoDefect}, sgxsim.AllDefects()...) {
			if !d.Applies(tc.tee) {
				continue
			}
			t.Run(fmt.Sprintf("%s-v%d/%s", tc.tee, tc.version, d), func(t *testing.T) {
				col, err := p.Collateral(sgxsim.CollateralOptions{TEE: tc.tee, Now: simNow, Defect: d})
				if err != nil {
					t.Fatal(err)
				}
				raw, err := p.Quote(sgxsim.QuoteOptions{TEE: tc.tee, Version: tc.version, Defect: d})
				if err != nil {
					t.Fatal(err)
				}
				res, _, err := VerifyQuote(raw, col, simOptions(p))
				if got := resultCode(err); got != d.ExpectedResult() {
					t.Fatalf("result %s (%v), want %s", got, err, d.ExpectedResult())
				}
				if err == nil && res.CollateralExpired != d.CollateralExpired() {
					t.Errorf("collateral expired %v, want %v", res.CollateralExpired, d.CollateralExpired())
				}
			})
		}
	}
}

// TestSimulatedPresets checks TCB level selection and status for every
// named platform TCB of the simulator.
func TestSimulatedPresets(t *testing.T) {
	p := sgxsim.Default()
	for _, tee := range []sgxsim.TEE{sgxsim.SGX, sgxsim.TDX} {
		col, err := p.Collateral(sgxsim.CollateralOptions{TEE: tee, Now: simNow})
		if err != nil {
			t.Fatal(err)
		}
		for _, preset := range sgxsim.Presets() {
			t.Run(string(tee)+"/"+preset.Name, func(t *testing.T) {
				tcb := preset.TCB
				raw, err := p.Quote(sgxsim.QuoteOptions{TEE: tee, TCB: &tcb})
				if err != nil {
					t.Fatal(err)
				}
				res, _, err := VerifyQuote(raw, col, simOptions(p))
				if got := resultCode(err); got != preset.Result {
					t.Fatalf("result %s (%v), want %s", got, err, preset.Result)
				}
				if err != nil {
					return
				}
				if res.TCBStatus != preset.Status || !slices.Equal(res.AdvisoryIDs, preset.AdvisoryIDs) {
					t.Errorf("status %s %v, want %s %v", res.TCBStatus, res.AdvisoryIDs, preset.Status, preset.AdvisoryIDs)
				}
			})
		}
	}
}

// TestSimulatedUntrustedByDefault: without the simulated root among the
// trusted roots, a simulated quote is refused like any foreign chain.
func TestSimulatedUntrustedByDefault(t *testing.T) {
	p := sgxsim.Default()
	col, err := p.Collateral(sgxsim.CollateralOptions{Now: simNow})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := p.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = VerifyQuote(raw, col, Options{Now: simNow})
	if !errsIs(err, ErrPCKChainUntrusted) {
		t.Fatalf("err = %v, want pck_chain_untrusted", err)
	}
}

func errsIs(err error, target *errs.Error) bool { return errs.Code(err) == target.Code }
