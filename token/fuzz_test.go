package token

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: no input makes Verify panic, and whatever it accepts is a
// token of the given key or an allowed unsigned token.
func FuzzVerify(f *testing.F) {
	k := goldenKey(f)
	if tok, err := os.ReadFile(filepath.Join("testdata", "golden_token.jwt")); err == nil {
		f.Add(string(tok))
	}
	u, _ := IssueUnsigned(map[string]any{"a": 1}, testIssuer, t0, time.Hour, "j")
	f.Add(u)
	for _, s := range []string{"", ".", "..", "...", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.e30.", "eyJhbGciOiJub25lIn0.eyJleHAiOjF9.",
		"eyJhbGciOiJub25lIn0.eyJleHAiOjF9.AA", "eyJhbGciOiJSUzI1NiIsImtpZCI6MX0.e30.AA", "eyJ9.eyJ9.eyJ9"} {
		f.Add(s)
	}
	keys := []PublicKey{k.PublicKey(), {KID: "", Key: nil}}
	f.Fuzz(func(t *testing.T, tok string) {
		for _, allow := range []bool{false, true} {
			claims, h, err := Verify(tok, keys, VerifyOptions{Now: t0, AllowUnsigned: allow, Slack: time.Second})
			if err != nil {
				if claims != nil {
					t.Fatal("claims with an error")
				}
				continue
			}
			if h == nil || claims == nil {
				t.Fatal("no header or claims without an error")
			}
			if h.Alg == "none" && (!allow || !strings.HasSuffix(tok, ".")) {
				t.Fatalf("unsigned token accepted: %q", tok)
			}
			if h.Alg != "none" && h.Alg != "RS256" {
				t.Fatalf("alg %q accepted", h.Alg)
			}
		}
		DecodeUnverified(tok)
	})
}

// FuzzParseJWKS: no document makes ParseJWKS panic; accepted keys have a
// public key.
func FuzzParseJWKS(f *testing.F) {
	k := goldenKey(f)
	f.Add(JWKS([]*SigningKey{k}))
	f.Add([]byte(`{"keys":[]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","x5c":["` + base64.StdEncoding.EncodeToString(k.Certificate.Raw[:100]) + `"]}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","x":"AA"},null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		keys, err := ParseJWKS(data)
		if err != nil {
			return
		}
		for _, pk := range keys {
			if pk.Key == nil {
				t.Fatal("key without public key")
			}
		}
	})
}
