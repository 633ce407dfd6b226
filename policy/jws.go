package policy

import (
	"encoding/json"
	"strings"
)

// ParseSignedJWS verifies a compact JWS signed the way policy documents
// are (certificate in x5c or jwk.x5c; RS256/RSA256, PS256, ES256/ECDH256)
// without interpreting its payload: MAA's certificates:add and :remove
// bodies carry a policy certificate rather than a policy. The returned
// Document has Raw, Algorithm, Signed and Certificates set; an unsigned
// JWS (alg none) is returned with Signed false.
func ParseSignedJWS(jws string) (*Document, error) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, ErrDocumentMalformed.Wrapf("a compact JWS has 3 parts separated by \".\", this has %d", len(parts))
	}
	hb, err := decodeB64(parts[0])
	if err != nil {
		return nil, ErrDocumentMalformed.Wrapf("header is not base64url: %v", err)
	}
	var h jwsHeader
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, ErrDocumentMalformed.Wrapf("header is not a JSON object: %v", err)
	}
	d := &Document{Raw: jws, Algorithm: h.Alg}
	switch alg := strings.ToUpper(h.Alg); alg {
	case "NONE":
		if parts[2] != "" {
			return nil, ErrDocumentMalformed.Wrapf("an unsigned JWS (alg none) must have an empty signature")
		}
	case "RS256", "RSA256", "PS256", "ES256", "ECDH256":
		if err := d.verify(alg, h, parts); err != nil {
			return nil, err
		}
		d.Signed = true
	default:
		return nil, ErrDocumentAlg.Wrapf("alg %q is not supported; use RS256, PS256 or ES256", h.Alg)
	}
	return d, nil
}
