// Package oidc accepts JWT bearer tokens from an OpenID Connect issuer
// (Microsoft Entra ID, Keycloak, Dex…) as callers of avow's management API:
// discovery and keys over https only, signature, iss, aud, exp/nbf/iat, and
// the caller's role from a claim. It knows nothing of the service.
package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// Config configures the acceptance of JWT bearer tokens from an
// OpenID Connect issuer (Microsoft Entra ID, Keycloak, Dex…) beside avow's
// admin tokens.
type Config struct {
	// Issuer is the issuer URL: tokens' iss must equal it exactly, and its
	// keys are found by OpenID discovery at Issuer +
	// "/.well-known/openid-configuration". https only.
	Issuer string
	// Audience must be one of the tokens' aud values. Required.
	Audience string
	// RoleClaim names the claim holding the caller's roles: a string
	// (several separated by spaces) or an array of strings. A dotted name
	// (realm_access.roles) walks nested objects when no claim has the full
	// name. Default "roles".
	RoleClaim string
	// RoleMap maps claim values to avow roles; the principal gets the most
	// privileged role of its values. Default: the role names themselves
	// (reader, policy-admin, owner).
	RoleMap map[string]store.Role
	// HTTPClient fetches the metadata and keys (default: a client with a
	// 10 s timeout).
	HTTPClient *http.Client
	// Now is the verification time (default time.Now).
	Now func() time.Time
	// Leeway is the clock skew tolerated on exp, nbf and iat (default 60 s).
	Leeway time.Duration
	// RefreshInterval is the shortest time between two key fetches
	// triggered by an unknown kid (default 10 s), so that tokens with made
	// up key ids cannot make avow hammer the issuer.
	RefreshInterval time.Duration
	// MaxKeyAge is how long fetched keys are used before they are fetched
	// again (default 24 h).
	MaxKeyAge time.Duration
}

// Errors. ErrToken and ErrNoRole have the service's codes for a caller that
// is not authenticated (401) and one without the right (403).
var (
	ErrConfig = errs.New("oidc_config_invalid", "the OpenID Connect configuration is invalid")
	ErrToken  = errs.New("unauthorized", "the caller is not authenticated").WithStatus(http.StatusUnauthorized)
	ErrNoRole = errs.New("forbidden", "the caller lacks the role for this operation").WithStatus(http.StatusForbidden)
)

// Identity is a verified token's caller: the issuer's subject and the most
// privileged avow role its role claim maps to.
type Identity struct {
	Subject string
	Role    store.Role
}

// oidcAlgorithms are the signature algorithms accepted from an issuer.
var oidcAlgorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// Verifier verifies JWT bearer tokens of one OpenID issuer and maps them to
// identities. It is safe for concurrent use.
type Verifier struct {
	cfg Config

	fetchMu sync.Mutex // one fetch at a time

	mu        sync.RWMutex
	keys      []jose.JSONWebKey
	fetchedAt time.Time // zero: never fetched
	attempt   time.Time // last fetch attempt
}

// New checks cfg and returns a verifier. Nothing is fetched
// until the first token arrives.
func New(cfg Config) (*Verifier, error) {
	cfg.Issuer = strings.TrimSpace(cfg.Issuer)
	u, err := url.Parse(cfg.Issuer)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, ErrConfig.Wrapf("the issuer %q must be an https URL", cfg.Issuer)
	}
	if strings.TrimSpace(cfg.Audience) == "" {
		return nil, ErrConfig.Wrapf("an audience is required: tokens issued for other applications must not be accepted")
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "roles"
	}
	if len(cfg.RoleMap) == 0 {
		cfg.RoleMap = map[string]store.Role{}
		for _, r := range []store.Role{store.RoleReader, store.RolePolicyAdmin, store.RoleOwner} {
			cfg.RoleMap[string(r)] = r
		}
	}
	for v, r := range cfg.RoleMap {
		if !r.Valid() {
			return nil, ErrConfig.Wrapf("claim value %q maps to %q, which is not reader, policy-admin or owner", v, r)
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	cfg.HTTPClient = httpsOnly(cfg.HTTPClient)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Leeway <= 0 {
		cfg.Leeway = time.Minute
	}
	if cfg.RefreshInterval <= 0 {
		cfg.RefreshInterval = 10 * time.Second
	}
	if cfg.MaxKeyAge <= 0 {
		cfg.MaxKeyAge = 24 * time.Hour
	}
	return &Verifier{cfg: cfg}, nil
}

// httpsOnly returns a copy of c that refuses to follow a redirect to
// anything but https: the issuer's metadata and keys decide who is an
// owner, so none of them may come over plain http.
func httpsOnly(c *http.Client) *http.Client {
	cc := *c
	next := c.CheckRedirect
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" {
			return fmt.Errorf("refusing a redirect to %s: the issuer's metadata and keys are fetched over https only", req.URL.Redacted())
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cc
}

// ParseRoleMap reads "value=role" pairs (as given to --oidc-role-map).
func ParseRoleMap(pairs map[string]string) (map[string]store.Role, error) {
	out := make(map[string]store.Role, len(pairs))
	for v, r := range pairs {
		role := store.Role(strings.TrimSpace(r))
		if !role.Valid() {
			return nil, ErrConfig.Wrapf("claim value %q maps to %q, which is not reader, policy-admin or owner", v, r)
		}
		out[strings.TrimSpace(v)] = role
	}
	return out, nil
}

// LooksLikeJWT reports whether a bearer token has the shape of a compact
// JWS (admin tokens have no dots).
func LooksLikeJWT(bearer string) bool { return strings.Count(bearer, ".") == 2 }

// Verify checks a JWT (RS256 or ES256 signature by a key of the issuer's
// JWKS, iss, aud, exp required, nbf and iat) and returns its caller.
func (v *Verifier) Verify(ctx context.Context, raw string) (*Identity, error) {
	tok, err := jwt.ParseSigned(raw, oidcAlgorithms)
	if err != nil {
		return nil, ErrToken.Wrapf("the bearer token is not a JWT signed with RS256 or ES256: %v", err)
	}
	if len(tok.Headers) != 1 {
		return nil, ErrToken.Wrapf("the bearer token must have exactly one signature")
	}
	kid := tok.Headers[0].KeyID
	keys, err := v.keysFor(ctx, kid)
	if err != nil {
		return nil, err
	}
	var std jwt.Claims
	var all map[string]any
	verified := false
	for i := range keys {
		if err := tok.Claims(&keys[i], &std, &all); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, ErrToken.Wrapf("the bearer token's signature does not verify with the issuer's keys")
	}
	if std.Expiry == nil {
		return nil, ErrToken.Wrapf("the bearer token has no exp")
	}
	err = std.ValidateWithLeeway(jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.cfg.Now()}, v.cfg.Leeway)
	switch {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return nil, ErrToken.Wrapf("the bearer token is issued by %q, not %q", std.Issuer, v.cfg.Issuer)
	case errors.Is(err, jwt.ErrInvalidAudience):
		return nil, ErrToken.Wrapf("the bearer token is for audience %q, not %q", []string(std.Audience), v.cfg.Audience)
	case errors.Is(err, jwt.ErrExpired):
		return nil, ErrToken.Wrapf("the bearer token expired at %s", std.Expiry.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet):
		return nil, ErrToken.Wrapf("the bearer token is not valid before %s", std.NotBefore.Time().UTC().Format(time.RFC3339))
	case err != nil:
		return nil, ErrToken.Wrapf("the bearer token is not valid: %v", err)
	}
	if std.Subject == "" {
		return nil, ErrToken.Wrapf("the bearer token has no sub")
	}
	values := roleValues(all, v.cfg.RoleClaim)
	var role store.Role
	for _, val := range values {
		if r, ok := v.cfg.RoleMap[val]; ok && rank(r) > rank(role) {
			role = r
		}
	}
	if role == "" {
		return nil, ErrNoRole.Wrapf("the token of %s has no role avow knows in claim %q (values %q)", std.Subject, v.cfg.RoleClaim, values)
	}
	return &Identity{Subject: std.Subject, Role: role}, nil
}

func rank(r store.Role) int {
	return map[store.Role]int{store.RoleReader: 1, store.RolePolicyAdmin: 2, store.RoleOwner: 3}[r]
}

// roleValues reads the role claim: the claim of that exact name, else the
// dotted path through nested objects.
func roleValues(claims map[string]any, name string) []string {
	val, ok := claims[name]
	if !ok {
		var cur any = claims
		for _, part := range strings.Split(name, ".") {
			m, isMap := cur.(map[string]any)
			if !isMap {
				return nil
			}
			if cur, ok = m[part]; !ok {
				return nil
			}
		}
		val = cur
	}
	switch x := val.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// keysFor returns the keys that may have signed a token with kid: the
// cached keys, fetched again when they are old or none has kid (at most
// once per RefreshInterval).
func (v *Verifier) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	now := v.cfg.Now()
	if keys, ok := v.cached(kid, now); ok {
		return keys, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if keys, ok := v.cached(kid, now); ok { // fetched meanwhile
		return keys, nil
	}
	v.mu.RLock()
	attempt := v.attempt
	v.mu.RUnlock()
	if !attempt.IsZero() && now.Sub(attempt) < v.cfg.RefreshInterval {
		// Fetched a moment ago: the keys known (even old ones) are all there is.
		if keys, ok := v.match(kid); ok {
			return keys, nil
		}
		return nil, ErrToken.Wrapf("the bearer token's key %q is not among the issuer's keys", kid)
	}
	keys, err := v.fetch(ctx)
	v.mu.Lock()
	v.attempt = now
	if err == nil {
		v.keys, v.fetchedAt = keys, now
	}
	v.mu.Unlock()
	if err != nil {
		// An unreachable issuer does not make the keys already known unusable.
		if keys, ok := v.match(kid); ok {
			return keys, nil
		}
		return nil, ErrToken.Wrapf("the keys of issuer %s cannot be fetched: %s", v.cfg.Issuer, errs.Detail(err))
	}
	if keys, ok := v.match(kid); ok {
		return keys, nil
	}
	return nil, ErrToken.Wrapf("the bearer token's key %q is not among the issuer's keys", kid)
}

// cached returns the keys matching kid when the cache is fresh.
func (v *Verifier) cached(kid string, now time.Time) ([]jose.JSONWebKey, bool) {
	v.mu.RLock()
	fresh := !v.fetchedAt.IsZero() && now.Sub(v.fetchedAt) < v.cfg.MaxKeyAge
	v.mu.RUnlock()
	if !fresh {
		return nil, false
	}
	return v.match(kid)
}

// match returns the keys with kid, or every key when kid is empty.
func (v *Verifier) match(kid string) ([]jose.JSONWebKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var out []jose.JSONWebKey
	for _, k := range v.keys {
		if kid == "" || k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out, len(out) > 0
}

// fetch discovers the issuer's jwks_uri and reads its signature keys.
func (v *Verifier) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	cfg, err := token.FetchOpenIDConfiguration(ctx, v.cfg.HTTPClient, v.cfg.Issuer)
	if err != nil {
		return nil, err
	}
	if cfg.Issuer == "" {
		return nil, fmt.Errorf("the OpenID metadata names no issuer")
	}
	if u, err := url.Parse(cfg.JWKSURI); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("the OpenID metadata's jwks_uri %q is not an https URL; avow fetches an issuer's keys over https only", cfg.JWKSURI)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, cfg.JWKSURI, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", cfg.JWKSURI, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, token.MaxDocumentSize+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", cfg.JWKSURI, err)
	}
	if len(body) > token.MaxDocumentSize {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", cfg.JWKSURI, token.MaxDocumentSize)
	}
	return parseOIDCKeys(body)
}

// parseOIDCKeys reads a JWKS's public signature keys, skipping keys of
// other uses or types go-jose cannot read (an issuer may publish
// encryption keys and newer key types beside its signing keys). A JWKS
// without usable keys is an answer, not an error: it replaces the keys
// known.
func parseOIDCKeys(body []byte) ([]jose.JSONWebKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("the JWKS is not a JSON object with keys: %v", err)
	}
	var out []jose.JSONWebKey
	for _, raw := range doc.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil {
			continue
		}
		if k.Use == "enc" || !k.IsPublic() || !k.Valid() {
			continue
		}
		if k.Algorithm != "" && !slices.Contains(oidcAlgorithms, jose.SignatureAlgorithm(k.Algorithm)) {
			continue
		}
		out = append(out, k)
	}
	return out, nil
}
