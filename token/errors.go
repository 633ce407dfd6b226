package token

import (
	"net/http"

	"github.com/avowhq/avow/errs"
)

// Verification errors. Each has a stable code (errs.Code) that the HTTP API
// and the CLI report; the cause carries the detail. errors.Is matches any
// error with the same code.
var (
	// ErrMalformed: not a compact JWS of three base64url parts with a JSON
	// object header and payload, or a required claim has the wrong type.
	ErrMalformed = errs.New("token_malformed", "the token is not a well-formed JWT")
	// ErrUnsigned: the token has "alg":"none" and unsigned tokens were not
	// allowed (VerifyOptions.AllowUnsigned).
	ErrUnsigned = errs.New("token_unsigned", "the token is unsigned (alg none)")
	// ErrAlgorithmUnsupported: the header alg is neither RS256, ES256 nor none.
	ErrAlgorithmUnsupported = errs.New("token_algorithm_unsupported", "the token's signature algorithm is not supported; only RS256 and ES256 are")
	// ErrSignatureInvalid: no candidate key verifies the signature.
	ErrSignatureInvalid = errs.New("token_signature_invalid", "the token signature does not verify")
	// ErrUnknownKey: no verification key has the header kid (or there are
	// no keys at all).
	ErrUnknownKey = errs.New("token_unknown_key", "the token was signed by a key that is not among the trusted keys")
	// ErrExpired: now is at or after exp (+ slack).
	ErrExpired = errs.New("token_expired", "the token has expired")
	// ErrNotYetValid: now (+ slack) is before nbf.
	ErrNotYetValid = errs.New("token_not_yet_valid", "the token is not yet valid")
	// ErrIssuerMismatch: iss is missing or differs from the expected issuer.
	ErrIssuerMismatch = errs.New("token_issuer_mismatch", "the token issuer is not the expected issuer")
	// ErrOptionsInvalid: VerifyOptions without Now, or a negative Slack.
	ErrOptionsInvalid = errs.New("token_options_invalid", "the token verification options are invalid")
)

// Issuing errors.
var (
	// ErrIssueFailed: the claims cannot be serialised or carry a claim the
	// issuer sets itself, the issuer or lifetime is invalid, or the key
	// cannot sign.
	ErrIssueFailed = errs.New("token_issue_failed", "the token could not be issued").WithStatus(http.StatusInternalServerError)
	// ErrKeyRetired: the signing key is retired at the issue time.
	ErrKeyRetired = errs.New("signing_key_retired", "the signing key is retired and must not sign new tokens")
)

// Key errors. Their messages and causes never contain key material.
var (
	// ErrKeyInvalid: a signing key that is not RSA-2048 or larger, or whose
	// certificate does not match its private key.
	ErrKeyInvalid = errs.New("signing_key_invalid", "the signing key is invalid").WithStatus(http.StatusInternalServerError)
	// ErrKeyGeneration: key or certificate generation failed.
	ErrKeyGeneration = errs.New("signing_key_generation_failed", "the signing key could not be generated")
	// ErrKEKInvalid: a key-encryption key that is not exactly 32 bytes (raw,
	// 64 hex characters, or base64 of 32 bytes).
	ErrKEKInvalid = errs.New("kek_invalid", "the key-encryption key is invalid: it must be exactly 32 bytes, given raw, as 64 hex characters or as base64")
	// ErrKEKFileInsecure: the KEK file can be read or written by group or
	// others, or is not a regular file.
	ErrKEKFileInsecure = errs.New("kek_file_insecure", "the key-encryption key file must be a regular file readable only by its owner (mode 0600)")
	// ErrKEKUnavailable: the KEK file cannot be read or created.
	ErrKEKUnavailable = errs.New("kek_unavailable", "the key-encryption key file cannot be read or created")
	// ErrKeySealing: the private key could not be encrypted.
	ErrKeySealing = errs.New("key_sealing_failed", "the signing key could not be encrypted")
	// ErrKeyUnsealing: the sealed key is corrupt, has an unknown format
	// version, or was sealed under another KEK or another provider/kid.
	ErrKeyUnsealing = errs.New("key_unsealing_failed", "the signing key could not be decrypted: wrong key-encryption key, wrong provider or kid binding, or corrupted data").WithStatus(http.StatusInternalServerError)
)

// JWKS and OpenID discovery errors.
var (
	// ErrJWKSInvalid: a JWKS document that is not JSON, or has a key whose
	// x5c or n/e cannot be parsed or disagree.
	ErrJWKSInvalid = errs.New("jwks_invalid", "the JSON web key set is invalid")
	// ErrMetadataInvalid: an OpenID configuration document that is not
	// JSON, lacks jwks_uri, or names another issuer.
	ErrMetadataInvalid = errs.New("openid_metadata_invalid", "the OpenID configuration document is invalid")
	// ErrDiscoveryFailed: an HTTP failure while fetching the OpenID
	// configuration or the JWKS (transport error, non-200 status, response
	// over 1 MiB).
	ErrDiscoveryFailed = errs.New("openid_discovery_failed", "the OpenID configuration or key set could not be fetched")
)
