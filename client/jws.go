package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"math/big"
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

// signJWS signs payload (nil for an empty payload): RS256 for RSA keys,
// ES256 (JOSE r||s) for ECDSA P-256 keys; the header is {"alg","x5c"}.
func signJWS(payload []byte, key crypto.Signer, certs []*x509.Certificate) (string, error) {
	if len(certs) == 0 || certs[0] == nil {
		return "", ErrInvalidArgument.Wrapf("no signing certificate; the signer's certificate goes into the header")
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if e, ok := key.Public().(equaler); !ok || !e.Equal(certs[0].PublicKey) {
		return "", ErrInvalidArgument.Wrapf("the signing key does not match the certificate %s", certs[0].Subject)
	}
	var alg string
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		alg = "RS256"
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", ErrInvalidArgument.Wrapf("ECDSA signing keys must be P-256, this one is %s", pub.Curve.Params().Name)
		}
		alg = "ES256"
	default:
		return "", ErrInvalidArgument.Wrapf("unsupported signing key type %T; use RSA or ECDSA P-256", pub)
	}
	x5c := make([]string, len(certs))
	for i, c := range certs {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	hb, _ := json.Marshal(struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}{alg, x5c})
	signing := b64url.EncodeToString(hb) + "." + b64url.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	sig, err := key.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		return "", ErrInvalidArgument.Wrapf("signing: %v", err)
	}
	if alg == "ES256" {
		var esig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &esig); err != nil {
			return "", ErrInvalidArgument.Wrapf("ECDSA signature: %v", err)
		}
		raw := make([]byte, 64)
		esig.R.FillBytes(raw[:32])
		esig.S.FillBytes(raw[32:])
		sig = raw
	}
	return signing + "." + b64url.EncodeToString(sig), nil
}
