// Package alwaysencrypted is the driver's side of Always Encrypted with
// secure enclaves under the AAS protocol (Microsoft Azure Attestation): what
// Microsoft.Data.SqlClient and mssql-jdbc send to SQL Server and what they
// check in its answer, so that avow can tell whether a driver would accept
// an enclave attested by it (spec: always-encrypted-and-arm.md, Part A).
//
// The byte formats, little-endian:
//
//   - Params (A.3): the @attestationParameters of
//     sp_describe_parameter_encryption: protocol id 1, the attestation URL
//     in UTF-16LE with its NUL, a fresh 256-byte nonce and a fresh P-384
//     public key as a 104-byte "ECK3" blob. NewParams, Marshal, ParseParams;
//     the client's private key as PKCS #8 PEM (MarshalClientKey,
//     ParseClientKey).
//   - Info (A.4): the attestation info blob SQL Server returns: the
//     enclave's RSA key blob (XOR-ed with the nonce for SGX), the MAA token,
//     the session id, the enclave's ECK3 key and its RSA signature.
//     ParseInfo (strict and bounded), Marshal.
//   - RSA1 key blobs (BCRYPT_RSAKEY_BLOB): ParseRSAKeyBlob reads any shape
//     as JDBC does; CheckSqlClientRSAShape insists on the 539-byte shape
//     (4096-bit modulus, 3-byte exponent) that SqlClient on .NET Core
//     hard-codes; MarshalRSAKeyBlob.
//
// Validator.Verify runs every check of both drivers in order and returns a
// Report (each check, which driver does it, its outcome; the token's
// claims; the session id and the 32-byte session key). Which driver does
// what:
//
//   - SqlClient: instance URL = scheme + host (+ port); https metadata and
//     key set; keys cached a day; RS256 signature; exp required, exp/nbf with
//     5 minutes of skew; iss = instance URL exactly; no audience; claims
//     loaded into a dictionary (an array claim of several elements is a
//     duplicate claim type); aas-ehd compared as a string; on any
//     validation failure but expiry, wait 3 s, download the keys again and
//     validate once more.
//   - JDBC: metadata at https://authority; the key whose kid is the
//     header's (no kid, no key); SHA256withRSA with the x5c certificates;
//     aas-ehd compared as bytes; D = 104 and the ECK3 header; nothing after
//     the signature. It checks neither iss, exp nor nbf.
//   - both: aas-ehd = base64url(identity as received); for VBS rp_data =
//     base64url(nonce); for SGX the RSA key = identity XOR nonce; the
//     enclave's RSA PKCS #1 v1.5 SHA-256 signature over its ECDH key;
//     session key = SHA-256 of the P-384 ECDH shared X coordinate.
//
// Every failure is an errs.Error with a stable code (ae_…) and a sentence
// in the spirit of the driver's message. The enclave side, for tests and
// demos, is package aesim.
package alwaysencrypted
