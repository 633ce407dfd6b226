package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
	"github.com/avowhq/avow/token"
)

func newSharedEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnvWith(t, Options{}, func(c *service.Config) {
		c.SharedProviders = []service.SharedProvider{{Name: "shareduks", Location: "UK South"}, {Name: "sharedcus", Location: "Central US"}}
	})
	for i := 0; i < 2; i++ { // idempotent
		if err := e.svc.EnsureSharedProviders(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// TestSharedProviders: the operator's shared providers are listed by ARM's
// defaultProviders and locations/{l}/defaultProvider, answer attestations
// with the default policies, and refuse every change through the API.
func TestSharedProviders(t *testing.T) {
	e := newSharedEnv(t)
	sub := "/subscriptions/6c96b33e-f5b8-40a6-9011-5cb1c58b0915/providers/Microsoft.Attestation"
	r := e.do(t, "GET", sub+"/defaultProviders?api-version=2021-06-01", e.reader, nil)
	var list struct{ Value []map[string]any }
	if err := json.Unmarshal(r.body, &list); err != nil || r.status != 200 || len(list.Value) != 2 {
		t.Fatalf("defaultProviders: %d %s", r.status, r.body)
	}
	p := list.Value[0]
	props := p["properties"].(map[string]any)
	if p["name"] != "sharedcus" || p["location"] != "Central US" || p["id"] != "/providers/Microsoft.Attestation/attestationProviders/sharedcus" ||
		p["tags"] != nil || p["systemData"] != nil || props["trustModel"] != "AAD" || props["status"] != "Ready" ||
		props["attestUri"] != "https://avow.test/providers/sharedcus" || props["publicNetworkAccess"] != "Enabled" {
		t.Errorf("default provider %v", p)
	}
	for _, loc := range []string{"Central%20US", "centralus", "CENTRALUS"} {
		r = e.do(t, "GET", sub+"/locations/"+loc+"/defaultProvider?api-version=2018-09-01-preview", e.reader, nil)
		var one map[string]any
		if json.Unmarshal(r.body, &one); r.status != 200 || one["name"] != "sharedcus" {
			t.Errorf("defaultProvider %s: %d %s", loc, r.status, r.body)
		}
	}
	if r = e.do(t, "GET", sub+"/locations/westus/defaultProvider?api-version=2021-06-01", e.reader, nil); r.status != 404 {
		t.Errorf("no shared provider in westus: %d %s", r.status, r.body)
	}
	// Not in any subscription's own list.
	if r = e.do(t, "GET", sub+"/attestationProviders?api-version=2021-06-01", e.reader, nil); r.status != 200 || strings.Contains(string(r.body), "shared") {
		t.Errorf("subscription list: %d %s", r.status, r.body)
	}

	// Attestation with the default policy: its issuance rules give the
	// short names (sgx-mrsigner, tee…).
	r = e.do(t, "POST", "/providers/sharedcus/attest/SgxEnclave?api-version=2022-08-01", "", strings.NewReader(e.attestBody(e.quote)), "Content-Type", "application/json")
	var out struct{ Token string }
	if err := json.Unmarshal(r.body, &out); err != nil || r.status != 200 {
		t.Fatalf("attest: %d %s", r.status, r.body)
	}
	claims, _, err := token.DecodeUnverified(out.Token)
	if err != nil {
		t.Fatal(err)
	}
	text, err := e.svc.PolicyText(context.Background(), "sharedcus", "SgxEnclave")
	if err != nil || claims["tee"] != "sgx" || claims["sgx-mrsigner"] == nil || claims["iss"] != "https://avow.test/providers/sharedcus" ||
		claims["x-ms-policy-hash"] == nil || !strings.Contains(text, `issue(type="sgx-mrsigner"`) {
		t.Errorf("claims %v, policy %q %v", claims, text, err)
	}
	// The policy and the (empty) signer set can be read, also anonymously
	// as on MAA's shared instances; not so on other providers.
	for _, token := range []string{e.reader, ""} {
		for _, sub := range []string{"policies/SgxEnclave", "certificates"} {
			if r = e.do(t, "GET", "/providers/sharedcus/"+sub+"?api-version=2022-08-01", token, nil); r.status != 200 {
				t.Errorf("get %s (token %q): %d %s", sub, token, r.status, r.body)
			}
		}
	}
	if r = e.do(t, "GET", "/providers/contoso/policies/SgxEnclave?api-version=2022-08-01", "", nil); r.status != 401 {
		t.Errorf("anonymous get policy of contoso: %d %s", r.status, r.body)
	}
	if r = e.do(t, "PUT", "/providers/sharedcus/policies/SgxEnclave?api-version=2022-08-01", "", strings.NewReader("eyJhbGciOiJub25lIn0..")); r.status != 401 {
		t.Errorf("anonymous put policy of sharedcus: %d %s", r.status, r.body)
	}

	// Every change is refused with a typed error, to the owner too.
	unsigned := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"AttestationPolicy":"`+
		base64.RawURLEncoding.EncodeToString([]byte(sgx.DefaultPolicy))+`"}`)) + "."
	for _, tc := range []struct{ method, path, body, ct string }{
		{"PUT", "/providers/sharedcus/policies/SgxEnclave?api-version=2022-08-01", unsigned, "text/plain"},
		{"POST", "/providers/sharedcus/policies/SgxEnclave:reset?api-version=2022-08-01", "eyJhbGciOiJub25lIn0..", "text/plain"},
		{"POST", "/providers/sharedcus/certificates:add?api-version=2022-08-01", `"eyJhbGciOiJub25lIn0.."`, "application/json"},
		{"PATCH", "/management/providers/sharedcus", `{"settings":{"acceptedTcbStatuses":["UpToDate"]}}`, "application/json"},
		{"DELETE", "/management/providers/sharedcus", "", "application/json"},
	} {
		r = e.do(t, tc.method, tc.path, e.owner, strings.NewReader(tc.body), "Content-Type", tc.ct)
		var b errBody
		if json.Unmarshal(r.body, &b); r.status != http.StatusForbidden || b.Error.Code != "shared_provider_read_only" {
			t.Errorf("%s %s: %d %s", tc.method, tc.path, r.status, r.body)
		}
	}
	if r = e.do(t, "POST", "/providers/sharedcus/attest/SgxEnclave?api-version=2022-08-01", "", strings.NewReader(e.attestBody(e.quote))); r.status != 200 {
		t.Errorf("attest after the refusals: %d %s", r.status, r.body)
	}

	// The native API shows it as shared.
	r = e.do(t, "GET", "/management/providers/shareduks", e.reader, nil)
	if r.status != 200 || !strings.Contains(string(r.body), `"shared":true`) {
		t.Errorf("native view: %d %s", r.status, r.body)
	}
}

// TestSharedProviderChecks: a declared name that already exists with a
// policy of its own, or as an Isolated provider, stops the start; bad
// declarations are refused.
func TestSharedProviderChecks(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "avow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := func(sp ...service.SharedProvider) service.Config {
		return service.Config{Store: st, Types: builtin.Registry(), KEK: make([]byte, 32), PublicURL: "https://avow.test", SharedProviders: sp}
	}
	svc, err := service.New(cfg())
	if err != nil {
		t.Fatal(err)
	}
	owner := &service.Principal{ID: "t", Role: store.RoleOwner}
	if _, err := svc.CreateProvider(ctx, owner, service.ProviderRequest{Name: "contoso"}); err != nil {
		t.Fatal(err)
	}
	unsigned := "eyJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"AttestationPolicy":"`+
		base64.RawURLEncoding.EncodeToString([]byte(sgx.DefaultPolicy))+`"}`)) + "."
	if _, _, err := svc.SetPolicy(ctx, owner, "contoso", "SgxEnclave", unsigned); err != nil {
		t.Fatal(err)
	}
	shared, err := service.New(cfg(service.SharedProvider{Name: "contoso", Location: "East US"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.EnsureSharedProviders(ctx); err == nil || !strings.Contains(err.Error(), "has its own") {
		t.Errorf("provider with a policy: %v", err)
	}
	// Once reset (before it was declared shared), it qualifies.
	if _, err := svc.ResetPolicy(ctx, owner, "contoso", "SgxEnclave", "eyJhbGciOiJub25lIn0.."); err != nil {
		t.Fatal(err)
	}
	if err := shared.EnsureSharedProviders(ctx); err != nil {
		t.Errorf("after reset: %v", err)
	}
	if v, err := shared.GetProvider(ctx, owner, "contoso"); err != nil || v.Metadata.Location != "East US" || !v.Shared {
		t.Errorf("after reset: %+v %v", v, err)
	}
	for _, bad := range [][]service.SharedProvider{
		{{Name: "a", Location: "x"}},
		{{Name: "sharedone", Location: ""}},
		{{Name: "sharedone", Location: "East US"}, {Name: "sharedtwo", Location: "eastus"}},
		{{Name: "sharedone", Location: "East US"}, {Name: "sharedone", Location: "West US"}},
	} {
		if _, err := service.New(cfg(bad...)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	for spec, ok := range map[string]bool{"sharedcus=Central US": true, "sharedcus": false, "=x": false, "Shared=x": false} {
		if _, err := service.ParseSharedProvider(spec); (err == nil) != ok {
			t.Errorf("ParseSharedProvider(%q): %v", spec, err)
		}
	}
}
