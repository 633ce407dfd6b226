package api

import (
	"crypto/x509"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
)

const fuzzPolicyText = `version=1.0; authorizationrules { c:[type=="x-ms-sgx-svn", value>=2] => permit(); }; issuancerules { c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value); };`

// policyBodies are the JWS bodies of the policy and certificate routes:
// unsigned and signed policy documents, unsigned and signed resets, a
// signer addition (and, last, its removal), raw and as a JSON string, and
// the malformed bodies of the hostile input test. No body removes the
// Isolated provider's own signer, so that the signed ones stay valid for a
// whole fuzzing run.
func policyBodies(tb testing.TB, e *fuzzEnv) []string {
	tb.Helper()
	signed, err := policy.SignDocument(fuzzPolicyText, e.signerKey, []*x509.Certificate{e.signerCert})
	if err != nil {
		tb.Fatal(err)
	}
	at := client.DocumentTime(testNow) // the service's clock
	reset, err := client.ResetDocument(e.signerKey, []*x509.Certificate{e.signerCert}, at)
	if err != nil {
		tb.Fatal(err)
	}
	_, other := signerPair(tb, "fuzz second signer")
	add, err := client.SignerChangeDocument(client.SignerAdd, other, e.signerKey, e.signerCert, at)
	if err != nil {
		tb.Fatal(err)
	}
	remove, err := client.SignerChangeDocument(client.SignerRemove, other, e.signerKey, e.signerCert, at)
	if err != nil {
		tb.Fatal(err)
	}
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	out := []string{
		policy.UnsignedDocument(fuzzPolicyText), signed, client.UnsignedResetDocument, reset, add,
		quote(policy.UnsignedDocument(fuzzPolicyText)), quote(signed), quote(reset), quote(add),
		" \n" + signed + "\r\n",
		"not a jws", "a.b.c", "eyJhbGciOiJub25lIn0.eyJ.", "eyJhbGciOiJub25lIn0.e30.", `"a.b.c"`, `"abc`, `""`, `"  "`, "{{{", "",
		policy.UnsignedDocument("version=1.0; authorizationrules { => permit() };;;"),
		`"\u0065yJhbGciOiJub25lIn0..`,
		remove, // 22: add (4) is no remove
	}
	return out
}

// FuzzJWSBody reads arbitrary policy bodies (raw JWS or a JSON string).
// Invariants: no panic; a refusal is a typed error (invalid_json,
// request_too_large); an accepted body is non-empty and trimmed, the body
// itself or the JSON string it is.
func FuzzJWSBody(f *testing.F) {
	e := newFuzzEnv(f)
	for _, b := range policyBodies(f, e) {
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		text, err := jwsBody(bodyRequest("text/plain", body))
		if err != nil {
			typedCode(t, "jwsBody", err, "invalid_json", "request_too_large")
			return
		}
		if text == "" || text != strings.TrimSpace(text) {
			t.Fatalf("%q: text %q", body, text)
		}
		raw := strings.TrimSpace(string(body))
		if strings.HasPrefix(raw, `"`) {
			var s string
			if err := json.Unmarshal([]byte(raw), &s); err != nil || strings.TrimSpace(s) != text {
				t.Fatalf("%q: text %q, JSON string %q (%v)", body, text, s, err)
			}
		} else if text != raw {
			t.Fatalf("%q: text %q", body, text)
		}
	})
}

// policyRoutes are the routes with a JWS body, by FuzzPolicyBody's route
// number.
var policyRoutes = []struct{ method, path string }{
	{http.MethodPut, "/providers/contoso/policies/SgxEnclave"},
	{http.MethodPut, "/providers/isolated/policies/SgxEnclave"},
	{http.MethodPost, "/providers/contoso/policies/SgxEnclave:reset"},
	{http.MethodPost, "/providers/isolated/policies/SgxEnclave:reset"},
	{http.MethodPost, "/providers/isolated/certificates:add"},
	{http.MethodPost, "/providers/isolated/certificates:remove"},
	{http.MethodPost, "/providers/contoso/certificates:add"},
	{http.MethodPut, "/providers/isolated/policies/TdxVm"},
}

// FuzzPolicyBody sends arbitrary bodies to policy set and reset and to
// signer addition and removal of an AAD and an Isolated provider, through
// the whole handler, as the owner. Invariants: never a 5xx; every refusal
// is MAA's error body with a code, a message and the request id.
func FuzzPolicyBody(f *testing.F) {
	e := newFuzzEnv(f)
	bodies := policyBodies(f, e)
	for route := range policyRoutes {
		for _, b := range bodies {
			f.Add(uint8(route), "text/plain", []byte(b))
		}
	}
	f.Add(uint8(0), "application/json", []byte(`"`+policy.UnsignedDocument(fuzzPolicyText)+`"`))
	f.Add(uint8(4), "application/json; charset=utf-8", []byte(bodies[4]))
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		rt := policyRoutes[int(route)%len(policyRoutes)]
		rec := e.serve(rt.method, rt.path, "api-version=2022-08-01", e.owner, contentType, body)
		checkAnswer(t, rt.method+" "+rt.path, rec, false)
	})
}
