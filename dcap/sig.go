package dcap

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"math/big"
)

// verifyRS checks a 64-byte r||s ECDSA-P256 signature over digest.
func verifyRS(pub *ecdsa.PublicKey, digest []byte, sig []byte) bool {
	if pub == nil || len(sig) != 64 || pub.Curve != elliptic.P256() {
		return false
	}
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pub, digest, r, s)
}

// p256Key returns cert's public key if it is ECDSA P-256.
func p256Key(cert *x509.Certificate) *ecdsa.PublicKey {
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil
	}
	return pub
}

// sigID identifies a signature check for the cache: the signer's key
// (uncompressed point), the digest of the message and the signature.
func sigID(key, digest, sig []byte) [32]byte {
	h := sha256.New()
	h.Write(key)
	h.Write(digest)
	h.Write(sig)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// checkCertSignature verifies that the holder of key signed cert
// (ECDSA-SHA256 over the TBS bytes), memoised in the cache.
func (c *Cache) checkCertSignature(cert *x509.Certificate, key []byte) bool {
	if key == nil || cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return false
	}
	digest := sha256.Sum256(cert.RawTBSCertificate)
	return c.checked(sigID(key, digest[:], cert.Signature), func() bool {
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
		return err == nil && ecdsa.VerifyASN1(pub, digest[:], cert.Signature)
	})
}

// checkCRLSignature verifies that the holder of key signed crl, memoised.
func (c *Cache) checkCRLSignature(crl *x509.RevocationList, key []byte) bool {
	if key == nil || crl.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return false
	}
	digest := sha256.Sum256(crl.RawTBSRevocationList)
	return c.checked(sigID(key, digest[:], crl.Signature), func() bool {
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
		return err == nil && ecdsa.VerifyASN1(pub, digest[:], crl.Signature)
	})
}

// checkJSONSignature verifies an r||s signature by the holder of key over
// signed JSON whose SHA-256 is digest, memoised.
func (c *Cache) checkJSONSignature(key []byte, digest [32]byte, sig []byte) bool {
	if key == nil {
		return false
	}
	return c.checked(sigID(key, digest[:], sig), func() bool {
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), key)
		return err == nil && verifyRS(pub, digest[:], sig)
	})
}
