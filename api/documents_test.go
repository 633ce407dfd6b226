package api

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/avowhq/avow/policy"
)

// TestDocumentRoutesRefuseOtherKinds offers every kind of signed
// management document, through the HTTP API, to every route that takes a
// body of an Isolated provider: the data plane's policy set, reset, signer
// add and remove, and the ARM routes (PUT and PATCH of a provider, which
// take no JWS at all). Each document is refused wherever it was not made
// for (the service tests check that it is accepted where it was), and the
// refusal leaves the provider unchanged.
func TestDocumentRoutesRefuseOtherKinds(t *testing.T) {
	e := newFuzzEnv(t)
	key, cert := e.signerKey, e.signerCert
	_, other := signerPair(t, "second signer")
	sign := func(payload map[string]any) string {
		var b []byte
		if payload != nil {
			b, _ = json.Marshal(payload)
		}
		jws, err := policy.SignJWS(b, key, []*x509.Certificate{cert}, "")
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}
	jwk := map[string]any{"kty": "EC", "x5c": []string{base64.StdEncoding.EncodeToString(other.Raw)}}
	signedPolicy, err := policy.SignDocument(fuzzPolicyText, key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{
		"policy":       signedPolicy,
		"reset":        sign(nil),
		"add":          sign(map[string]any{"policyCertificate": jwk, "x-avow-operation": "add"}),
		"remove":       sign(map[string]any{"policyCertificate": jwk, "x-avow-operation": "remove"}),
		"signer (MAA)": sign(map[string]any{"policyCertificate": jwk}),
	}
	type route struct{ method, path, query, ctype string }
	const dp = "api-version=2022-08-01"
	const arm = "api-version=2021-06-01"
	armPath := armBase + "/armprov"
	routes := map[string]route{
		"set":       {http.MethodPut, "/providers/isolated/policies/SgxEnclave", dp, "text/plain"},
		"reset":     {http.MethodPost, "/providers/isolated/policies/SgxEnclave:reset", dp, "text/plain"},
		"add":       {http.MethodPost, "/providers/isolated/certificates:add", dp, "application/json"},
		"remove":    {http.MethodPost, "/providers/isolated/certificates:remove", dp, "application/json"},
		"arm put":   {http.MethodPut, armPath, arm, "application/json"},
		"arm patch": {http.MethodPatch, armPath, arm, "application/json"},
	}
	made := map[string][]string{ // the routes each document is made for
		"policy": {"set"}, "reset": {"reset"}, "add": {"add"}, "remove": {"remove"}, "signer (MAA)": {"add", "remove"},
	}
	state := func() string {
		rec := e.serve(http.MethodGet, "/providers/isolated/policies/SgxEnclave", dp, e.owner, "", nil)
		certs := e.serve(http.MethodGet, "/providers/isolated/certificates", dp, e.owner, "", nil)
		armGet := e.serve(http.MethodGet, armPath, arm, e.owner, "", nil)
		var a map[string]any
		_ = json.Unmarshal(armGet.Body.Bytes(), &a)
		return tokenClaim(t, rec.Body.Bytes(), "x-ms-policy") + "|" + tokenClaim(t, certs.Body.Bytes(), "x-ms-policy-certificates") + "|" + jsonString(a["tags"]) + jsonString(a["location"])
	}
	before := state()
	for dname, doc := range docs {
		for rname, rt := range routes {
			ok := false
			for _, m := range made[dname] {
				ok = ok || m == rname
			}
			if ok {
				continue
			}
			for _, body := range []string{doc, jsonString(doc)} {
				rec := e.serve(rt.method, rt.path, rt.query, e.owner, rt.ctype, []byte(body))
				checkAnswer(t, dname+" on "+rname, rec, rname == "arm put" || rname == "arm patch")
				if rec.Code != http.StatusBadRequest {
					t.Errorf("%s on %s: %d %s", dname, rname, rec.Code, rec.Body.Bytes())
				}
			}
		}
	}
	if after := state(); after != before {
		t.Errorf("a refused document changed the provider:\n%s\n%s", before, after)
	}
}

func jsonString(v any) string { b, _ := json.Marshal(v); return string(b) }

// tokenClaim returns a claim of the {"token": JWT} answer, as JSON.
func tokenClaim(t *testing.T, body []byte, name string) string {
	t.Helper()
	var res struct{ Token string }
	if err := json.Unmarshal(body, &res); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	parts := strings.Split(res.Token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %s", body)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	_ = json.Unmarshal(b, &claims)
	return jsonString(claims[name])
}
