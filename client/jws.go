package client

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/policy"
)

// UnsignedResetDocument is the body of an unsigned policy reset: a JWS with
// header {"alg":"none"}, an empty payload and an empty signature.
const UnsignedResetDocument = "eyJhbGciOiJub25lIn0.."

// DefaultDocumentValidity is how long a document the client signs is valid
// (its exp is iat + DefaultDocumentValidity) unless DocumentValidity says
// otherwise.
const DefaultDocumentValidity = 10 * time.Minute

// The operations of a signer change document (its x-avow-operation).
const (
	SignerAdd    = policy.OpAddSigner
	SignerRemove = policy.OpRemoveSigner
)

// DocumentOption sets the claims of a document the client signs.
type DocumentOption func(*documentOptions)

type documentOptions struct {
	now      time.Time
	validity time.Duration
}

// DocumentTime sets the document's iat and nbf (default: the current time).
func DocumentTime(now time.Time) DocumentOption {
	return func(o *documentOptions) { o.now = now }
}

// DocumentValidity sets how long the document is valid: exp = iat + d.
// 0 leaves iat, nbf and exp out (documents as MAA's SDKs make them, valid
// until the signer is removed). Negative durations are refused.
func DocumentValidity(d time.Duration) DocumentOption {
	return func(o *documentOptions) { o.validity = d }
}

// claims returns the document claims for op ("" for none) under opts.
func documentClaims(op string, opts []DocumentOption) (policy.DocumentClaims, error) {
	o := documentOptions{validity: DefaultDocumentValidity}
	for _, f := range opts {
		f(&o)
	}
	if o.validity < 0 {
		return policy.DocumentClaims{}, ErrInvalidArgument.Wrapf("a document validity must not be negative, not %v", o.validity)
	}
	if o.now.IsZero() {
		o.now = time.Now()
	}
	return policy.ValidFor(op, o.now.Truncate(time.Second), o.validity), nil
}

// PolicyDocument returns the body of a policy set: policy.UnsignedDocument
// when signerKey is nil, else a document signed by signerKey, whose
// certificate (then its chain) goes into the header's x5c, with iat, nbf
// and exp (DocumentTime, DocumentValidity) beside AttestationPolicy. The
// policy text is not checked (policy.Parse does).
func PolicyDocument(text string, signerKey crypto.Signer, signerCerts []*x509.Certificate, opts ...DocumentOption) (string, error) {
	if signerKey == nil {
		return policy.UnsignedDocument(text), nil
	}
	if len(signerCerts) == 0 || signerCerts[0] == nil {
		return "", ErrInvalidArgument.Wrapf("no signing certificate; the signer's certificate goes into the header")
	}
	c, err := documentClaims("", opts)
	if err != nil {
		return "", err
	}
	jws, err := policy.SignDocumentClaims(text, signerKey, signerCerts, "", c)
	if err != nil {
		return "", ErrInvalidArgument.Wrapf("%s", errs.Detail(err))
	}
	return jws, nil
}

// ResetDocument returns the body of a policy reset: UnsignedResetDocument
// when signerKey is nil, else a JWS with an empty payload signed by
// signerKey, whose certificate (then its chain) goes into the header's x5c;
// the signature covers "<header>." as in MAA's .NET SDK. The payload of a
// reset must stay empty, so its iat, nbf and exp (DocumentTime,
// DocumentValidity) are members of the protected header.
func ResetDocument(signerKey crypto.Signer, signerCerts []*x509.Certificate, opts ...DocumentOption) (string, error) {
	if signerKey == nil {
		return UnsignedResetDocument, nil
	}
	if len(signerCerts) == 0 || signerCerts[0] == nil {
		return "", ErrInvalidArgument.Wrapf("no signing certificate; the signer's certificate goes into the header")
	}
	c, err := documentClaims("", opts)
	if err != nil {
		return "", err
	}
	jws, err := policy.SignResetDocument(signerKey, signerCerts, "", c)
	if err != nil {
		return "", ErrInvalidArgument.Wrapf("%s", errs.Detail(err))
	}
	return jws, nil
}

// SignerChangeDocument returns the body of certificates:add (op SignerAdd)
// or certificates:remove (op SignerRemove): a JWS signed by a current
// policy signer (signerKey and its certificate signerCert, which goes into
// the header's x5c) with the payload
// {"policyCertificate":{"kty":"RSA"|"EC","x5c":["<base64 DER>"]}} naming
// cert, the certificate to add or remove, plus x-avow-operation (op) and
// iat, nbf and exp (DocumentTime, DocumentValidity). An avow server refuses
// the document for the other operation and outside its validity; MAA's own
// format has neither member.
func SignerChangeDocument(op string, cert *x509.Certificate, signerKey crypto.Signer, signerCert *x509.Certificate, opts ...DocumentOption) (string, error) {
	if op != SignerAdd && op != SignerRemove {
		return "", ErrInvalidArgument.Wrapf("a signer change is %q or %q, not %q", SignerAdd, SignerRemove, op)
	}
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
	c, err := documentClaims(op, opts)
	if err != nil {
		return "", err
	}
	jws, err := policy.SignObject(map[string]any{
		"policyCertificate": map[string]any{
			"kty": kty,
			"x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)},
		},
	}, c, signerKey, []*x509.Certificate{signerCert}, "")
	if err != nil {
		return "", ErrInvalidArgument.Wrapf("%s", errs.Detail(err))
	}
	return jws, nil
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
