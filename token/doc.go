// Package token is everything about avow's JWTs: provider signing keys and
// their protection at rest, issuing attestation and management tokens in
// MAA's exact shape, the JWKS (GET /certs) and OpenID metadata documents,
// and verifying tokens the way MAA's SDKs do, including OpenID discovery.
//
// Signing keys are RSA-2048 with a self-signed certificate; the kid is
// base64url(SHA-256(certificate DER)). Private keys are stored sealed with
// AES-256-GCM under a 32-byte key-encryption key (SealPrivateKey,
// LoadOrCreateKEK, KEKFromEnv), bound to the provider and kid (KeyAAD).
//
// Issue signs with RS256 and the header {"alg","jku","kid","typ":"JWT"};
// IssueUnsigned writes MAA's draft-policy form "header.payload." with
// {"alg":"none"}. Both set iss, iat, nbf = iat, exp = iat + lifetime and
// jti, and write the payload as compact JSON with sorted keys.
//
// Verify takes the trusted keys (ParseJWKS, Discover, PublicKeys) and an
// explicit time; every failure has one sentinel error with a stable code.
//
// See docs/tokens.md.
package token
