package policy

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
	"encoding/hex"
	"encoding/json"
	"math/big"
	"strings"
	"time"
)

// Document is a policy document: the JWS that carries a policy to MAA's
// policy endpoints, unsigned (alg "none") or signed. Its payload is
// {"AttestationPolicy": "<base64url of the policy text>"}.
type Document struct {
	// Raw is the JWS exactly as received (what x-ms-policy-token-hash hashes).
	Raw string
	// Algorithm is the header's alg as sent ("none", "RS256", "RSA256", ...).
	Algorithm string
	// Signed is true for a signed document whose signature verified.
	Signed bool
	// Certificates is the header's x5c chain (or jwk.x5c); Certificates[0]
	// signed the document. Whether the signer is trusted is the caller's
	// decision (an isolated provider compares it with its signer set).
	Certificates []*x509.Certificate
	// Text is the policy text; empty for a document with an empty payload
	// (the body of a policy reset).
	Text string
	// Encoded is the AttestationPolicy string as received.
	Encoded string
	// Warnings notes tolerated deviations (for example a payload that holds
	// the policy text itself rather than its base64url).
	Warnings []Warning

	// Kind is what the payload makes the document for (see
	// ParseManagementDocument); ParseDocument sets KindPolicy or KindReset.
	Kind DocumentKind
	// PolicyCertificate is the certificate a signer change names
	// (KindSigner).
	PolicyCertificate *x509.Certificate
	// Operation is the OperationClaim ("add", "remove", ...), "" when
	// absent.
	Operation string
	// IssuedAt, NotBefore and Expiry are the document's iat, nbf and exp
	// (from the payload or the protected header; zero when absent).
	IssuedAt, NotBefore, Expiry time.Time
}

// PolicyHash returns the document's x-ms-policy-hash (see PolicyHash).
func (d *Document) PolicyHash() string { return PolicyHash(d.Text) }

// TokenHash returns the document's x-ms-policy-token-hash.
func (d *Document) TokenHash() string { return PolicyTokenHash(d.Raw) }

var b64 = base64.RawURLEncoding

// PolicyHash returns x-ms-policy-hash for a policy text: the base64url
// (no padding) SHA-256 of the base64url (no padding) encoding of the UTF-8
// text, that is of the AttestationPolicy string of the policy document in
// canonical form.
func PolicyHash(text string) string {
	sum := sha256.Sum256([]byte(b64.EncodeToString([]byte(text))))
	return b64.EncodeToString(sum[:])
}

// PolicyTokenHash returns x-ms-policy-token-hash for a policy document: the
// base64url (no padding) SHA-256 of the JWS exactly as sent.
func PolicyTokenHash(jws string) string {
	sum := sha256.Sum256([]byte(jws))
	return b64.EncodeToString(sum[:])
}

// LegacyPolicyHash returns maa-policyHash, the claim of pre-2020-10-01
// tokens: the lower-case hex SHA-256 of the UTF-8 policy text.
func LegacyPolicyHash(text string) string {
	sum := sha256.Sum256([]byte(text))
	return hex.EncodeToString(sum[:])
}

// decodeB64 decodes base64url without padding and tolerates padding and
// standard base64.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if b, err := b64.DecodeString(s); err == nil {
		return b, nil
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// LooksLikeDocument reports whether data is a compact JWS rather than
// policy text (three dot-separated base64url parts with a JSON header).
func LooksLikeDocument(data string) bool {
	s := strings.TrimSpace(data)
	if !strings.HasPrefix(s, "ey") || strings.Count(s, ".") != 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '.' || c == '-' || c == '_' || c == '=' || c == '+' || c == '/' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

type jwsHeader struct {
	Alg string          `json:"alg"`
	X5c []string        `json:"x5c"`
	Jwk json.RawMessage `json:"jwk"`
}

// ParseDocument decodes a policy document and, when it is signed, verifies
// its signature with the certificate in the header's x5c (or jwk.x5c).
// Accepted algorithms: none (empty signature), RS256 and its alias RSA256,
// PS256, ES256 and its alias ECDH256; the algorithm must fit the
// certificate's key (RSA, or ECDSA P-256 with a JOSE r||s or DER signature).
// It does not judge whether the signer is trusted, nor parse the policy
// text (call Parse on Document.Text). It is ParseManagementDocument
// without signer changes: the result is a policy or a reset.
func ParseDocument(jws string) (*Document, error) {
	d, err := ParseManagementDocument(jws)
	if err != nil {
		return nil, err
	}
	if d.Kind == KindSigner {
		return nil, ErrDocumentPayload.Wrapf("payload has no AttestationPolicy member: it is a signer change (policyCertificate)")
	}
	return d, nil
}

// readPolicy reads the AttestationPolicy member of a payload into
// d.Encoded and d.Text.
func (d *Document) readPolicy(payload map[string]json.RawMessage) error {
	raw, ok := policyMember(payload)
	if !ok {
		return ErrDocumentPayload.Wrapf("payload has no AttestationPolicy member")
	}
	if err := json.Unmarshal(raw, &d.Encoded); err != nil {
		return ErrDocumentPayload.Wrapf("AttestationPolicy is not a string")
	}
	text, err := decodeB64(d.Encoded)
	switch {
	case err == nil:
		d.Text = string(text)
	case strings.HasPrefix(strings.ToLower(strings.TrimSpace(d.Encoded)), "version"):
		// Documents of the 2020 preview carried the text itself.
		d.Text = d.Encoded
		d.Warnings = append(d.Warnings, Warning{Code: WarnRawPolicyDocument, Message: "AttestationPolicy holds the policy text itself rather than its base64url encoding (the 2020 preview format); avow accepts it, current MAA expects base64url"})
	default:
		return ErrDocumentPayload.Wrapf("AttestationPolicy is not base64url: %v", err)
	}
	return nil
}

// parseJWS decodes a compact JWS header and verifies its signature (alg
// none: an empty signature) without looking at the payload.
func parseJWS(jws string) (*Document, []string, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, nil, ErrDocumentMalformed.Wrapf("a compact JWS has 3 parts separated by \".\", this has %d", len(parts))
	}
	hb, err := decodeB64(parts[0])
	if err != nil {
		return nil, nil, ErrDocumentMalformed.Wrapf("header is not base64url: %v", err)
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, ErrDocumentMalformed.Wrapf("header is not a JSON object: %v", err)
	}
	d := &Document{Raw: jws, Algorithm: h.Alg}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(hb, &claims); err == nil {
		if err := d.readClaims(claims, "header"); err != nil {
			return nil, nil, err
		}
	}
	switch alg := strings.ToUpper(h.Alg); alg {
	case "NONE":
		if parts[2] != "" {
			return nil, nil, ErrDocumentMalformed.Wrapf("an unsigned document (alg none) must have an empty signature")
		}
	case "RS256", "RSA256", "PS256", "ES256", "ECDH256":
		if err := d.verify(alg, h, parts); err != nil {
			return nil, nil, err
		}
		d.Signed = true
	case "":
		return nil, nil, ErrDocumentAlg.Wrapf("the header has no alg")
	default:
		return nil, nil, ErrDocumentAlg.Wrapf("alg %q is not supported; use none, RS256, PS256 or ES256", h.Alg)
	}
	return d, parts, nil
}

func (d *Document) verify(alg string, h jwsHeader, parts []string) error {
	x5c := h.X5c
	if len(x5c) == 0 && len(h.Jwk) > 0 {
		var jwk struct {
			X5c []string `json:"x5c"`
		}
		if err := json.Unmarshal(h.Jwk, &jwk); err != nil {
			return ErrDocumentMalformed.Wrapf("header jwk is not a JSON object: %v", err)
		}
		x5c = jwk.X5c
	}
	if len(x5c) == 0 {
		return ErrSignerMissing.Wrapf("a signed policy document needs the signing certificate in the header's x5c or jwk.x5c")
	}
	for i, c := range x5c {
		der, err := base64.StdEncoding.DecodeString(c)
		if err != nil {
			if der, err = decodeB64(c); err != nil {
				return ErrSignerCertificate.Wrapf("x5c[%d] is not base64: %v", i, err)
			}
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return ErrSignerCertificate.Wrapf("x5c[%d] is not an X.509 certificate: %v", i, err)
		}
		d.Certificates = append(d.Certificates, cert)
	}
	sig, err := decodeB64(parts[2])
	if err != nil {
		return ErrDocumentMalformed.Wrapf("signature is not base64url: %v", err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch pub := d.Certificates[0].PublicKey.(type) {
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RSA256":
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig)
		case "PS256":
			err = rsa.VerifyPSS(pub, crypto.SHA256, digest[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto})
		default:
			return ErrDocumentAlg.Wrapf("alg %s does not fit the certificate's RSA key", d.Algorithm)
		}
		if err != nil {
			return ErrSignatureInvalid.Wrapf("%s signature does not verify with x5c[0] (%s)", d.Algorithm, d.Certificates[0].Subject)
		}
	case *ecdsa.PublicKey:
		if alg != "ES256" && alg != "ECDH256" {
			return ErrDocumentAlg.Wrapf("alg %s does not fit the certificate's EC key", d.Algorithm)
		}
		if pub.Curve != elliptic.P256() {
			return ErrDocumentAlg.Wrapf("ES256 needs a P-256 key, the certificate has %s", pub.Curve.Params().Name)
		}
		ok := false
		if len(sig) == 64 {
			r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			ok = ecdsa.Verify(pub, digest[:], r, s)
		}
		if !ok {
			ok = ecdsa.VerifyASN1(pub, digest[:], sig)
		}
		if !ok {
			return ErrSignatureInvalid.Wrapf("%s signature does not verify with x5c[0] (%s)", d.Algorithm, d.Certificates[0].Subject)
		}
	default:
		return ErrSignerCertificate.Wrapf("the certificate's key type %T cannot sign policies", pub)
	}
	return nil
}

// UnsignedDocument returns the unsigned policy document (alg none) for a
// policy text, as the SDKs send it: {"alg":"none"} header, compact JSON
// payload, empty signature.
func UnsignedDocument(text string) string {
	return "eyJhbGciOiJub25lIn0." + b64.EncodeToString(payloadJSON(text)) + "."
}

func payloadJSON(text string) []byte {
	b, _ := json.Marshal(struct {
		AttestationPolicy string `json:"AttestationPolicy"`
	}{b64.EncodeToString([]byte(text))})
	return b
}

// SignDocument returns a signed policy document for a policy text. The key
// must match certs[0]; RSA keys sign RS256 and ECDSA P-256 keys ES256
// (JOSE r||s). The header carries the chain in x5c. SignDocument does not
// parse the policy; callers check it first with Parse.
func SignDocument(text string, key crypto.Signer, certs []*x509.Certificate) (string, error) {
	return SignDocumentAlg(text, key, certs, "")
}

// SignDocumentAlg is SignDocument with an explicit algorithm: "" (from the
// key), "RS256", "PS256" or "ES256".
func SignDocumentAlg(text string, key crypto.Signer, certs []*x509.Certificate, alg string) (string, error) {
	return SignJWS(payloadJSON(text), key, certs, alg)
}

// SignJWS signs any payload the way policy documents are signed: header
// {"alg","x5c"} with the chain, alg "" (from the key), "RS256", "PS256" or
// "ES256" (JOSE r||s). The key must match certs[0]. MAA's other signed
// bodies (certificates:add/remove, signed resets) use it too.
func SignJWS(payload []byte, key crypto.Signer, certs []*x509.Certificate, alg string) (string, error) {
	return signJWS(payload, key, certs, alg, nil)
}

// signJWS is SignJWS with extra protected header members.
func signJWS(payload []byte, key crypto.Signer, certs []*x509.Certificate, alg string, extraHeader map[string]any) (string, error) {
	if key == nil {
		return "", ErrSignKey.Wrapf("no signing key")
	}
	if len(certs) == 0 {
		return "", ErrSignKey.Wrapf("no signing certificate; MAA needs the signer's certificate in the header")
	}
	if !publicKeysEqual(key.Public(), certs[0].PublicKey) {
		return "", ErrSignKey.Wrapf("the key does not match the certificate %s", certs[0].Subject)
	}
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if alg == "" {
			alg = "RS256"
		}
		if alg != "RS256" && alg != "PS256" {
			return "", ErrSignKey.Wrapf("an RSA key signs RS256 or PS256, not %s", alg)
		}
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", ErrSignKey.Wrapf("ECDSA keys must be P-256 (ES256), this key is %s", pub.Curve.Params().Name)
		}
		if alg == "" {
			alg = "ES256"
		}
		if alg != "ES256" {
			return "", ErrSignKey.Wrapf("an ECDSA key signs ES256, not %s", alg)
		}
	default:
		return "", ErrSignKey.Wrapf("unsupported key type %T; use RSA or ECDSA P-256", pub)
	}
	x5c := make([]string, len(certs))
	for i, c := range certs {
		x5c[i] = base64.StdEncoding.EncodeToString(c.Raw)
	}
	var hb []byte
	if len(extraHeader) == 0 {
		hb, _ = json.Marshal(struct {
			Alg string   `json:"alg"`
			X5c []string `json:"x5c"`
		}{alg, x5c})
	} else {
		h := map[string]any{"alg": alg, "x5c": x5c}
		for k, v := range extraHeader {
			if k != "alg" && k != "x5c" {
				h[k] = v
			}
		}
		hb, _ = json.Marshal(h)
	}
	signing := b64.EncodeToString(hb) + "." + b64.EncodeToString(payload)
	digest := sha256.Sum256([]byte(signing))
	var opts crypto.SignerOpts = crypto.SHA256
	if alg == "PS256" {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256}
	}
	sig, err := key.Sign(rand.Reader, digest[:], opts)
	if err != nil {
		return "", ErrSignKey.Wrap(err)
	}
	if alg == "ES256" {
		var esig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(sig, &esig); err != nil {
			return "", ErrSignKey.Wrapf("ECDSA signature: %v", err)
		}
		raw := make([]byte, 64)
		esig.R.FillBytes(raw[:32])
		esig.S.FillBytes(raw[32:])
		sig = raw
	}
	return signing + "." + b64.EncodeToString(sig), nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	e, ok := a.(equaler)
	return ok && e.Equal(b)
}
