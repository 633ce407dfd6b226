package alwaysencrypted

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/avowhq/avow/token"
)

// KeyCacheLifetime is how long the signing keys of an attestation instance
// are reused: SqlClient caches its OpenID configuration for one day, JDBC
// its key list for 24 hours.
const KeyCacheLifetime = 24 * time.Hour

// InstanceURL returns the attestation instance URL of an attestation URL
// as SqlClient computes it (Uri.GetLeftPart(UriPartial.Authority)):
// scheme and host in lower case, and the port only when it is not the
// scheme's default. For
// https://x.eus.attest.azure.net/attest/SgxEnclave?api-version=2017-11-01 it
// is https://x.eus.attest.azure.net. The scheme must be https
// (ErrHTTPSRequired); user information is refused.
func InstanceURL(attestationURL string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(attestationURL))
	if err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "" {
		return "", ErrAttestationURLInvalid.Wrapf("%q", attestationURL)
	}
	if u.User != nil {
		return "", ErrAttestationURLInvalid.Wrapf("%q has user information", attestationURL)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "https" {
		return "", ErrHTTPSRequired.Wrapf("the attestation URL %q is not https", attestationURL)
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if p := u.Port(); p != "" && p != "443" {
		host = net.JoinHostPort(strings.Trim(host, "[]"), p)
	}
	return scheme + "://" + host, nil
}

// validIssuers returns the iss values SqlClient accepts for an instance URL
// (GenerateListOfIssuers): the instance URL, and with the default port also
// the same with ":443".
func validIssuers(instance string) []string {
	u, err := url.Parse(instance)
	if err != nil || u.Port() != "" || u.Path != "" {
		return []string{instance}
	}
	return []string{instance, instance + ":443"}
}

// keySet is the signing keys of one instance, as fetched.
type keySet struct {
	keys    []token.PublicKey
	jwksURI string
	fetched time.Time
}

// fetchKeys gets base + "/.well-known/openid-configuration", then its
// jwks_uri, both over https, and reads the key set with the drivers' rules
// (readKeySet).
func (v *Validator) fetchKeys(ctx context.Context, base string, now time.Time) (*keySet, error) {
	if !strings.HasPrefix(base, "https://") {
		return nil, ErrHTTPSRequired.Wrapf("the OpenID metadata URL %s%s is not https", base, token.OpenIDConfigurationPath)
	}
	body, err := v.get(ctx, base+token.OpenIDConfigurationPath)
	if err != nil {
		return nil, err
	}
	cfg, err := token.ParseOpenIDConfiguration(body)
	if err != nil {
		return nil, ErrSigningKeysUnavailable.Wrap(err)
	}
	if u, err := url.Parse(cfg.JWKSURI); err != nil || !strings.EqualFold(u.Scheme, "https") {
		return nil, ErrHTTPSRequired.Wrapf("jwks_uri %q is not https", cfg.JWKSURI)
	}
	body, err = v.get(ctx, cfg.JWKSURI)
	if err != nil {
		return nil, err
	}
	keys, err := readKeySet(body)
	if err != nil {
		return nil, err
	}
	return &keySet{keys: keys, jwksURI: cfg.JWKSURI, fetched: now}, nil
}

// readKeySet reads a JWKS: every key must have a kid, a kty and a
// non-empty x5c (JDBC reads kid and x5c of the keys it walks; IdentityModel
// needs kty), and its public key is that of x5c[0] (token.ParseJWKS, which
// also refuses n/e that disagree with the certificate and private key
// material).
func readKeySet(body []byte) ([]token.PublicKey, error) {
	var doc struct {
		Keys []map[string]json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, ErrSigningKeysUnavailable.Wrapf("the key set is not a JSON object with a keys array: %v", err)
	}
	for i, k := range doc.Keys {
		for _, m := range []string{"kid", "kty"} {
			var s string
			if err := json.Unmarshal(k[m], &s); err != nil || s == "" {
				return nil, ErrSigningKeyInvalid.Wrapf("key %d has no %s string", i, m)
			}
		}
		var x5c []string
		if err := json.Unmarshal(k["x5c"], &x5c); err != nil || len(x5c) == 0 {
			return nil, ErrSigningKeyInvalid.Wrapf("key %d has no x5c certificate", i)
		}
	}
	keys, err := token.ParseJWKS(body)
	if err != nil {
		return nil, ErrSigningKeyInvalid.Wrap(err)
	}
	if len(keys) != len(doc.Keys) {
		return nil, ErrSigningKeyInvalid.Wrapf("%d of %d keys have no usable public key", len(doc.Keys)-len(keys), len(doc.Keys))
	}
	return keys, nil
}

// get fetches a discovery document as token.FetchDocument does; a failure
// is ErrSigningKeysUnavailable with its cause.
func (v *Validator) get(ctx context.Context, u string) ([]byte, error) {
	body, err := token.FetchDocument(ctx, v.hc, u, "application/json")
	if err != nil {
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		return nil, ErrSigningKeysUnavailable.Wrap(err)
	}
	return body, nil
}

// signingKeys returns the keys of an instance: from the cache when they
// were fetched less than KeyCacheLifetime ago and force is false, else
// fetched and cached. cached tells which.
func (v *Validator) signingKeys(ctx context.Context, base string, force bool) (ks *keySet, cached bool, err error) {
	now := v.now()
	v.mu.Lock()
	ks = v.cache[base]
	v.mu.Unlock()
	if ks != nil && !force && now.Before(ks.fetched.Add(KeyCacheLifetime)) {
		return ks, true, nil
	}
	ks, err = v.fetchKeys(ctx, base, now)
	if err != nil {
		return nil, false, err
	}
	v.mu.Lock()
	v.cache[base] = ks
	v.mu.Unlock()
	return ks, false, nil
}

func (ks *keySet) describe(cached bool) string {
	how := "fetched"
	if cached {
		how = "cached, fetched " + ks.fetched.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%d key(s) from %s (%s)", len(ks.keys), ks.jwksURI, how)
}
