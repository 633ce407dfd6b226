// Package dcapquote is the Intel DCAP quote family that the SgxEnclave,
// OpenEnclave and TdxVm attestation types share: evidence around a parsed
// quote, the collateral interface the service implements for it, and the
// steps from a quote to MAA's claims. Parsing is package quote's,
// verification package dcap's (QVL parity), the claims package claims'.
package dcapquote

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
)

// Collateral is what a DCAP type needs of the service: verify a quote with
// the stored (or fetched) collateral of its platform at now. The service's
// collateral manager implements it over its store, caches and the
// provider's collateral sources; tests can implement it over one bundle.
type Collateral interface {
	VerifyQuote(ctx context.Context, q *quote.Quote, now time.Time) (*dcap.Result, pcs.CollateralHashes, error)
}

// Evidence is a parsed SGX or TDX quote.
type Evidence struct {
	Quote *quote.Quote
}

// TEE is "tdx" for a TD quote, "sgx" otherwise.
func (e *Evidence) TEE() string {
	if e.Quote.IsTDX() {
		return "tdx"
	}
	return "sgx"
}

// Result is the verification of a quote (attestation.Verified.Result).
type Result struct {
	*dcap.Result
	Hashes pcs.CollateralHashes // the collateral's digests (x-ms-sgx-collateral)
}

// Parse parses a quote (openEnclave: inside MAA's OpenEnclave report
// header) and checks that it is of the kind the type attests (tdx: a TD
// quote, else an enclave quote); typ names the type in the error.
func Parse(raw []byte, typ string, openEnclave, tdx bool) (*Evidence, error) {
	var q *quote.Quote
	var err error
	if openEnclave {
		q, err = quote.ParseOpenEnclave(raw)
	} else {
		q, err = quote.Parse(raw)
	}
	if err != nil {
		return nil, dcap.ErrUnsupportedQuoteFormat.Wrap(err)
	}
	if q.IsTDX() != tdx {
		kind := "SGX"
		if q.IsTDX() {
			kind = "TDX"
		}
		return nil, dcap.ErrUnsupportedQuoteFormat.Wrapf("a %s quote cannot be attested as %s", kind, typ)
	}
	return &Evidence{Quote: q}, nil
}

// errNoCollateral: the service gave a DCAP type no DCAP collateral (a
// wiring mistake, not the client's).
var errNoCollateral = errs.Internal("the service has no collateral for DCAP quotes")

// Verify verifies parsed evidence with the collateral env gives access to.
func Verify(ctx context.Context, ev attestation.Evidence, env attestation.Env) (*attestation.Verified, error) {
	e, ok := ev.(*Evidence)
	if !ok {
		return nil, errs.Internal("the evidence is not a DCAP quote").Wrapf("%T", ev)
	}
	col, ok := env.Collateral.(Collateral)
	if !ok {
		return nil, errNoCollateral.Wrapf("%T", env.Collateral)
	}
	res, hashes, err := col.VerifyQuote(ctx, e.Quote, env.Now)
	if err != nil {
		return nil, err
	}
	// One allocation for both: Verify runs on every attestation.
	both := &struct {
		v attestation.Verified
		r Result
	}{r: Result{Result: res, Hashes: hashes}}
	v := &both.v
	*v = attestation.Verified{
		Evidence:          e,
		TCBStatus:         string(res.TCBStatus),
		AdvisoryIDs:       res.AdvisoryIDs,
		CollateralExpired: res.CollateralExpired,
		CollateralExpiry:  res.EarliestExpirationDate,
		RootKey:           res.RootKey,
		Result:            &both.r,
	}
	if res.PCK != nil {
		v.PlatformKind, v.PlatformID = "FMSPC", hex.EncodeToString(res.PCK.FMSPC[:])
	}
	return v, nil
}

// Claims returns MAA's claims of a verified quote (package claims: the
// quote's own, then the verification's) with the request's runtime and
// init-time data bound and added.
func Claims(v *attestation.Verified, runtime, initTime *attestation.Data) (map[string]any, error) {
	e, ok := v.Evidence.(*Evidence)
	r, ok2 := v.Result.(*Result)
	if !ok || !ok2 {
		return nil, errs.Internal("the verified evidence is not a DCAP quote").Wrapf("%T, %T", v.Evidence, v.Result)
	}
	q := e.Quote
	c := claims.FromQuote(q)
	claims.AddVerification(c, q, r.Hashes, r.Result)
	if runtime != nil {
		if err := claims.CheckRuntimeDataBinding(q, runtime.Bytes); err != nil {
			return nil, err // runtime_data_mismatch, said once
		}
		if err := claims.AddRuntimeData(c, runtime.Bytes, runtime.DataType); err != nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
		}
	}
	if initTime != nil {
		if err := claims.CheckInitTimeDataBinding(q, initTime.Bytes); err != nil {
			return nil, err // inittime_data_mismatch
		}
		if err := claims.AddInitTimeData(c, initTime.Bytes, initTime.DataType); err != nil {
			return nil, attestation.ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
		}
	}
	claims.AddPolicyAliases(c) // SGX only; attestation.ForToken removes them
	return c, nil
}
