package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// armBodies are ARM PUT and PATCH bodies (arm_test.go, docs/azure-sdk.md),
// valid ones first, then the refused ones of TestARMErrors.
func armBodies(certB64 string) []string {
	return []string{
		`{"location":"East US","tags":{"env":"ci"},"properties":{}}`,
		`{"location":"West US","properties":{}}`,
		fmt.Sprintf(`{"location":"West Europe","properties":{"publicNetworkAccess":"Enabled","tpmAttestationAuthentication":"Disabled","policySigningCertificates":{"keys":[{"kty":"EC","x5c":[%q]}]}}}`, certB64),
		`{"tags":{"a":"1","b":"2"}}`,
		`{"tags":{},"properties":{"publicNetworkAccess":"Enabled"}}`,
		`{}`,
		`{"location":"x","unknown":{"member":[1,2]}}`,
		`{"properties":{}}`,
		`"not an object"`,
		`{"location":"x","properties":{"publicNetworkAccess":"Disabled"}}`,
		`{"location":"x","tags":{"":"v"}}`,
		`{"location":"x","properties":{"tpmAttestationAuthentication":"Sometimes"}}`,
		`{"location":"x","properties":{"policySigningCertificates":{"keys":[{"kty":"RSA","n":"abc","e":"AQAB"}]}}}`,
		`{"location":"x","properties":{"policySigningCertificates":{"keys":[{"kty":"RSA","x5c":["AAAA"]}]}}}`,
		`{"location":"x","properties":{"policySigningCertificates":{"keys":[{"kty":"RSA","x5c":["!!"]}]}}}`,
		`{"location":"  "}`,
		`{"location":1}`,
		`{"location":"x"} {"location":"y"}`,
		` `,
		``,
		`null`,
	}
}

// FuzzDecodeARM decodes arbitrary bodies (and Content-Types) as ARM PUT and
// PATCH bodies and runs the checks behind them (network access, policy
// signing certificates, tags). Invariants: no panic; every refusal is a
// typed error (decodeARM: InvalidRequestContent, unsupported_media_type,
// request_too_large); an accepted body is one JSON value.
func FuzzDecodeARM(f *testing.F) {
	_, cert := signerPair(f, "fuzz")
	for _, b := range armBodies(base64.StdEncoding.EncodeToString(cert.Raw)) {
		f.Add(false, "application/json", []byte(b))
		f.Add(true, "application/json; charset=utf-8", []byte(b))
	}
	f.Add(false, "", []byte(`{"location":"x"}`))
	f.Add(false, "text/plain", []byte(`{"location":"x"}`))
	f.Fuzz(func(t *testing.T, patch bool, contentType string, body []byte) {
		if patch {
			var in armPatch
			if err := decodeARM(bodyRequest(contentType, body), &in); err != nil {
				typedCode(t, "decodeARM", err, errARMBadContent.Code, "unsupported_media_type", "request_too_large")
				return
			}
			if !json.Valid(body) {
				t.Fatalf("accepted %q, which is not one JSON value", body)
			}
			if in.Properties != nil {
				if err := checkNetworkAccess(in.Properties.PublicNetworkAccess, in.Properties.TPMAttestationAuthentication); err != nil {
					typedCode(t, "checkNetworkAccess", err, errARMNotSupported.Code, errARMBadContent.Code)
				}
			}
			if err := service.CheckTags(in.Tags); err != nil {
				typedCode(t, "CheckTags", err, "invalid_request")
			}
			return
		}
		var in armCreate
		if err := decodeARM(bodyRequest(contentType, body), &in); err != nil {
			typedCode(t, "decodeARM", err, errARMBadContent.Code, "unsupported_media_type", "request_too_large")
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted %q, which is not one JSON value", body)
		}
		if p := in.Properties; p != nil {
			if err := checkNetworkAccess(p.PublicNetworkAccess, p.TPMAttestationAuthentication); err != nil {
				typedCode(t, "checkNetworkAccess", err, errARMNotSupported.Code, errARMBadContent.Code)
			}
			if p.PolicySigningCertificates != nil {
				certs, err := armCertificates(p.PolicySigningCertificates.Keys)
				switch {
				case err != nil:
					typedCode(t, "armCertificates", err, errARMBadCertificate.Code)
				case len(certs) != len(p.PolicySigningCertificates.Keys):
					t.Fatalf("%d keys, %d certificates", len(p.PolicySigningCertificates.Keys), len(certs))
				}
			}
		}
		if err := service.CheckTags(in.Tags); err != nil {
			typedCode(t, "CheckTags", err, "invalid_request")
		}
	})
}

// armFuzzRoutes are the ARM routes with a body, by FuzzARMBody's route
// number: a PUT over an existing provider (location and tags), a PUT
// creating one, a PATCH of tags, a PUT of a private endpoint connection.
var armFuzzRoutes = []struct{ method, path, query string }{
	{http.MethodPut, armBase + "/armprov", "api-version=2021-06-01"},
	{http.MethodPut, armBase + "/fuzznew", "api-version=2020-10-01"},
	{http.MethodPatch, armBase + "/armprov", "api-version=2021-06-01-preview"},
	{http.MethodPut, armBase + "/armprov/privateEndpointConnections/pec", "api-version=2021-06-01"},
	{http.MethodPut, armBase + "/contoso", "api-version=2020-10-01"},
}

// FuzzARMBody sends arbitrary bodies to the ARM provider routes (create,
// replace, PATCH tags) through the whole handler, as the owner.
// Invariants: never a 5xx; every refusal is ARM's CloudError with a code
// and a message, and an x-ms-request-id.
func FuzzARMBody(f *testing.F) {
	e := newFuzzEnv(f)
	bodies := armBodies(base64.StdEncoding.EncodeToString(e.signerCert.Raw))
	for route := range armFuzzRoutes {
		for _, b := range bodies {
			f.Add(uint8(route), "application/json", []byte(b))
		}
	}
	f.Add(uint8(1), "application/xml", []byte(`<location/>`))
	ctx := context.Background()
	owner := &service.Principal{ID: "fuzz", Role: store.RoleOwner}
	f.Fuzz(func(t *testing.T, route uint8, contentType string, body []byte) {
		rt := armFuzzRoutes[int(route)%len(armFuzzRoutes)]
		rec := e.serve(rt.method, rt.path, rt.query, e.owner, contentType, body)
		checkAnswer(t, rt.method+" "+rt.path, rec, true)
		if rec.Code == http.StatusCreated {
			// The next valid body creates it again.
			if err := e.svc.DeleteProvider(ctx, owner, "fuzznew"); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzARMRequest sends requests without a body to arbitrary ARM paths and
// queries (subscription ids, resource groups, provider names, api-versions,
// child resources) with each kind of caller. Invariants: those of
// FuzzARMBody (FuzzManagementRequest's for a path that is not ARM's).
func FuzzARMRequest(f *testing.F) {
	e := newFuzzEnv(f)
	methods := []string{http.MethodGet, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodPost, http.MethodHead, "OPTIONS"}
	sub := "/subscriptions/" + armSub
	for _, s := range []struct {
		method      uint8
		path, query string
		who         uint8
	}{
		{0, armBase + "/armprov", "api-version=2020-10-01", 0},
		{0, strings.ToLower(armBase) + "/ARMPROV", "api-version=2021-06-01", 1},
		{0, armBase, "api-version=2021-06-01-preview", 1},
		{0, sub + "/providers/Microsoft.Attestation/attestationProviders", "api-version=2020-10-01", 0},
		{0, sub + "/providers/Microsoft.Attestation/defaultProviders", "api-version=2020-10-01", 1},
		{0, sub + "/providers/Microsoft.Attestation/locations/eastus/defaultProvider", "api-version=2020-10-01", 0},
		{0, "/providers/Microsoft.Attestation/operations", "api-version=2020-10-01", 1},
		{0, armBase + "/armprov/privateEndpointConnections", "api-version=2020-10-01", 0},
		{0, armBase + "/armprov/privateLinkResources", "api-version=2020-10-01", 0},
		{3, armBase + "/armprov/privateEndpointConnections/pec", "api-version=2020-10-01", 0},
		{3, armBase + "/nothere", "api-version=2020-10-01", 0},
		{3, armBase + "/contoso", "api-version=2020-10-01", 0},
		{3, armBase + "/armprov", "api-version=2020-10-01", 1},
		{1, armBase + "/armprov", "api-version=2020-10-01", 2},
		{4, armBase + "/armprov", "api-version=2020-10-01", 0},
		{3, armBase, "api-version=2020-10-01", 0},
		{0, armBase + "/armprov", "", 0},
		{0, armBase + "/armprov", "api-version=2022-08-01", 3},
		{0, armBase + "/armprov", "api-version=x&api-version=y", 0},
		{0, "/subscriptions/" + armSub + "/resourceGroups/rg/providers/Microsoft.Other/things", "api-version=2020-10-01", 0},
		{0, "/subscriptions/" + armSub + "/resourceGroups/rg./providers/Microsoft.Attestation/attestationProviders", "api-version=2020-10-01", 0},
		{0, "/subscriptions/-x/providers/Microsoft.Attestation/attestationProviders", "api-version=2020-10-01", 0},
		{0, "/subscriptions/", "", 0},
		{0, "/SUBSCRIPTIONS/" + armSub + "/RESOURCEGROUPS/" + armRG + "/PROVIDERS/MICROSOFT.ATTESTATION/ATTESTATIONPROVIDERS/armprov/a/b/c", "api-version=2020-10-01", 0},
	} {
		f.Add(s.method, s.path, s.query, s.who)
	}
	f.Fuzz(func(t *testing.T, method uint8, path, query string, who uint8) {
		m := methods[int(method)%len(methods)]
		token := []string{e.owner, e.reader, "", "avow_nope"}[int(who)%4]
		rec := e.serve(m, path, query, token, "", nil)
		checkAnswer(t, m+" "+path+"?"+query, rec, isARMPath(path))
	})
}
