package token

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// VerifyOptions are the checks Verify applies besides the signature.
type VerifyOptions struct {
	// Issuer, when not empty, must equal the token's iss exactly.
	Issuer string
	// Now is the verification time; required (time is an input, never the
	// wall clock by default).
	Now time.Time
	// Slack is the clock skew tolerated on exp and nbf; not negative.
	Slack time.Duration
	// AllowUnsigned accepts "alg":"none" tokens (MAA's draft-policy
	// tokens); their time and issuer checks still apply.
	AllowUnsigned bool
}

// Verify checks a compact JWS token as MAA's SDKs do (maa.md §2.6) and
// returns its claims and header:
//
//   - exactly three dot-separated base64url (no padding) parts, the header
//     and payload JSON objects (ErrMalformed); a crit header is refused;
//   - alg "none" only with AllowUnsigned (ErrUnsigned) and then with an
//     empty signature; any alg but RS256, ES256 and none is ErrAlgorithmUnsupported;
//   - the signing key is chosen by the header kid among keys
//     (ErrUnknownKey if none has it; every key with that kid is tried);
//     without a kid every key is tried. A key the token carries itself
//     (header x5c or jwk) is never used. RSASSA-PKCS1-v1_5 with SHA-256
//     (ErrSignatureInvalid);
//   - exp is required: the token is expired when Now >= exp + Slack
//     (ErrExpired); with nbf, it is not yet valid when Now + Slack < nbf
//     (ErrNotYetValid); exp, nbf and iat must be numbers;
//   - with Issuer set, iss must be that string (ErrIssuerMismatch).
//
// Claims are decoded with numbers as json.Number, so that they re-encode
// exactly. On failure the claims are nil; the header is returned whenever
// it could be parsed.
func Verify(token string, keys []PublicKey, opts VerifyOptions) (map[string]any, *Header, error) {
	if opts.Now.IsZero() {
		return nil, nil, ErrOptionsInvalid.Wrapf("Now is not set")
	}
	if opts.Slack < 0 {
		return nil, nil, ErrOptionsInvalid.Wrapf("negative slack %v", opts.Slack)
	}
	p, err := split(token)
	if err != nil {
		return nil, nil, err
	}
	h := p.header
	switch h.Alg {
	case "none":
		if !opts.AllowUnsigned {
			return nil, h, ErrUnsigned
		}
		if len(p.sig) != 0 {
			return nil, h, ErrMalformed.Wrapf("an alg none token has a signature")
		}
	case "RS256":
		if err := verifyRS256(p, keys); err != nil {
			return nil, h, err
		}
	case "ES256":
		if err := verifyES256(p, keys); err != nil {
			return nil, h, err
		}
	default:
		return nil, h, ErrAlgorithmUnsupported.Wrapf("alg %q", h.Alg)
	}
	claims, err := decodeClaims(p.payload)
	if err != nil {
		return nil, h, err
	}
	if err := checkTimes(claims, opts.Now, opts.Slack); err != nil {
		return nil, h, err
	}
	if opts.Issuer != "" {
		iss, ok := claims["iss"].(string)
		if !ok {
			return nil, h, ErrIssuerMismatch.Wrapf("the token has no iss; expected %q", opts.Issuer)
		}
		if iss != opts.Issuer {
			return nil, h, ErrIssuerMismatch.Wrapf("iss %q, expected %q", iss, opts.Issuer)
		}
	}
	return claims, h, nil
}

// DecodeUnverified parses a token without checking its signature, times or
// issuer — for display only (avow token show). The errors are Verify's
// ErrMalformed.
func DecodeUnverified(token string) (map[string]any, *Header, error) {
	p, err := split(token)
	if err != nil {
		return nil, nil, err
	}
	claims, err := decodeClaims(p.payload)
	if err != nil {
		return nil, p.header, err
	}
	return claims, p.header, nil
}

type parts struct {
	signingInput string // header "." payload, as received
	header       *Header
	payload      []byte
	sig          []byte
}

var b64url = base64.RawURLEncoding.Strict()

func split(token string) (*parts, error) {
	if strings.Count(token, ".") != 2 {
		return nil, ErrMalformed.Wrapf("%d dot-separated parts, want 3", strings.Count(token, ".")+1)
	}
	i := strings.IndexByte(token, '.')
	j := i + 1 + strings.IndexByte(token[i+1:], '.')
	names := [3]string{"header", "payload", "signature"}
	segs := [3]string{token[:i], token[i+1 : j], token[j+1:]}
	var dec [3][]byte
	for n, s := range segs {
		if n < 2 && s == "" {
			return nil, ErrMalformed.Wrapf("empty %s", names[n])
		}
		for k := 0; k < len(s); k++ {
			c := s[k]
			if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return nil, ErrMalformed.Wrapf("the %s has a character outside base64url at offset %d", names[n], k)
			}
		}
		b, err := b64url.DecodeString(s)
		if err != nil {
			return nil, ErrMalformed.Wrapf("the %s is not base64url: %v", names[n], err)
		}
		dec[n] = b
	}
	if err := jsonObject(dec[0]); err != nil {
		return nil, ErrMalformed.Wrapf("the header: %v", err)
	}
	var h Header
	if err := json.Unmarshal(dec[0], &h); err != nil {
		return nil, ErrMalformed.Wrapf("the header: %v", err)
	}
	if h.Alg == "" {
		return nil, ErrMalformed.Wrapf("the header has no alg")
	}
	if len(h.Crit) != 0 {
		return nil, ErrMalformed.Wrapf("the header has critical extensions %q, none of which is supported", h.Crit)
	}
	return &parts{signingInput: token[:j], header: &h, payload: dec[1], sig: dec[2]}, nil
}

// jsonObject checks that b is one JSON object and nothing else.
func jsonObject(b []byte) error {
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("not a JSON object")
	}
	if !json.Valid(b) {
		return fmt.Errorf("not valid JSON")
	}
	return nil
}

func verifyRS256(p *parts, keys []PublicKey) error {
	kid := p.header.KID
	var candidates []*rsa.PublicKey
	matched := 0
	for i := range keys {
		if kid != "" && keys[i].KID != kid {
			continue
		}
		matched++
		if pub, ok := keys[i].Key.(*rsa.PublicKey); ok && pub != nil {
			candidates = append(candidates, pub)
		}
	}
	if matched == 0 {
		if kid == "" {
			return ErrUnknownKey.Wrapf("the token has no kid and no keys were given")
		}
		return ErrUnknownKey.Wrapf("kid %q is not among the %d trusted keys", kid, len(keys))
	}
	if len(p.sig) == 0 {
		return ErrSignatureInvalid.Wrapf("the signature is empty")
	}
	digest := sha256.Sum256([]byte(p.signingInput))
	for _, pub := range candidates {
		if rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], p.sig) == nil {
			return nil
		}
	}
	if len(candidates) == 0 {
		return ErrSignatureInvalid.Wrapf("no RSA key among the %d keys with kid %q", matched, kid)
	}
	return ErrSignatureInvalid.Wrapf("no key with kid %q verifies the RS256 signature", kid)
}

func decodeClaims(payload []byte) (map[string]any, error) {
	if err := jsonObject(payload); err != nil {
		return nil, ErrMalformed.Wrapf("the payload: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var claims map[string]any
	if err := dec.Decode(&claims); err != nil {
		return nil, ErrMalformed.Wrapf("the payload: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrMalformed.Wrapf("the payload has data after the JSON object")
	}
	return claims, nil
}

// numericDate reads a NumericDate claim: absent (ok false), or a JSON
// number of seconds since the epoch.
func numericDate(claims map[string]any, name string) (time.Time, bool, error) {
	v, ok := claims[name]
	if !ok {
		return time.Time{}, false, nil
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return time.Time{}, false, ErrMalformed.Wrapf("%s is %T, not a number", name, v)
	}
	if i, err := n.Int64(); err == nil {
		return time.Unix(i, 0), true, nil
	}
	f, err := n.Float64()
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1<<53 {
		return time.Time{}, false, ErrMalformed.Wrapf("%s = %s is not a valid time", name, n)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

func checkTimes(claims map[string]any, now time.Time, slack time.Duration) error {
	exp, ok, err := numericDate(claims, "exp")
	if err != nil {
		return err
	}
	if !ok {
		return ErrMalformed.Wrapf("the token has no exp claim")
	}
	nbf, hasNBF, err := numericDate(claims, "nbf")
	if err != nil {
		return err
	}
	if _, _, err := numericDate(claims, "iat"); err != nil {
		return err
	}
	if !now.Before(exp.Add(slack)) {
		return ErrExpired.Wrapf("exp %s, now %s, slack %v", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), slack)
	}
	if hasNBF && now.Add(slack).Before(nbf) {
		return ErrNotYetValid.Wrapf("nbf %s, now %s, slack %v", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), slack)
	}
	return nil
}
