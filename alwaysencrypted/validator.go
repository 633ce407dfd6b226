package alwaysencrypted

import (
	"context"
	"crypto"
	"crypto/ecdh"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/token"
)

// Timing of the token checks.
const (
	// ClockSkew is the tolerance on exp and nbf (IdentityModel's default,
	// which SqlClient keeps).
	ClockSkew = 5 * time.Minute
	// DefaultRetryWait is how long SqlClient sleeps after a failed token
	// validation before it downloads the signing keys again.
	DefaultRetryWait = 3 * time.Second
)

// Validator checks an attestation info blob as the drivers do: the union of
// Microsoft.Data.SqlClient's and mssql-jdbc's checks (see the package
// documentation for the list). It caches signing keys per attestation
// instance for KeyCacheLifetime, as the drivers do per process, and is safe
// for concurrent use.
type Validator struct {
	hc        *http.Client
	now       func() time.Time
	sleep     func(context.Context, time.Duration) error
	retryWait time.Duration
	issuer    string

	mu    sync.Mutex
	cache map[string]*keySet
}

// Option configures a Validator.
type Option func(*Validator)

// WithHTTPClient sets the HTTP client that fetches the OpenID metadata and
// key set (for example one that trusts a test CA). Default: a client with a
// 30-second timeout and the system roots.
func WithHTTPClient(hc *http.Client) Option { return func(v *Validator) { v.hc = hc } }

// WithClock sets the time source of the token's exp/nbf checks and of the
// key cache (default time.Now).
func WithClock(now func() time.Time) Option { return func(v *Validator) { v.now = now } }

// WithRetryWait sets the wait between a failed token validation and the
// forced download of the signing keys (default DefaultRetryWait; tests use
// 0).
func WithRetryWait(d time.Duration) Option { return func(v *Validator) { v.retryWait = d } }

// WithSleep replaces the function that waits WithRetryWait (tests record
// the waits instead of sleeping).
func WithSleep(sleep func(context.Context, time.Duration) error) Option {
	return func(v *Validator) { v.sleep = sleep }
}

// WithIssuer replaces the instance URL derived from the attestation URL by
// an explicit one: the OpenID metadata is fetched from issuer +
// "/.well-known/openid-configuration" and iss must equal issuer exactly (a
// trailing slash of the argument is dropped). This is for avow's path-based
// providers (https://server/providers/NAME), whose tokens the drivers
// cannot validate because they only use the URL's authority; a
// driver-faithful check leaves it unset. It must be https.
func WithIssuer(issuer string) Option {
	return func(v *Validator) { v.issuer = strings.TrimRight(strings.TrimSpace(issuer), "/") }
}

// NewValidator returns a Validator with an empty key cache.
func NewValidator(opts ...Option) *Validator {
	v := &Validator{retryWait: DefaultRetryWait, cache: map[string]*keySet{}}
	for _, o := range opts {
		o(v)
	}
	if v.hc == nil {
		v.hc = &http.Client{Timeout: 30 * time.Second}
	}
	if v.now == nil {
		v.now = time.Now
	}
	if v.sleep == nil {
		v.sleep = sleepContext
	}
	return v
}

func sleepContext(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Check outcomes.
const (
	CheckOK      = "ok"
	CheckFailed  = "failed"
	CheckSkipped = "skipped"
)

// Check is one step of Verify: its name, which driver does it, the outcome
// and, on failure, the error code.
type Check struct {
	Name   string `json:"name"`
	Driver string `json:"driver"` // "SqlClient", "JDBC", "both" or "avow"
	Result string `json:"result"` // CheckOK, CheckFailed or CheckSkipped
	Code   string `json:"code,omitempty"`
	Detail string `json:"detail"`
}

// Report is the outcome of Verify. Checks lists every step taken, in order,
// including a failed first token validation and the key refresh after it.
// Claims are set once the token's signature, lifetime and issuer verified;
// SessionKey only when every check passed.
type Report struct {
	AttestationURL string         `json:"attestation_url"`
	InstanceURL    string         `json:"instance_url,omitempty"`
	EnclaveType    string         `json:"enclave_type,omitempty"`
	SessionID      int64          `json:"session_id"`
	Checks         []Check        `json:"checks"`
	KeysRefreshed  bool           `json:"keys_refreshed"`
	Header         *token.Header  `json:"header,omitempty"`
	Claims         map[string]any `json:"claims,omitempty"`
	// SessionKey is SHA-256 of the ECDH shared secret's X coordinate: the
	// root key of the enclave package encryption. Never printed.
	SessionKey []byte `json:"-"`
}

// OK reports whether every check passed.
func (r *Report) OK() bool { return r.SessionKey != nil }

func (r *Report) pass(name, driver, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Driver: driver, Result: CheckOK, Detail: detail})
}

func (r *Report) skip(name, driver, detail string) {
	r.Checks = append(r.Checks, Check{Name: name, Driver: driver, Result: CheckSkipped, Detail: detail})
}

// fail records a failed check and returns err.
func (r *Report) fail(name, driver string, err error) error {
	r.Checks = append(r.Checks, Check{Name: name, Driver: driver, Result: CheckFailed, Code: errs.Code(err), Detail: errs.Detail(err)})
	return err
}

// Verify runs the client side of an AAS enclave attestation on the
// attestation info blob SQL Server returned for params, with the client's
// private key, and returns the report and, when a check fails, its error.
// The checks, in order (driver in brackets):
//
//  1. client_key [avow]: clientKey is the key of params.PublicKey.
//  2. attestation_info [both]: ParseInfo.
//  3. instance_url [both]: scheme + host (+ port) of params.URL
//     (InstanceURL), https [SqlClient]; or WithIssuer.
//  4. signing_keys [both]: OpenID metadata, then jwks_uri, https only, each
//     key with kid, kty and x5c; cached for a day.
//  5. token_format [SqlClient]: a JWT with numeric exp/nbf/iat
//     (ErrTokenInvalid; no retry).
//  6. token_signature [both]: alg RS256, a kid [JDBC] naming a key of the
//     set, RS256 with that key's x5c[0] public key.
//  7. token_lifetime [SqlClient]: exp present, exp and nbf within
//     ClockSkew. An expired token fails at once (ErrTokenExpired).
//  8. token_issuer [SqlClient]: iss is the instance URL (or, for the
//     default port, the instance URL with ":443").
//     A failure of 6-8 other than expiry: wait (WithRetryWait), download
//     the keys again (signing_keys_refresh), repeat 6-8 once; a second
//     failure is ErrTokenValidationFailed wrapping it.
//  9. claims [SqlClient]: no top-level claim is an array of two or more
//     elements (duplicate claim type).
//  10. aas_ehd [both]: present, and equal as a string to base64url without
//     padding of Info.Identity as received.
//  11. rp_data [both, VBS only]: equal to base64url of the nonce.
//  12. enclave_rsa_key [both]: for SGX the identity XOR the nonce; a valid
//     RSA1 blob [JDBC] of SqlClient's 539-byte shape [SqlClient].
//  13. dh_signature [both]: RSA PKCS #1 v1.5 SHA-256 over the 104-byte
//     enclave DH key.
//  14. session_key [both]: ECDH P-384, session key = SHA-256(shared X).
func (v *Validator) Verify(ctx context.Context, params *Params, clientKey *ecdh.PrivateKey, infoBlob []byte) (*Report, error) {
	rep := &Report{Checks: []Check{}}
	if params == nil || clientKey == nil {
		return rep, rep.fail("client_key", "avow", ErrClientKeyMismatch.Wrapf("no parameters or no client key"))
	}
	rep.AttestationURL = params.URL
	if !clientKey.PublicKey().Equal(params.PublicKey) {
		return rep, rep.fail("client_key", "avow", ErrClientKeyMismatch)
	}
	rep.pass("client_key", "avow", "the client private key belongs to the parameters' public key")

	info, err := ParseInfo(infoBlob)
	if err != nil {
		return rep, rep.fail("attestation_info", "both", err)
	}
	rep.EnclaveType, rep.SessionID = info.EnclaveType.String(), info.SessionID
	rep.pass("attestation_info", "both", fmt.Sprintf("%s enclave, identity %d bytes, token %d bytes, session id %d, DH key %d bytes, signature %d bytes",
		strings.ToUpper(info.EnclaveType.String()), len(info.Identity), len(info.Token), info.SessionID, len(info.DHKey), len(info.DHSignature)))

	base, issuers, err := v.instance(params.URL)
	if err != nil {
		return rep, rep.fail("instance_url", "both", err)
	}
	rep.InstanceURL = base
	how := "scheme and authority of the attestation URL"
	if v.issuer != "" {
		how = "set explicitly (WithIssuer), not derived from the attestation URL as the drivers do"
	}
	rep.pass("instance_url", "both", base+": "+how)

	claims, err := v.verifyToken(ctx, rep, base, issuers, info.Token)
	if err != nil {
		return rep, err
	}
	if err := checkClaims(rep, claims, info, params.Nonce); err != nil {
		return rep, err
	}

	key := info.Identity
	what := "identity used as received (VBS)"
	if info.EnclaveType == EnclaveSGX {
		key = UnmaskIdentity(info.Identity, params.Nonce)
		what = "identity XOR nonce (SGX)"
	}
	pub, err := ParseRSAKeyBlob(key)
	if err != nil {
		return rep, rep.fail("enclave_rsa_key", "both", err)
	}
	if err := CheckSqlClientRSAShape(key); err != nil {
		return rep, rep.fail("enclave_rsa_key", "SqlClient", err)
	}
	rep.pass("enclave_rsa_key", "both", fmt.Sprintf("%s: RSA1 blob of %d bytes, %d-bit modulus, exponent %d", what, len(key), pub.N.BitLen(), pub.E))

	digest := sha256.Sum256(info.DHKey)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], info.DHSignature); err != nil {
		return rep, rep.fail("dh_signature", "both", ErrDHSignature.Wrap(err))
	}
	rep.pass("dh_signature", "both", "the enclave's RSA key signed its ECDH key (PKCS #1 v1.5, SHA-256)")

	enclavePub, err := ParseECDHKey(info.DHKey)
	if err != nil {
		return rep, rep.fail("session_key", "both", err)
	}
	shared, err := clientKey.ECDH(enclavePub)
	if err != nil {
		return rep, rep.fail("session_key", "both", ErrDHKeyMalformed.Wrap(err))
	}
	sk := sha256.Sum256(shared)
	rep.SessionKey = sk[:]
	rep.pass("session_key", "both", "ECDH P-384 with the client key; session key = SHA-256(shared X coordinate), 32 bytes")
	return rep, nil
}

// instance returns the discovery base and the accepted issuers.
func (v *Validator) instance(attestationURL string) (string, []string, error) {
	if v.issuer != "" {
		if !strings.HasPrefix(strings.ToLower(v.issuer), "https://") {
			return "", nil, ErrHTTPSRequired.Wrapf("the issuer %q is not https", v.issuer)
		}
		return v.issuer, []string{v.issuer}, nil
	}
	base, err := InstanceURL(attestationURL)
	if err != nil {
		return "", nil, err
	}
	return base, validIssuers(base), nil
}

// verifyToken runs checks 4 to 8 with SqlClient's one forced key refresh.
func (v *Validator) verifyToken(ctx context.Context, rep *Report, base string, issuers []string, tok string) (map[string]any, error) {
	ks, cached, err := v.signingKeys(ctx, base, false)
	if err != nil {
		return nil, rep.fail("signing_keys", "both", err)
	}
	rep.pass("signing_keys", "both", ks.describe(cached))

	unverified, hdr, err := token.DecodeUnverified(tok)
	if err != nil {
		return nil, rep.fail("token_format", "SqlClient", ErrTokenInvalid.Wrap(err))
	}
	rep.Header = hdr
	for _, c := range []string{"exp", "nbf", "iat"} {
		if val, ok := unverified[c]; ok {
			if _, isNum := val.(json.Number); !isNum {
				return nil, rep.fail("token_format", "SqlClient", ErrTokenInvalid.Wrapf("%s is not a number", c))
			}
		}
	}
	rep.pass("token_format", "SqlClient", fmt.Sprintf("JWT, alg %s, kid %q", hdr.Alg, hdr.KID))

	claims, err := v.validateOnce(rep, tok, hdr, ks.keys, issuers)
	if err == nil {
		return claims, nil
	}
	if errors.Is(err, ErrTokenExpired) {
		return nil, err
	}
	first := errs.Code(err)
	if err := v.sleep(ctx, v.retryWait); err != nil {
		return nil, rep.fail("signing_keys_refresh", "SqlClient", ErrSigningKeysUnavailable.Wrap(err))
	}
	ks, _, err = v.signingKeys(ctx, base, true)
	if err != nil {
		return nil, rep.fail("signing_keys_refresh", "SqlClient", err)
	}
	rep.KeysRefreshed = true
	rep.pass("signing_keys_refresh", "SqlClient", fmt.Sprintf("after %s: waited %v and downloaded the keys again: %s", first, v.retryWait, ks.describe(false)))
	claims, err = v.validateOnce(rep, tok, hdr, ks.keys, issuers)
	if err == nil {
		return claims, nil
	}
	if errors.Is(err, ErrTokenExpired) {
		return nil, err
	}
	return nil, ErrTokenValidationFailed.Wrap(err)
}

// validateOnce runs checks 6 to 8 with one key set.
func (v *Validator) validateOnce(rep *Report, tok string, hdr *token.Header, keys []token.PublicKey, issuers []string) (map[string]any, error) {
	if hdr.Alg != token.AlgRS256 {
		return nil, rep.fail("token_signature", "both", ErrTokenAlgorithm.Wrapf("alg %q", hdr.Alg))
	}
	if hdr.KID == "" {
		return nil, rep.fail("token_signature", "JDBC", ErrTokenKIDMissing)
	}
	now := v.now()
	claims, _, err := token.Verify(tok, keys, token.VerifyOptions{Now: now, Slack: ClockSkew})
	switch {
	case err == nil:
	case errors.Is(err, token.ErrUnknownKey):
		return nil, rep.fail("token_signature", "both", ErrTokenUnknownKID.Wrap(err))
	case errors.Is(err, token.ErrSignatureInvalid):
		return nil, rep.fail("token_signature", "both", ErrTokenSignature.Wrap(err))
	case errors.Is(err, token.ErrExpired):
		rep.pass("token_signature", "both", "RS256 with the x5c[0] key of kid "+hdr.KID)
		return nil, rep.fail("token_lifetime", "SqlClient", ErrTokenExpired.Wrap(err))
	case errors.Is(err, token.ErrNotYetValid):
		rep.pass("token_signature", "both", "RS256 with the x5c[0] key of kid "+hdr.KID)
		return nil, rep.fail("token_lifetime", "SqlClient", ErrTokenNotYetValid.Wrap(err))
	case errors.Is(err, token.ErrMalformed): // only exp can be missing here: the format was checked
		rep.pass("token_signature", "both", "RS256 with the x5c[0] key of kid "+hdr.KID)
		return nil, rep.fail("token_lifetime", "SqlClient", ErrTokenExpMissing.Wrap(err))
	default:
		return nil, rep.fail("token_signature", "both", ErrTokenSignature.Wrap(err))
	}
	rep.pass("token_signature", "both", "RS256 with the x5c[0] key of kid "+hdr.KID)
	rep.pass("token_lifetime", "SqlClient", fmt.Sprintf("exp %s, nbf %s, now %s, skew %v",
		claimTime(claims, "exp"), claimTime(claims, "nbf"), now.UTC().Format(time.RFC3339), ClockSkew))
	iss, _ := claims["iss"].(string)
	for _, want := range issuers {
		if iss == want {
			rep.pass("token_issuer", "SqlClient", "iss "+iss)
			return claims, nil
		}
	}
	return nil, rep.fail("token_issuer", "SqlClient", ErrTokenIssuer.Wrapf("iss %q, expected %q", iss, strings.Join(issuers, `" or "`)))
}

func claimTime(claims map[string]any, name string) string {
	n, ok := claims[name].(json.Number)
	if !ok {
		return "-"
	}
	if i, err := n.Int64(); err == nil {
		return time.Unix(i, 0).UTC().Format(time.RFC3339)
	}
	return n.String()
}

// abbrev shortens a long value for messages.
func abbrev(s string) string {
	if len(s) <= 24 {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:12] + "…" + s[len(s)-8:])
}

// checkClaims runs checks 9 to 11 and sets rep.Claims.
func checkClaims(rep *Report, claims map[string]any, info *Info, nonce []byte) error {
	names := make([]string, 0, len(claims))
	for name := range claims {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if arr, ok := claims[name].([]any); ok && len(arr) > 1 {
			return rep.fail("claims", "SqlClient", ErrDuplicateClaim.Wrapf("claim %q is an array of %d elements, which SqlClient loads as %d claims of one type", name, len(arr), len(arr)))
		}
	}
	rep.Claims = claims
	rep.pass("claims", "SqlClient", fmt.Sprintf("%d claims, no duplicate claim type", len(claims)))

	want := base64.RawURLEncoding.EncodeToString(info.Identity)
	val, ok := claims["aas-ehd"]
	if !ok {
		return rep.fail("aas_ehd", "both", ErrEHDMissing)
	}
	got, isString := val.(string)
	if !isString {
		return rep.fail("aas_ehd", "both", ErrEHDMismatch.Wrapf("aas-ehd is a %T, not a string", val))
	}
	if got != want {
		return rep.fail("aas_ehd", "both", ErrEHDMismatch.Wrapf("aas-ehd %s (%d characters), base64url of the %d identity bytes %s (%d characters)",
			abbrev(got), len(got), len(info.Identity), abbrev(want), len(want)))
	}
	rep.pass("aas_ehd", "both", fmt.Sprintf("aas-ehd is base64url of the %d identity bytes as received", len(info.Identity)))

	if info.EnclaveType != EnclaveVBS {
		rep.skip("rp_data", "both", "SGX: the nonce is folded into the identity instead")
		return nil
	}
	val, ok = claims["rp_data"]
	if !ok {
		return rep.fail("rp_data", "both", ErrRPDataMissing)
	}
	if got, _ := val.(string); got != base64.RawURLEncoding.EncodeToString(nonce) {
		return rep.fail("rp_data", "both", ErrRPDataMismatch)
	}
	rep.pass("rp_data", "both", "rp_data is base64url of the client nonce")
	return nil
}
