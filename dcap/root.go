package dcap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/hex"
)

// IntelRootKeyHex is the public key of the Intel SGX Root CA (uncompressed
// P-256 point), the key QvE pins as INTEL_ROOT_PUB_KEY. Trust in Intel's
// root is trust in this key: the root certificate itself arrives in every
// quote's certification data.
const IntelRootKeyHex = "040ba9c4c0c0c86193a3fe23d6b02cda10a8bbd4e88e48b4458561a36e705525f567918e2edc88e40d860bd0cc4ee26aacc988e505a953558c453f6b0904ae7394"

var intelRootKey = func() []byte {
	b, err := hex.DecodeString(IntelRootKeyHex)
	if err != nil {
		panic(err)
	}
	return b
}()

// rootKeyBytes returns the uncompressed point of cert's ECDSA P-256 key, or
// nil if it has another kind of key.
func rootKeyBytes(cert *x509.Certificate) []byte {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil
	}
	b, err := pub.Bytes()
	if err != nil {
		return nil
	}
	return b
}

// IntelRootKey returns a copy of the pinned Intel SGX Root CA key.
func IntelRootKey() []byte { return append([]byte(nil), intelRootKey...) }

// RootKey returns cert's key as an uncompressed P-256 point, the form
// Options.TrustedRootKeys takes, or nil if it is not a P-256 key.
func RootKey(cert *x509.Certificate) []byte { return rootKeyBytes(cert) }
