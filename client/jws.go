package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
)

// UnsignedResetDocument is the body of an unsigned policy reset: a JWS with
// header {"alg":"none"}, an empty payload and an empty signature.
const UnsignedResetDocument = "eyJhbGciOiJub25lIn0.."

// ResetDocument returns the body of a policy reset: UnsignedResetDocument
// when signerKey is nil, else a JWS with an empty payload signed by
// signerKey, whose certificate (then its chain) goes into the header's x5c;
// the signature covers "<header>." as in MAA's .NET SDK.
func ResetDocument(signerKey crypto.Signer, signerCerts []*x509.Certificate) (string, error) {
	if signerKey == nil {
		return UnsignedResetDocument, nil
	}
	return signJWS(nil, signerKey, signerCerts)
}

// SignerChangeDocument returns the body of certificates:add and
// certificates:remove: a JWS signed by a current policy signer (signerKey
// and its certificate signerCert, which goes into the header's x5c) with
// the payload {"policyCertificate":{"kty":"RSA"|"EC","x5c":["<base64 DER>"]}}
// naming cert, the certificate to add or remove.
func SignerChangeDocument(cert *x509.Certificate, signerKey crypto.Signer, signerCert *x509.Certificate) (string, error) {
	if cert == nil {
		return "", ErrInvalidArgument.Wrapf("no certificate to add or remove")
	}
	if signerKey == nil || signerCert == nil {
		return "", ErrInvalidArgument.Wrapf("a signer change must be signed: give the current signer's key and certificate")
	}
	kty, err := keyType(cert.PublicKey)
	if err != nil {
		return "", ErrInvalidArgument.Wrapf("certificate %s: %v", cert.Subject, err)
	}
	payload, _ := json.Marshal(map[string]any{
		"policyCertificate": map[string]any{
			"kty": kty,
			"x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)},
		},
	})
	return signJWS(payload, signerKey, []*x509.Certificate{signerCert})
}

func keyType(pub crypto.PublicKey) (string, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		return "RSA", nil
	case *ecdsa.PublicKey:
		return "EC", nil
	}
	return "", ErrInvalidArgument.Wrapf("key type %T is neither RSA nor EC", pub)
}

// signJWS signs payload (nil for an empty payload) as policy documents
// are signed: RS256 for RSA keys, ES256 (JOSE r||s) for ECDSA P-256 keys;
// the header is {"alg","x5c"}.
func signJWS(payload []byte, key crypto.Signer, certs []*x509.Certificate) (string, error) {
	if len(certs) == 0 || certs[0] == nil {
		return "", ErrInvalidArgument.Wrapf("no signing certificate; the signer's certificate goes into the header")
	}
	jws, err := policy.SignJWS(payload, key, certs, "")
	if err != nil {
		return "", ErrInvalidArgument.Wrapf("%s", errs.Detail(err))
	}
	return jws, nil
}
