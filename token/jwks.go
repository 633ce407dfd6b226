package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// PublicKey is a token verification key: the kid it is published under and
// the public key (an *rsa.PublicKey for RS256). Certificates is the parsed
// x5c chain, leaf first, when the key came with one; a bare key (from a PEM
// file, say) has none.
type PublicKey struct {
	KID          string
	Key          crypto.PublicKey
	Certificates []*x509.Certificate
}

// JWK is one key of avow's JWKS: MAA's members kty, kid, x5c (the
// certificate DER in standard, padded base64), alg and use (as MAA's
// 2025-06-01 Get_Certs example shows them: "RS256", "sig"), plus the RSA
// modulus n and exponent e (RFC 7518 §6.3.1). MAA's SDKs read x5c[0]; n and
// e are added so that generic JOSE libraries (go-jose, OpenID client
// libraries), which need them, can use the same document.
type JWK struct {
	Kty string   `json:"kty"`
	Kid string   `json:"kid"`
	X5c []string `json:"x5c"`
	// Alg is the key's token algorithm (RS256 or ES256), Use is "sig".
	Alg string `json:"alg,omitempty"`
	Use string `json:"use,omitempty"`
	N   string `json:"n,omitempty"`
	E   string `json:"e,omitempty"`
	// Crv, X and Y are an EC key's members (ES256 providers).
	Crv string `json:"crv,omitempty"`
	X   string `json:"x,omitempty"`
	Y   string `json:"y,omitempty"`
}

// KeySet is a JWKS document.
type KeySet struct {
	Keys []JWK `json:"keys"`
}

// NewKeySet returns the JWKS of keys, in the given order (see Published
// for which keys to list).
func NewKeySet(keys []*SigningKey) KeySet {
	ks := KeySet{Keys: make([]JWK, 0, len(keys))}
	for _, k := range keys {
		if k == nil || k.Certificate == nil {
			continue
		}
		j := JWK{Kty: "RSA", Kid: k.KID, X5c: []string{base64.StdEncoding.EncodeToString(k.Certificate.Raw)},
			Alg: k.Alg(), Use: "sig"}
		switch pub := k.Certificate.PublicKey.(type) {
		case *rsa.PublicKey:
			j.N = base64.RawURLEncoding.EncodeToString(pub.N.Bytes())
			j.E = base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			ecJWK(&j, pub)
		}
		ks.Keys = append(ks.Keys, j)
	}
	return ks
}

// JWKS returns the JSON of NewKeySet(keys), the body of GET /certs:
// {"keys":[{"kty":"RSA","kid":...,"x5c":["<base64 DER>"],"alg":"RS256","use":"sig","n":...,"e":...}]}.
func JWKS(keys []*SigningKey) []byte {
	b, err := compactJSON(NewKeySet(keys))
	if err != nil {
		panic("token: encoding a JWKS: " + err.Error()) // strings only; cannot happen
	}
	return b
}

// rawJWK is a JWK as read: only the members verification uses.
type rawJWK struct {
	Kty string   `json:"kty"`
	Kid string   `json:"kid"`
	X5c []string `json:"x5c"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	D   *string  `json:"d"`
	K   *string  `json:"k"`
}

// ParseJWKS reads a JWKS document ({"keys":[...]}) into verification keys,
// in document order. A key's public key is that of its x5c[0] certificate
// (how MAA's SDKs read /certs, whose keys have only kty, kid and x5c) or,
// without x5c, the RSA n and e; when both are present they must agree. The
// x5c chain is parsed but not verified: trust in the keys comes from where
// the document was fetched. Keys that carry no usable public key (another
// kty without x5c, such as EC by coordinates) are skipped; keys with private
// or symmetric material, unparseable certificates, or a kty that contradicts
// the certificate make the whole document invalid (ErrJWKSInvalid).
func ParseJWKS(data []byte) ([]PublicKey, error) {
	var doc struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, ErrJWKSInvalid.Wrapf("not a JSON object: %v", err)
	}
	if doc.Keys == nil {
		return nil, ErrJWKSInvalid.Wrapf("no \"keys\" array")
	}
	out := make([]PublicKey, 0, len(*doc.Keys))
	for i, raw := range *doc.Keys {
		pk, ok, err := parseJWK(raw)
		if err != nil {
			return nil, ErrJWKSInvalid.Wrapf("key %d: %v", i, err)
		}
		if ok {
			out = append(out, pk)
		}
	}
	return out, nil
}

func parseJWK(raw json.RawMessage) (PublicKey, bool, error) {
	var j rawJWK
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return PublicKey{}, false, fmt.Errorf("null key")
	}
	if err := json.Unmarshal(raw, &j); err != nil {
		return PublicKey{}, false, err
	}
	if j.D != nil || j.K != nil {
		return PublicKey{}, false, fmt.Errorf("contains private or symmetric key material")
	}
	if j.Kty == "" {
		return PublicKey{}, false, fmt.Errorf("no kty")
	}
	pk := PublicKey{KID: j.Kid}
	for n, s := range j.X5c {
		der, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil {
			return PublicKey{}, false, fmt.Errorf("x5c[%d] is not standard base64", n)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return PublicKey{}, false, fmt.Errorf("x5c[%d]: %v", n, err)
		}
		pk.Certificates = append(pk.Certificates, cert)
	}
	var nePub *rsa.PublicKey
	if j.Kty == "RSA" && (j.N != "" || j.E != "") {
		var err error
		if nePub, err = rsaFromNE(j.N, j.E); err != nil {
			return PublicKey{}, false, err
		}
	}
	if len(pk.Certificates) > 0 {
		pk.Key = pk.Certificates[0].PublicKey
		certRSA, isRSA := pk.Key.(*rsa.PublicKey)
		if (j.Kty == "RSA") != isRSA {
			return PublicKey{}, false, fmt.Errorf("kty %q but the x5c[0] key is %T", j.Kty, pk.Key)
		}
		if nePub != nil && !nePub.Equal(certRSA) {
			return PublicKey{}, false, fmt.Errorf("n/e do not match the x5c[0] key")
		}
		return pk, true, nil
	}
	if nePub != nil {
		pk.Key = nePub
		return pk, true, nil
	}
	if j.Kty == "RSA" {
		return PublicKey{}, false, fmt.Errorf("RSA key without x5c or n/e")
	}
	return PublicKey{}, false, nil
}

func rsaFromNE(n64, e64 string) (*rsa.PublicKey, error) {
	n, err := base64.RawURLEncoding.Strict().DecodeString(n64)
	if err != nil || len(n) == 0 {
		return nil, fmt.Errorf("n is not base64url")
	}
	e, err := base64.RawURLEncoding.Strict().DecodeString(e64)
	if err != nil || len(e) == 0 || len(e) > 4 {
		return nil, fmt.Errorf("e is not a base64url integer of 1 to 4 bytes")
	}
	var ev int64
	for _, b := range e {
		ev = ev<<8 | int64(b)
	}
	if ev < 3 || ev%2 == 0 || ev > 1<<31-1 {
		return nil, fmt.Errorf("e = %d is not a valid RSA exponent", ev)
	}
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(ev)}, nil
}
