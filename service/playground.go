package service

import (
	"context"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/store"
)

// PlaygroundResult is the outcome of a policy playground run: what the real
// pipeline answered, and why, rule by rule.
type PlaygroundResult struct {
	// Permitted, Code and Message are the pipeline's answer: the draft
	// attestation's outcome, exactly what POST .../attest with
	// draftPolicyForAttestation answers.
	Permitted bool
	Code      string // the error's stable code when not permitted
	Message   string // its client-safe message
	// PolicyHash is the x-ms-policy-hash of the policy evaluated.
	PolicyHash string
	// Stage is where the pipeline stopped: "evidence" (refused before the
	// policy: parsing, verification, TCB or collateral settings, data
	// binding), "policy" (evaluated) or "token" (permitted).
	Stage string
	// Trace, Reason, Issued and Incoming come from evaluating the same
	// policy with tracing on the claims the pipeline built (empty when the
	// evidence was refused before the policy).
	Trace    []policy.TraceRule
	Reason   string
	Issued   map[string]any
	Incoming []policy.Claim
	Warnings []policy.Warning
	// Token is the unsigned draft token and TokenClaims its claims (without
	// iss/iat/nbf/exp/jti) when permitted.
	Token       string
	TokenClaims map[string]any
	// Note explains a disagreement between the trace and the pipeline
	// (never expected; reported rather than hidden).
	Note string
}

// TypeNames returns the names of the attestation types the service serves,
// in the registry's order (the console lists them).
func (s *Service) TypeNames() []string { return s.types.Names() }

// Playground runs an attestation request through the real pipeline as a
// draft (MAA's draftPolicyForAttestation: the token comes back unsigned)
// and explains the outcome. req.DraftPolicy nil means the provider's active
// policy for req.Type. The reader role suffices: a draft attestation
// changes nothing (anyone may send one to the anonymous attest route).
//
// The run is one attestation in the audit log (draft=true, the caller's
// request id); the pipeline hands back the claims it gave the policy, and
// the policy is evaluated again on them with tracing.
func (s *Service) Playground(ctx context.Context, who *Principal, provider string, req AttestRequest) (*PlaygroundResult, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	if _, _, err := s.providerAndType(ctx, provider, req.Type); err != nil {
		return nil, err
	}
	if req.DraftPolicy == nil {
		text, err := s.PolicyText(ctx, provider, req.Type)
		if err != nil {
			return nil, err
		}
		req.DraftPolicy = &text
	}
	text := *req.DraftPolicy
	out := &PlaygroundResult{PolicyHash: policy.PolicyHash(text), Stage: "token"}
	var incoming []policy.Claim
	req.policyClaims = &incoming
	res, err := s.Attest(ctx, provider, req)
	if err == nil {
		out.Permitted, out.Token, out.TokenClaims = true, res.Token, res.Claims
	} else {
		out.Code, out.Message = errorCode(err), errs.ClientDetail(err)
		switch out.Code {
		case ErrPolicyDenied.Code, ErrPolicyInvalid.Code, ErrPolicyLimit.Code:
			out.Stage = "policy"
		default:
			out.Stage = "evidence"
			return out, nil
		}
	}
	compiled, perr := policy.Parse(text)
	if perr != nil || incoming == nil {
		return out, nil // policy_invalid: Code and Message say where
	}
	out.Warnings = compiled.Warnings()
	out.Incoming = incoming
	ev, eerr := compiled.Evaluate(out.Incoming, policy.EvalOptions{Trace: true})
	if ev != nil {
		out.Trace, out.Reason, out.Issued = ev.Trace, ev.Reason, ev.Issued
	}
	switch {
	case eerr != nil && out.Permitted:
		out.Note = "the traced evaluation failed where the pipeline permitted: " + eerr.Error()
	case eerr == nil && ev.Permitted != out.Permitted:
		out.Note = "the traced evaluation and the pipeline disagree"
	}
	return out, nil
}
