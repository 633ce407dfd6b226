// Package policy implements Microsoft Azure Attestation's attestation
// policy language (the claim-rule grammar, versions 1.0, 1.1 and 1.2) and
// its policy documents, so that policies written for MAA work unchanged.
//
// Compile a policy once with Parse; the *Policy is immutable and safe for
// concurrent use. Evaluate runs it against the incoming claims of an
// attestation: configurationrules, then authorizationrules (deny wins, no
// permit means not permitted), then issuancerules. The Result says whether
// the policy permits, why (the rule and the first failing condition, in
// words), and carries the issued claims shaped as the token's x-ms-policy
// object and the properties set by issueproperty.
//
//	p, err := policy.Parse(text) // *policy.SyntaxError with code, line, column, snippet
//	res, err := p.Evaluate(policy.ClaimsFromMap(tokenClaims), policy.EvalOptions{})
//	if !res.Permitted { log.Print(res.Reason) } // "x-ms-sgx-svn is 1, the rule requires >= 2"
//
// Policy documents (the JWS sent to MAA's policy endpoints) are read with
// ParseDocument (unsigned alg none; signed RS256/RSA256, PS256,
// ES256/ECDH256 with the certificate in x5c or jwk.x5c) and written with
// UnsignedDocument and SignDocument. PolicyHash, PolicyTokenHash and
// LegacyPolicyHash compute x-ms-policy-hash, x-ms-policy-token-hash and
// maa-policyHash.
//
// Every error carries a stable code (errs.Code); the codes and the choices
// avow makes where MAA is not documented are listed in docs/policy.md.
package policy
