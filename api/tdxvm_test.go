package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation/tdx"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// tdxEnv is the API test environment with the simulated platform's TDX
// collateral imported too.
func tdxEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, Options{})
	col, err := sgxsim.Default().Collateral(sgxsim.CollateralOptions{TEE: sgxsim.TDX, Now: testNow.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	admin := &service.Principal{ID: "test", Role: store.RoleOwner}
	if _, _, err := e.svc.ImportCollateral(context.Background(), admin, col, "sgxsim"); err != nil {
		t.Fatal(err)
	}
	return e
}

func tdQuote(t *testing.T, o sgxsim.QuoteOptions) []byte {
	t.Helper()
	o.TEE = sgxsim.TDX
	q, err := sgxsim.Default().Quote(o)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// tdxAttest posts MAA's TdxVm request (what Azure's cvm-attestation-tools
// send: quote, runtimeData as JSON, nonce) and returns the response.
func tdxAttest(t *testing.T, e *testEnv, apiVersion string, body map[string]any) response {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return e.do(t, "POST", "/providers/contoso/attest/TdxVm?api-version="+apiVersion, "", bytes.NewReader(b), "Content-Type", "application/json")
}

// TestAttestTdxVm: POST /attest/TdxVm end to end with a simulated TD —
// MAA's request, MAA's EAT-profile claims with their JSON types, the
// runtime data bound by SHA-256 in REPORTDATA[0:32] (MAA's rule; SHA-512
// over all 64 bytes is refused), the default TdxVm policy, a draft policy
// over TDX claims, and the refusals.
func TestAttestTdxVm(t *testing.T) {
	e := tdxEnv(t)
	enc := base64.RawURLEncoding.EncodeToString
	runtime := []byte(`{"keys":[{"kid":"TpmEphemeralEncryptionKey","kty":"RSA","e":"AQAB","n":"x"}],"user-data":"42","vm-configuration":{"secure-boot":true,"tpm-enabled":true}}`)
	sum := sha256.Sum256(runtime)
	rtmr1 := bytes.Repeat([]byte{0x11}, 48)
	q := tdQuote(t, sgxsim.QuoteOptions{ReportData: sum[:], RTMR: [4][]byte{nil, rtmr1}})

	for _, v := range []string{"2023-04-01-preview", "2025-06-01"} {
		r := tdxAttest(t, e, v, map[string]any{
			"quote":       enc(q),
			"runtimeData": map[string]string{"data": enc(runtime), "dataType": "JSON"},
			"nonce":       "n-1",
		})
		var out struct{ Token string }
		if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
			t.Fatalf("api-version %s: %d %s", v, r.status, r.body)
		}
		c, _, err := token.DecodeUnverified(out.Token)
		if err != nil {
			t.Fatal(err)
		}
		reportData := append(sum[:], make([]byte, 32)...)
		want := map[string]any{
			"x-ms-ver":                          "1.0",
			"x-ms-attestation-type":             "tdxvm",
			"eat_profile":                       "https://aka.ms/maa-eat-profile-tdxvm",
			"intuse":                            "generic",
			"dbgstat":                           "disabled",
			"attester_tcb_status":               "UpToDate",
			"attester_advisory_ids":             "",
			"attester_collateral_expired":       false,
			"tdx_report_data":                   hex.EncodeToString(reportData),
			"tdx_mrtd":                          hex.EncodeToString(sgxsim.DefaultMRTD[:]),
			"tdx_rtmr0":                         strings.Repeat("00", 48),
			"tdx_rtmr1":                         hex.EncodeToString(rtmr1),
			"tdx_td_attributes":                 "0000001000000000",
			"tdx_td_attributes_debug":           false,
			"tdx_td_attributes_septve_disable":  true,
			"tdx_td_attributes_protection_keys": false,
			"tdx_td_attributes_key_locker":      false,
			"tdx_td_attributes_perfmon":         false,
			"nonce":                             "n-1",
			"x-ms-policy-hash":                  policy.PolicyHash(tdx.DefaultPolicy),
			"x-avow-simulated":                  true,
		}
		for k, w := range want {
			if got := c[k]; got != w {
				t.Errorf("%s: %s = %#v, want %#v", v, k, got, w)
			}
		}
		// JSON types as MAA's example token: numbers, lower-case hex of the
		// field's length, an object for x-ms-runtime.
		for k, n := range map[string]int{"tdx_mrseam": 48, "tdx_mrsignerseam": 48, "tdx_mrconfigid": 48, "tdx_mrowner": 48,
			"tdx_mrownerconfig": 48, "tdx_rtmr2": 48, "tdx_rtmr3": 48, "tdx_seam_attributes": 8, "tdx_xfam": 8, "tdx_tee_tcb_svn": 16} {
			s, _ := c[k].(string)
			if b, err := hex.DecodeString(s); err != nil || len(b) != n || strings.ToLower(s) != s {
				t.Errorf("%s: %s = %#v, want %d bytes of lower-case hex", v, k, c[k], n)
			}
		}
		for _, k := range []string{"tdx_seamsvn", "qe_svn", "pce_svn", "iat", "exp", "nbf"} {
			if _, ok := c[k].(json.Number); !ok {
				t.Errorf("%s: %s = %#v, want a number", v, k, c[k])
			}
		}
		rt, _ := c["x-ms-runtime"].(map[string]any)
		if vc, _ := rt["vm-configuration"].(map[string]any); rt["user-data"] != "42" || vc["secure-boot"] != true {
			t.Errorf("%s: x-ms-runtime = %#v", v, c["x-ms-runtime"])
		}
		for k := range c {
			if strings.HasPrefix(k, "x-ms-sgx-") || k == "x-ms-policy" || k == "maa-ehd" || k == "tee" {
				t.Errorf("%s: a TdxVm token carries %s", v, k)
			}
		}
	}

	// Binary runtime data is bound the same way and adds no claim.
	r := tdxAttest(t, e, "2025-06-01", map[string]any{"quote": enc(q), "runtimeData": map[string]string{"data": enc(runtime), "dataType": "Binary"}})
	if r.status != 200 {
		t.Fatalf("Binary runtime data: %d %s", r.status, r.body)
	}

	refuse := func(name string, body map[string]any, status int, code string) {
		t.Helper()
		r := tdxAttest(t, e, "2025-06-01", body)
		var eb errBody
		if r.status != status || json.Unmarshal(r.body, &eb) != nil || eb.Error.Code != code {
			t.Errorf("%s: %d %s, want %d %s", name, r.status, r.body, status, code)
		}
	}
	other := []byte(`{"user-data":"43"}`)
	refuse("runtime data the TD did not bind", map[string]any{"quote": enc(q),
		"runtimeData": map[string]string{"data": enc(other), "dataType": "JSON"}}, 400, "runtime_data_mismatch")
	s512 := sha512.Sum512(runtime)
	q512 := tdQuote(t, sgxsim.QuoteOptions{ReportData: s512[:]})
	refuse("SHA-512 of the runtime data in REPORTDATA", map[string]any{"quote": enc(q512),
		"runtimeData": map[string]string{"data": enc(runtime), "dataType": "JSON"}}, 400, "runtime_data_mismatch")
	late := tdQuote(t, sgxsim.QuoteOptions{ReportData: append(make([]byte, 32), sum[:]...)})
	refuse("SHA-256 in REPORTDATA[32:64]", map[string]any{"quote": enc(late),
		"runtimeData": map[string]string{"data": enc(runtime), "dataType": "JSON"}}, 400, "runtime_data_mismatch")
	refuse("an SGX quote", map[string]any{"quote": enc(e.quote)}, 400, "unsupported_quote_format")
	refuse("no quote", map[string]any{"report": enc(q)}, 400, ErrBadJSON.Code)

	// A draft policy over TDX claims: a debuggable TD is refused, the
	// token of a production TD is unsigned and carries what the policy
	// issued.
	draft := `version= 1.0;
authorizationrules{
	c:[type=="tdx_td_attributes_debug", value==false] && c2:[type=="attester_tcb_status", value=="UpToDate"] => permit();
};
issuancerules{
	c:[type=="tdx_mrtd"] => issue(type="mrtd", value=c.value);
};`
	r = tdxAttest(t, e, "2025-06-01", map[string]any{"quote": enc(q), "draftPolicyForAttestation": draft})
	var out struct{ Token string }
	if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
		t.Fatalf("draft policy: %d %s", r.status, r.body)
	}
	c, hdr, err := token.DecodeUnverified(out.Token)
	if err != nil {
		t.Fatal(err)
	}
	issued, _ := c["x-ms-policy"].(map[string]any)
	if hdr.Alg != "none" || issued["mrtd"] != hex.EncodeToString(sgxsim.DefaultMRTD[:]) || c["x-ms-policy-hash"] != policy.PolicyHash(draft) {
		t.Errorf("draft policy token: alg %s, x-ms-policy %v, hash %v", hdr.Alg, c["x-ms-policy"], c["x-ms-policy-hash"])
	}
	dbg := tdQuote(t, sgxsim.QuoteOptions{Debug: true})
	refuse("a debuggable TD under the draft policy", map[string]any{"quote": enc(dbg), "draftPolicyForAttestation": draft}, 400, "policy_denied")

	// The policy type: GET /policies/TdxVm answers MAA's shape with the
	// default.
	pr := e.do(t, "GET", "/providers/contoso/policies/TdxVm?api-version=2025-06-01", e.reader, nil)
	var pol struct{ Token string }
	if pr.status != 200 || json.Unmarshal(pr.body, &pol) != nil {
		t.Fatalf("GET policies/TdxVm: %d %s", pr.status, pr.body)
	}
	pc, _, err := token.DecodeUnverified(pol.Token)
	if err != nil || pc["x-ms-policy"] != policy.UnsignedDocument(tdx.DefaultPolicy) {
		t.Errorf("GET policies/TdxVm: x-ms-policy %v (%v)", pc["x-ms-policy"], err)
	}
}

// FuzzAttestTdxVmRequest: MAA's TdxVm request parser — the body decoder
// with the TdxVm type's evidence member, then the type's quote parser —
// never panics; what it accepts has evidence, and evidence it parses is a
// TD quote. The seeds with simulated TDX (v4, v5) and SGX quotes are in
// testdata/fuzz/FuzzAttestTdxVmRequest (made once: the simulated platform
// is slow to build in every fuzz worker).
func FuzzAttestTdxVmRequest(f *testing.F) {
	for _, b := range []string{`{"quote":null}`, `{}`, `[]`, `{"quote":"@@"}`, `{"quote":"BAACAIEAAAA"}`} {
		f.Add([]byte(b))
	}
	typ := tdx.TdxVm{}
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := decodeAttest(raw, typ)
		if err != nil {
			return
		}
		if req.Type != tdx.Name || req.Evidence == nil {
			t.Fatalf("accepted a request without TdxVm evidence: %+v", req)
		}
		ev, err := typ.Parse(req.Evidence)
		if err == nil && ev.TEE() != "tdx" {
			t.Fatalf("TdxVm parsed %s evidence", ev.TEE())
		}
	})
}

// TestMAATdxVmRESTExample: the request of Microsoft's published TdxVm REST
// example (2025-06-01 AttestTdxVm.json) carries an SGX quote (version 3,
// TEE type 0), the SGX example's, so it is not TdxVm evidence: avow
// answers 400 unsupported_quote_format naming the mismatch, as for any SGX
// quote sent to TdxVm.
func TestMAATdxVmRESTExample(t *testing.T) {
	path := filepath.Join(vectors.Dir(t, "maa-rest-examples"), "2025-06-01", "AttestTdxVm.json")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		Parameters struct {
			Body json.RawMessage `json:"body"`
		} `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &ex); err != nil || len(ex.Parameters.Body) == 0 {
		t.Fatalf("%s: %v", path, err)
	}
	e := tdxEnv(t)
	r := e.do(t, "POST", "/providers/contoso/attest/TdxVm?api-version=2025-06-01", "", bytes.NewReader(ex.Parameters.Body), "Content-Type", "application/json")
	var eb errBody
	if r.status != 400 || json.Unmarshal(r.body, &eb) != nil || eb.Error.Code != "unsupported_quote_format" || !strings.Contains(eb.Error.Message, "SGX quote cannot be attested as TdxVm") {
		t.Errorf("MAA's TdxVm example: %d %s", r.status, r.body)
	}
}
