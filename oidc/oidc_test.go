package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/avowhq/avow/store"
)

// testIssuer is a local OpenID issuer: OpenID metadata and a JWKS over
// HTTPS, and keys to sign tokens with.
type testIssuer struct {
	srv       *httptest.Server
	mu        sync.Mutex
	public    []jose.JSONWebKey
	private   map[string]jose.JSONWebKey
	jwksHits  atomic.Int32
	failJWKS  atomic.Bool
	extraKeys []json.RawMessage      // published verbatim beside the keys
	jwksURI   atomic.Pointer[string] // published instead of /keys when set
}

func newTestIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{private: map[string]jose.JSONWebKey{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		jwks := iss.srv.URL + "/keys"
		if u := iss.jwksURI.Load(); u != nil {
			jwks = *u
		}
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["RS256","ES256"]}`,
			iss.srv.URL, jwks)
	})
	mux.HandleFunc("/keys", func(w http.ResponseWriter, r *http.Request) {
		iss.jwksHits.Add(1)
		if iss.failJWKS.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		iss.mu.Lock()
		defer iss.mu.Unlock()
		var keys []json.RawMessage
		for _, k := range iss.public {
			b, err := k.MarshalJSON()
			if err != nil {
				t.Error(err)
			}
			keys = append(keys, b)
		}
		keys = append(keys, iss.extraKeys...)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	mux.HandleFunc("/redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	iss.srv = httptest.NewTLSServer(mux)
	t.Cleanup(iss.srv.Close)
	return iss
}

// addKey makes a key of alg's type, publishes it and returns its kid.
func (iss *testIssuer) addKey(t *testing.T, alg jose.SignatureAlgorithm) string {
	t.Helper()
	var priv crypto.Signer
	var err error
	switch alg {
	case jose.RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	iss.mu.Lock()
	defer iss.mu.Unlock()
	kid := fmt.Sprintf("key-%d", len(iss.private)+1)
	iss.private[kid] = jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: string(alg), Use: "sig"}
	iss.public = append(iss.public, jose.JSONWebKey{Key: priv.Public(), KeyID: kid, Algorithm: string(alg), Use: "sig"})
	return kid
}

// removeKeys unpublishes every key (they still sign).
func (iss *testIssuer) removeKeys() {
	iss.mu.Lock()
	iss.public = nil
	iss.mu.Unlock()
}

func (iss *testIssuer) sign(t *testing.T, kid string, claims map[string]any) string {
	t.Helper()
	iss.mu.Lock()
	k, ok := iss.private[kid]
	iss.mu.Unlock()
	if !ok {
		t.Fatalf("no key %s", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(k.Algorithm), Key: k},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// claimsAt are valid claims for the issuer at now.
func (iss *testIssuer) claimsAt(now time.Time, roles ...string) map[string]any {
	return map[string]any{
		"iss": iss.srv.URL, "sub": "app-123", "aud": []string{"api://avow"},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "roles": roles,
	}
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestVerifier(t *testing.T, iss *testIssuer, clock *testClock, mod func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{Issuer: iss.srv.URL, Audience: "api://avow", HTTPClient: iss.srv.Client(), Now: clock.Now,
		RoleMap: map[string]store.Role{"Attestation.Owner": store.RoleOwner, "Attestation.Reader": store.RoleReader,
			"Attestation.PolicyAdmin": store.RolePolicyAdmin}}
	if mod != nil {
		mod(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestOIDCVerify(t *testing.T) {
	iss := newTestIssuer(t)
	rsaKID := iss.addKey(t, jose.RS256)
	ecKID := iss.addKey(t, jose.ES256)
	clock := &testClock{t: testNow}
	v := newTestVerifier(t, iss, clock, nil)
	ctx := context.Background()
	now := clock.Now()

	for _, kid := range []string{rsaKID, ecKID} {
		p, err := v.Verify(ctx, iss.sign(t, kid, iss.claimsAt(now, "Attestation.Reader", "Attestation.Owner")))
		if err != nil {
			t.Fatalf("%s: %v", kid, err)
		}
		if p.Subject != "app-123" || p.Role != store.RoleOwner {
			t.Errorf("%s: principal %+v", kid, p)
		}
	}
	if n := iss.jwksHits.Load(); n != 1 {
		t.Errorf("the JWKS was fetched %d times, want 1 (cached)", n)
	}

	cases := []struct {
		name  string
		mod   func(c map[string]any)
		code  string
		inMsg string
	}{
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, "unauthorized", "issued by"},
		{"wrong audience", func(c map[string]any) { c["aud"] = "api://other" }, "unauthorized", "audience"},
		{"no audience", func(c map[string]any) { delete(c, "aud") }, "unauthorized", "audience"},
		{"expired", func(c map[string]any) { c["exp"] = now.Add(-2 * time.Minute).Unix() }, "unauthorized", "expired"},
		{"expired within leeway", func(c map[string]any) { c["exp"] = now.Add(-30 * time.Second).Unix() }, "", ""},
		{"not yet valid", func(c map[string]any) { c["nbf"] = now.Add(5 * time.Minute).Unix() }, "unauthorized", "not valid before"},
		{"issued in the future", func(c map[string]any) { c["iat"] = now.Add(5 * time.Minute).Unix() }, "unauthorized", "not valid"},
		{"no exp", func(c map[string]any) { delete(c, "exp") }, "unauthorized", "no exp"},
		{"no sub", func(c map[string]any) { delete(c, "sub") }, "unauthorized", "no sub"},
		{"no role", func(c map[string]any) { delete(c, "roles") }, "forbidden", "no role"},
		{"unmapped role", func(c map[string]any) { c["roles"] = []string{"Something.Else"} }, "forbidden", "Something.Else"},
		{"policy admin", func(c map[string]any) { c["roles"] = []string{"Attestation.PolicyAdmin"} }, "", ""},
	}
	for _, tc := range cases {
		c := iss.claimsAt(now, "Attestation.Owner")
		tc.mod(c)
		_, err := v.Verify(ctx, iss.sign(t, rsaKID, c))
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.code+":") || !strings.Contains(err.Error(), tc.inMsg) {
			t.Errorf("%s: %v; want code %s and %q", tc.name, err, tc.code, tc.inMsg)
		}
	}
}

func TestOIDCRejectsForgedTokens(t *testing.T) {
	iss := newTestIssuer(t)
	kid := iss.addKey(t, jose.RS256)
	clock := &testClock{t: testNow}
	v := newTestVerifier(t, iss, clock, nil)
	ctx := context.Background()
	good := iss.sign(t, kid, iss.claimsAt(clock.Now(), "Attestation.Owner"))

	// Another issuer's key under the same kid.
	other := newTestIssuer(t)
	other.addKey(t, jose.RS256)
	otherKID := "key-1"
	forged := other.sign(t, otherKID, iss.claimsAt(clock.Now(), "Attestation.Owner"))
	if _, err := v.Verify(ctx, forged); !errors.Is(err, ErrToken) {
		t.Errorf("a token signed by another key: %v", err)
	}
	// A payload changed after signing.
	parts := strings.Split(good, ".")
	var c map[string]any
	b, _ := jwt.ParseSigned(good, oidcAlgorithms)
	b.UnsafeClaimsWithoutVerification(&c)
	c["roles"] = []string{"Attestation.Owner", "x"}
	payload, _ := json.Marshal(c)
	tampered := parts[0] + "." + b64url(payload) + "." + parts[2]
	if _, err := v.Verify(ctx, tampered); !errors.Is(err, ErrToken) {
		t.Errorf("a tampered token: %v", err)
	}
	// alg none and HS256 (with the public key as the secret) are refused.
	none := b64url([]byte(`{"alg":"none","kid":"key-1"}`)) + "." + parts[1] + "."
	if _, err := v.Verify(ctx, none); !errors.Is(err, ErrToken) {
		t.Errorf("alg none: %v", err)
	}
	hs, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: []byte("0123456789abcdef0123456789abcdef")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hsTok, _ := jwt.Signed(hs).Claims(iss.claimsAt(clock.Now(), "Attestation.Owner")).Serialize()
	if _, err := v.Verify(ctx, hsTok); !errors.Is(err, ErrToken) {
		t.Errorf("HS256: %v", err)
	}
	if _, err := v.Verify(ctx, "a.b.c"); !errors.Is(err, ErrToken) {
		t.Errorf("garbage: %v", err)
	}
}

func b64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestOIDCKeyRefresh(t *testing.T) {
	iss := newTestIssuer(t)
	kid1 := iss.addKey(t, jose.RS256)
	clock := &testClock{t: testNow}
	v := newTestVerifier(t, iss, clock, func(c *Config) { c.RefreshInterval = 10 * time.Second })
	ctx := context.Background()
	if _, err := v.Verify(ctx, iss.sign(t, kid1, iss.claimsAt(clock.Now(), "Attestation.Owner"))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates: a token with the new kid makes the verifier fetch
	// the keys again, once the refresh interval has passed.
	clock.advance(11 * time.Second)
	kid2 := iss.addKey(t, jose.ES256)
	if _, err := v.Verify(ctx, iss.sign(t, kid2, iss.claimsAt(clock.Now(), "Attestation.Owner"))); err != nil {
		t.Fatalf("new kid after rotation: %v", err)
	}
	if n := iss.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times, want 2", n)
	}
	// Unknown kids do not make the verifier fetch more often than the
	// refresh interval allows.
	for i := 0; i < 5; i++ {
		if _, err := v.Verify(ctx, iss.sign(t, kid1, map[string]any{"iss": "x"})); err == nil {
			t.Fatal("bad claims accepted")
		}
		tok := iss.sign(t, kid2, iss.claimsAt(clock.Now(), "Attestation.Owner"))
		forgedKID := strings.Replace(tok, strings.Split(tok, ".")[0], b64url([]byte(`{"alg":"ES256","kid":"nope","typ":"JWT"}`)), 1)
		if _, err := v.Verify(ctx, forgedKID); !errors.Is(err, ErrToken) || !strings.Contains(err.Error(), `"nope"`) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := iss.jwksHits.Load(); n != 2 {
		t.Errorf("JWKS fetched %d times after unknown kids within the interval, want 2", n)
	}
	clock.advance(11 * time.Second)
	kid3 := iss.addKey(t, jose.RS256)
	if _, err := v.Verify(ctx, iss.sign(t, kid3, iss.claimsAt(clock.Now(), "Attestation.Owner"))); err != nil {
		t.Fatalf("third key: %v", err)
	}
	// When the issuer is down, the keys already known still verify.
	iss.failJWKS.Store(true)
	clock.advance(25 * time.Hour)
	if _, err := v.Verify(ctx, iss.sign(t, kid1, iss.claimsAt(clock.Now(), "Attestation.Owner"))); err != nil {
		t.Fatalf("known key while the issuer is down: %v", err)
	}
	// Keys the issuer no longer publishes are dropped on the next fetch.
	iss.failJWKS.Store(false)
	iss.removeKeys()
	clock.advance(25 * time.Hour)
	if _, err := v.Verify(ctx, iss.sign(t, kid1, iss.claimsAt(clock.Now(), "Attestation.Owner"))); !errors.Is(err, ErrToken) {
		t.Fatalf("unpublished key: %v", err)
	}
}

func TestOIDCSkipsUnusableKeys(t *testing.T) {
	iss := newTestIssuer(t)
	iss.extraKeys = []json.RawMessage{
		json.RawMessage(`{"kty":"oct","kid":"sym","k":"c2VjcmV0"}`),
		json.RawMessage(`{"kty":"OKP","crv":"X25519","kid":"x","x":"AAAA"}`),
		json.RawMessage(`{"kty":"RSA","kid":"enc","use":"enc","n":"sXch","e":"AQAB"}`),
	}
	kid := iss.addKey(t, jose.RS256)
	clock := &testClock{t: testNow}
	v := newTestVerifier(t, iss, clock, nil)
	if _, err := v.Verify(context.Background(), iss.sign(t, kid, iss.claimsAt(clock.Now(), "Attestation.Owner"))); err != nil {
		t.Fatal(err)
	}
}

func TestOIDCRoleClaims(t *testing.T) {
	cases := []struct {
		claims map[string]any
		name   string
		want   []string
	}{
		{map[string]any{"roles": []any{"a", "b"}}, "roles", []string{"a", "b"}},
		{map[string]any{"roles": "a b"}, "roles", []string{"a", "b"}},
		{map[string]any{"scp": "reader"}, "scp", []string{"reader"}},
		{map[string]any{"realm_access": map[string]any{"roles": []any{"owner", 3.0}}}, "realm_access.roles", []string{"owner"}},
		{map[string]any{"https://example.com/roles": []any{"x"}}, "https://example.com/roles", []string{"x"}},
		{map[string]any{"roles": 7.0}, "roles", nil},
		{map[string]any{"realm_access": "owner"}, "realm_access.roles", nil},
		{map[string]any{}, "roles", nil},
	}
	for _, tc := range cases {
		got := roleValues(tc.claims, tc.name)
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s in %v: got %v, want %v", tc.name, tc.claims, got, tc.want)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{Issuer: "http://idp.example", Audience: "a"},
		{Issuer: "https://idp.example"},
		{Issuer: "not a url", Audience: "a"},
		{Issuer: "https://idp.example", Audience: "a", RoleMap: map[string]store.Role{"x": "admin"}},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v", cfg, err)
		}
	}
	if _, err := ParseRoleMap(map[string]string{"Attestation.Owner": "root"}); !errors.Is(err, ErrConfig) {
		t.Errorf("ParseRoleMap: %v", err)
	}
	m, err := ParseRoleMap(map[string]string{" Attestation.Owner ": " owner "})
	if err != nil || m["Attestation.Owner"] != store.RoleOwner {
		t.Errorf("ParseRoleMap: %v %v", m, err)
	}
	// Default map: avow's role names.
	v, err := New(Config{Issuer: "https://idp.example", Audience: "a"})
	if err != nil || v.cfg.RoleMap["policy-admin"] != store.RolePolicyAdmin || v.cfg.RoleClaim != "roles" {
		t.Errorf("defaults: %+v %v", v, err)
	}
}

// TestOIDCKeysOnlyOverHTTPS is issue 13 item 9(a): the issuer is https,
// and so must be where its keys come from. A jwks_uri over plain http, or
// an https one that redirects to http, is refused without fetching it: a
// network attacker could otherwise serve its own keys and mint owner
// tokens.
func TestOIDCKeysOnlyOverHTTPS(t *testing.T) {
	iss := newTestIssuer(t)
	kid := iss.addKey(t, jose.RS256)
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainHits.Add(1)
		iss.mu.Lock()
		defer iss.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"keys": iss.public})
	}))
	t.Cleanup(plain.Close)
	ctx := context.Background()
	for name, jwks := range map[string]string{
		"http jwks_uri":             plain.URL + "/keys",
		"https redirecting to http": iss.srv.URL + "/redirect?to=" + plain.URL + "/keys",
	} {
		iss.jwksURI.Store(&jwks)
		clock := &testClock{t: testNow}
		v := newTestVerifier(t, iss, clock, nil)
		_, err := v.Verify(ctx, iss.sign(t, kid, iss.claimsAt(clock.Now(), "Attestation.Owner")))
		if err == nil || !strings.HasPrefix(err.Error(), "unauthorized:") || !strings.Contains(err.Error(), "https") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n := plainHits.Load(); n != 0 {
		t.Errorf("the plain http key set was fetched %d times", n)
	}
	// The same keys over https are fine.
	iss.jwksURI.Store(nil)
	clock := &testClock{t: testNow}
	if _, err := newTestVerifier(t, iss, clock, nil).Verify(ctx, iss.sign(t, kid, iss.claimsAt(clock.Now(), "Attestation.Owner"))); err != nil {
		t.Errorf("https: %v", err)
	}
}
