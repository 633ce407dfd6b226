package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/avowhq/avow/oidc"
)

// TestOIDCBearerTokens: a node configured with an OpenID issuer accepts
// the issuer's JWTs on the management API, the ARM API and the policy
// endpoints, mapping their role claim, beside admin tokens.
func TestOIDCBearerTokens(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	var idp *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("/tenant/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, idp.URL+"/tenant", idp.URL+"/tenant/keys")
	})
	mux.HandleFunc("/tenant/keys", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	})
	idp = httptest.NewTLSServer(mux)
	defer idp.Close()
	issuer := idp.URL + "/tenant"

	n, _ := startNode(t, t.TempDir(), func(c *Config) {
		c.OIDC = OIDCConfig{Issuer: issuer, Audience: "api://avow", RoleClaim: "roles",
			RoleMap: map[string]string{"Attestation.Owner": "owner", "Attestation.Reader": "reader"}, HTTPClient: idp.Client()}
	})
	hc, err := n.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	jwtFor := func(aud string, roles ...string) string {
		now := time.Now()
		raw, err := josejwt.Signed(signer).Claims(map[string]any{"iss": issuer, "aud": aud, "sub": "svc-1", "roles": roles,
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	call := func(method, path, token string, body any) int {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, n.URL+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	owner, reader := jwtFor("api://avow", "Attestation.Owner"), jwtFor("api://avow", "Attestation.Reader")
	if st := call("POST", "/management/providers", owner, map[string]any{"name": "native"}); st != http.StatusCreated {
		t.Fatalf("owner JWT, native API: %d", st)
	}
	arm := "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Attestation/attestationProviders/armprov?api-version=2021-06-01"
	if st := call("PUT", arm, owner, map[string]any{"location": "East US"}); st != http.StatusCreated {
		t.Fatalf("owner JWT, ARM: %d", st)
	}
	if st := call("GET", arm, reader, nil); st != http.StatusOK {
		t.Errorf("reader JWT, ARM GET: %d", st)
	}
	if st := call("GET", "/providers/armprov/policies/SgxEnclave?api-version=2020-10-01", reader, nil); st != http.StatusOK {
		t.Errorf("reader JWT, policy GET: %d", st)
	}
	if st := call("DELETE", arm, reader, nil); st != http.StatusForbidden {
		t.Errorf("reader JWT, ARM DELETE: %d", st)
	}
	if st := call("GET", "/management/providers", jwtFor("api://other", "Attestation.Owner"), nil); st != http.StatusUnauthorized {
		t.Errorf("JWT for another audience: %d", st)
	}
	if st := call("GET", "/management/providers", n.AdminToken.Secret, nil); st != http.StatusOK {
		t.Errorf("admin token beside OIDC: %d", st)
	}
}

func TestOIDCConfigChecks(t *testing.T) {
	for _, oc := range []OIDCConfig{
		{Issuer: "https://idp.example"},               // no audience
		{Issuer: "http://idp.example", Audience: "a"}, // not https
		{Audience: "a"},                               // audience without issuer
		{Issuer: "https://idp.example", Audience: "a", RoleMap: map[string]string{"x": "root"}},
	} {
		_, err := Start(context.Background(), Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(t.TempDir(), "d"), OIDC: oc})
		if !errors.Is(err, ErrConfig) && !errors.Is(err, oidc.ErrConfig) {
			t.Errorf("%+v: %v", oc, err)
		}
	}
}
