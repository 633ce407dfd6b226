package service

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// Data is runtime or init-time data of an attestation request.
type Data struct {
	Bytes    []byte
	DataType string // "Binary" or "JSON"
}

// AttestRequest is one attestation: the evidence of an attestation type
// and the optional data the token binds.
type AttestRequest struct {
	Type         string // SgxEnclave, OpenEnclave or TdxVm
	Evidence     []byte // the quote (SgxEnclave, TdxVm) or OpenEnclave report
	RuntimeData  *Data
	InitTimeData *Data
	// DraftPolicy, when set, is evaluated instead of the stored policy and
	// the token comes back unsigned (MAA's draftPolicyForAttestation).
	DraftPolicy *string
	Nonce       *string
}

// AttestResult is a successful attestation.
type AttestResult struct {
	Token        string
	Claims       map[string]any // the token's claims without iss/iat/nbf/exp/jti
	Verification *dcap.Result
}

// attest is Attest without the audit record and the outcome metrics (see
// audit.go); it notes what it learns in tr and reports the time of each
// stage to the observer.
func (s *Service) attest(ctx context.Context, provider string, req AttestRequest, tr *AttestRecord) (*AttestResult, error) {
	p, attType, err := s.providerAndType(ctx, provider, req.Type)
	tr.noteProvider(p, attType)
	if err != nil {
		return nil, err
	}
	q, err := parseEvidence(attType, req.Evidence)
	if err != nil {
		return nil, err
	}
	tr.TEE = strings.ToLower(teeName(q))
	now := s.clock.Now()
	start := time.Now()
	srcs := s.sourcesFor(p)
	res, col, err := s.verify(ctx, q, now, srcs)
	s.obs.AttestStage(StageVerify, time.Since(start))
	if err != nil {
		return nil, err
	}
	tr.TCBStatus, tr.FMSPC = string(res.TCBStatus), hex.EncodeToString(res.PCK.FMSPC[:])
	if err := checkSettings(p, res, now); err != nil {
		return nil, s.explainExpired(err, res, srcs)
	}
	start = time.Now()
	c := claims.FromQuote(q)
	claims.AddVerification(c, q, col.hashes, res)
	if s.simulated(res.RootKey) {
		c[claims.Simulated] = true
		tr.Simulated = true
	}
	if s.privateRoot(res.RootKey) {
		c[claims.PrivateRoot] = true
	}
	if err := addData(c, q, req); err != nil {
		return nil, err
	}

	var ap *activePolicy
	tr.Draft = req.DraftPolicy != nil
	if req.DraftPolicy != nil {
		compiled, err := policy.Parse(*req.DraftPolicy)
		if err != nil {
			return nil, ErrPolicyInvalid.Wrap(err)
		}
		ap = &activePolicy{compiled: compiled, hash: policy.PolicyHash(*req.DraftPolicy)}
	} else if ap, err = s.activePolicy(ctx, p.Name, attType); err != nil {
		return nil, err
	}
	tr.PolicyHash = ap.hash
	claims.AddPolicyAliases(c) // ForToken removes them
	outcome, err := ap.compiled.Evaluate(policy.ClaimsFromMap(c), policy.EvalOptions{})
	s.obs.AttestStage(StagePolicy, time.Since(start))
	var se *policy.SyntaxError
	if errors.Is(err, policy.ErrEvalLimit) && errors.As(err, &se) {
		return nil, ErrPolicyLimit.Wrapf("%s", se.Located()) // the code once: policy_limit_exceeded
	}
	if err != nil {
		return nil, ErrPolicyInvalid.Wrap(err)
	}
	if !outcome.Permitted {
		return nil, ErrPolicyDenied.Wrapf("%s", outcome.Reason)
	}
	if len(outcome.Issued) > 0 {
		c["x-ms-policy"] = outcome.Issued
	}
	claims.ForToken(c)
	c["x-ms-policy-hash"] = ap.hash
	if ap.signer != nil {
		c["x-ms-policy-signer"] = ap.signer
	}
	if req.Nonce != nil {
		c["nonce"] = *req.Nonce
	}

	start = time.Now()
	jti, err := token.NewJTI()
	if err != nil {
		return nil, err
	}
	var tok string
	if req.DraftPolicy != nil {
		tok, err = token.IssueUnsigned(c, s.AttestURI(p.Name), now, token.AttestationLifetime, jti)
	} else {
		key, kerr := s.activeKey(ctx, p.Name)
		if kerr != nil {
			return nil, kerr
		}
		tok, err = token.Issue(c, key, s.AttestURI(p.Name), now, token.AttestationLifetime, jti)
	}
	s.obs.AttestStage(StageSign, time.Since(start))
	if err != nil {
		return nil, err
	}
	return &AttestResult{Token: tok, Claims: c, Verification: res}, nil
}

// parseEvidence parses the evidence of an attestation type.
func parseEvidence(attType string, evidence []byte) (*quote.Quote, error) {
	if len(evidence) == 0 {
		return nil, ErrInvalidRequest.Wrapf("the request carries no evidence")
	}
	var q *quote.Quote
	var err error
	if attType == TypeOpenEnclave {
		q, err = quote.ParseOpenEnclave(evidence)
	} else {
		q, err = quote.Parse(evidence)
	}
	if err != nil {
		return nil, dcap.ErrUnsupportedQuoteFormat.Wrap(err)
	}
	if q.IsTDX() != (attType == TypeTdxVm) {
		return nil, dcap.ErrUnsupportedQuoteFormat.Wrapf("a %s quote cannot be attested as %s", teeName(q), attType)
	}
	return q, nil
}

func teeName(q *quote.Quote) string {
	if q.IsTDX() {
		return "TDX"
	}
	return "SGX"
}

// verify finds the quote's collateral (fetching from srcs when it is
// missing or expired) and verifies the quote with it.
func (s *Service) verify(ctx context.Context, q *quote.Quote, now time.Time, srcs sourceSet) (*dcap.Result, *storedCollateral, error) {
	ext, err := s.verifier.Platform(q)
	if err != nil {
		return nil, nil, err
	}
	key := store.CollateralKey{TEE: strings.ToLower(teeName(q)), FMSPC: hex.EncodeToString(ext.FMSPC[:]), PCEID: hex.EncodeToString(ext.PCEID[:])}
	return s.verifyWithCollateral(ctx, q, key, now, srcs)
}

// checkSettings applies the provider's acceptance of TCB statuses and of
// expired collateral.
func checkSettings(p store.Provider, res *dcap.Result, now time.Time) error {
	if !slices.Contains(p.Settings.AcceptedTCBStatuses, string(res.TCBStatus)) {
		msg := "the platform's TCB status is " + string(res.TCBStatus)
		if len(res.AdvisoryIDs) > 0 {
			msg += " (advisories " + strings.Join(res.AdvisoryIDs, ", ") + ")"
		}
		return ErrTCBNotAccepted.Wrapf("%s; provider %s accepts %s", msg, p.Name, strings.Join(p.Settings.AcceptedTCBStatuses, ", "))
	}
	if res.CollateralExpired {
		deadline := res.EarliestExpirationDate.Add(p.Settings.CollateralGracePeriod)
		if !now.Before(deadline) {
			return ErrCollateralExpired.Wrapf("the collateral expired at %s (FMSPC %x); provider %s allows a grace period of %s",
				res.EarliestExpirationDate.UTC().Format(time.RFC3339), res.PCK.FMSPC, p.Name, p.Settings.CollateralGracePeriod)
		}
	}
	return nil
}

func (s *Service) simulated(rootKey []byte) bool {
	for _, k := range s.simulatedKeys {
		if bytes.Equal(k, rootKey) {
			return true
		}
	}
	return false
}

// addData binds runtime and init-time data and adds their claims.
func addData(c map[string]any, q *quote.Quote, req AttestRequest) error {
	if rd := req.RuntimeData; rd != nil {
		if err := claims.CheckRuntimeDataBinding(q, rd.Bytes); err != nil {
			return err // runtime_data_mismatch, said once
		}
		if err := claims.AddRuntimeData(c, rd.Bytes, dataType(rd.DataType)); err != nil {
			return ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
		}
	}
	if id := req.InitTimeData; id != nil {
		if err := claims.CheckInitTimeDataBinding(q, id.Bytes); err != nil {
			return err // inittime_data_mismatch
		}
		if err := claims.AddInitTimeData(c, id.Bytes, dataType(id.DataType)); err != nil {
			return ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
		}
	}
	return nil
}

// dataType defaults an absent dataType to Binary, as MAA does.
func dataType(t string) string {
	if t == "" {
		return claims.DataTypeBinary
	}
	return t
}
