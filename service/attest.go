package service

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// Data is runtime or init-time data of an attestation request.
type Data = attestation.Data

// AttestRequest is one attestation: the evidence of an attestation type
// and the optional data the token binds.
type AttestRequest struct {
	Type         string // a registered type: SgxEnclave, OpenEnclave, TdxVm, …
	Evidence     []byte // the type's evidence member (quote or report), decoded
	RuntimeData  *Data
	InitTimeData *Data
	// DraftPolicy, when set, is evaluated instead of the stored policy and
	// the token comes back unsigned (MAA's draftPolicyForAttestation).
	DraftPolicy *string
	Nonce       *string
	// Extra are the members an attestation.ExtraParser type names, as
	// raw JSON (composite evidence).
	Extra map[string][]byte

	// policyClaims, when set, receives the claims the pipeline gives the
	// policy (the playground traces the policy on them).
	policyClaims *[]policy.Claim
}

// AttestResult is a successful attestation.
type AttestResult struct {
	Token        string
	Claims       map[string]any // the token's claims without iss/iat/nbf/exp/jti
	Verification *attestation.Verified
}

// Attest verifies evidence for a provider and issues its token: quote
// verification at the service's now with the stored collateral, the
// provider's TCB and expiry settings, runtime/init-time data binding, the
// policy, and the signature of the provider's active key.
//
// Every call is recorded: an attestation record in the audit log (written
// asynchronously in batches, see AuditConfig) and the outcome reported to
// the Observer.
func (s *Service) Attest(ctx context.Context, provider string, req AttestRequest) (*AttestResult, error) {
	start := time.Now()
	tr := AttestRecord{Provider: provider, Type: req.Type}
	res, err := s.attest(ctx, provider, req, &tr)
	tr.Duration = time.Since(start)
	tr.Time = s.clock.Now()
	tr.RequestID = RequestIDFrom(ctx)
	tr.Outcome = OutcomeSuccess
	if err != nil {
		tr.Outcome, tr.FailureCode, tr.Message = OutcomeFailure, errorCode(err), truncate(errs.Detail(err))
	}
	if !tr.ProviderKnown {
		tr.Provider = truncate(tr.Provider)
	}
	if !tr.TypeKnown {
		tr.Type = truncate(tr.Type)
	}
	s.obs.Attested(tr)
	switch {
	case s.audit.cfg.Disabled:
	case tr.PolicyHash != "":
		// The attestation reached a provider's policy: a record of its own.
		s.audit.record(attestationEntry(&tr))
	default:
		// Refused before any policy (unknown provider, malformed or
		// unverifiable evidence, ...): anyone can send these, so they are
		// counted per provider, type, code and minute, not recorded one by
		// one.
		s.audit.countRefused(&tr)
	}
	return res, err
}

// attest is Attest without the audit record and the outcome metrics (see
// audit.go); it notes what it learns in tr and reports the time of each
// stage to the observer.
func (s *Service) attest(ctx context.Context, provider string, req AttestRequest, tr *AttestRecord) (*AttestResult, error) {
	p, err := s.provider(ctx, provider)
	typ, terr := s.AttestationType(req.Type)
	attType := ""
	if terr == nil {
		attType = typ.Name()
	}
	tr.noteProvider(p, attType)
	if err != nil {
		return nil, err
	}
	if terr != nil {
		return nil, terr
	}
	if len(req.Evidence) == 0 {
		return nil, ErrInvalidRequest.Wrapf("the request carries no evidence")
	}
	var ev attestation.Evidence
	if xp, ok := typ.(attestation.ExtraParser); ok && len(req.Extra) > 0 {
		ev, err = xp.ParseExtra(req.Evidence, req.Extra)
	} else {
		ev, err = typ.Parse(req.Evidence)
	}
	if err != nil {
		return nil, err
	}
	tr.TEE = ev.TEE()

	// The policy is chosen before verification: its configurationrules
	// select the TCB baseline the evidence is verified against.
	var ap *activePolicy
	tr.Draft = req.DraftPolicy != nil
	if req.DraftPolicy != nil {
		compiled, err := policy.Parse(*req.DraftPolicy)
		if err != nil {
			return nil, ErrPolicyInvalid.Wrap(err)
		}
		ap = newActivePolicy(&activePolicy{compiled: compiled, hash: policy.PolicyHash(*req.DraftPolicy)})
	} else if ap, err = s.activePolicy(ctx, p.Name, attType); err != nil {
		return nil, err
	}
	if ap.baselineErr != nil {
		return nil, ErrPolicyInvalid.Wrapf("configurationrules: %v", ap.baselineErr)
	}

	now := s.clock.Now()
	start := time.Now()
	col := s.collateralAccess(p, ap.baseline)
	col.draft = req.DraftPolicy != nil
	v, err := typ.Verify(ctx, ev, attestation.Env{Now: now, Collateral: col, Settings: TypeSettings(p.Settings)[typ.Name()]})
	s.obs.AttestStage(StageVerify, time.Since(start))
	if err != nil {
		return nil, err
	}
	tr.TCBStatus, tr.FMSPC = v.TCBStatus, v.PlatformID
	grace, err := checkSettings(p, v, now)
	if err != nil {
		return nil, col.explainExpired(err)
	}
	start = time.Now()
	c, err := typ.Claims(v, withDataType(req.RuntimeData), withDataType(req.InitTimeData))
	if err != nil {
		return nil, err
	}
	if s.simulated(v.RootKey) {
		c["x-avow-simulated"] = true
		tr.Simulated = true
	}
	if s.privateRoot(v.RootKey) {
		c["x-avow-private-root"] = true
	}
	// The TCB baseline used (DCAP quotes: the service's collateral), and
	// any relaxation of the TCB status, are in the token and the audit log.
	if col.res != nil && col.res.TCBInfo != nil {
		c[ClaimTCBBaseline] = ap.baseline.id
		c[ClaimTCBEvaluationDataNumber] = int64(col.res.TCBInfo.TCBEvaluationDataNumber)
		tr.TCBBaseline = ap.baseline.id + " (" + strconv.FormatUint(uint64(col.res.TCBInfo.TCBEvaluationDataNumber), 10) + ")"
	}
	if grace != nil {
		c[ClaimTCBGrace] = grace.claim()
		tr.TCBGrace = grace.String()
	}
	tr.PolicyHash = ap.hash
	in := policy.ClaimsFromMap(c)
	if req.policyClaims != nil {
		*req.policyClaims = in
	}
	outcome, err := ap.compiled.Evaluate(in, policy.EvalOptions{})
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
	attestation.ForToken(c)
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
	return &AttestResult{Token: tok, Claims: c, Verification: v}, nil
}

// checkSettings applies the provider's acceptance of TCB statuses (with its
// tcbGrace, whose admission it returns) and of expired collateral.
func checkSettings(p store.Provider, v *attestation.Verified, now time.Time) (*graceRelaxation, error) {
	var grace *graceRelaxation
	if !slices.Contains(p.Settings.AcceptedTCBStatuses, v.TCBStatus) {
		grace = tcbGraceFor(TCBGraceOf(p.Settings), v.TCBStatus, v.AdvisoryIDs, now)
		if grace == nil {
			msg := "the platform's TCB status is " + v.TCBStatus
			if len(v.AdvisoryIDs) > 0 {
				msg += " (advisories " + strings.Join(v.AdvisoryIDs, ", ") + ")"
			}
			return nil, ErrTCBNotAccepted.Wrapf("%s; provider %s accepts %s%s", msg, p.Name, strings.Join(p.Settings.AcceptedTCBStatuses, ", "), graceNote(p, v, now))
		}
	}
	if v.CollateralExpired {
		deadline := v.CollateralExpiry.Add(p.Settings.CollateralGracePeriod)
		if !now.Before(deadline) {
			return nil, ErrCollateralExpired.Wrapf("the collateral expired at %s (%s %s); provider %s allows a grace period of %s",
				v.CollateralExpiry.UTC().Format(time.RFC3339), v.PlatformKind, v.PlatformID, p.Name, p.Settings.CollateralGracePeriod)
		}
	}
	return grace, nil
}

// graceNote says why a provider's tcbGrace did not admit an OutOfDate
// platform: it ended, or does not list every advisory.
func graceNote(p store.Provider, v *attestation.Verified, now time.Time) string {
	g := TCBGraceOf(p.Settings)
	if v.TCBStatus != graceStatus || len(g) == 0 {
		return ""
	}
	for _, e := range g {
		for _, a := range v.AdvisoryIDs {
			if slices.Contains(e.AdvisoryIDs, strings.ToUpper(a)) && !now.Before(e.Until) {
				return "; its TCB grace for " + a + " ended at " + e.Until.UTC().Format(time.RFC3339)
			}
		}
	}
	return "; its TCB grace does not list every advisory of the platform"
}

func (s *Service) simulated(rootKey []byte) bool {
	for _, k := range s.simulatedKeys {
		if bytes.Equal(k, rootKey) {
			return true
		}
	}
	return false
}

// withDataType defaults an absent dataType to Binary, as MAA does.
func withDataType(d *Data) *Data {
	if d == nil || d.DataType != "" {
		return d
	}
	return &Data{Bytes: d.Bytes, DataType: "Binary"}
}
