package token

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"time"

	"github.com/avowhq/avow/internal/jsonenc"
)

// Token lifetimes of MAA (maa.md §0, §2.2).
const (
	// AttestationLifetime: exp = iat + 8 h on attestation tokens.
	AttestationLifetime = 8 * time.Hour
	// ManagementLifetime: exp = iat + 1 h on policy and certificate
	// management result tokens.
	ManagementLifetime = time.Hour
)

// Claims the issuer sets; Issue refuses them in the caller's claims.
var reservedClaims = [...]string{"iss", "iat", "nbf", "exp", "jti"}

// unsignedHeader is base64url({"alg":"none"}), MAA's header for tokens of
// draft policies.
const unsignedHeader = "eyJhbGciOiJub25lIn0"

// Header is a JWS header as avow writes and reads it.
type Header struct {
	Alg string `json:"alg"`
	JKU string `json:"jku,omitempty"`
	KID string `json:"kid,omitempty"`
	Typ string `json:"typ,omitempty"`
	// X5C is read for display only: verification never trusts a key the
	// token brings itself.
	X5C  []string `json:"x5c,omitempty"`
	Crit []string `json:"crit,omitempty"`
}

// signedHeader is the header avow signs with, in MAA's member order.
type signedHeader struct {
	Alg string `json:"alg"`
	JKU string `json:"jku"`
	KID string `json:"kid"`
	Typ string `json:"typ"`
}

// Issue returns a compact JWS (RS256) of claims signed with key:
//
//	header  {"alg":"RS256","jku":issuer+"/certs","kid":key.KID,"typ":"JWT"}
//	payload claims + iss, iat (now, whole seconds), nbf = iat,
//	        exp = iat + lifetime, jti — compact JSON, keys in lexicographic order
//
// jti is the caller's value, or 32 random bytes as 64 lower-case hex
// characters when empty. claims must not contain iss, iat, nbf, exp or jti,
// and must be serialisable by encoding/json (maps are written with sorted
// keys, structs in field order; HTML characters are not escaped). claims is
// not modified. The key must be active at now (ErrKeyRetired) and its
// private key precomputed, as GenerateSigningKey, NewSigningKey and
// OpenPrivateKey leave it.
func Issue(claims map[string]any, key *SigningKey, issuer string, now time.Time, lifetime time.Duration, jti string) (string, error) {
	if key == nil || (key.Private == nil && key.EC == nil) || key.KID == "" {
		return "", ErrIssueFailed.Wrap(errNilKey)
	}
	if !key.Active(now) {
		return "", ErrKeyRetired.Wrapf("key %s retired at %s", key.KID, key.RetiredAt.UTC().Format(time.RFC3339))
	}
	payload, err := payloadJSON(claims, issuer, now, lifetime, jti)
	if err != nil {
		return "", err
	}
	alg := key.Alg()
	hdr, err := compactJSON(signedHeader{Alg: alg, JKU: issuer + "/certs", KID: key.KID, Typ: "JWT"})
	if err != nil {
		return "", ErrIssueFailed.Wrap(err)
	}
	enc := base64.RawURLEncoding
	sigLen := enc.EncodedLen(64)
	if key.Private != nil {
		sigLen = enc.EncodedLen(key.Private.Size())
	}
	buf := make([]byte, 0, enc.EncodedLen(len(hdr))+1+enc.EncodedLen(len(payload))+1+sigLen)
	buf = enc.AppendEncode(buf, hdr)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	var sig []byte
	if alg == AlgES256 {
		sig, err = signES256(key.EC, buf)
	} else {
		digest := sha256.Sum256(buf)
		sig, err = rsa.SignPKCS1v15(nil, key.Private, crypto.SHA256, digest[:])
	}
	if err != nil {
		return "", ErrIssueFailed.Wrapf("signing: %v", err)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// IssueUnsigned returns an unsecured JWT "header.payload." with header
// {"alg":"none"} and the payload Issue would write; MAA returns such tokens
// for attestations against a draft policy (draftPolicyForAttestation).
func IssueUnsigned(claims map[string]any, issuer string, now time.Time, lifetime time.Duration, jti string) (string, error) {
	payload, err := payloadJSON(claims, issuer, now, lifetime, jti)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	buf := make([]byte, 0, len(unsignedHeader)+2+enc.EncodedLen(len(payload)))
	buf = append(buf, unsignedHeader...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	buf = append(buf, '.')
	return string(buf), nil
}

// NewJTI returns a random token id: 32 bytes as 64 lower-case hex
// characters, the form of MAA's jti.
func NewJTI() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

func payloadJSON(claims map[string]any, issuer string, now time.Time, lifetime time.Duration, jti string) ([]byte, error) {
	if issuer == "" {
		return nil, ErrIssueFailed.Wrapf("no issuer")
	}
	if now.IsZero() {
		return nil, ErrIssueFailed.Wrapf("the issue time is zero")
	}
	if lifetime < time.Second {
		return nil, ErrIssueFailed.Wrapf("lifetime %v is shorter than one second", lifetime)
	}
	for _, c := range reservedClaims {
		if _, ok := claims[c]; ok {
			return nil, ErrIssueFailed.Wrapf("claim %q is set by the issuer and must not be supplied", c)
		}
	}
	if jti == "" {
		var err error
		if jti, err = NewJTI(); err != nil {
			return nil, ErrIssueFailed.Wrapf("generating jti: %v", err)
		}
	}
	iat := now.Unix()
	exp := iat + int64(lifetime/time.Second)
	b, err := claimsJSON.AppendObject(make([]byte, 0, 4096), jsonenc.SortedKeys(claims, reservedClaims[:]...), func(k string) any {
		switch k { // the reserved claims, which claims does not have
		case "iss":
			return issuer
		case "iat", "nbf":
			return iat
		case "exp":
			return exp
		case "jti":
			return jti
		}
		return claims[k]
	})
	if err != nil {
		return nil, ErrIssueFailed.Wrapf("encoding claims: %v", err)
	}
	return b, nil
}

// claimsJSON writes tokens' JSON: compact, map keys sorted, HTML characters
// not escaped.
var claimsJSON = jsonenc.Encoder{}

// compactJSON is json.Marshal without HTML escaping.
func compactJSON(v any) ([]byte, error) { return claimsJSON.Marshal(v) }
