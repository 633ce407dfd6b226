package client

import (
	"context"
	"slices"
	"strings"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/token"
)

// Token is a decoded token: its header and claims (numbers as json.Number)
// and what kind of token the claims make it.
type Token struct {
	Raw    string
	Header *token.Header
	Claims map[string]any
	Kind   TokenKind
}

// TokenKind is what a provider signed a token for. A provider signs
// attestation results and policy-management results with the same key,
// with the same issuer: only the claims tell them apart.
type TokenKind string

const (
	// TokenAttestation: an attestation result (x-ms-attestation-type).
	TokenAttestation TokenKind = "attestation"
	// TokenPolicyManagement: the result of a policy get, set or reset
	// (x-ms-policy as a JWS string, x-ms-policy-result).
	TokenPolicyManagement TokenKind = "policy-management"
	// TokenSignerManagement: the result of a signer list, add or remove
	// (x-ms-policy-certificates, x-ms-policycertificates-result,
	// x-ms-certificate-thumbprint).
	TokenSignerManagement TokenKind = "signer-management"
	// TokenUnknown: none of these, or the claims of more than one kind.
	TokenUnknown TokenKind = "unknown"
)

// ErrTokenKind: a token that verified but is not of a kind the caller
// accepts (VerifyKinds; by default only attestation tokens).
var ErrTokenKind = errs.New("token_kind_mismatch", "the token is not of the kind expected")

// KindOf tells a token's kind from its claims.
func KindOf(claims map[string]any) TokenKind {
	has := func(names ...string) bool {
		for _, n := range names {
			if _, ok := claims[n]; ok {
				return true
			}
		}
		return false
	}
	_, policyJWS := claims["x-ms-policy"].(string) // in attestation tokens, x-ms-policy is an object of issued claims
	kinds := []TokenKind{}
	if has("x-ms-attestation-type") {
		kinds = append(kinds, TokenAttestation)
	}
	if policyJWS || has("x-ms-policy-result", "x-ms-policy-token-hash") {
		kinds = append(kinds, TokenPolicyManagement)
	}
	if has("x-ms-policy-certificates", "x-ms-policycertificates-result", "x-ms-certificate-thumbprint") {
		kinds = append(kinds, TokenSignerManagement)
	}
	if len(kinds) != 1 {
		return TokenUnknown
	}
	return kinds[0]
}

// Describe returns the kind as words ("policy management token").
func (k TokenKind) Describe() string {
	switch k {
	case TokenAttestation:
		return "attestation token"
	case TokenPolicyManagement:
		return "policy management token"
	case TokenSignerManagement:
		return "signer management token"
	}
	return "token of unknown kind"
}

// VerifyOption changes what VerifyToken accepts.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	kinds []TokenKind // nil: any
}

// VerifyKinds makes VerifyToken accept tokens of these kinds (by default
// only TokenAttestation); with no kinds, it accepts any token, also of
// TokenUnknown.
func VerifyKinds(kinds ...TokenKind) VerifyOption {
	return func(o *verifyOptions) { o.kinds = kinds }
}

// VerifyToken verifies an attestation (or result) token as MAA's SDKs do,
// with keys found by OpenID discovery of issuer: GET
// {issuer}/.well-known/openid-configuration, then its jwks_uri; the
// signature (RS256 or ES256, key chosen by kid), exp and nbf at the client's clock
// (WithClock, WithClockSkew) and iss == issuer. issuer is the provider's
// attest URI; a trailing slash is ignored. The token's iss is compared
// with issuer before any key is fetched: a token of another issuer is
// token.ErrIssuerMismatch ("the token's issuer is X, not Y"), not an unknown
// key.
//
// On failure the error carries one of token's codes (token.ErrExpired,
// token.ErrSignatureInvalid, token.ErrDiscoveryFailed, ...) and the returned
// Token, when not nil, holds the header for display. Unsigned tokens (draft
// policy attestations) are refused.
//
// A provider signs its policy and signer management results with the same
// key as its attestation tokens: VerifyToken accepts only attestation
// tokens unless VerifyKinds says otherwise. A verified token of another
// kind is refused with ErrTokenKind; the returned Token then holds its
// verified claims and Kind.
func (c *Client) VerifyToken(ctx context.Context, tok, issuer string, opts ...VerifyOption) (*Token, error) {
	o := verifyOptions{kinds: []TokenKind{TokenAttestation}}
	for _, f := range opts {
		f(&o)
	}
	tok = strings.TrimSpace(tok)
	issuer = strings.TrimRight(strings.TrimSpace(issuer), "/")
	if issuer == "" {
		return nil, ErrInvalidArgument.Wrapf("an issuer URL is required to find the verification keys")
	}
	unverified, hdr, err := token.DecodeUnverified(tok)
	if err != nil {
		return nil, err
	}
	out := &Token{Raw: tok, Header: hdr}
	// The issuer first: the keys of another issuer cannot verify the token,
	// and "unknown key" would hide that it is another provider's token.
	if iss, ok := unverified["iss"].(string); !ok {
		return out, token.ErrIssuerMismatch.Wrapf("the token has no iss; expected %s", issuer)
	} else if iss != issuer {
		return out, token.ErrIssuerMismatch.Wrapf("the token's issuer is %s, not %s", iss, issuer)
	}
	keys, _, err := token.Discover(ctx, c.hc, issuer)
	if err != nil {
		return out, err
	}
	claims, hdr, err := token.Verify(tok, keys, token.VerifyOptions{Issuer: issuer, Now: c.now(), Slack: c.slack})
	if hdr != nil {
		out.Header = hdr
	}
	if err != nil {
		return out, err
	}
	out.Claims, out.Kind = claims, KindOf(claims)
	if len(o.kinds) > 0 && !slices.Contains(o.kinds, out.Kind) {
		return out, ErrTokenKind.Wrapf("the token is a %s; expected: %s", out.Kind.Describe(), kindList(o.kinds))
	}
	return out, nil
}

func kindList(kinds []TokenKind) string {
	words := make([]string, len(kinds))
	for i, k := range kinds {
		words[i] = k.Describe()
	}
	return strings.Join(words, " or ")
}

// DecodeToken decodes a token without verifying it, for display.
func DecodeToken(tok string) (*Token, error) {
	tok = strings.TrimSpace(tok)
	claims, hdr, err := token.DecodeUnverified(tok)
	if err != nil {
		return nil, err
	}
	return &Token{Raw: tok, Header: hdr, Claims: claims, Kind: KindOf(claims)}, nil
}
