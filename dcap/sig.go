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

// sigID identifies a signature check for the cache: the signer's key, the
// digest of the message and the signature.
func sigID(pub *ecdsa.PublicKey, digest, sig []byte) [32]byte {
	h := sha256.New()
	if kb, err := pub.Bytes(); err == nil {
		h.Write(kb)
	}
	h.Write(digest)
	h.Write(sig)
	var id [32]byte
	h.Sum(id[:0])
	return id
}

// checkCertSignature verifies that issuer signed cert (ECDSA-SHA256 over the
// TBS bytes), memoised in the cache.
func (c *Cache) checkCertSignature(cert, issuer *x509.Certificate) bool {
	pub := p256Key(issuer)
	if pub == nil || cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return false
	}
	digest := sha256.Sum256(cert.RawTBSCertificate)
	return c.checked(sigID(pub, digest[:], cert.Signature), func() bool {
		return ecdsa.VerifyASN1(pub, digest[:], cert.Signature)
	})
}

// checkCRLSignature verifies that issuer signed crl, memoised.
func (c *Cache) checkCRLSignature(crl *x509.RevocationList, issuer *x509.Certificate) bool {
	pub := p256Key(issuer)
	if pub == nil || crl.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		return false
	}
	digest := sha256.Sum256(crl.RawTBSRevocationList)
	return c.checked(sigID(pub, digest[:], crl.Signature), func() bool {
		return ecdsa.VerifyASN1(pub, digest[:], crl.Signature)
	})
}

// checkJSONSignature verifies an r||s signature over signed JSON whose
// SHA-256 is digest, memoised.
func (c *Cache) checkJSONSignature(signer *x509.Certificate, digest [32]byte, sig []byte) bool {
	pub := p256Key(signer)
	if pub == nil {
		return false
	}
	return c.checked(sigID(pub, digest[:], sig), func() bool { return verifyRS(pub, digest[:], sig) })
}
