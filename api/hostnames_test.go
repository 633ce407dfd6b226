package api

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// hostEnv is an API over a service whose providers have their own host
// (NAME.avow.test) and whose provider "single" answers at the root; its
// provider fabrikam signs ES256, contoso RS256.
type hostEnv struct{ *testEnv }

func newHostEnv(t *testing.T) hostEnv {
	t.Helper()
	e := newEnvWith(t, Options{}, func(c *service.Config) {
		c.ProviderDomain, c.RootProvider = "avow.test", "single"
	})
	ctx := context.Background()
	admin := &service.Principal{ID: "test", Role: store.RoleOwner}
	col, err := sgxsim.Default().Collateral(sgxsim.CollateralOptions{TEE: sgxsim.TDX, Now: testNow.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.ImportCollateral(ctx, admin, col, "sgxsim"); err != nil {
		t.Fatal(err)
	}
	es256 := "ES256"
	for _, p := range []service.ProviderRequest{{Name: "single"}, {Name: "fabrikam", Settings: &service.ProviderSettings{TokenAlgorithm: &es256}}} {
		if _, err := e.svc.CreateProvider(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
	}
	return hostEnv{e}
}

// at sends a request with Host host (and the owner's token to management
// routes).
func (e hostEnv) at(t *testing.T, method, host, path, body string) response {
	t.Helper()
	token := ""
	if strings.HasPrefix(path, "/management") {
		token = e.owner
	}
	return e.testEnv.do(t, method, path, token, strings.NewReader(body), "Host", host)
}

// Issue 12, item 1: a provider NAME answers at https://NAME.DOMAIN, its
// whole data plane at that host's root, iss = that authority, OpenID
// metadata at its root; an unknown host is 404 with MAA's error body;
// path-based routes keep working; one provider can answer at the root.
func TestHostNamedProviders(t *testing.T) {
	e := newHostEnv(t)
	meta := func(host, path string) map[string]any {
		r := e.at(t, "GET", host, path, "")
		var m map[string]any
		if r.status != 200 || json.Unmarshal(r.body, &m) != nil {
			t.Fatalf("%s%s: %d %s", host, path, r.status, r.body)
		}
		return m
	}
	for _, tc := range []struct{ host, path, issuer string }{
		{"contoso.avow.test", "/.well-known/openid-configuration", "https://contoso.avow.test"},
		{"CONTOSO.avow.test:443", "/.well-known/openid-configuration", "https://contoso.avow.test"},
		{"avow.test", "/providers/contoso/.well-known/openid-configuration", "https://contoso.avow.test"},
		{"avow.test", "/.well-known/openid-configuration", "https://avow.test"},
		{"avow.test", "/providers/single/.well-known/openid-configuration", "https://avow.test"},
	} {
		m := meta(tc.host, tc.path)
		if m["issuer"] != tc.issuer || m["jwks_uri"] != tc.issuer+"/certs" {
			t.Errorf("%s%s: issuer %v, jwks_uri %v, want %s", tc.host, tc.path, m["issuer"], m["jwks_uri"], tc.issuer)
		}
	}
	if r := e.at(t, "GET", "contoso.avow.test", "/certs", ""); r.status != 200 || !strings.Contains(string(r.body), `"keys"`) {
		t.Errorf("certs at the provider's host: %d %s", r.status, r.body)
	}
	// Unknown provider hosts and routes that are not the data plane.
	for _, tc := range []struct{ method, host, path, code string }{
		{"GET", "nosuch.avow.test", "/.well-known/openid-configuration", "provider_not_found"},
		{"POST", "nosuch.avow.test", "/attest/SgxEnclave?api-version=2022-08-01", "provider_not_found"},
		{"GET", "contoso.avow.test", "/management/providers", "not_found"},
		{"GET", "contoso.avow.test", "/healthz", "not_found"},
		{"GET", "contoso.avow.test", "/", "not_found"},
		{"GET", "a.b.avow.test", "/nothing", "not_found"},
	} {
		r := e.at(t, tc.method, tc.host, tc.path, `{"quote":"AAAA"}`)
		var b errBody
		if json.Unmarshal(r.body, &b) != nil || r.status != 404 || b.Error.Code != tc.code {
			t.Errorf("%s%s: %d %s, want 404 %s", tc.host, tc.path, r.status, r.body, tc.code)
		}
	}
	// The management plane names each provider's attest URI.
	r := e.at(t, "GET", "avow.test", "/management/providers/contoso", "")
	var p client.Provider
	if json.Unmarshal(r.body, &p) != nil || p.AttestURI != "https://contoso.avow.test" {
		t.Errorf("provider view: %s", r.body)
	}
	r = e.at(t, "GET", "avow.test", "/management/providers/single", "")
	if json.Unmarshal(r.body, &p) != nil || p.AttestURI != "https://avow.test" {
		t.Errorf("root provider view: %s", r.body)
	}
}

// Issue 12, item 2: attestation tokens the Always Encrypted drivers (and
// .NET relying parties) accept, for every attestation type and token
// algorithm: kid in the header, published in /certs with kid, kty and
// x5c; exp, nbf, iat; no top-level array claim; aas-ehd, x-ms-sgx-ehd and
// maa-ehd exactly the unpadded base64url of the Binary runtime data.
func TestTokensDriversAccept(t *testing.T) {
	e := newHostEnv(t)
	sim := sgxsim.Default()
	runtime := []byte("enclave key blob \x00\xff\xfe with bytes base64 pads")
	sum := sha256.Sum256(runtime)
	b64 := base64.RawURLEncoding.EncodeToString
	for _, prov := range []string{"contoso", "fabrikam"} { // RS256, ES256
		host := prov + ".avow.test"
		var jwks struct {
			Keys []map[string]any `json:"keys"`
		}
		if r := e.at(t, "GET", host, "/certs", ""); json.Unmarshal(r.body, &jwks) != nil || len(jwks.Keys) == 0 {
			t.Fatalf("%s /certs: %s", prov, r.body)
		}
		for _, k := range jwks.Keys {
			x5c, _ := k["x5c"].([]any)
			if k["kid"] == "" || k["kid"] == nil || k["kty"] == nil || len(x5c) == 0 {
				t.Errorf("%s: JWKS key without kid, kty or x5c: %v", prov, k)
			}
		}
		for _, typ := range []string{"SgxEnclave", "OpenEnclave", "TdxVm"} {
			o := sgxsim.QuoteOptions{ReportData: sum[:], ISVSVN: 3}
			if typ == "TdxVm" {
				o.TEE = sgxsim.TDX
			}
			q, err := sim.Quote(o)
			if err != nil {
				t.Fatal(err)
			}
			field := `"quote":"` + b64(q) + `"`
			if typ == "OpenEnclave" {
				field = `"report":"` + b64(client.OpenEnclaveReport(q)) + `"`
			}
			body := `{` + field + `,"runtimeData":{"data":"` + b64(runtime) + `","dataType":"Binary"}}`
			r := e.at(t, "POST", host, "/attest/"+typ+"?api-version=2022-08-01", body)
			var out struct{ Token string }
			if r.status != 200 || json.Unmarshal(r.body, &out) != nil {
				t.Fatalf("%s %s: %d %s", prov, typ, r.status, r.body)
			}
			claims, hdr, err := token.DecodeUnverified(out.Token)
			if err != nil {
				t.Fatal(err)
			}
			name := prov + " " + typ
			kid := hdr.KID
			published := false
			for _, k := range jwks.Keys {
				published = published || k["kid"] == kid
			}
			if kid == "" || !published {
				t.Errorf("%s: header kid %q is not in /certs", name, kid)
			}
			for _, c := range []string{"exp", "nbf", "iat"} {
				if _, ok := claims[c].(json.Number); !ok {
					t.Errorf("%s: %s is %v", name, c, claims[c])
				}
			}
			if claims["iss"] != "https://"+host {
				t.Errorf("%s: iss %v", name, claims["iss"])
			}
			for k, v := range claims {
				if _, ok := v.([]any); ok {
					t.Errorf("%s: claim %s is an array at the top level: %v", name, k, v)
				}
			}
			for _, c := range []string{"aas-ehd", "x-ms-sgx-ehd", "maa-ehd"} {
				want := any(b64(runtime))
				if typ == "TdxVm" {
					want = nil // MAA's TDX profile has no enclave-held-data claims
				}
				if claims[c] != want {
					t.Errorf("%s: %s = %v, want %v", name, c, claims[c], want)
				}
			}
		}
	}
}
