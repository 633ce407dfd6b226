package token

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"sort"
	"time"
)

// KeyBits is the size of the RSA keys GenerateSigningKey makes.
const KeyBits = 2048

// MinKeyBits is the smallest RSA modulus NewSigningKey accepts for signing.
const MinKeyBits = 2048

// CertificateNotAfter is the end of validity of generated signing
// certificates, like MAA's self-signed signing certificates (maa.md §1.8).
var CertificateNotAfter = time.Date(2050, 12, 31, 23, 59, 59, 0, time.UTC)

// SigningKey is a token signing key of a provider: an RSA private key, its
// self-signed certificate (published as x5c[0] in the JWKS) and its key id.
type SigningKey struct {
	// KID is base64url without padding of SHA-256(Certificate.Raw): stable,
	// derived from public data only, and unique per certificate.
	KID     string
	Private *rsa.PrivateKey // RS256 keys
	// EC is the private key of an ES256 key (ECDSA P-256); Private is then
	// nil. See Alg.
	EC          *ecdsa.PrivateKey
	Certificate *x509.Certificate
	CreatedAt   time.Time
	// RetiredAt is when the key stopped (or stops) signing; zero means
	// active. A retired key stays in the JWKS until its last token expires
	// (see Published).
	RetiredAt time.Time
}

// KeyID returns the kid of a certificate: base64url (no padding) of the
// SHA-256 of its DER encoding.
func KeyID(certDER []byte) string {
	sum := sha256.Sum256(certDER)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// GenerateSigningKey makes a new RSA-2048 signing key with a self-signed
// certificate (CN=subjectCN, valid from now-1h to 2050-12-31, key usage
// digital signature). random supplies the certificate serial number; nil
// means crypto/rand. Since Go 1.26 the RSA key itself always comes from the
// system's secure source (tests that need a fixed key use
// testing/cryptotest.SetGlobalRandom). The private key is precomputed for
// fast signing.
func GenerateSigningKey(random io.Reader, subjectCN string, now time.Time) (*SigningKey, error) {
	return GenerateSigningKeyAlg(random, AlgRS256, subjectCN, now)
}

// GenerateSigningKeyAlg makes a signing key for alg: RSA-2048 for RS256
// (GenerateSigningKey), ECDSA P-256 for ES256, each with a self-signed
// certificate of the same shape.
func GenerateSigningKeyAlg(random io.Reader, alg, subjectCN string, now time.Time) (*SigningKey, error) {
	if random == nil {
		random = rand.Reader
	}
	if now.IsZero() {
		return nil, ErrKeyGeneration.Wrapf("the creation time is zero")
	}
	var priv crypto.Signer
	var err error
	switch alg {
	case AlgRS256, "":
		priv, err = rsa.GenerateKey(random, KeyBits)
	case AlgES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		return nil, ErrKeyGeneration.Wrapf("unsupported algorithm %q", alg)
	}
	if err != nil {
		return nil, ErrKeyGeneration.Wrap(err)
	}
	serialBytes := make([]byte, 16)
	if _, err := io.ReadFull(random, serialBytes); err != nil {
		return nil, ErrKeyGeneration.Wrapf("reading the certificate serial: %v", err)
	}
	serialBytes[0] &= 0x7f // positive
	serialBytes[0] |= 0x40 // and 16 bytes long, never zero
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(serialBytes),
		Subject:               pkix.Name{CommonName: subjectCN},
		Issuer:                pkix.Name{CommonName: subjectCN},
		NotBefore:             now.Add(-time.Hour).UTC().Truncate(time.Second),
		NotAfter:              CertificateNotAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, ErrKeyGeneration.Wrapf("creating the certificate: %v", err)
	}
	return NewSigningKeyFromPrivate(der, priv, now, time.Time{})
}

// NewSigningKey assembles a signing key from its certificate (DER) and
// private key, as loaded from the store: it checks that the certificate's
// public key is the private key's and that the key is RSA with at least
// 2048 bits, computes the kid, and precomputes the private key.
func NewSigningKey(certDER []byte, priv *rsa.PrivateKey, createdAt, retiredAt time.Time) (*SigningKey, error) {
	if priv == nil {
		return nil, ErrKeyInvalid.Wrapf("no private key")
	}
	cert, err := x509.ParseCertificate(certDER)
	if err != nil {
		return nil, ErrKeyInvalid.Wrapf("parsing the certificate: %v", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, ErrKeyInvalid.Wrapf("the certificate key is %T, not RSA", cert.PublicKey)
	}
	if !pub.Equal(&priv.PublicKey) {
		return nil, ErrKeyInvalid.Wrapf("the certificate's public key does not belong to the private key")
	}
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return nil, ErrKeyInvalid.Wrapf("RSA key of %d bits; at least %d are required", bits, MinKeyBits)
	}
	if err := priv.Validate(); err != nil {
		return nil, ErrKeyInvalid.Wrapf("the private key does not validate")
	}
	priv.Precompute()
	return &SigningKey{
		KID:         KeyID(cert.Raw),
		Private:     priv,
		Certificate: cert,
		CreatedAt:   createdAt,
		RetiredAt:   retiredAt,
	}, nil
}

// Active reports whether k may sign at now: it is not retired, or its
// retirement is still in the future.
func (k *SigningKey) Active(now time.Time) bool {
	return k.RetiredAt.IsZero() || now.Before(k.RetiredAt)
}

// PublicKey returns the verification key of k (kid, public key, certificate).
// A key loaded without its private half (for publishing only) takes the
// public key from its certificate.
func (k *SigningKey) PublicKey() PublicKey {
	pk := PublicKey{KID: k.KID}
	if k.Certificate != nil {
		pk.Key = k.Certificate.PublicKey
		pk.Certificates = []*x509.Certificate{k.Certificate}
	}
	if k.Private != nil {
		pk.Key = &k.Private.PublicKey
	}
	if k.EC != nil {
		pk.Key = &k.EC.PublicKey
	}
	return pk
}

// PublicKeys returns the verification keys of keys, in order.
func PublicKeys(keys []*SigningKey) []PublicKey {
	out := make([]PublicKey, 0, len(keys))
	for _, k := range keys {
		if k != nil {
			out = append(out, k.PublicKey())
		}
	}
	return out
}

// ActiveKey returns the newest (latest CreatedAt) key that is active at
// now, or nil when none is.
func ActiveKey(keys []*SigningKey, now time.Time) *SigningKey {
	var best *SigningKey
	for _, k := range keys {
		if k == nil || !k.Active(now) {
			continue
		}
		if best == nil || k.CreatedAt.After(best.CreatedAt) {
			best = k
		}
	}
	return best
}

// Published returns the keys a JWKS must list at now: active keys, and
// retired keys whose last token (signed at RetiredAt at the latest, valid
// for at most maxLifetime) can still be valid. Newest first.
func Published(keys []*SigningKey, now time.Time, maxLifetime time.Duration) []*SigningKey {
	var out []*SigningKey
	for _, k := range keys {
		if k == nil {
			continue
		}
		if k.Active(now) || now.Before(k.RetiredAt.Add(maxLifetime)) {
			out = append(out, k)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out
}

var errNilKey = errors.New("no signing key")
