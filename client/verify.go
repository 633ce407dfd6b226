package client

import (
	"context"
	"strings"

	"github.com/avowhq/avow/token"
)

// Token is a decoded token: its header and claims (numbers as json.Number).
type Token struct {
	Raw    string
	Header *token.Header
	Claims map[string]any
}

// VerifyToken verifies an attestation (or result) token as MAA's SDKs do,
// with keys found by OpenID discovery of issuer: GET
// {issuer}/.well-known/openid-configuration, then its jwks_uri; the
// signature (RS256, key chosen by kid), exp and nbf at the client's clock
// (WithClock, WithClockSkew) and iss == issuer. issuer is the provider's
// attest URI; a trailing slash is ignored.
//
// On failure the error carries one of token's codes (token.ErrExpired,
// token.ErrSignatureInvalid, token.ErrDiscoveryFailed, ...) and the returned
// Token, when not nil, holds the header for display. Unsigned tokens (draft
// policy attestations) are refused.
func (c *Client) VerifyToken(ctx context.Context, tok, issuer string) (*Token, error) {
	tok = strings.TrimSpace(tok)
	issuer = strings.TrimRight(strings.TrimSpace(issuer), "/")
	if issuer == "" {
		return nil, ErrInvalidArgument.Wrapf("an issuer URL is required to find the verification keys")
	}
	_, hdr, err := token.DecodeUnverified(tok)
	if err != nil {
		return nil, err
	}
	out := &Token{Raw: tok, Header: hdr}
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
	out.Claims = claims
	return out, nil
}

// DecodeToken decodes a token without verifying it, for display.
func DecodeToken(tok string) (*Token, error) {
	tok = strings.TrimSpace(tok)
	claims, hdr, err := token.DecodeUnverified(tok)
	if err != nil {
		return nil, err
	}
	return &Token{Raw: tok, Header: hdr, Claims: claims}, nil
}
