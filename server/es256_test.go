package server

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/sgxsim"
)

// TestES256ProviderOverHTTPS: a provider with ES256 tokens, verified by the
// Go client through OpenID discovery and independently by go-jose with
// /certs; switching back to RS256 keeps the ES256 key published.
func TestES256ProviderOverHTTPS(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, c := startNode(t, dir, nil)
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "fast", Settings: &client.Settings{TokenAlgorithm: "ES256"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Settings.TokenAlgorithm != "ES256" {
		t.Fatalf("settings %+v", p.Settings)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	tok, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.VerifyToken(ctx, tok, p.AttestURI)
	if err != nil || v.Header.Alg != "ES256" {
		t.Fatalf("client verification: %v %+v", err, v)
	}
	resp, err := mustHTTP(t, n).Get(p.AttestURI + "/certs")
	if err != nil {
		t.Fatal(err)
	}
	var set jose.JSONWebKeySet
	json.NewDecoder(resp.Body).Decode(&set)
	resp.Body.Close()
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		t.Fatal(err)
	}
	var std josejwt.Claims
	if err := parsed.Claims(set.Key(v.Header.KID)[0].Key, &std); err != nil {
		t.Fatal(err)
	}
	if err := std.Validate(josejwt.Expected{Issuer: p.AttestURI, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	// Policy management results are ES256 too, and verify.
	res, err := c.SetPolicy(ctx, p.AttestURI, "SgxEnclave", "eyJhbGciOiJub25lIn0.eyJBdHRlc3RhdGlvblBvbGljeSI6ImRtVnljMmx2YmoweExqQTdJR0YxZEdodmNtbDZZWFJwYjI1eWRXeGxjeUI3SUQwLUlIQmxjbTFwZENncE95QjlPdyJ9.")
	if err != nil || res.Result != "Updated" {
		t.Fatalf("set policy: %+v %v", res, err)
	}
	// Back to RS256: a new RSA key; the ES256 key stays published.
	p, err = c.UpdateProviderSettings(ctx, "fast", client.Settings{TokenAlgorithm: "RS256"})
	if err != nil || p.Settings.TokenAlgorithm != "RS256" {
		t.Fatalf("update: %+v %v", p, err)
	}
	tok2, _ := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{})
	if v2, err := c.VerifyToken(ctx, tok2, p.AttestURI); err != nil || v2.Header.Alg != "RS256" {
		t.Fatalf("after the switch: %v", err)
	}
	if _, err := c.VerifyToken(ctx, tok, p.AttestURI); err != nil {
		t.Errorf("the ES256 token no longer verifies after the switch: %v", err)
	}
}
