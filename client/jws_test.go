package client

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/fakemaa"
	"github.com/avowhq/avow/policy"
)

// TestClientDocumentClaims: every document the client signs carries iat
// and nbf (DocumentTime) and exp (DocumentValidity, default 10 minutes); a
// signer change names its operation; a reset keeps an empty payload and
// carries its claims in the protected header. Each is refused by the
// operation it was not made for, and after its exp.
func TestClientDocumentClaims(t *testing.T) {
	key, cert := fakemaa.Signer(t, "signer")
	_, other := fakemaa.Signer(t, "other")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := DocumentTime(now)
	pol, err := PolicyDocument("version=1.0; authorizationrules { => permit(); };", key, []*x509.Certificate{cert}, at)
	if err != nil {
		t.Fatal(err)
	}
	reset, err := ResetDocument(key, []*x509.Certificate{cert}, at, DocumentValidity(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	add, err := SignerChangeDocument(SignerAdd, other, key, cert, at)
	if err != nil {
		t.Fatal(err)
	}
	remove, err := SignerChangeDocument(SignerRemove, other, key, cert, at)
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(reset, "."); parts[1] != "" {
		t.Errorf("reset payload %q", parts[1])
	}
	for _, tc := range []struct {
		name, jws, op string
		validity      time.Duration
	}{
		{"policy", pol, policy.OpSetPolicy, DefaultDocumentValidity},
		{"reset", reset, policy.OpResetPolicy, time.Hour},
		{"add", add, policy.OpAddSigner, DefaultDocumentValidity},
		{"remove", remove, policy.OpRemoveSigner, DefaultDocumentValidity},
	} {
		d, err := policy.ParseManagementDocument(tc.jws)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !d.IssuedAt.Equal(now) || !d.NotBefore.Equal(now) || !d.Expiry.Equal(now.Add(tc.validity)) {
			t.Errorf("%s: iat %v nbf %v exp %v", tc.name, d.IssuedAt, d.NotBefore, d.Expiry)
		}
		for _, op := range []string{policy.OpSetPolicy, policy.OpResetPolicy, policy.OpAddSigner, policy.OpRemoveSigner} {
			if err := d.CheckUse(op, now, 0); (err == nil) != (op == tc.op) {
				t.Errorf("%s used for %s: %v", tc.name, op, err)
			}
		}
		if err := d.CheckUse(tc.op, now.Add(tc.validity), 0); err == nil {
			t.Errorf("%s accepted at its exp", tc.name)
		}
	}
	if d, _ := PolicyDocument("x", nil, nil); d != policy.UnsignedDocument("x") {
		t.Errorf("unsigned policy document %s", d)
	}
}
