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
