package nvgpu

import (
	"bytes"
	"crypto"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"math/big"
	"strings"
	"time"

	"golang.org/x/crypto/ocsp"
)

const maxOCSPLen = 1 << 16

// DecodeOCSP accepts an OCSP response as DER or as base64 of DER (the form
// NVIDIA's and Google's test data keep it in).
func DecodeOCSP(b []byte) ([]byte, error) {
	if len(b) > 2*maxOCSPLen {
		return nil, ErrRevocationInvalid.Wrapf("%d bytes", len(b))
	}
	if len(b) > 0 && b[0] == 0x30 {
		return b, nil
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(b)), ""))
	if err != nil {
		return nil, ErrRevocationInvalid.Wrapf("neither DER nor base64: %v", err)
	}
	return der, nil
}

// certID is the CertID of an OCSP single response.
type certID struct {
	HashAlgorithm  pkix.AlgorithmIdentifier
	IssuerNameHash []byte
	IssuerKeyHash  []byte
	SerialNumber   *big.Int
}

// OCSPKey identifies the certificate an OCSP answer is for: its serial and
// its issuer's key hash (hex), as in the CertID.
type OCSPKey struct {
	Serial        string // hex, upper case
	IssuerKeyHash string // hex of the hash the CertID uses
}

// ResponseKeys reads the CertIDs of an OCSP response without verifying it
// (to index a folder of answers).
func ResponseKeys(der []byte) ([]OCSPKey, error) {
	ids, err := responseCertIDs(der)
	if err != nil {
		return nil, err
	}
	keys := make([]OCSPKey, len(ids))
	for i, id := range ids {
		keys[i] = OCSPKey{Serial: strings.ToUpper(id.SerialNumber.Text(16)), IssuerKeyHash: hexs(id.IssuerKeyHash)}
	}
	return keys, nil
}

// KeyFor returns the OCSPKey of a certificate issued by issuer (SHA-384
// key hash, as NVIDIA's responders use).
func KeyFor(c, issuer *x509.Certificate) OCSPKey {
	h := sha512.Sum384(spkBits(issuer))
	return OCSPKey{Serial: strings.ToUpper(c.SerialNumber.Text(16)), IssuerKeyHash: hexs(h[:])}
}

func responseCertIDs(der []byte) ([]certID, error) {
	var resp struct {
		Status   asn1.Enumerated
		Response struct {
			Type     asn1.ObjectIdentifier
			Response []byte
		} `asn1:"explicit,tag:0,optional"`
	}
	if rest, err := asn1.Unmarshal(der, &resp); err != nil || len(rest) != 0 {
		return nil, ErrRevocationInvalid.Wrapf("not an OCSP response")
	}
	var basic struct {
		TBS asn1.RawValue
	}
	if _, err := asn1.Unmarshal(resp.Response.Response, &basic); err != nil {
		return nil, ErrRevocationInvalid.Wrapf("not a basic OCSP response")
	}
	// The Responses elements hold more than CertID; decode leniently.
	var tbsRaw struct {
		Version     int `asn1:"optional,explicit,default:0,tag:0"`
		ResponderID asn1.RawValue
		ProducedAt  time.Time `asn1:"generalized"`
		Responses   []asn1.RawValue
	}
	if _, err := asn1.Unmarshal(basic.TBS.FullBytes, &tbsRaw); err != nil {
		return nil, ErrRevocationInvalid.Wrapf("OCSP response data: %v", err)
	}
	var ids []certID
	for _, r := range tbsRaw.Responses {
		var id certID
		if _, err := asn1.Unmarshal(r.Bytes, &id); err != nil {
			return nil, ErrRevocationInvalid.Wrapf("OCSP CertID: %v", err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// spkBits is the subject public key BIT STRING's bytes (the input of the
// CertID key hash).
func spkBits(c *x509.Certificate) []byte {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil {
		return nil
	}
	return spki.PublicKey.RightAlign()
}

// OCSPMode is how OCSP answers are judged in time.
type OCSPMode int

const (
	// OCSPCurrent: every answer must be current at the verification time
	// (thisUpdate ≤ t ≤ nextUpdate, responder certificate valid at t).
	OCSPCurrent OCSPMode = iota
	// OCSPAsOfThisUpdate: every answer is judged at its own thisUpdate
	// (responder valid then, thisUpdate ≤ nextUpdate) and accepted while
	// no older than MaxRevocationAge at the verification time: for
	// collateral fetched on a connected machine and carried to an
	// air-gapped one. The result says "not revoked as of" the oldest
	// thisUpdate.
	OCSPAsOfThisUpdate
)

// OCSPStatus is the outcome of one certificate's revocation check.
type OCSPStatus struct {
	Subject    string    `json:"subject"`
	Serial     string    `json:"serial"`
	Status     string    `json:"status"` // good, revoked, unknown
	ThisUpdate time.Time `json:"thisUpdate"`
	NextUpdate time.Time `json:"nextUpdate"`
	JudgedAt   time.Time `json:"judgedAt"`
	Responder  string    `json:"responder"`
	Reason     int       `json:"revocationReason,omitempty"`
	SHA256     string    `json:"sha256"` // of the DER answer: the collateral hash
}

// checkOCSP verifies one DER OCSP answer for cert (issued by issuer) and
// judges it at the time the mode says. It returns the status on success.
func checkOCSP(der []byte, cert, issuer *x509.Certificate, now time.Time, mode OCSPMode, maxAge time.Duration) (*OCSPStatus, error) {
	if len(der) > maxOCSPLen {
		return nil, ErrRevocationInvalid.Wrapf("%d-byte answer", len(der))
	}
	resp, err := parseOCSP(der, cert, issuer)
	if err != nil {
		return nil, ErrRevocationInvalid.Wrapf("for %q: %v", cert.Subject.String(), err)
	}
	// x/crypto/ocsp matches the serial only; the CertID's issuer hashes
	// must be the issuer's too.
	ids, err := responseCertIDs(der)
	if err != nil {
		return nil, err
	}
	matched := false
	for _, id := range ids {
		if id.SerialNumber.Cmp(cert.SerialNumber) != 0 {
			continue
		}
		h := hashFor(id.HashAlgorithm.Algorithm)
		if h == 0 {
			return nil, ErrRevocationInvalid.Wrapf("CertID hash %v is not supported", id.HashAlgorithm.Algorithm)
		}
		nh := h.New()
		nh.Write(issuer.RawSubject)
		kh := h.New()
		kh.Write(spkBits(issuer))
		if bytes.Equal(nh.Sum(nil), id.IssuerNameHash) && bytes.Equal(kh.Sum(nil), id.IssuerKeyHash) {
			matched = true
		}
	}
	if !matched {
		return nil, ErrRevocationInvalid.Wrapf("the answer's CertID is not %q's", cert.Subject.String())
	}
	st := &OCSPStatus{Subject: cert.Subject.String(), Serial: strings.ToUpper(cert.SerialNumber.Text(16)),
		ThisUpdate: resp.ThisUpdate.UTC(), NextUpdate: resp.NextUpdate.UTC(), SHA256: sha256hex(der)}
	responder := issuer
	if resp.Certificate != nil {
		responder = resp.Certificate
		// A delegated responder must be allowed to sign OCSP answers.
		ok := false
		for _, u := range responder.ExtKeyUsage {
			if u == x509.ExtKeyUsageOCSPSigning {
				ok = true
			}
		}
		if !ok && !bytes.Equal(responder.Raw, issuer.Raw) {
			return nil, ErrRevocationInvalid.Wrapf("responder %q lacks the OCSP signing usage", responder.Subject.String())
		}
	}
	st.Responder = responder.Subject.String()
	if resp.NextUpdate.IsZero() || resp.NextUpdate.Before(resp.ThisUpdate) {
		return nil, ErrRevocationInvalid.Wrapf("answer for %q has no usable nextUpdate", cert.Subject.String())
	}
	at := now
	switch mode {
	case OCSPCurrent:
		if now.Before(resp.ThisUpdate) || now.After(resp.NextUpdate) {
			return nil, ErrRevocationStale.Wrapf("answer for %q is valid %s to %s, not at %s", cert.Subject.String(), rfc(resp.ThisUpdate), rfc(resp.NextUpdate), rfc(now))
		}
	case OCSPAsOfThisUpdate:
		at = resp.ThisUpdate
		if now.Before(resp.ThisUpdate) {
			return nil, ErrRevocationStale.Wrapf("answer for %q is from %s, after the verification time %s", cert.Subject.String(), rfc(resp.ThisUpdate), rfc(now))
		}
		if maxAge > 0 && now.Sub(resp.ThisUpdate) > maxAge {
			return nil, ErrRevocationStale.Wrapf("answer for %q from %s is older than %s at %s", cert.Subject.String(), rfc(resp.ThisUpdate), maxAge, rfc(now))
		}
	}
	st.JudgedAt = at.UTC()
	if at.Before(responder.NotBefore) || at.After(responder.NotAfter) {
		return nil, ErrRevocationInvalid.Wrapf("responder %q is not valid at %s (valid %s to %s)", responder.Subject.String(), rfc(at), rfc(responder.NotBefore), rfc(responder.NotAfter))
	}
	switch resp.Status {
	case ocsp.Good:
		st.Status = "good"
	case ocsp.Revoked:
		st.Status, st.Reason = "revoked", resp.RevocationReason
		return st, ErrRevoked.Wrapf("%q revoked at %s (reason %d)", cert.Subject.String(), rfc(resp.RevokedAt), resp.RevocationReason)
	default:
		st.Status = "unknown"
		return st, ErrRevocationInvalid.Wrapf("the responder does not know %q", cert.Subject.String())
	}
	return st, nil
}

var (
	oidSHA1   = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}
	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
)

func hashFor(oid asn1.ObjectIdentifier) crypto.Hash {
	switch {
	case oid.Equal(oidSHA1):
		return crypto.SHA1
	case oid.Equal(oidSHA256):
		return crypto.SHA256
	case oid.Equal(oidSHA384):
		return crypto.SHA384
	case oid.Equal(oidSHA512):
		return crypto.SHA512
	}
	return 0
}

func rfc(t time.Time) string { return t.UTC().Format(time.RFC3339) }
