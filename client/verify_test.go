package client

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"testing"

	"github.com/avowhq/avow/internal/fakemaa"
	"github.com/avowhq/avow/policy"
)

// TestVerifyTokenKinds is issue 13 item 8: policy and signer management
// results are JWTs signed by the provider's key, like attestation tokens.
// VerifyToken tells the kinds apart and, unless asked otherwise
// (VerifyKinds), accepts only attestation tokens.
func TestVerifyTokenKinds(t *testing.T) {
	f := fakemaa.New(t)
	keyA, certA := fakemaa.Signer(t, "signer A")
	_, certB := fakemaa.Signer(t, "signer B")
	f.AddProvider("fabrikam", "Isolated", certA)
	c := newTestClient(t, f, fakemaa.OwnerToken)
	ctx := context.Background()
	uri := f.AttestURI("fabrikam")
	att, err := c.AttestSGX(ctx, uri, []byte("quote"), AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	signed, _ := policy.SignDocument(fakemaa.DefaultText, keyA, []*x509.Certificate{certA})
	set, err := c.SetPolicy(ctx, uri, TypeSgxEnclave, signed)
	if err != nil {
		t.Fatal(err)
	}
	add, _ := SignerChangeDocument(SignerAdd, certB, keyA, certA, DocumentTime(fakemaa.Now))
	signer, err := c.AddSigner(ctx, uri, add)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, tok string
		kind      TokenKind
	}{
		{"attestation", att, TokenAttestation},
		{"policy set result", set.Token, TokenPolicyManagement},
		{"signer add result", signer.Token, TokenSignerManagement},
	} {
		vt, err := c.VerifyToken(ctx, tc.tok, uri)
		if tc.kind == TokenAttestation {
			if err != nil || vt.Kind != TokenAttestation {
				t.Errorf("%s: %v %+v", tc.name, err, vt)
			}
			continue
		}
		if !errors.Is(err, ErrTokenKind) || vt == nil || vt.Kind != tc.kind || vt.Claims == nil {
			t.Errorf("%s by default: %v %+v", tc.name, err, vt)
		}
		if vt, err := c.VerifyToken(ctx, tc.tok, uri, VerifyKinds(TokenPolicyManagement, TokenSignerManagement)); err != nil || vt.Kind != tc.kind {
			t.Errorf("%s as management: %v %+v", tc.name, err, vt)
		}
		if _, err := c.VerifyToken(ctx, att, uri, VerifyKinds(tc.kind)); !errors.Is(err, ErrTokenKind) {
			t.Errorf("attestation token as %s: %v", tc.kind, err)
		}
	}
	for claims, want := range map[string]TokenKind{
		`{"x-ms-attestation-type":"sgx","x-ms-policy":{"a":1}}`:                            TokenAttestation,
		`{"x-ms-policy":"eyJhbGciOiJub25lIn0.."}`:                                          TokenPolicyManagement,
		`{"x-ms-policy-result":"Removed"}`:                                                 TokenPolicyManagement,
		`{"x-ms-policy-certificates":{"keys":[]}}`:                                         TokenSignerManagement,
		`{"x-ms-certificate-thumbprint":"AB","x-ms-policycertificates-result":"IsAbsent"}`: TokenSignerManagement,
		`{"x-ms-attestation-type":"sgx","x-ms-policy-result":"Updated"}`:                   TokenUnknown,
		`{"iss":"x"}`: TokenUnknown,
	} {
		var m map[string]any
		if err := jsonUnmarshal(claims, &m); err != nil {
			t.Fatal(err)
		}
		if got := KindOf(m); got != want {
			t.Errorf("%s: %s, want %s", claims, got, want)
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
