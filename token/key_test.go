package token

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

func TestGenerateSigningKey(t *testing.T) {
	k, _ := testKeys(t)
	c := k.Certificate
	if k.Private.N.BitLen() != 2048 {
		t.Errorf("key has %d bits", k.Private.N.BitLen())
	}
	if c.Subject.CommonName != "avow test key A" || c.Issuer.CommonName != "avow test key A" {
		t.Errorf("subject %q issuer %q", c.Subject, c.Issuer)
	}
	if err := c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	created := t0.Add(-24 * time.Hour)
	if !c.NotBefore.Equal(created.Add(-time.Hour)) {
		t.Errorf("NotBefore %v, want %v", c.NotBefore, created.Add(-time.Hour))
	}
	if !c.NotAfter.Equal(time.Date(2050, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Errorf("NotAfter %v", c.NotAfter)
	}
	if c.SerialNumber.Sign() <= 0 || c.SerialNumber.BitLen() < 120 {
		t.Errorf("serial %v", c.SerialNumber)
	}
	if c.KeyUsage != x509.KeyUsageDigitalSignature || c.IsCA {
		t.Errorf("key usage %v, CA %v", c.KeyUsage, c.IsCA)
	}
	if k.KID != KeyID(c.Raw) || len(k.KID) != 43 {
		t.Errorf("kid %q, want base64url(SHA-256(DER)) = %q", k.KID, KeyID(c.Raw))
	}
	if !k.CreatedAt.Equal(created) || !k.RetiredAt.IsZero() || !k.Active(t0) {
		t.Errorf("created %v retired %v", k.CreatedAt, k.RetiredAt)
	}
	if k.Private.Precomputed.Dp == nil {
		t.Error("private key not precomputed")
	}
	if _, err := GenerateSigningKey(nil, "x", time.Time{}); !errors.Is(err, ErrKeyGeneration) {
		t.Errorf("zero time: %v", err)
	}
}

func TestNewSigningKey(t *testing.T) {
	a, b := testKeys(t)
	k, err := NewSigningKey(a.Certificate.Raw, a.Private, a.CreatedAt, t0)
	if err != nil {
		t.Fatal(err)
	}
	if k.KID != a.KID || !k.RetiredAt.Equal(t0) {
		t.Errorf("kid %s retired %v", k.KID, k.RetiredAt)
	}
	// Certificate of another key.
	if _, err := NewSigningKey(b.Certificate.Raw, a.Private, t0, time.Time{}); !errors.Is(err, ErrKeyInvalid) {
		t.Errorf("mismatched certificate: %v", err)
	}
	if _, err := NewSigningKey([]byte("not DER"), a.Private, t0, time.Time{}); !errors.Is(err, ErrKeyInvalid) {
		t.Errorf("bad certificate: %v", err)
	}
	if _, err := NewSigningKey(a.Certificate.Raw, nil, t0, time.Time{}); !errors.Is(err, ErrKeyInvalid) {
		t.Errorf("nil key: %v", err)
	}
	// RSA-1024 is refused for signing.
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: a.Certificate.SerialNumber, NotBefore: t0, NotAfter: CertificateNotAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &small.PublicKey, small)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewSigningKey(der, small, t0, time.Time{}); !errors.Is(err, ErrKeyInvalid) {
		t.Errorf("RSA-1024: %v", err)
	}
}

func TestActiveAndPublished(t *testing.T) {
	a, b := testKeys(t)
	old := *a // created t0-24h
	old.RetiredAt = t0.Add(-time.Hour)
	cur := *b // created t0
	future := *a
	future.KID = "future-retirement"
	future.CreatedAt = t0.Add(-48 * time.Hour)
	future.RetiredAt = t0.Add(time.Hour)
	keys := []*SigningKey{&old, nil, &future, &cur}

	if old.Active(t0) || !future.Active(t0) || !cur.Active(t0) || future.Active(t0.Add(time.Hour)) {
		t.Error("Active")
	}
	if got := ActiveKey(keys, t0); got != &cur {
		t.Errorf("ActiveKey = %v, want the newest active key", got)
	}
	if got := ActiveKey([]*SigningKey{&old}, t0); got != nil {
		t.Errorf("ActiveKey of retired keys = %v", got)
	}
	// Retired an hour ago, 8 h tokens: still published; 9 h later: gone.
	pub := Published(keys, t0, AttestationLifetime)
	if len(pub) != 3 || pub[0] != &cur || pub[1] != &old || pub[2] != &future {
		t.Errorf("Published = %v", kids(pub))
	}
	pub = Published(keys, t0.Add(8*time.Hour), AttestationLifetime)
	if len(pub) != 2 || pub[0] != &cur || pub[1] != &future {
		t.Errorf("Published 8h later = %v", kids(pub))
	}
	if got := PublicKeys(keys); len(got) != 3 || got[2].KID != cur.KID || got[2].Key.(*rsa.PublicKey) != &cur.Private.PublicKey {
		t.Errorf("PublicKeys = %v", got)
	}
	// A key without its private half (as loaded for /certs) still has a
	// public key and publishes the same JWKS.
	certOnly := &SigningKey{KID: cur.KID, Certificate: cur.Certificate, CreatedAt: cur.CreatedAt}
	if pk := certOnly.PublicKey(); !pk.Key.(*rsa.PublicKey).Equal(&cur.Private.PublicKey) {
		t.Error("certificate-only key has no public key")
	}
	if string(JWKS([]*SigningKey{certOnly})) != string(JWKS([]*SigningKey{&cur})) {
		t.Error("certificate-only JWKS differs")
	}
}

func kids(keys []*SigningKey) []string {
	var s []string
	for _, k := range keys {
		s = append(s, k.KID+"@"+k.CreatedAt.Format(time.RFC3339))
	}
	return s
}
