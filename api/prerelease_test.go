package api

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/avowhq/avow/client"
)

// TestOpenEnclavePreReleaseBody: /attest/OpenEnclave accepts the
// pre-release body, which carries the OpenEnclave report as "quote" (the
// 2018-09-01-preview example), when it is unambiguous: no "report", or the
// same bytes in both.
func TestOpenEnclavePreReleaseBody(t *testing.T) {
	e := newEnv(t, Options{})
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	oe := b64(client.OpenEnclaveReport(e.quote))
	const path = "/providers/contoso/attest/OpenEnclave?api-version="
	for _, tc := range []struct {
		name, version, body string
		status              int
		code                string
	}{
		{"report", "2022-08-01", `{"report":"` + oe + `"}`, 200, ""},
		{"quote, 2018-09-01-preview", "2018-09-01-preview", `{"quote":"` + oe + `"}`, 200, ""},
		{"Quote, legacy PascalCase", "2018-09-01-preview", `{"Quote":"` + oe + `"}`, 200, ""},
		{"quote, 2022-08-01", "2022-08-01", `{"quote":"` + oe + `"}`, 200, ""},
		{"the same in both", "2022-08-01", `{"report":"` + oe + `","quote":"` + oe + `"}`, 200, ""},
		{"different", "2022-08-01", `{"report":"` + oe + `","quote":"` + b64(e.quote) + `"}`, 400, "invalid_json"},
		{"a bare SGX quote as quote", "2018-09-01-preview", `{"quote":"` + b64(e.quote) + `"}`, 400, ""},
		{"neither", "2022-08-01", `{"runtimeData":{"data":"AA","dataType":"Binary"}}`, 400, "invalid_json"},
	} {
		r := e.do(t, "POST", path+tc.version, "", strings.NewReader(tc.body), "Content-Type", "application/json")
		var b errBody
		_ = json.Unmarshal(r.body, &b)
		if r.status != tc.status || (tc.code != "" && b.Error.Code != tc.code) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
		}
	}
}

// TestUnauthorizedKeepsJSONBody: a 401 on the data plane carries MAA's
// JSON error body and a Bearer challenge. MAA's examples show an empty
// body; the JS SDK (@azure/core-client) and Python's azure-core accept
// both and show the code and message only from a JSON one
// (docs/azure-sdk.md).
func TestUnauthorizedKeepsJSONBody(t *testing.T) {
	e := newEnv(t, Options{})
	for _, path := range []string{
		"/providers/contoso/policies/SgxEnclave?api-version=2022-08-01",
		"/providers/contoso/certificates?api-version=2022-08-01",
	} {
		for _, token := range []string{"", "avow_not_a_token"} {
			r := e.do(t, "GET", path, token, nil)
			var b errBody
			if err := json.Unmarshal(r.body, &b); err != nil || r.status != 401 || b.Error.Code != "unauthorized" || b.Error.Message == "" ||
				!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
				t.Errorf("%s (token %q): %d %v %s", path, token, r.status, r.header, r.body)
			}
		}
	}
}
