package policy

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"math"
	"strings"
	"time"
)

// DocumentKind is what a policy-management document is made for, as its
// payload tells: MAA's four operations take three payloads.
type DocumentKind string

const (
	// KindReset: an empty payload, the body of POST /policies/{type}:reset.
	KindReset DocumentKind = "reset"
	// KindPolicy: {"AttestationPolicy": ...}, the body of PUT /policies/{type}.
	KindPolicy DocumentKind = "policy"
	// KindSigner: {"policyCertificate": JWK} (or the legacy names
	// maa-policyCertificate, aas-policyCertificate), the body of both
	// POST /certificates:add and :remove.
	KindSigner DocumentKind = "signer"
)

// The operations of the policy endpoints, as named by the x-avow-operation
// member (OperationClaim) and by CheckUse.
const (
	OpSetPolicy    = "set"
	OpResetPolicy  = "reset"
	OpAddSigner    = "add"
	OpRemoveSigner = "remove"
)

// OperationClaim is the payload member in which avow's client names the
// operation a signed document is made for. MAA's formats have no such
// member: certificates:add and :remove take identical documents. When it
// is present the server refuses the document for any other operation.
const OperationClaim = "x-avow-operation"

// DocumentClockSkew is the clock difference tolerated between the signer
// of a document and the server on exp, nbf and iat.
const DocumentClockSkew = 2 * time.Minute

// signerMembers are the payload names of the certificate of a signer
// change, the current one first.
var signerMembers = []string{"policyCertificate", "maa-policyCertificate", "aas-policyCertificate"}

// DocumentClaims are the optional claims that bound the use of a document:
// the operation it is made for (OperationClaim) and its validity (iat,
// nbf, exp, as JWT NumericDates). Zero values are absent. In a document
// with a payload they are payload members; a reset's payload must stay
// empty, so there they are members of the protected header.
type DocumentClaims struct {
	Operation string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
}

// ValidFor returns claims issued at now, valid from now for validity (no
// time claims when validity is 0), for operation op ("" for none).
func ValidFor(op string, now time.Time, validity time.Duration) DocumentClaims {
	c := DocumentClaims{Operation: op}
	if validity > 0 {
		c.IssuedAt, c.NotBefore, c.Expiry = now, now, now.Add(validity)
	}
	return c
}

// members adds the claims to a JSON object.
func (c DocumentClaims) members(m map[string]any) {
	if c.Operation != "" {
		m[OperationClaim] = c.Operation
	}
	for name, t := range map[string]time.Time{"iat": c.IssuedAt, "nbf": c.NotBefore, "exp": c.Expiry} {
		if !t.IsZero() {
			m[name] = t.Unix()
		}
	}
}

// readClaims reads OperationClaim, iat, nbf and exp from a JSON object
// (a payload or a header) into d; where both the header and the payload
// carry a time, the stricter one counts.
func (d *Document) readClaims(obj map[string]json.RawMessage, where string) error {
	if raw, ok := obj[OperationClaim]; ok {
		var op string
		if err := json.Unmarshal(raw, &op); err != nil || op == "" {
			return ErrDocumentPayload.Wrapf("%s: %s is not a non-empty string", where, OperationClaim)
		}
		if d.Operation != "" && d.Operation != op {
			return ErrDocumentPayload.Wrapf("the header and the payload name different operations (%q, %q)", d.Operation, op)
		}
		d.Operation = op
	}
	for _, name := range []string{"iat", "nbf", "exp"} {
		raw, ok := obj[name]
		if !ok {
			continue
		}
		var f float64
		if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
			return ErrDocumentPayload.Wrapf("%s: %s is not a NumericDate (seconds since 1970)", where, name)
		}
		sec, frac := math.Modf(f)
		t := time.Unix(int64(sec), int64(frac*1e9)).UTC()
		switch name {
		case "iat":
			if d.IssuedAt.IsZero() || t.After(d.IssuedAt) {
				d.IssuedAt = t
			}
		case "nbf":
			if d.NotBefore.IsZero() || t.After(d.NotBefore) {
				d.NotBefore = t
			}
		case "exp":
			if d.Expiry.IsZero() || t.Before(d.Expiry) {
				d.Expiry = t
			}
		}
	}
	return nil
}

// ParseManagementDocument decodes the body of any of MAA's policy
// management operations (policy set, reset, signer add and remove),
// verifies its signature when it is signed (as ParseDocument) and tells
// its Kind from the payload: empty (a reset), AttestationPolicy (a policy)
// or policyCertificate (a signer change; PolicyCertificate is set). A
// payload with both, or neither, is refused. It also reads the claims that
// bound the document's use (Operation, IssuedAt, NotBefore, Expiry) from
// the payload and the protected header. Whether the document fits an
// operation is CheckUse's decision, whether the signer is trusted the
// caller's.
func ParseManagementDocument(jws string) (*Document, error) {
	d, parts, err := parseJWS(jws)
	if err != nil {
		return nil, err
	}
	if parts[1] == "" {
		d.Kind = KindReset
		return d, nil
	}
	pb, err := decodeB64(parts[1])
	if err != nil {
		return nil, ErrDocumentMalformed.Wrapf("payload is not base64url: %v", err)
	}
	var payload map[string]json.RawMessage
	if err := json.Unmarshal(pb, &payload); err != nil {
		return nil, ErrDocumentPayload.Wrapf("the payload is neither empty (a reset) nor a JSON object: %v", err)
	}
	_, isPolicy := policyMember(payload)
	signerRaw, isSigner := signerMember(payload)
	switch {
	case isPolicy && isSigner:
		return nil, ErrDocumentPayload.Wrapf("the payload carries both AttestationPolicy and policyCertificate; a document serves one operation")
	case isPolicy:
		if err := d.readPolicy(payload); err != nil {
			return nil, err
		}
		d.Kind = KindPolicy
	case isSigner:
		cert, err := parsePolicyCertificate(signerRaw)
		if err != nil {
			return nil, err
		}
		d.Kind, d.PolicyCertificate = KindSigner, cert
	default:
		return nil, ErrDocumentPayload.Wrapf("the payload has neither AttestationPolicy (a policy) nor policyCertificate (a signer change)")
	}
	if err := d.readClaims(payload, "payload"); err != nil {
		return nil, err
	}
	return d, nil
}

// operationKinds maps each operation to the document kind it takes.
var operationKinds = map[string]DocumentKind{
	OpSetPolicy: KindPolicy, OpResetPolicy: KindReset, OpAddSigner: KindSigner, OpRemoveSigner: KindSigner,
}

var kindNames = map[DocumentKind]string{
	KindPolicy: "a policy (AttestationPolicy)", KindReset: "a policy reset (empty payload)", KindSigner: "a signer change (policyCertificate)",
}

// CheckUse refuses a document offered to an operation (OpSetPolicy,
// OpResetPolicy, OpAddSigner, OpRemoveSigner) it was not made for: another
// kind of payload (ErrDocumentOperation), or an OperationClaim naming
// another operation (ErrDocumentOperation); and a document outside its
// validity at now, with skew tolerated on each bound: exp passed
// (ErrDocumentExpired), nbf not reached (ErrDocumentNotYetValid), iat in
// the future (ErrDocumentIssuedInFuture). Documents without these claims
// (those of MAA's SDKs) are not bounded in time.
func (d *Document) CheckUse(op string, now time.Time, skew time.Duration) error {
	want, ok := operationKinds[op]
	if !ok {
		return ErrDocumentOperation.Wrapf("unknown operation %q", op)
	}
	if d.Kind != want {
		what := kindNames[d.Kind]
		if what == "" {
			what = "not a policy-management document"
		}
		return ErrDocumentOperation.Wrapf("the document is %s; %s takes %s", what, opNames[op], kindNames[want])
	}
	if d.Operation != "" && d.Operation != op {
		return ErrDocumentOperation.Wrapf("the document is made for %q (%s), not for %s", d.Operation, OperationClaim, opNames[op])
	}
	if !d.Expiry.IsZero() && !now.Before(d.Expiry.Add(skew)) {
		return ErrDocumentExpired.Wrapf("exp %s, now %s", stamp(d.Expiry), stamp(now))
	}
	if !d.NotBefore.IsZero() && now.Add(skew).Before(d.NotBefore) {
		return ErrDocumentNotYetValid.Wrapf("nbf %s, now %s", stamp(d.NotBefore), stamp(now))
	}
	if !d.IssuedAt.IsZero() && now.Add(skew).Before(d.IssuedAt) {
		return ErrDocumentIssuedInFuture.Wrapf("iat %s, now %s", stamp(d.IssuedAt), stamp(now))
	}
	return nil
}

var opNames = map[string]string{
	OpSetPolicy: "a policy set", OpResetPolicy: "a policy reset", OpAddSigner: "a signer addition", OpRemoveSigner: "a signer removal",
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// CheckCertificateTime refuses a certificate outside its validity period
// at now (ErrSignerExpired); what names it in the error.
func CheckCertificateTime(cert *x509.Certificate, now time.Time, what string) error {
	switch {
	case now.Before(cert.NotBefore):
		return ErrSignerExpired.Wrapf("%s %q is not valid before %s (now %s)", what, cert.Subject.String(), stamp(cert.NotBefore), stamp(now))
	case now.After(cert.NotAfter):
		return ErrSignerExpired.Wrapf("%s %q expired at %s (now %s)", what, cert.Subject.String(), stamp(cert.NotAfter), stamp(now))
	}
	return nil
}

func policyMember(payload map[string]json.RawMessage) (json.RawMessage, bool) {
	if raw, ok := payload["AttestationPolicy"]; ok {
		return raw, true
	}
	for k, v := range payload {
		if strings.EqualFold(k, "AttestationPolicy") {
			return v, true
		}
	}
	return nil, false
}

func signerMember(payload map[string]json.RawMessage) (json.RawMessage, bool) {
	for _, name := range signerMembers {
		if v, ok := payload[name]; ok {
			return v, true
		}
	}
	return nil, false
}

// parsePolicyCertificate reads the JWK of a signer change: its x5c[0].
func parsePolicyCertificate(raw json.RawMessage) (*x509.Certificate, error) {
	var jwk struct {
		X5c []string `json:"x5c"`
	}
	if err := json.Unmarshal(raw, &jwk); err != nil || len(jwk.X5c) == 0 {
		return nil, ErrDocumentPayload.Wrapf("policyCertificate is not a JWK with an x5c certificate")
	}
	der, err := base64.StdEncoding.DecodeString(jwk.X5c[0])
	if err != nil {
		return nil, ErrDocumentPayload.Wrapf("policyCertificate x5c[0] is not base64")
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, ErrDocumentPayload.Wrapf("policyCertificate x5c[0] is not an X.509 certificate")
	}
	return cert, nil
}

// SignDocumentClaims is SignDocumentAlg with claims in the payload beside
// AttestationPolicy.
func SignDocumentClaims(text string, key crypto.Signer, certs []*x509.Certificate, alg string, c DocumentClaims) (string, error) {
	m := map[string]any{"AttestationPolicy": b64.EncodeToString([]byte(text))}
	return SignObject(m, c, key, certs, alg)
}

// SignObject signs a JSON object payload (members plus the claims c) as
// SignJWS does.
func SignObject(members map[string]any, c DocumentClaims, key crypto.Signer, certs []*x509.Certificate, alg string) (string, error) {
	m := make(map[string]any, len(members)+4)
	for k, v := range members {
		m[k] = v
	}
	c.members(m)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", ErrSignKey.Wrapf("payload: %v", err)
	}
	return SignJWS(bytes.TrimSpace(buf.Bytes()), key, certs, alg)
}

// SignResetDocument returns a signed reset: an empty payload (as MAA
// requires) whose protected header carries the claims c beside alg and
// x5c; the signature covers "<header>.".
func SignResetDocument(key crypto.Signer, certs []*x509.Certificate, alg string, c DocumentClaims) (string, error) {
	extra := map[string]any{}
	c.members(extra)
	return signJWS(nil, key, certs, alg, extra)
}
