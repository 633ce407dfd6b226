package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"time"
)

// Token signing algorithms. RS256 is MAA's and the default; ES256 (ECDSA
// P-256 with SHA-256, RFC 7518 §3.4) signs about a hundred times faster.
const (
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
)

// ValidAlg reports whether alg is a signing algorithm avow issues tokens
// with.
func ValidAlg(alg string) bool { return alg == AlgRS256 || alg == AlgES256 }

// Alg returns the JWS algorithm of k: ES256 for an ECDSA P-256 key, RS256
// otherwise.
func (k *SigningKey) Alg() string {
	if k.EC != nil {
		return AlgES256
	}
	if k.Certificate != nil {
		if _, ok := k.Certificate.PublicKey.(*ecdsa.PublicKey); ok {
			return AlgES256
		}
	}
	return AlgRS256
}

// PrivateKey returns the private key of k (*rsa.PrivateKey or
// *ecdsa.PrivateKey), nil when k has none.
func (k *SigningKey) PrivateKey() crypto.PrivateKey {
	switch {
	case k.EC != nil:
		return k.EC
	case k.Private != nil:
		return k.Private
	}
	return nil
}

// NewSigningKeyFromPrivate is NewSigningKey for an RSA or an ECDSA P-256
// private key (as OpenKey returns).
func NewSigningKeyFromPrivate(certDER []byte, priv crypto.PrivateKey, createdAt, retiredAt time.Time) (*SigningKey, error) {
	switch p := priv.(type) {
	case *rsa.PrivateKey:
		return NewSigningKey(certDER, p, createdAt, retiredAt)
	case *ecdsa.PrivateKey:
		if p == nil || p.Curve != elliptic.P256() {
			return nil, ErrKeyInvalid.Wrapf("an ECDSA signing key must be on P-256")
		}
		cert, err := x509.ParseCertificate(certDER)
		if err != nil {
			return nil, ErrKeyInvalid.Wrapf("parsing the certificate: %v", err)
		}
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || !pub.Equal(&p.PublicKey) {
			return nil, ErrKeyInvalid.Wrapf("the certificate's public key does not belong to the private key")
		}
		return &SigningKey{KID: KeyID(cert.Raw), EC: p, Certificate: cert, CreatedAt: createdAt, RetiredAt: retiredAt}, nil
	}
	return nil, ErrKeyInvalid.Wrapf("a signing key is RSA or ECDSA P-256, not %T", priv)
}

// signES256 returns the JWS signature of input: R || S, 32 bytes each.
func signES256(key *ecdsa.PrivateKey, input []byte) ([]byte, error) {
	digest := sha256.Sum256(input)
	r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return sig, nil
}

func verifyES256(p *parts, keys []PublicKey) error {
	kid := p.header.KID
	var candidates []*ecdsa.PublicKey
	matched := 0
	for i := range keys {
		if kid != "" && keys[i].KID != kid {
			continue
		}
		matched++
		if pub, ok := keys[i].Key.(*ecdsa.PublicKey); ok && pub != nil && pub.Curve == elliptic.P256() {
			candidates = append(candidates, pub)
		}
	}
	if matched == 0 {
		if kid == "" {
			return ErrUnknownKey.Wrapf("the token has no kid and no keys were given")
		}
		return ErrUnknownKey.Wrapf("kid %q is not among the %d trusted keys", kid, len(keys))
	}
	if len(p.sig) != 64 {
		return ErrSignatureInvalid.Wrapf("an ES256 signature has 64 bytes, not %d", len(p.sig))
	}
	digest := sha256.Sum256([]byte(p.signingInput))
	r := new(big.Int).SetBytes(p.sig[:32])
	s := new(big.Int).SetBytes(p.sig[32:])
	for _, pub := range candidates {
		if ecdsa.Verify(pub, digest[:], r, s) {
			return nil
		}
	}
	if len(candidates) == 0 {
		return ErrSignatureInvalid.Wrapf("no P-256 key among the %d keys with kid %q", matched, kid)
	}
	return ErrSignatureInvalid.Wrapf("no key with kid %q verifies the ES256 signature", kid)
}

// ecJWK fills the EC members of a JWK (RFC 7518 §6.2.1).
func ecJWK(j *JWK, pub *ecdsa.PublicKey) {
	j.Kty, j.Crv = "EC", "P-256"
	x, y := make([]byte, 32), make([]byte, 32)
	pub.X.FillBytes(x)
	pub.Y.FillBytes(y)
	j.X, j.Y = base64.RawURLEncoding.EncodeToString(x), base64.RawURLEncoding.EncodeToString(y)
}

// SealKey is SealPrivateKey for an RSA or ECDSA key.
func SealKey(kek []byte, key crypto.PrivateKey, aad []byte) ([]byte, error) {
	switch k := key.(type) {
	case *rsa.PrivateKey:
		return SealPrivateKey(kek, k, aad)
	case *ecdsa.PrivateKey:
		return sealPKCS8(kek, k, aad)
	}
	return nil, ErrKeySealing.Wrapf("cannot seal a %T", key)
}

// CheckSealedKey reports whether kek opens a sealed key bound to aad
// (ErrKeyUnsealing when it does not), without parsing the key: one AES-GCM
// authentication, microseconds, so that a node can check its KEK against
// every key of a store when it starts. The decrypted bytes are cleared.
func CheckSealedKey(kek, sealed, aad []byte) error {
	plain, err := openPKCS8(kek, sealed, aad)
	clear(plain)
	return err
}

// OpenKey is OpenPrivateKey for a sealed RSA or ECDSA key.
func OpenKey(kek, sealed, aad []byte) (crypto.PrivateKey, error) {
	plain, err := openPKCS8(kek, sealed, aad)
	if err != nil {
		return nil, err
	}
	defer clear(plain)
	k, err := x509.ParsePKCS8PrivateKey(plain)
	if err != nil {
		return nil, ErrKeyUnsealing.Wrapf("the decrypted data is not a PKCS#8 key")
	}
	switch p := k.(type) {
	case *rsa.PrivateKey:
		p.Precompute()
		return p, nil
	case *ecdsa.PrivateKey:
		return p, nil
	}
	return nil, ErrKeyUnsealing.Wrapf("the decrypted key is %T, neither RSA nor ECDSA", k)
}
