package alwaysencrypted

import (
	"errors"

	"github.com/avowhq/avow/errs"
)

// Errors of the byte formats (parameters, attestation info, key blobs).
var (
	// ErrParamsInvalid: attestation parameters that are not A.3's layout
	// (protocol AAS, URL, 256-byte nonce, 104-byte ECK3 key).
	ErrParamsInvalid = errs.New("ae_params_invalid", "the attestation parameters are not well-formed")
	// ErrInfoInvalid: an attestation info blob that is not A.4's layout
	// (SqlClient: FailToParseAttestationInfo; JDBC: R_EnclaveResponseLengthError).
	ErrInfoInvalid = errs.New("ae_info_invalid", "The validation of an attestation information failed. The attestation information has an invalid format")
	// ErrEnclaveTypeUnsupported: the info blob names an enclave type other
	// than 1 (VBS) or 2 (SGX).
	ErrEnclaveTypeUnsupported = errs.New("ae_enclave_type_unsupported", "The enclave type returned from the server is not supported")
	// ErrDHKeyMalformed: an ECDH public key blob that is not 104 bytes of
	// "ECK3", key size 48, X, Y on P-384 (JDBC: R_MalformedECDHPublicKey,
	// R_MalformedECDHHeader).
	ErrDHKeyMalformed = errs.New("ae_dh_key_malformed", "The ECDH public key must be a 104-byte ECK3 blob of a P-384 point")
	// ErrRSAKeyInvalid: the enclave's RSA key is not a BCRYPT_RSAKEY_BLOB
	// ("RSA1") that any driver can read.
	ErrRSAKeyInvalid = errs.New("ae_rsa_key_invalid", "The enclave's RSA public key is not a valid RSA1 key blob")
	// ErrRSAKeyShape: a valid RSA1 blob of another shape than the 539 bytes
	// (4096-bit modulus, 3-byte exponent) that SqlClient on .NET Core
	// hard-codes. JDBC and SqlClient on .NET Framework read the lengths from
	// the header and would accept it.
	ErrRSAKeyShape = errs.New("ae_rsa_key_shape_unsupported", "The enclave's RSA public key blob is not the 539-byte shape (4096-bit modulus, 3-byte exponent) that SqlClient on .NET Core reads; JDBC and .NET Framework would accept it")
	// ErrClientKeyInvalid: a client key file that is not a PKCS #8 PEM
	// P-384 private key.
	ErrClientKeyInvalid = errs.New("ae_client_key_invalid", "the client key is not a PKCS #8 PEM P-384 private key")
	// ErrClientKeyMismatch: the client private key does not belong to the
	// public key in the attestation parameters (avow's own check).
	ErrClientKeyMismatch = errs.New("ae_client_key_mismatch", "the client private key does not belong to the public key sent in the attestation parameters")
)

// Errors of the attestation URL and the token signing keys.
var (
	// ErrAttestationURLInvalid: the attestation URL is not an absolute URL
	// with a host.
	ErrAttestationURLInvalid = errs.New("ae_attestation_url_invalid", "The enclave attestation URL is not a valid absolute URL")
	// ErrHTTPSRequired: the attestation instance, the OpenID metadata or the
	// jwks_uri is not https (SqlClient's metadata retriever requires https;
	// JDBC always connects to https://authority).
	ErrHTTPSRequired = errs.New("ae_https_required", "The attestation instance, its OpenID metadata and its key set must be https URLs")
	// ErrSigningKeysUnavailable: the OpenID metadata or the key set cannot
	// be fetched or read (SqlClient: GetAttestationTokenSigningKeysFailed).
	ErrSigningKeysUnavailable = errs.New("ae_signing_keys_unavailable", "The validation of an attestation token failed. Cannot retrieve a public key from the attestation public key endpoint, or the retrieved key has an invalid format")
	// ErrSigningKeyInvalid: a key of the key set lacks kid, kty or x5c, or
	// its x5c[0] is not a certificate (JDBC reads kid and x5c of every key).
	ErrSigningKeyInvalid = errs.New("ae_signing_key_invalid", "The validation of an attestation token failed. A key of the attestation key set has no kid, kty or x5c certificate")
)

// Errors of the attestation token.
var (
	// ErrTokenInvalid: the token is not a JWT (three base64url parts, JSON
	// header and payload, numeric exp/nbf/iat) (SqlClient:
	// InvalidAttestationToken; no key refresh).
	ErrTokenInvalid = errs.New("ae_token_invalid", "The validation of the attestation token has failed during signature validation: the token is not a well-formed JWT")
	// ErrTokenAlgorithm: the header alg is not RS256.
	ErrTokenAlgorithm = errs.New("ae_token_algorithm", "The attestation token is not signed with RS256")
	// ErrTokenKIDMissing: the header has no kid (JDBC selects the key by
	// kid only).
	ErrTokenKIDMissing = errs.New("ae_token_kid_missing", "The attestation token header has no kid")
	// ErrTokenUnknownKID: no key of the key set has the header's kid.
	ErrTokenUnknownKID = errs.New("ae_token_unknown_kid", "The attestation token was signed by a key that the attestation public key endpoint does not list")
	// ErrTokenSignature: the RS256 signature does not verify with the
	// x5c[0] key of the key with the header's kid.
	ErrTokenSignature = errs.New("ae_token_signature_invalid", "The attestation token signature does not match the computed signature using a public key retrieved from the attestation public key endpoint")
	// ErrTokenExpMissing: the token has no exp (SqlClient requires it).
	ErrTokenExpMissing = errs.New("ae_token_exp_missing", "The attestation token has no expiration time (exp)")
	// ErrTokenExpired: exp is more than the clock skew in the past
	// (SqlClient: ExpiredAttestationToken; no key refresh).
	ErrTokenExpired = errs.New("ae_token_expired", "The validation of an attestation token failed. The token received from SQL Server is expired")
	// ErrTokenNotYetValid: nbf is more than the clock skew in the future.
	ErrTokenNotYetValid = errs.New("ae_token_not_yet_valid", "The attestation token is not yet valid (nbf)")
	// ErrTokenIssuer: iss is not the attestation instance URL.
	ErrTokenIssuer = errs.New("ae_token_issuer_mismatch", "The attestation token issuer is not the attestation instance URL")
	// ErrTokenValidationFailed: the token failed validation again after the
	// signing keys were downloaded anew; the cause is the second failure
	// (SqlClient: AttestationTokenSignatureValidationFailed).
	ErrTokenValidationFailed = errs.New("ae_token_signature_validation_failed", "The validation of an attestation token failed. The token signature does not match the computed signature using a public key retrieved from the attestation public key endpoint")
	// ErrDuplicateClaim: a top-level claim is a JSON array of two or more
	// elements, which SqlClient loads as several claims of one type and
	// refuses (FailToParseAttestationToken).
	ErrDuplicateClaim = errs.New("ae_token_duplicate_claim", "The validation of an attestation token failed. The token has an invalid format: duplicate claim type")
	// ErrEHDMissing: the token has no aas-ehd claim (SqlClient:
	// MissingClaimInAttestationToken).
	ErrEHDMissing = errs.New("ae_claim_aas_ehd_missing", "The validation of the attestation token failed. Claim 'aas-ehd' is missing in the token")
	// ErrEHDMismatch: aas-ehd is not base64url (no padding) of the enclave
	// public key as received (JDBC: R_AasEhdError; SqlClient:
	// InvalidClaimInAttestationToken).
	ErrEHDMismatch = errs.New("ae_claim_aas_ehd_mismatch", "aas-ehd claim from JWT did not match enclave public key")
	// ErrRPDataMissing: a VBS enclave's token has no rp_data claim.
	ErrRPDataMissing = errs.New("ae_claim_rp_data_missing", "The validation of the attestation token failed. Claim 'rp_data' is missing in the token")
	// ErrRPDataMismatch: rp_data is not base64url of the client's nonce
	// (JDBC: R_VbsRpDataError).
	ErrRPDataMismatch = errs.New("ae_claim_rp_data_mismatch", "rp_data claim from JWT did not match client nonce")
	// ErrDHSignature: the enclave's RSA signature over its ECDH key does not
	// verify (SqlClient: GetSharedSecretFailed; JDBC: R_InvalidDHKeySignature).
	ErrDHSignature = errs.New("ae_dh_signature_invalid", "invalid DH key signature: signature verification of the enclave's Diffie-Hellman key failed")
)

// typed reports whether err carries one of the package's codes already.
func typed(err error) bool {
	var e *errs.Error
	return errors.As(err, &e)
}
