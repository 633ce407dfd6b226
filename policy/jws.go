package policy

// ParseSignedJWS verifies a compact JWS signed the way policy documents
// are (certificate in x5c or jwk.x5c; RS256/RSA256, PS256, ES256/ECDH256)
// without interpreting its payload: MAA's certificates:add and :remove
// bodies carry a policy certificate rather than a policy. The returned
// Document has Raw, Algorithm, Signed and Certificates set; an unsigned
// JWS (alg none) is returned with Signed false.
func ParseSignedJWS(jws string) (*Document, error) {
	d, _, err := parseJWS(jws)
	return d, err
}
