package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/attestation/builtin"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
)

type armEnv struct {
	t        *testing.T
	srv      *httptest.Server
	svc      *service.Service
	owner    string
	reader   string
	ownerID  string // admin token ids, the actors of audit entries
	readerID string
}

func newARMEnv(t *testing.T) *armEnv {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "avow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc, err := service.New(service.Config{Store: st, Types: builtin.Registry(), KEK: make([]byte, 32), PublicURL: "https://avow.test"})
	if err != nil {
		t.Fatal(err)
	}
	boot, err := svc.Bootstrap(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	who := &service.Principal{ID: boot.ID, Role: store.RoleOwner}
	reader, err := svc.CreateAdminToken(ctx, who, store.RoleReader, "reader")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(New(svc, nil))
	t.Cleanup(srv.Close)
	return &armEnv{t: t, srv: srv, svc: svc, owner: boot.Secret, reader: reader.Secret, ownerID: boot.ID, readerID: reader.ID}
}

const (
	armSub  = "00000000-0000-4000-8000-000000000001"
	armRG   = "rg-one"
	armBase = "/subscriptions/" + armSub + "/resourceGroups/" + armRG + "/providers/Microsoft.Attestation/attestationProviders"
)

// do sends a request and decodes a JSON answer.
func (e *armEnv) do(method, path, token string, body any) (int, map[string]any) {
	e.t.Helper()
	st, out, _ := e.doHeader(method, path, token, body)
	return st, out
}

// doHeader is do that also returns the answer's headers.
func (e *armEnv) doHeader(method, path, token string, body any) (int, map[string]any, http.Header) {
	e.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; charset=utf-8")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: %d %q is not JSON", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out, resp.Header
}

func armErrCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestARMProviderLifecycle(t *testing.T) {
	e := newARMEnv(t)
	q := "?api-version=2020-10-01"

	st, body := e.do(http.MethodPut, armBase+"/contoso"+q, e.owner, map[string]any{
		"location": "East US", "tags": map[string]string{"env": "ci"}, "properties": map[string]any{}})
	if st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, body)
	}
	props := body["properties"].(map[string]any)
	want := map[string]any{
		"id":   armBase + "/contoso",
		"name": "contoso", "type": "Microsoft.Attestation/attestationProviders", "location": "East US",
	}
	for k, v := range want {
		if body[k] != v {
			t.Errorf("%s = %v, want %v", k, body[k], v)
		}
	}
	if body["tags"].(map[string]any)["env"] != "ci" {
		t.Errorf("tags = %v", body["tags"])
	}
	if props["trustModel"] != "AAD" || props["status"] != "Ready" || props["attestUri"] != "https://avow.test/providers/contoso" ||
		props["publicNetworkAccess"] != "Enabled" {
		t.Errorf("properties = %v", props)
	}
	if sd, _ := body["systemData"].(map[string]any); sd["createdAt"] == nil || sd["lastModifiedAt"] == nil {
		t.Errorf("systemData = %v", body["systemData"])
	}

	// The native API sees the provider with its metadata.
	v, err := e.svc.GetProvider(context.Background(), &service.Principal{Role: store.RoleReader}, "contoso")
	if err != nil || v.Metadata.SubscriptionID != armSub || v.Metadata.ResourceGroup != armRG || v.Metadata.Location != "East US" {
		t.Fatalf("metadata: %+v %v", v, err)
	}

	// GET, case-insensitive path segments and names.
	st, body = e.do(http.MethodGet, strings.ToLower(armBase)+"/CONTOSO?api-version=2021-06-01", e.reader, nil)
	if st != http.StatusOK || body["name"] != "contoso" || body["id"] != armBase+"/contoso" {
		t.Fatalf("get: %d %v", st, body)
	}

	// PUT again replaces location and tags: 200.
	st, body = e.do(http.MethodPut, armBase+"/contoso"+q, e.owner, map[string]any{"location": "West US", "properties": map[string]any{}})
	if st != http.StatusOK || body["location"] != "West US" || len(body["tags"].(map[string]any)) != 0 {
		t.Fatalf("replace: %d %v", st, body)
	}

	// PATCH tags.
	st, body = e.do(http.MethodPatch, armBase+"/contoso"+q, e.owner, map[string]any{"tags": map[string]string{"a": "1", "b": "2"}})
	if st != http.StatusOK || len(body["tags"].(map[string]any)) != 2 || body["location"] != "West US" {
		t.Fatalf("patch: %d %v", st, body)
	}
	st, body = e.do(http.MethodPatch, armBase+"/contoso"+q, e.owner, map[string]any{})
	if st != http.StatusOK || len(body["tags"].(map[string]any)) != 2 {
		t.Fatalf("patch without tags keeps them: %d %v", st, body)
	}

	// Lists.
	for _, path := range []string{"/subscriptions/" + armSub + "/providers/Microsoft.Attestation/attestationProviders", armBase} {
		st, body = e.do(http.MethodGet, path+q, e.reader, nil)
		if st != http.StatusOK || len(body["value"].([]any)) != 1 {
			t.Errorf("list %s: %d %v", path, st, body)
		}
	}
	st, body = e.do(http.MethodGet, "/subscriptions/"+armSub+"/resourceGroups/other/providers/Microsoft.Attestation/attestationProviders"+q, e.reader, nil)
	if st != http.StatusOK || len(body["value"].([]any)) != 0 {
		t.Errorf("list other group: %d %v", st, body)
	}

	// DELETE: 200, then 204.
	if st, body = e.do(http.MethodDelete, armBase+"/contoso"+q, e.owner, nil); st != http.StatusOK {
		t.Fatalf("delete: %d %v", st, body)
	}
	if st, body = e.do(http.MethodDelete, armBase+"/contoso"+q, e.owner, nil); st != http.StatusNoContent {
		t.Fatalf("delete again: %d %v", st, body)
	}
	if st, body = e.do(http.MethodGet, armBase+"/contoso"+q, e.owner, nil); st != http.StatusNotFound || armErrCode(body) != "ResourceNotFound" {
		t.Fatalf("get after delete: %d %v", st, body)
	}
}

func TestARMIsolatedProvider(t *testing.T) {
	e := newARMEnv(t)
	_, cert := signerPair(t, "policy signer")
	q := "?api-version=2021-06-01"
	put := func(name string, keys []map[string]any) (int, map[string]any) {
		return e.do(http.MethodPut, armBase+"/"+name+q, e.owner, map[string]any{"location": "West Europe",
			"properties": map[string]any{"publicNetworkAccess": "Enabled", "tpmAttestationAuthentication": "Disabled",
				"policySigningCertificates": map[string]any{"keys": keys}}})
	}
	st, body := put("isolated", []map[string]any{{"kty": "EC", "x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)}}})
	if st != http.StatusCreated || body["properties"].(map[string]any)["trustModel"] != "Isolated" {
		t.Fatalf("create: %d %v", st, body)
	}
	v, err := e.svc.GetProvider(context.Background(), &service.Principal{Role: store.RoleReader}, "isolated")
	if err != nil || v.Signers != 1 || v.TrustModel != store.TrustModelIsolated {
		t.Fatalf("signers: %+v %v", v, err)
	}
	// The trust model cannot change on a later PUT; the same model can.
	if st, body = put("isolated", nil); st != http.StatusConflict || armErrCode(body) != "TrustModelChangeNotSupported" {
		t.Errorf("trust model change: %d %v", st, body)
	}
	if st, body = put("isolated", []map[string]any{{"kty": "EC", "x5c": []string{base64.RawURLEncoding.EncodeToString(cert.Raw)}}}); st != http.StatusOK {
		t.Errorf("same model: %d %v", st, body)
	}
	// A key without a certificate, or with a bad one.
	for _, keys := range [][]map[string]any{{{"kty": "RSA", "n": "abc", "e": "AQAB"}}, {{"kty": "RSA", "x5c": []string{"AAAA"}}}, {{"kty": "RSA", "x5c": []string{"!!"}}}} {
		if st, body = put("other", keys); st != http.StatusBadRequest || armErrCode(body) != "InvalidPolicySigningCertificate" {
			t.Errorf("bad key %v: %d %v", keys, st, body)
		}
	}
}

func TestARMScopes(t *testing.T) {
	e := newARMEnv(t)
	q := "?api-version=2020-10-01"
	// A provider created natively is in no subscription: ARM does not see
	// it, and cannot create one of the same name.
	if st, body := e.do(http.MethodPost, "/management/providers", e.owner, map[string]any{"name": "native"}); st != http.StatusCreated {
		t.Fatalf("native create: %d %v", st, body)
	}
	if st, body := e.do(http.MethodGet, armBase+"/native"+q, e.owner, nil); st != http.StatusNotFound {
		t.Errorf("native via ARM: %d %v", st, body)
	}
	if st, body := e.do(http.MethodPut, armBase+"/native"+q, e.owner, map[string]any{"location": "x"}); st != http.StatusConflict || armErrCode(body) != "Conflict" {
		t.Errorf("PUT over a native provider: %d %v", st, body)
	}
	if st, body := e.do(http.MethodPatch, armBase+"/native"+q, e.owner, map[string]any{"tags": map[string]string{"a": "b"}}); st != http.StatusNotFound {
		t.Errorf("PATCH of a native provider: %d %v", st, body)
	}
	if st, _ := e.do(http.MethodDelete, armBase+"/native"+q, e.owner, nil); st != http.StatusNoContent {
		t.Errorf("DELETE of a native provider: %d", st)
	}
	if st, _ := e.do(http.MethodGet, "/management/providers/native", e.owner, nil); st != http.StatusOK {
		t.Errorf("the native provider was deleted through ARM")
	}
	// A provider of another resource group.
	other := "/subscriptions/" + armSub + "/resourceGroups/rg-two/providers/Microsoft.Attestation/attestationProviders/twoprov"
	if st, body := e.do(http.MethodPut, other+q, e.owner, map[string]any{"location": "x"}); st != http.StatusCreated {
		t.Fatalf("create in rg-two: %d %v", st, body)
	}
	if st, _ := e.do(http.MethodGet, armBase+"/twoprov"+q, e.owner, nil); st != http.StatusNotFound {
		t.Errorf("seen from rg-one: %d", st)
	}
	if st, _ := e.do(http.MethodPut, armBase+"/twoprov"+q, e.owner, map[string]any{"location": "x"}); st != http.StatusConflict {
		t.Errorf("PUT from rg-one: %d", st)
	}
	// The native list shows both.
	if _, body := e.do(http.MethodGet, "/management/providers", e.owner, nil); len(body["providers"].([]any)) != 2 {
		t.Errorf("native list: %v", body)
	}
}

func TestARMErrors(t *testing.T) {
	e := newARMEnv(t)
	p := armBase + "/contoso"
	cases := []struct {
		name, method, path, token string
		body                      any
		status                    int
		code                      string
	}{
		{"no api-version", "GET", p, e.owner, nil, 400, "MissingApiVersionParameter"},
		{"unknown api-version", "GET", p + "?api-version=2022-08-01", e.owner, nil, 400, "InvalidApiVersionParameter"},
		{"no token", "GET", p + "?api-version=2020-10-01", "", nil, 401, "AuthenticationFailed"},
		{"bad token", "GET", p + "?api-version=2020-10-01", "avow_nope", nil, 401, "AuthenticationFailed"},
		{"reader PUT", "PUT", p + "?api-version=2020-10-01", e.reader, map[string]any{"location": "x"}, 403, "AuthorizationFailed"},
		{"no location", "PUT", p + "?api-version=2020-10-01", e.owner, map[string]any{"properties": map[string]any{}}, 400, "LocationRequired"},
		{"bad JSON", "PUT", p + "?api-version=2020-10-01", e.owner, "not an object", 400, "InvalidRequestContent"},
		{"bad name", "PUT", armBase + "/Contoso_1?api-version=2020-10-01", e.owner, map[string]any{"location": "x"}, 400, "InvalidResourceName"},
		{"name starting with a digit", "PUT", armBase + "/1contoso?api-version=2020-10-01", e.owner, map[string]any{"location": "x"}, 400, "InvalidResourceName"},
		{"network access neither Enabled nor Disabled", "PUT", p + "?api-version=2021-06-01", e.owner,
			map[string]any{"location": "x", "properties": map[string]any{"publicNetworkAccess": "Private"}}, 400, "InvalidRequestContent"},
		{"tpm authentication neither Enabled nor Disabled", "PATCH", p + "?api-version=2021-06-01", e.owner,
			map[string]any{"properties": map[string]any{"tpmAttestationAuthentication": true}}, 400, "InvalidRequestContent"},
		{"bad tag", "PUT", p + "?api-version=2021-06-01", e.owner, map[string]any{"location": "x", "tags": map[string]string{"": "v"}}, 400, "BadRequest"},
		{"method", "POST", p + "?api-version=2020-10-01", e.owner, map[string]any{}, 405, "MethodNotAllowed"},
		{"list method", "DELETE", armBase + "?api-version=2020-10-01", e.owner, nil, 405, "MethodNotAllowed"},
		{"unknown path", "GET", "/subscriptions/" + armSub + "/resourceGroups/rg/providers/Microsoft.Other/things?api-version=2020-10-01", e.owner, nil, 404, "ResourceNotFound"},
		{"bad resource group", "GET", "/subscriptions/" + armSub + "/resourceGroups/rg./providers/Microsoft.Attestation/attestationProviders?api-version=2020-10-01", e.owner, nil, 400, "InvalidResourceGroup"},
		{"bad subscription", "GET", "/subscriptions/-x/providers/Microsoft.Attestation/attestationProviders?api-version=2020-10-01", e.owner, nil, 400, "InvalidSubscriptionId"},
		{"default by location", "GET", "/subscriptions/" + armSub + "/providers/Microsoft.Attestation/locations/eastus/defaultProvider?api-version=2020-10-01", e.owner, nil, 404, "ResourceNotFound"},
		{"missing provider", "GET", p + "?api-version=2020-10-01", e.owner, nil, 404, "ResourceNotFound"},
		{"missing provider PATCH", "PATCH", p + "?api-version=2020-10-01", e.owner, map[string]any{}, 404, "ResourceNotFound"},
	}
	for _, tc := range cases {
		st, body := e.do(tc.method, tc.path, tc.token, tc.body)
		if st != tc.status || armErrCode(body) != tc.code {
			t.Errorf("%s: %d %v; want %d %s", tc.name, st, body, tc.status, tc.code)
		}
		if msg, _ := body["error"].(map[string]any)["message"].(string); msg == "" {
			t.Errorf("%s: no message", tc.name)
		}
	}
}

func TestARMOtherResources(t *testing.T) {
	e := newARMEnv(t)
	q := "?api-version=2020-10-01"
	st, body := e.do(http.MethodGet, "/providers/Microsoft.Attestation/operations"+q, e.reader, nil)
	if st != http.StatusOK || len(body["value"].([]any)) == 0 {
		t.Fatalf("operations: %d %v", st, body)
	}
	op := body["value"].([]any)[0].(map[string]any)
	if op["name"] != "Microsoft.Attestation/attestationProviders/read" || op["display"].(map[string]any)["operation"] == "" {
		t.Errorf("operation: %v", op)
	}
	st, body = e.do(http.MethodGet, "/subscriptions/"+armSub+"/providers/Microsoft.Attestation/defaultProviders"+q, e.reader, nil)
	if st != http.StatusOK || len(body["value"].([]any)) != 0 {
		t.Errorf("default providers: %d %v", st, body)
	}
	if st, body = e.do(http.MethodPut, armBase+"/contoso"+q, e.owner, map[string]any{"location": "x"}); st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, body)
	}
	for _, sub := range []string{"privateEndpointConnections", "privateLinkResources"} {
		st, body = e.do(http.MethodGet, armBase+"/contoso/"+sub+q, e.reader, nil)
		if st != http.StatusOK || len(body["value"].([]any)) != 0 {
			t.Errorf("%s: %d %v", sub, st, body)
		}
	}
	if st, body = e.do(http.MethodGet, armBase+"/contoso/privateEndpointConnections/pec"+q, e.reader, nil); st != http.StatusNotFound {
		t.Errorf("get connection: %d %v", st, body)
	}
	if st, body = e.do(http.MethodPut, armBase+"/contoso/privateEndpointConnections/pec"+q, e.owner, map[string]any{}); st != http.StatusBadRequest || armErrCode(body) != "FeatureNotSupported" {
		t.Errorf("put connection: %d %v", st, body)
	}
	if st, _ = e.do(http.MethodDelete, armBase+"/contoso/privateEndpointConnections/pec"+q, e.owner, nil); st != http.StatusNoContent {
		t.Errorf("delete connection: %d", st)
	}
	if st, _ = e.do(http.MethodGet, armBase+"/missing/privateEndpointConnections"+q, e.reader, nil); st != http.StatusNotFound {
		t.Errorf("connections of a missing provider: %d", st)
	}
	// Capitals in a new name: the provider is created lowercase.
	if st, body = e.do(http.MethodPut, armBase+"/MixedCase"+q, e.owner, map[string]any{"location": "x"}); st != http.StatusCreated || body["name"] != "mixedcase" {
		t.Errorf("mixed case: %d %v", st, body)
	}
	if st, body = e.do(http.MethodGet, armBase+"/MIXEDCASE"+q, e.owner, nil); st != http.StatusOK || body["name"] != "mixedcase" {
		t.Errorf("mixed case get: %d %v", st, body)
	}
	// The data plane still answers under /providers/.
	if st, _ = e.do(http.MethodGet, "/providers/contoso/.well-known/openid-configuration", "", nil); st != http.StatusOK {
		t.Errorf("data plane: %d", st)
	}
}

func TestARMRouteLabels(t *testing.T) {
	for path, want := range map[string]string{
		armBase + "/contoso":     "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Attestation/attestationProviders/{name}",
		strings.ToLower(armBase): "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Attestation/attestationProviders",
		"/subscriptions/s/providers/Microsoft.Attestation/attestationProviders":             "/subscriptions/{sub}/providers/Microsoft.Attestation/attestationProviders",
		"/providers/Microsoft.Attestation/operations":                                       "/providers/Microsoft.Attestation/operations",
		armBase + "/contoso/privateEndpointConnections/x":                                   "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Attestation/attestationProviders/{name}/...",
		"/subscriptions/s/providers/Microsoft.Attestation/locations/eastus/defaultProvider": "/subscriptions/{sub}/providers/Microsoft.Attestation/locations/{location}/defaultProvider",
		"/subscriptions/s/whatever":                                                         "other",
	} {
		if got := routeOf(path); got != want {
			t.Errorf("%s: %s, want %s", path, got, want)
		}
	}
}

// TestARMChangesAudited: changes through the ARM API are in the audit log
// like those of the native API: successful ones with their operation,
// actor and request id; refused ones of an authenticated caller
// (forbidden, invalid body, conflict, unknown provider, bad api-version)
// with the error's code as outcome, the caller, and the request id of
// x-ms-request-id. Unauthenticated attempts, reads and the DELETE of a
// provider that does not exist (204, nothing changed) are not recorded.
func TestARMChangesAudited(t *testing.T) {
	e := newARMEnv(t)
	q := "?api-version=2020-10-01"
	type want struct {
		status            int
		op, provider      string
		outcome, actor    string
		details           map[string]string // for successes: details that must be there
		requestID, method string
	}
	var wants []want
	send := func(method, path, token string, body any, w want) {
		t.Helper()
		st, out, hdr := e.doHeader(method, path, token, body)
		if st != w.status {
			t.Fatalf("%s %s: %d %v, want %d", method, path, st, out, w.status)
		}
		w.requestID, w.method = hdr.Get("x-ms-request-id"), method
		if len(w.requestID) != 32 {
			t.Fatalf("%s %s: x-ms-request-id %q", method, path, w.requestID)
		}
		if w.outcome != "" && w.outcome != "success" && armErrCode(out) == "" {
			t.Fatalf("%s %s: %v", method, path, out)
		}
		wants = append(wants, w)
	}
	owner, reader := e.ownerID, e.readerID
	_, cert := signerPair(t, "policy signer")
	isolated := map[string]any{"location": "x", "properties": map[string]any{"policySigningCertificates": map[string]any{
		"keys": []map[string]any{{"kty": "EC", "x5c": []string{base64.StdEncoding.EncodeToString(cert.Raw)}}}}}}
	if st, body := e.do(http.MethodPost, "/management/providers", e.owner, map[string]any{"name": "native"}); st != http.StatusCreated {
		t.Fatalf("native create: %d %v", st, body)
	}

	// Successful changes.
	send("PUT", armBase+"/Contoso"+q, e.owner, map[string]any{"location": "East US", "tags": map[string]string{"env": "ci"}},
		want{status: 201, op: "provider.create", provider: "contoso", outcome: "success", actor: owner, details: map[string]string{"trust_model": "AAD"}})
	send("PUT", armBase+"/contoso"+q, e.owner, map[string]any{"location": "West US"},
		want{status: 200, op: "provider.metadata", provider: "contoso", outcome: "success", actor: owner, details: map[string]string{"location": "West US"}})
	send("PATCH", armBase+"/contoso"+q, e.owner, map[string]any{"tags": map[string]string{"b": "2", "a": "1"}},
		want{status: 200, op: "provider.metadata", provider: "contoso", outcome: "success", actor: owner, details: map[string]string{"tags": "a,b"}})
	send("PATCH", armBase+"/contoso"+q, e.owner, map[string]any{"properties": map[string]any{"publicNetworkAccess": "Disabled"}},
		want{status: 200, op: "provider.metadata", provider: "contoso", outcome: "success", actor: owner,
			details: map[string]string{"public_network_access": "Disabled", "tpm_attestation_authentication": "Enabled"}})

	// Refused changes of authenticated callers.
	send("PUT", armBase+"/readerprov"+q, e.reader, map[string]any{"location": "x"},
		want{status: 403, op: "provider.create", provider: "readerprov", outcome: "forbidden", actor: reader})
	send("PUT", armBase+"/noloc"+q, e.owner, map[string]any{"properties": map[string]any{}},
		want{status: 400, op: "provider.create", provider: "noloc", outcome: "LocationRequired", actor: owner})
	send("PUT", armBase+"/badjson"+q, e.owner, "not an object",
		want{status: 400, op: "provider.create", provider: "badjson", outcome: "InvalidRequestContent", actor: owner})
	send("PUT", armBase+"/Bad_Name"+q, e.owner, map[string]any{"location": "x"},
		want{status: 400, op: "provider.create", provider: "bad_name", outcome: "InvalidResourceName", actor: owner})
	send("PUT", armBase+"/native"+q, e.owner, map[string]any{"location": "x"},
		want{status: 409, op: "provider.create", provider: "native", outcome: "Conflict", actor: owner})
	send("PUT", armBase+"/contoso"+q, e.owner, isolated,
		want{status: 409, op: "provider.metadata", provider: "contoso", outcome: "TrustModelChangeNotSupported", actor: owner})
	send("PUT", armBase+"/contoso", e.owner, map[string]any{"location": "x"},
		want{status: 400, op: "provider.metadata", provider: "contoso", outcome: "MissingApiVersionParameter", actor: owner})
	send("PUT", armBase+"/contoso"+q, e.owner, map[string]any{"location": "x", "properties": map[string]any{"publicNetworkAccess": "Off"}},
		want{status: 400, op: "provider.metadata", provider: "contoso", outcome: "InvalidRequestContent", actor: owner})
	send("PATCH", armBase+"/ghost"+q, e.owner, map[string]any{"tags": map[string]string{"a": "b"}},
		want{status: 404, op: "provider.metadata", provider: "ghost", outcome: "provider_not_found", actor: owner})
	send("PATCH", armBase+"/contoso"+q, e.reader, map[string]any{"tags": map[string]string{}},
		want{status: 403, op: "provider.metadata", provider: "contoso", outcome: "forbidden", actor: reader})
	send("PATCH", armBase+"/contoso"+q, e.owner, map[string]any{"tags": map[string]string{"": "v"}},
		want{status: 400, op: "provider.metadata", provider: "contoso", outcome: "invalid_request", actor: owner})
	send("DELETE", armBase+"/contoso"+q, e.reader, nil,
		want{status: 403, op: "provider.delete", provider: "contoso", outcome: "forbidden", actor: reader})
	send("DELETE", armBase+"/contoso?api-version=2022-08-01", e.owner, nil,
		want{status: 400, op: "provider.delete", provider: "contoso", outcome: "InvalidApiVersionParameter", actor: owner})
	send("POST", armBase+"/contoso"+q, e.owner, map[string]any{},
		want{status: 405, op: "request POST " + armProviderRoute, provider: "contoso", outcome: "method_not_allowed", actor: owner})

	// Not recorded.
	send("PUT", armBase+"/anon"+q, "", map[string]any{"location": "x"}, want{status: 401})
	send("DELETE", armBase+"/contoso"+q, "avow_nope", nil, want{status: 401})
	send("GET", armBase+"/ghost"+q, e.reader, nil, want{status: 404})
	send("DELETE", armBase+"/ghost"+q, e.owner, nil, want{status: 204})

	// The delete last, after the refusals that needed the provider.
	send("DELETE", armBase+"/contoso"+q, e.owner, nil,
		want{status: 200, op: "provider.delete", provider: "contoso", outcome: "success", actor: owner,
			details: map[string]string{"subscription": armSub, "resource_group": armRG}})

	if err := e.svc.FlushAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, body, _ := e.doHeader(http.MethodGet, "/management/audit?kind=management&limit=1000", e.reader, nil)
	if st != http.StatusOK {
		t.Fatalf("audit: %d %v", st, body)
	}
	raw, _ := json.Marshal(body["entries"])
	var entries []client.AuditEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatal(err)
	}
	byRequest := map[string][]client.AuditEntry{}
	for _, x := range entries {
		byRequest[x.RequestID] = append(byRequest[x.RequestID], x)
	}
	for _, w := range wants {
		got := byRequest[w.requestID]
		if w.op == "" {
			if len(got) != 0 {
				t.Errorf("%s answered %d: recorded %+v", w.method, w.status, got)
			}
			continue
		}
		if len(got) != 1 {
			t.Errorf("%s %s (%d): %d entries %+v", w.method, w.op, w.status, len(got), got)
			continue
		}
		x := got[0]
		if x.Kind != "management" || x.Operation != w.op || x.Provider != w.provider || x.Outcome != w.outcome || x.Actor != w.actor {
			t.Errorf("%s answered %d: entry %+v, want %s %s %s by %s", w.method, w.status, x, w.op, w.provider, w.outcome, w.actor)
		}
		if w.outcome != "success" && (x.Details["failure_code"] != w.outcome || x.Details["message"] == "") {
			t.Errorf("%s %s refused: details %v", w.method, w.op, x.Details)
		}
		for k, v := range w.details {
			if x.Details[k] != v {
				t.Errorf("%s %s: details %v, want %s=%s", w.method, w.op, x.Details, k, v)
			}
		}
	}
}

// TestARMCannotSetCollateralSources: the ARM resource has no collateral
// sources; a collateralSources member (a folder, a URL) in a PUT or PATCH
// is ignored like any unknown member: the provider uses the deployment's
// sources and nothing is read or fetched.
func TestARMCannotSetCollateralSources(t *testing.T) {
	e := newARMEnv(t)
	q := "?api-version=2021-06-01"
	props := map[string]any{"collateralSources": []string{"dir:/etc", "http://169.254.169.254/"},
		"settings": map[string]any{"collateralSources": []string{"file:/etc/passwd"}}}
	if st, body := e.do(http.MethodPut, armBase+"/armsrc"+q, e.owner, map[string]any{"location": "x", "properties": props}); st != http.StatusCreated {
		t.Fatalf("create: %d %v", st, body)
	}
	if st, body := e.do(http.MethodPatch, armBase+"/armsrc"+q, e.owner, map[string]any{"properties": props}); st != http.StatusOK {
		t.Fatalf("patch: %d %v", st, body)
	}
	p, err := e.svc.GetProvider(context.Background(), &service.Principal{ID: e.ownerID, Role: store.RoleOwner}, "armsrc")
	if err != nil {
		t.Fatal(err)
	}
	if got := service.CollateralSources(p.Settings); len(got) != 0 {
		t.Errorf("collateral sources set through ARM: %q", got)
	}
}
