package api

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/wire"
)

// The management plane's JSON bodies, by the route that reads them.
type mgmtPatchJSON struct {
	Settings *wire.Settings `json:"settings"`
}

type mgmtTokenJSON struct {
	Role        string `json:"role"`
	Description string `json:"description"`
}

type mgmtRefreshJSON struct {
	Keys []string `json:"keys"`
}

type mgmtPruneJSON struct {
	OlderThan string     `json:"olderThan"`
	Before    *time.Time `json:"before"`
}

var mgmtShapes = []func() any{
	func() any { return new(createProviderJSON) },
	func() any { return new(mgmtPatchJSON) },
	func() any { return new(mgmtTokenJSON) },
	func() any { return new(mgmtRefreshJSON) },
	func() any { return new(mgmtPruneJSON) },
}

// mgmtBodies are bodies of the management routes, valid ones first (from
// api_test.go, arm_test.go, server/hostile_test.go and docs/api.md), then
// the malformed ones of the hostile input test.
func mgmtBodies(pemCert string) []string {
	return []string{
		`{"name":"fuzzprov"}`,
		`{"name":"fuzzprov","trustModel":"AAD","settings":{"acceptedTcbStatuses":["UpToDate","OutOfDate"],"collateralGracePeriod":"72h","tokenAlgorithm":"ES256"}}`,
		fmt.Sprintf(`{"name":"fuzziso","trustModel":"Isolated","policySigningCertificates":[%q]}`, pemCert),
		`{"name":"fuzzprov","settings":{"collateralSources":["pcs:https://api.trustedservices.intel.com"]}}`,
		`{"settings":{"acceptedTcbStatuses":["UpToDate"]}}`,
		`{"settings":{"collateralGracePeriod":"24h","tokenAlgorithm":"RS256"}}`,
		`{"settings":{"collateralSources":[]}}`,
		`{"role":"reader","description":"ci"}`,
		`{"role":"policy-admin"}`,
		`{"keys":["sgx/00906ed50000/0000","tdx/00806f050000"]}`,
		`{"keys":[]}`,
		`{"olderThan":"30d"}`,
		`{"olderThan":"720h"}`,
		`{"before":"2026-01-01T00:00:00Z"}`,
		`{"name":"../../etc"}`,
		`{"name":"abc","evil":true}`,
		`{"name":"abcd","trustModel":"Root"}`,
		`{"name":"abcde","trustModel":"Isolated","policySigningCertificates":["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]}`,
		`{"name":"abcdef","trustModel":"Isolated"}`,
		`{"settings":{"collateralGracePeriod":"forever"}}`,
		`{"settings":{"collateralGracePeriod":"-1h"}}`,
		`{"settings":{"acceptedTcbStatuses":["Revoked"]}}`,
		`{"settings":{"tokenAlgorithm":"none"}}`,
		`{}`,
		`{"role":"root"}`,
		`{"keys":["sgx/zz/0000"]}`,
		`{"olderThan":"30d","before":"2026-01-01T00:00:00Z"}`,
		`{"olderThan":"-5d"}`,
		`{"name":"a"} {"name":"b"}`,
		`{"name":"a"} trailing`,
		`[1,2,3]`,
		`"x"`,
		`null`,
		``,
		`{"name":`,
	}
}

// FuzzDecodeJSON decodes arbitrary bodies (and Content-Types) into every
// management body shape, then runs the parsers behind it (PEM certificates,
// settings). Invariants: no panic; a refusal is a typed error with the
// codes invalid_json, unsupported_media_type or request_too_large; an
// accepted body is one JSON value that encoding/json decodes to the same
// value.
func FuzzDecodeJSON(f *testing.F) {
	_, cert := signerPair(f, "fuzz")
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))
	for i, b := range mgmtBodies(pemCert) {
		f.Add(uint8(i), "application/json", []byte(b))
	}
	f.Add(uint8(0), "", []byte(`{"name":"x"}`))
	f.Add(uint8(0), "text/plain", []byte(`{"name":"x"}`))
	f.Add(uint8(0), "application/merge-patch+json; charset=utf-8", []byte(`{"name":"x"}`))
	f.Add(uint8(0), ";;;", []byte(`{}`))
	f.Add(uint8(0), "application/json", []byte(`{"name":"a"} {"name":"b"}`))
	f.Add(uint8(1), "application/json", []byte("{\"settings\":{}}\n\r\t "))
	f.Fuzz(func(t *testing.T, shape uint8, contentType string, body []byte) {
		newV := mgmtShapes[int(shape)%len(mgmtShapes)]
		v := newV()
		err := decodeJSON(bodyRequest(contentType, body), MaxMgmtBody, v)
		if err != nil {
			typedCode(t, "decodeJSON", err, "invalid_json", "unsupported_media_type", "request_too_large")
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted %q, which is not one JSON value", body)
		}
		w := newV()
		if err := json.Unmarshal(body, w); err != nil || !reflect.DeepEqual(v, w) {
			t.Fatalf("%q: decodeJSON %+v, encoding/json %+v (%v)", body, v, w, err)
		}
		var settings *wire.Settings
		switch in := v.(type) {
		case *createProviderJSON:
			certs, err := parseCertificates(in.PolicySigningCertificates)
			if err != nil {
				typedCode(t, "parseCertificates", err, "invalid_json")
			} else if len(certs) < len(in.PolicySigningCertificates) {
				t.Fatalf("%d PEM texts, %d certificates", len(in.PolicySigningCertificates), len(certs))
			}
			settings = in.Settings
		case *mgmtPatchJSON:
			settings = in.Settings
		case *mgmtRefreshJSON:
			for _, k := range in.Keys {
				if _, err := service.ParseCollateralKey(k); err != nil {
					typedCode(t, "ParseCollateralKey", err)
				}
			}
		case *mgmtPruneJSON:
			if _, err := ParseDays(in.OlderThan); err != nil && strings.HasSuffix(in.OlderThan, "d") {
				typedCode(t, "ParseDays", err, "invalid_query")
			}
		}
		s, err := settingsIn(settings)
		switch {
		case err != nil:
			typedCode(t, "settings", err, "invalid_json")
		case (s == nil) != (settings == nil):
			t.Fatalf("settings %+v became %+v", settings, s)
		}
	})
}

// mgmtRoutes are the management routes with a body, by FuzzManagementBody's
// route number.
var mgmtRoutes = []struct{ method, path string }{
	{http.MethodPost, "/management/providers"},
	{http.MethodPatch, "/management/providers/contoso"},
	{http.MethodPost, "/management/admin-tokens"},
	{http.MethodPost, "/management/collateral"},
	{http.MethodPost, "/management/collateral:refresh"},
	{http.MethodPost, "/management/collateral:prune"},
}

// FuzzManagementBody sends arbitrary bodies to the management routes that
// read one (provider create and settings update, admin token creation,
// collateral import, refresh and prune) through the whole handler, as the
// owner. Invariants: never a 5xx; every refusal is MAA's error body with a
// code, a message and the request id of x-ms-request-id.
func FuzzManagementBody(f *testing.F) {
	e := newFuzzEnv(f)
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.signerCert.Raw}))
	for i, b := range mgmtBodies(pemCert) {
		f.Add(uint8(i), "application/json", []byte(b))
	}
	f.Add(uint8(3), "application/json", e.bundle)
	f.Add(uint8(3), "application/json", []byte(`{"tcbInfo":1}`))
	f.Add(uint8(3), "application/json", []byte(`PCK`))
	f.Add(uint8(0), "application/xml", []byte(`<provider/>`))
	f.Add(uint8(0), "application/json", []byte(`{"name":"fuzzprov"} {"name":"other"}`))
	ctx := context.Background()
	owner := &service.Principal{ID: "fuzz", Role: store.RoleOwner}
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		rt := mgmtRoutes[int(route)%len(mgmtRoutes)]
		rec := e.serve(rt.method, rt.path, "", e.owner, contentType, body)
		checkAnswer(t, rt.method+" "+rt.path, rec, false)
		if rec.Code == http.StatusCreated && rt.path == "/management/providers" {
			// Keep the store small: the next valid body creates again.
			var out wire.Provider
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if err := e.svc.DeleteProvider(ctx, owner, out.Name); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzManagementRequest sends requests without a body to arbitrary
// management paths and queries (provider names, key listing and
// rotation, admin token ids, collateral keys and bundle ids, audit queries)
// with each kind of caller. Invariants: those of FuzzManagementBody.
func FuzzManagementRequest(f *testing.F) {
	e := newFuzzEnv(f)
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut, http.MethodHead, "TRACE"}
	for _, s := range []struct {
		method      uint8
		path, query string
		who         uint8
	}{
		{0, "providers", "", 0},
		{0, "providers/contoso", "", 1},
		{0, "providers/contoso/keys", "", 0},
		{1, "providers/armprov/keys:rotate", "", 0},
		{0, "providers/nobody/keys", "", 0},
		{0, "providers/contoso/keys:rotate", "", 0},
		{3, "providers/nobody", "", 0},
		{3, "providers/contoso", "", 1},
		{0, "admin-tokens", "", 0},
		{3, "admin-tokens/tok-nothing", "", 0},
		{0, "collateral", "", 1},
		{0, "collateral/sgx/00906ED50000/0000", "", 0},
		{0, "collateral/sgx/00906ed50000/0000/bundle", "id=1", 0},
		{0, "collateral/sgx/00906ed50000/0000/bundle", "id=-1", 0},
		{0, "collateral/tdx/zz/0000", "", 0},
		{1, "collateral:refresh", "", 0},
		{0, "audit", "provider=contoso&kind=management&operation=provider.&since=24h&until=2026-03-01T00:00:00Z&limit=5&before=100", 1},
		{0, "audit", "since=7d&kind=attestation", 0},
		{0, "audit", "since=tomorrow", 0},
		{0, "audit", "limit=99999999999", 0},
		{0, "audit", "before=-5", 0},
		{0, "audit", "kind=other&until=99999999d", 0},
		{0, "whatever", "", 2},
		{0, "providers/a/b/c/d/e", "", 3},
	} {
		f.Add(s.method, s.path, s.query, s.who)
	}
	f.Fuzz(func(t *testing.T, method uint8, path, query string, who uint8) {
		m := methods[int(method)%len(methods)]
		token := []string{e.owner, e.reader, "", "avow_nope"}[int(who)%4]
		full := "/management/" + path
		rec := e.serve(m, full, query, token, "", nil)
		checkAnswer(t, m+" "+full+"?"+query, rec, isARMPath(full))
	})
}
