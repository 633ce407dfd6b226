package dcap

import (
	"crypto/x509"
	"errors"
	"testing"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/sgxsim"
)

// TestVerifyCollateralVectors: every set's collateral verifies by itself
// at its verification time, with the same expiry verdict as the quote's
// verification (the PCK chain only adds certificates valid for decades).
func TestVerifyCollateralVectors(t *testing.T) {
	for _, s := range loadSets(t) {
		t.Run(s.name, func(t *testing.T) {
			res, err := VerifyCollateral(s.col, s.opts)
			if err != nil {
				t.Fatalf("VerifyCollateral: %v", err)
			}
			if res.TCBInfo == nil || res.QEIdentity == nil || res.PCKCA == "" {
				t.Errorf("result %+v", res)
			}
			if res.CollateralExpired != s.exp.CollateralExpired {
				t.Errorf("CollateralExpired = %v, want %v", res.CollateralExpired, s.exp.CollateralExpired)
			}
		})
	}
}

func TestVerifyCollateralMutations(t *testing.T) {
	s := findSet(t, "S02")
	for _, m := range []struct {
		name   string
		mutate func(c *pcs.Collateral)
		want   error
	}{
		{"TCB info changed", func(c *pcs.Collateral) { c.TCBInfo = bumpNumber(t, c.TCBInfo, "tcbEvaluationDataNumber") }, ErrTCBInfoInvalid},
		{"QE identity changed", func(c *pcs.Collateral) { c.QEIdentity = bumpNumber(t, c.QEIdentity, "tcbEvaluationDataNumber") }, ErrQEIdentityInvalid},
		{"root CRL signature", func(c *pcs.Collateral) { c.RootCACRL = flipLast(c.RootCACRL) }, ErrCRLInvalid},
		{"PCK CRL signature", func(c *pcs.Collateral) { c.PCKCRL = flipLast(c.PCKCRL) }, ErrCRLInvalid},
		{"CRLs swapped", func(c *pcs.Collateral) { c.RootCACRL, c.PCKCRL = c.PCKCRL, c.RootCACRL }, ErrUnknownCRLIssuer},
		{"QE identity of the other TEE", func(c *pcs.Collateral) {
			o := findSet(t, "S01").col
			c.QEIdentity, c.QEIdentitySignature = o.QEIdentity, o.QEIdentitySignature
		}, ErrQEIdentityInvalid},
		{"signing chain is the CRL chain", func(c *pcs.Collateral) { c.TCBInfoIssuerChain = c.PCKCRLIssuerChain }, ErrTCBSigningChainInvalid},
	} {
		c := *s.col
		m.mutate(&c)
		if _, err := VerifyCollateral(&c, s.opts); !errors.Is(err, m.want) {
			t.Errorf("%s: err = %v, want %s", m.name, err, errs.Code(m.want))
		}
	}
	// Another root is not trusted.
	if _, err := VerifyCollateral(s.col, Options{Now: s.at, TrustedRootKeys: [][]byte{RootKey(sgxsim.Default().Root())}}); !errors.Is(err, ErrPCKChainUntrusted) {
		t.Errorf("untrusted root: %v", err)
	}
}

func TestTrustedPlatform(t *testing.T) {
	s := findSet(t, "S02")
	q, err := quote.Parse(s.quote)
	if err != nil {
		t.Fatal(err)
	}
	c := NewCache()
	info, err := c.TrustedPlatform(q, Options{Now: s.at})
	if err != nil {
		t.Fatal(err)
	}
	if info.PCKCA != "platform" || info.PCK == nil {
		t.Errorf("info %+v", info)
	}
	p := sgxsim.Default()
	raw, err := p.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sq, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.TrustedPlatform(sq, Options{Now: s.at}); !errors.Is(err, ErrPCKChainUntrusted) {
		t.Errorf("simulated quote with Intel's root: %v", err)
	}
	if info, err := c.TrustedPlatform(sq, Options{Now: s.at, TrustedRoots: []*x509.Certificate{p.Root()}}); err != nil || info.PCKCA != "platform" {
		t.Errorf("simulated quote with its root: %+v %v", info, err)
	}
}
