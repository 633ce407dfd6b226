package api

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/store"
)

// TestRESTExamples is a conformance suite over Microsoft's REST API
// examples for Azure Attestation (../shared/vectors/maa-rest-examples: data
// plane 2020-10-01, 2022-08-01, 2025-06-01; ARM 2020-10-01, 2021-06-01).
// Every example file's request is sent to a real avow API, as a new user's
// client would, through restMapping; the answer's status must be one the
// example lists, and its shape must equal the example's: the same keys with
// the same JSON types, recursively, and for tokens the same claim names and
// types in the JWT payload. Every difference must be listed, with its
// reason, in restAllowed; anything else fails, and so does an allow-list
// entry that no longer matches anything.
//
// Examples whose evidence or signature cannot be used here are also run
// with a simulated equivalent (sgxsim quotes, a test policy signer), named
// "(simulated: …)". Examples listing a 401 answer for an authenticated
// route are also sent without credentials, "(no credentials)".
func TestRESTExamples(t *testing.T) {
	dir := vectors.Dir(t, "maa-rest-examples")
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".json") {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples in %s: %v", dir, err)
	}
	sort.Strings(files)
	env := newRESTEnv(t)
	used := make([]bool, len(restAllowed))
	var rows []string
	var cases, matched, allowed int
	for _, rel := range files {
		raw, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		var ex restExample
		if err := json.Unmarshal(relaxJSON(raw), &ex); err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		for _, c := range env.cases(t, rel, ex) {
			cases++
			diffs, answer := env.run(t, c)
			var unexplained, reasons []string
			for _, d := range diffs {
				i := allowedDiff(c.name, d)
				if i < 0 {
					unexplained = append(unexplained, d)
					continue
				}
				used[i] = true
				reasons = appendOnce(reasons, restAllowed[i].reason)
			}
			switch {
			case len(unexplained) > 0:
				t.Errorf("%s: %s\n  differences not in restAllowed:\n    %s", c.name, answer, strings.Join(unexplained, "\n    "))
			case len(diffs) == 0:
				matched++
			default:
				allowed++
			}
			note := "—"
			if len(reasons) > 0 {
				note = strings.Join(reasons, "; ")
			}
			rows = append(rows, fmt.Sprintf("| `%s` | %s | %s |", c.name, answer, note))
		}
	}
	for i, u := range used {
		if !u {
			t.Errorf("restAllowed[%d] {%q, %q} matches no difference any more: remove it", i, restAllowed[i].examples, restAllowed[i].diff)
		}
	}
	t.Logf("%d example files, %d requests: %d match, %d differ only as restAllowed says", len(files), cases, matched, allowed)
	if out := os.Getenv("AVOW_REST_EXAMPLES_TABLE"); out != "" {
		table := "| example | avow's answer | intended difference |\n|---|---|---|\n" + strings.Join(rows, "\n") + "\n"
		if err := os.WriteFile(out, []byte(table), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// restAllowed is the one list of intended differences between avow's
// answers and Microsoft's examples. examples and diff are patterns where
// "*" matches any text; examples is matched against the case name (the
// example's path, plus a variant in parentheses), diff against one
// difference as TestRESTExamples reports it.
var restAllowed = []struct{ examples, diff, reason string }{
	// Refusals: evidence without collateral here, or kinds avow lacks.
	{"*/AttestSgxEnclave", "status 400 collateral_not_found", "a real quote of a platform (FMSPC 00906ea10000) with no collateral here; run simulated"},
	{"*/AttestOpenEnclave", "status 400 collateral_not_found", "a real quote with no collateral here (and its attestation-key signature does not verify as published, README); run simulated"},
	{"*/AttestTdxVm", "status 400 unsupported_quote_format", "the example's quote is the SGX example's quote (its title says \"Attest SgxEnclave\"), not a TDX quote"},
	{"2020-10-01/AttestSevSnpVm", "status 400 vcek_unavailable", "an Azure HCL report without its VCEK chain, and this test server has no AMD KDS source (no network); docs/snp.md"},
	{"*/AttestSevSnpVm", "token.nonce: missing", "the example's token has a nonce its request does not send; avow issues nonce only for a request's nonce"},
	{"*/AttestSevSnpVm", "token.x-ms-compliance-status: missing", "Azure's own compliance statement about its fleet, not a fact of the evidence; avow does not make it (docs/snp.md)"},
	{"*/AttestVbsEnclave", "status 404 unknown_attestation_type", "no TPM/VBS attestation (/attest/Tpm) yet"},
	{"2025-06-01/AttestAzureGuestVm.STUB", "not run: *", "the stored example is a stub, not a request"},
	{"2025-06-01/Get_TcbBaselines", "body.tcbBaselines[].minimumPswLinuxVersion: missing", "Intel's collateral carries no PSW versions: avow shows MAA's published minimums for numbers 10-15 only, and the collateral here is the simulated platform's (17, 18; docs/tcb-baselines.md)"},
	{"2025-06-01/Get_TcbBaselines", "body.tcbBaselines[].minimumPswWindowsVersion: missing", "as minimumPswLinuxVersion"},
	{"2020-10-01/Set_Policy", "status 400 invalid_request", "the example's body is the placeholder \"newAttestationPolicyname\", not a JWS; run simulated"},
	{"*/Set_Policy", "status 400 invalid_request", "the example's body is a result token (RS256, no certificate), not a policy document (README); run simulated"},
	{"2020-10-01/UpdatePolicy", "status 400 invalid_request", "the example's policy is the pre-release JSON policy format ($version, $claims), not base64url claim-rule text; run simulated"},
	{"*_PolicyCertificate", "status 400 *", "signed by Microsoft's test signer, whose certificate expired on 2022-02-04 and is no signer of the provider; run simulated"},
	{"rm-2020-10-01/Create_AttestationProvider", "status 400 InvalidRequestContent", "the example's creationParams is the placeholder string \"test\""},
	{"rm-2020-10-01/*PrivateEndpointConnection*", "status 400 InvalidApiVersionParameter", "api-version 2019-06-01 / 2018-02-14 of another resource provider, copied into the specification"},
	{"rm-2020-10-01/*rivate*", "status 400 InvalidApiVersionParameter", "api-version 2018-02-14 of another resource provider, copied into the specification"},
	{"rm-*/*GetPrivateEndpointConnection", "status 404 ResourceNotFound", "avow has no private endpoints: a provider has no private endpoint connection"},
	{"rm-2021-06-01/AttestationProviderPutPrivateEndpointConnection", "status 400 FeatureNotSupported", "avow has no private endpoints (publicNetworkAccess Disabled with --private-networks instead)"},

	// Shapes: pre-release examples.
	{"2020-10-01/*", "body: type object, example string", "pre-release example: the attest/policy answer as a bare JWT string; every SDK reads {\"token\"}, MAA's GA shape"},
	{"*/Attest*Enclave*", "token.maa-attestationcollateral.maa-*: missing", "the 2020 pre-GA collateral keys had a maa- prefix; real MAA tokens since 2022 have qeidhash, quotehash… (maa.md §2.3), as avow"},
	{"*/Attest*Enclave*", "token.maa-attestationcollateral.*: extra", "the 2020 pre-GA collateral keys had a maa- prefix; real MAA tokens since 2022 have qeidhash, quotehash… (maa.md §2.3), as avow"},
	{"*/Attest*Enclave*", "token.x-ms-*: extra", "claims a real MAA SGX token carries (x-ms-sgx-*, x-ms-attestation-type, x-ms-sgx-collateral…; maa.md §2.3); the example token is from 2020"},
	{"*/Attest*Enclave*", "token.jti: extra", "jti, as real MAA tokens since 2021"},
	{"*Polic*", "token.jti: extra", "MAA omits jti on management result tokens, avow always writes one (docs/tokens.md); the SDKs ignore it"},
	{"*/Attest*Enclave*", "token.x-avow-simulated: extra", "avow marks tokens for simulated evidence"},
	{"*/Attest*Enclave*", "token.x-avow-tcb-*: extra", "avow names the TCB baseline and TCB evaluation data number a quote was verified with (docs/tcb-baselines.md)"},
	{"*/Reset_Policy", "token.aas-policyHash: missing", "pre-release claim; avow answers MAA's PolicyResult (x-ms-policy-result, x-ms-policy-token-hash; maa.md §1.6, verified recordings)"},
	{"*/Reset_Policy", "token.x-ms-policy-*: extra", "MAA's PolicyResult claims (maa.md §1.6)"},
	{"*/UpdatePolicy*", "token.aas-policyHash: missing", "pre-release claim; avow answers MAA's PolicyResult (maa.md §1.6)"},
	{"*/UpdatePolicy*", "token.x-ms-policy-*: extra", "MAA's PolicyResult claims (maa.md §1.6)"},
	{"*/Set_Policy (simulated*", "token.AttestationPolicy: missing", "the example's answer is the uploaded policy document; MAA answers a PolicyResult token (maa.md §1.6, verified recordings)"},
	{"*/Set_Policy (simulated*", "token.x-ms-policy-*: extra", "MAA's PolicyResult claims (maa.md §1.6)"},
	{"*/Set_Policy (simulated*", "token.exp: extra", "time claims of a result token"},
	{"*/Set_Policy (simulated*", "token.iat: extra", "time claims of a result token"},
	{"*/Set_Policy (simulated*", "token.nbf: extra", "time claims of a result token"},
	{"*/Set_Policy (simulated*", "token.iss: extra", "time claims of a result token"},
	{"2020-10-01/Set_Policy (simulated*", "body: extra", "the pre-release example's answer has no body; avow answers MAA's {\"token\"}"},
	{"*PolicyCertificate*", "token.aas-policyCertificates: missing", "pre-release claim name; avow sends x-ms-policy-certificates, which the SDKs read"},
	{"*PolicyCertificate*", "token.x-ms-policy-certificates: extra", "the SDKs' claim name (maa.md §1.7)"},
	{"*_PolicyCertificate (simulated*", "token.x-ms-certificate-thumbprint: extra", "MAA's PolicyCertificatesModificationResult claims (maa.md §1.7)"},
	{"*_PolicyCertificate (simulated*", "token.x-ms-policycertificates-result: extra", "MAA's PolicyCertificatesModificationResult claims (maa.md §1.7)"},
	{"2022-08-01/Get_MetadataConfiguration", "body.*: *", "the example spells the SDK model's property names (responseTypesSupported…); on the wire they are OpenID's snake_case, as the 2020-10-01 and 2025-06-01 examples show"},
	{"*/Get_MetadataConfiguration", "body.issuer: extra", "issuer is required by OpenID Discovery 1.0 and equals the token iss (maa.md §1.8)"},
	{"*/Get_Certs", "body.keys[].n: extra", "RSA modulus and exponent for generic JOSE libraries (docs/tokens.md)"},
	{"*/Get_Certs", "body.keys[].e: extra", "RSA modulus and exponent for generic JOSE libraries (docs/tokens.md)"},
	{"2020-10-01/Get_Certs", "body.keys[].alg: extra", "alg and use, as the 2025-06-01 example shows"},
	{"2020-10-01/Get_Certs", "body.keys[].use: extra", "alg and use, as the 2025-06-01 example shows"},
	{"* (no credentials)", "body: JSON error body, example empty", "avow keeps MAA's error body on 401: the JS and Python SDKs show its code and message; an empty body works too but says nothing (docs/azure-sdk.md)"},

	// ARM shapes.
	{"rm-*/Operations_List", "body: type object, example array", "the example lists the operations bare; the specification's OperationList, and the SDKs, read {\"value\":[…]}"},
	{"rm-*", "body*.systemData: extra", "ARM's systemData (createdAt, lastModifiedAt), which the 2021-06-01 resource model declares"},
	{"rm-*", "body*.properties.privateEndpointConnections: extra", "the resource model's privateEndpointConnections (always [] on avow)"},
	{"rm-2020-10-01/*", "body*.properties.publicNetworkAccess: extra", "publicNetworkAccess and tpmAttestationAuthentication (2021-06-01) are shown in every api-version; clients ignore members they do not know"},
	{"rm-2020-10-01/*", "body*.properties.tpmAttestationAuthentication: extra", "publicNetworkAccess and tpmAttestationAuthentication (2021-06-01) are shown in every api-version; clients ignore members they do not know"},
	{"rm-2021-06-01/Get_AttestationProvider", "body.properties.tpmAttestationAuthentication: extra", "the Get example predates the member, which Create and Update show"},
	{"rm-*/Get_AttestationProvidersList*", "body.value[].*: extra", "lists show the whole resource, as GET does; the example trims it to name, location and status"},
}

// restExample is one example file: the request's parameters and the
// answers by status.
type restExample struct {
	Parameters map[string]json.RawMessage `json:"parameters"`
	Responses  map[string]json.RawMessage `json:"responses"`
}

func (ex restExample) param(names ...string) string {
	for _, n := range names {
		var s string
		if raw, ok := ex.Parameters[n]; ok && json.Unmarshal(raw, &s) == nil {
			return s
		}
	}
	return ""
}

// restCase is one request made from an example.
type restCase struct {
	name        string
	method      string
	path        string // with the query
	token       string
	body        []byte
	contentType string
	want        []int           // the example's statuses for this request
	wantBody    json.RawMessage // the example's body (of want[0]'s answer), "" for none
	setup       func(t *testing.T)
	skip        string // not sent: why
}

// restMapping is where an example's placeholders become avow's: the data
// plane's instanceUrl / tenantBaseUrl is a provider's attest URI (contoso,
// AAD, for attestation and policies; isolated, with a test signer, for the
// policy signer certificates); ARM subscription placeholders become a
// fixed subscription; the two default providers of the examples are
// declared shared providers; management calls carry the owner's token and
// attestation, /certs and the OpenID metadata none.
var restMapping = struct {
	aad, isolated string
	subscription  string
	shared        []service.SharedProvider
}{
	aad: "contoso", isolated: "isolated",
	subscription: "00000000-0000-0000-0000-000000000000",
	shared:       []service.SharedProvider{{Name: "sharedcus", Location: "Central US"}, {Name: "shareduks", Location: "UK South"}},
}

type restEnv struct {
	*testEnv
	sim        *sgxsim.Platform
	signerKey  *ecdsa.PrivateKey
	signerCert *x509.Certificate
}

func newRESTEnv(t *testing.T) *restEnv {
	e := newEnvWith(t, Options{}, func(c *service.Config) { c.SharedProviders = restMapping.shared })
	ctx := context.Background()
	if err := e.svc.EnsureSharedProviders(ctx); err != nil {
		t.Fatal(err)
	}
	key, cert := signerPair(t, "avow REST examples signer")
	owner := &service.Principal{ID: "rest-examples", Role: store.RoleOwner}
	if _, err := e.svc.CreateProvider(ctx, owner, service.ProviderRequest{Name: restMapping.isolated,
		TrustModel: store.TrustModelIsolated, PolicySigningCertificates: []*x509.Certificate{cert}}); err != nil {
		t.Fatal(err)
	}
	return &restEnv{testEnv: e, sim: sgxsim.Default(), signerKey: key, signerCert: cert}
}

// cases turns an example into the requests to send.
func (e *restEnv) cases(t *testing.T, rel string, ex restExample) []restCase {
	t.Helper()
	name := strings.TrimSuffix(rel, ".json")
	op := filepath.Base(name)
	c := restCase{name: name, token: e.owner, contentType: "application/json"}
	c.want, c.wantBody = exampleAnswers(ex)
	version := ex.param("api-version")
	q := ""
	if version != "" {
		q = "?api-version=" + version
	}
	dp := func(provider, sub string) string { return "/providers/" + provider + "/" + sub + q }
	reqBody := func(names ...string) []byte {
		for _, n := range names {
			if raw, ok := ex.Parameters[n]; ok {
				return raw
			}
		}
		t.Fatalf("%s: no request parameter %v", rel, names)
		return nil
	}
	attType := ex.param("attestationType", "tee")

	if strings.HasPrefix(name, "rm-") {
		return e.armCases(t, c, op, ex, q)
	}
	var out []restCase
	switch op {
	case "AttestSgxEnclave", "AttestOpenEnclave", "AttestTdxVm", "AttestSevSnpVm", "AttestVbsEnclave":
		typ := strings.TrimPrefix(op, "Attest")
		if typ == "VbsEnclave" {
			typ = "Tpm"
		}
		c.method, c.path, c.token = "POST", dp(restMapping.aad, "attest/"+typ), ""
		c.body = reqBody("request", "body")
		out = append(out, c)
		if typ == "SgxEnclave" || typ == "OpenEnclave" {
			out = append(out, e.simulatedAttest(t, c, typ))
		}
	case "AttestAzureGuestVm.STUB":
		c.skip = "stub"
		out = append(out, c)
	case "Get_Certs":
		c.method, c.path, c.token = "GET", dp(restMapping.aad, "certs"), ""
		out = append(out, c)
	case "Get_MetadataConfiguration":
		c.method, c.path, c.token = "GET", dp(restMapping.aad, ".well-known/openid-configuration"), ""
		out = append(out, c)
	case "Get_TcbBaselines":
		c.method, c.path = "GET", dp(restMapping.aad, "tcbbaselines/"+attType)
		out = append(out, c)
	case "Get_Policy":
		c.method, c.path = "GET", dp(restMapping.aad, "policies/"+attType)
		out = append(out, c)
	case "Set_Policy", "UpdatePolicy":
		c.method, c.path, c.contentType = "PUT", dp(restMapping.aad, "policies/"+attType), "text/plain"
		c.body = []byte(ex.param("newAttestationPolicy", "PolicyJws"))
		sim := c
		sim.name += " (simulated: an unsigned policy document)"
		sim.body = []byte(policy.UnsignedDocument("version=1.0; authorizationrules { => permit(); }; issuancerules { };"))
		out = append(out, c, sim)
	case "Reset_Policy":
		c.method, c.path, c.contentType = "POST", dp(restMapping.aad, "policies/"+attType+":reset"), "text/plain"
		c.body = []byte(ex.param("PolicyJws"))
		out = append(out, c)
	case "Get_PolicyCertificates":
		c.method, c.path = "GET", dp(restMapping.isolated, "certificates")
		out = append(out, c)
	case "Add_PolicyCertificate", "Remove_PolicyCertificate":
		action := "add"
		jws := ex.param("policyCertificateToAdd")
		if op == "Remove_PolicyCertificate" {
			action, jws = "remove", ex.param("policyCertificateToRemove")
		}
		c.method, c.path = "POST", dp(restMapping.isolated, "certificates:"+action)
		c.body, _ = json.Marshal(jws)
		out = append(out, c, e.simulatedSignerChange(t, c, action))
	default:
		t.Fatalf("%s: no mapping for operation %s: add it to TestRESTExamples", rel, op)
	}
	// Examples that list a 401 answer, on routes that need a token.
	if _, ok := ex.Responses["401"]; ok && out[0].token != "" {
		anon := out[0]
		anon.name += " (no credentials)"
		anon.token, anon.want = "", []int{401}
		anon.wantBody = exampleBody(ex.Responses["401"])
		out = append(out, anon)
	}
	return out
}

// simulatedAttest is an attestation example with its quote replaced by a
// simulated one of the same kind, bound to the example's runtime data.
func (e *restEnv) simulatedAttest(t *testing.T, c restCase, typ string) restCase {
	t.Helper()
	var body map[string]json.RawMessage
	if err := json.Unmarshal(c.body, &body); err != nil {
		t.Fatal(err)
	}
	var runtime []byte
	for _, k := range []string{"runtimeData", "enclaveHeldData"} {
		raw, ok := body[k]
		if !ok {
			continue
		}
		var s string
		if k == "runtimeData" {
			var d struct{ Data string }
			if err := json.Unmarshal(raw, &d); err != nil {
				t.Fatal(err)
			}
			s = d.Data
		} else if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		var err error
		if runtime, err = b64("runtime data", s); err != nil {
			t.Fatal(err)
		}
		break
	}
	sum := sha256.Sum256(runtime)
	q, err := e.sim.Quote(sgxsim.QuoteOptions{ReportData: sum[:]})
	if err != nil {
		t.Fatal(err)
	}
	evidence := q
	if typ == "OpenEnclave" {
		evidence = client.OpenEnclaveReport(q)
	}
	enc, _ := json.Marshal(base64.RawURLEncoding.EncodeToString(evidence))
	for _, k := range []string{"quote", "report"} {
		if _, ok := body[k]; ok {
			body[k] = enc
		}
	}
	c.body, _ = json.Marshal(body)
	c.name += " (simulated: an sgxsim quote bound to the example's runtime data)"
	return c
}

// simulatedSignerChange is a certificates:add or :remove example signed
// by the isolated provider's own test signer instead of Microsoft's expired
// test signer, for a fresh certificate (added first for a remove).
func (e *restEnv) simulatedSignerChange(t *testing.T, c restCase, action string) restCase {
	t.Helper()
	_, other := signerPair(t, "avow REST examples "+action)
	at := client.DocumentTime(testNow)
	doc := func(op string) []byte {
		jws, err := client.SignerChangeDocument(op, other, e.signerKey, e.signerCert, at)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(jws)
		return b
	}
	c.name += " (simulated: signed by the provider's test signer)"
	c.body = doc(client.SignerAdd)
	if action == "remove" {
		add := doc(client.SignerAdd)
		c.body = doc(client.SignerRemove)
		c.setup = func(t *testing.T) {
			r := e.do(t, "POST", "/providers/"+restMapping.isolated+"/certificates:add?api-version=2022-08-01", e.owner,
				bytes.NewReader(add), "Content-Type", "application/json")
			if r.status != 200 {
				t.Fatalf("setup: add the certificate to remove: %d %s", r.status, r.body)
			}
		}
	}
	return c
}

// armCases maps a management-plane (ARM) example.
func (e *restEnv) armCases(t *testing.T, c restCase, op string, ex restExample, q string) []restCase {
	t.Helper()
	sub := ex.param("subscriptionId")
	if sub == "" || strings.HasPrefix(sub, "{") {
		sub = restMapping.subscription
	}
	rg := ex.param("resourceGroupName")
	name := ex.param("providerName", "accountName", "instanceName", "attesationProvider")
	ns := "/providers/Microsoft.Attestation"
	base := "/subscriptions/" + sub + "/resourceGroups/" + rg + ns + "/attestationProviders"
	provider := base + "/" + name
	pec := url.PathEscape(ex.param("privateEndpointConnectionName"))
	ensure := func(t *testing.T) { e.ensureARM(t, sub, rg, name) }
	c.setup = ensure
	body := func(n string) []byte {
		raw, ok := ex.Parameters[n]
		if !ok {
			t.Fatalf("%s: no parameter %s", c.name, n)
		}
		return raw
	}
	switch op {
	case "Create_AttestationProvider":
		c.method, c.path, c.body = "PUT", provider+q, body("creationParams")
		c.setup = func(t *testing.T) { e.removeProvider(t, name) }
	case "Delete_AttestationProvider":
		c.method, c.path = "DELETE", provider+q
	case "Get_AttestationProvider":
		c.method, c.path = "GET", provider+q
	case "Update_AttestationProvider":
		c.method, c.path, c.body = "PATCH", provider+q, body("updateParams")
	case "Get_AttestationProvidersList":
		c.method, c.path = "GET", "/subscriptions/"+sub+ns+"/attestationProviders"+q
		c.setup = func(t *testing.T) { e.ensureARM(t, sub, "MyResourceGroup", "myattestationprovider") }
	case "Get_AttestationProvidersListByResourceGroup":
		c.method, c.path = "GET", base+q
		c.setup = func(t *testing.T) { e.ensureARM(t, sub, rg, "myattestationprovider") }
	case "Get_DefaultProviders":
		c.method, c.path, c.setup = "GET", "/subscriptions/"+sub+ns+"/defaultProviders"+q, nil
	case "Get_DefaultProviderByLocation":
		c.method, c.path, c.setup = "GET", "/subscriptions/"+sub+ns+"/locations/"+url.PathEscape(ex.param("location"))+"/defaultProvider"+q, nil
	case "Operations_List":
		c.method, c.path, c.setup = "GET", ns+"/operations"+q, nil
	case "AttestationProviderGetPrivateEndpointConnection", "getPrivateEndpointConnection":
		c.method, c.path = "GET", provider+"/privateEndpointConnections/"+pec+q
	case "AttestationProviderListPrivateEndpointConnections":
		c.method, c.path = "GET", provider+"/privateEndpointConnections"+q
	case "AttestationProviderPutPrivateEndpointConnection":
		c.method, c.path, c.body = "PUT", provider+"/privateEndpointConnections/"+pec+q, body("properties")
	case "AttestationProviderDeletePrivateEndpointConnection", "deletePrivateEndpointConnection":
		c.method, c.path = "DELETE", provider+"/privateEndpointConnections/"+pec+q
	case "listPrivateLinkResources", "AttestationProviderListPrivateLinkResources":
		c.method, c.path = "GET", provider+"/privateLinkResources"+q
	default:
		t.Fatalf("%s: no mapping for ARM operation %s: add it to TestRESTExamples", c.name, op)
	}
	return []restCase{c}
}

// ensureARM makes sure provider name exists in (sub, rg), created through
// ARM (provider names are unique on a server: one elsewhere is deleted).
func (e *restEnv) ensureARM(t *testing.T, sub, rg, name string) {
	t.Helper()
	v, err := e.svc.GetProvider(context.Background(), &service.Principal{Role: store.RoleReader}, name)
	if err == nil && (service.Scope{SubscriptionID: sub, ResourceGroup: rg}).Contains(v.Metadata) {
		return
	}
	if err == nil {
		e.removeProvider(t, name)
	}
	r := e.do(t, "PUT", "/subscriptions/"+sub+"/resourceGroups/"+rg+"/providers/Microsoft.Attestation/attestationProviders/"+name+"?api-version=2021-06-01",
		e.owner, strings.NewReader(`{"location":"East US","tags":{"Property1":"Value1","Property2":"Value2","Property3":"Value3"}}`), "Content-Type", "application/json")
	if r.status != 201 {
		t.Fatalf("setup: create %s in %s/%s: %d %s", name, sub, rg, r.status, r.body)
	}
}

func (e *restEnv) removeProvider(t *testing.T, name string) {
	t.Helper()
	err := e.svc.DeleteProvider(context.Background(), &service.Principal{ID: "rest-examples", Role: store.RoleOwner}, name)
	if err != nil && !errors.Is(err, service.ErrProviderNotFound) {
		t.Fatal(err)
	}
}

// run sends c and returns its differences from the example, and avow's
// answer in a few words.
func (e *restEnv) run(t *testing.T, c restCase) ([]string, string) {
	t.Helper()
	if c.skip != "" {
		return []string{"not run: " + c.skip}, "not run (" + c.skip + ")"
	}
	if c.setup != nil {
		c.setup(t)
	}
	var rd io.Reader
	if c.body != nil {
		rd = bytes.NewReader(c.body)
	}
	r := e.do(t, c.method, c.path, c.token, rd, "Content-Type", c.contentType)
	answer := strconv.Itoa(r.status)
	var b errBody
	if r.status >= 400 && json.Unmarshal(r.body, &b) == nil {
		answer += " " + b.Error.Code
		if os.Getenv("AVOW_REST_EXAMPLES_DEBUG") != "" {
			t.Logf("%s: %s", c.name, b.Error.Message)
		}
	}
	ok := false
	for _, s := range c.want {
		ok = ok || s == r.status
	}
	if !ok {
		return []string{"status " + answer}, answer
	}
	if r.status < 300 {
		answer += " " + shapeSummary(r.body)
	}
	return shapeDiffs(c.wantBody, r.body), answer
}

// exampleAnswers returns the example's success statuses (2xx) and the body
// of the first that has one.
func exampleAnswers(ex restExample) ([]int, json.RawMessage) {
	var want []int
	var body json.RawMessage
	var codes []string
	for k := range ex.Responses {
		codes = append(codes, k)
	}
	sort.Strings(codes)
	for _, k := range codes {
		n, err := strconv.Atoi(k)
		if err != nil || n < 200 || n > 299 {
			continue
		}
		want = append(want, n)
		if b := exampleBody(ex.Responses[k]); body == nil && b != nil {
			body = b
		}
	}
	return want, body
}

func exampleBody(resp json.RawMessage) json.RawMessage {
	var r struct {
		Body json.RawMessage `json:"body"`
	}
	_ = json.Unmarshal(resp, &r)
	return r.Body
}

// shapeDiffs compares avow's body with the example's: keys and JSON types,
// recursively; tokens by their payload's claim names and types.
func shapeDiffs(example json.RawMessage, got []byte) []string {
	var out []string
	gotEmpty := len(bytes.TrimSpace(got)) == 0
	var ex any
	if len(example) > 0 {
		if err := json.Unmarshal(example, &ex); err != nil {
			return []string{"example body is not JSON"}
		}
	}
	if s, isStr := ex.(string); isStr && s == "" {
		ex = nil
		if !gotEmpty {
			return []string{"body: JSON error body, example empty"}
		}
	}
	switch {
	case ex == nil && gotEmpty:
		return nil
	case ex == nil:
		return []string{"body: extra"}
	case gotEmpty:
		return []string{"body: missing"}
	}
	var g any
	if err := json.Unmarshal(got, &g); err != nil {
		return []string{"body: not JSON"}
	}
	compareShape("body", ex, g, &out)
	if exTok, gotTok := jwtOf(ex), jwtOf(g); exTok != nil && gotTok != nil {
		compareShape("token", exTok, gotTok, &out)
	}
	return out
}

// jwtOf returns the payload of the JWT a body is or holds as "token".
func jwtOf(v any) map[string]any {
	s, ok := v.(string)
	if m, isObj := v.(map[string]any); isObj {
		s, ok = m["token"].(string)
	}
	if !ok || strings.Count(s, ".") != 2 {
		return nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(strings.Split(s, ".")[1], "="))
	if err != nil {
		return nil
	}
	var claims map[string]any
	if json.Unmarshal(raw, &claims) != nil {
		return nil
	}
	return claims
}

func jsonType(v any) string {
	switch v.(type) {
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return "null"
}

func compareShape(path string, ex, got any, out *[]string) {
	if te, tg := jsonType(ex), jsonType(got); te != tg {
		*out = append(*out, fmt.Sprintf("%s: type %s, example %s", path, tg, te))
		return
	}
	switch e := ex.(type) {
	case map[string]any:
		g := got.(map[string]any)
		for _, k := range sortedKeys(e) {
			if gv, ok := g[k]; ok {
				compareShape(path+"."+k, e[k], gv, out)
			} else {
				*out = append(*out, path+"."+k+": missing")
			}
		}
		for _, k := range sortedKeys(g) {
			if _, ok := e[k]; !ok {
				*out = append(*out, path+"."+k+": extra")
			}
		}
	case []any:
		// The first elements stand for all (an empty array on either side
		// has nothing to compare).
		if g := got.([]any); len(e) > 0 && len(g) > 0 {
			compareShape(path+"[]", e[0], g[0], out)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// shapeSummary names a successful answer: {token}, {value: n}, {keys…}.
func shapeSummary(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		if len(bytes.TrimSpace(body)) == 0 {
			return "(no body)"
		}
		return "(not JSON)"
	}
	m, ok := v.(map[string]any)
	if !ok {
		return jsonType(v)
	}
	if _, ok := m["token"]; ok && len(m) == 1 {
		return "{token}"
	}
	if items, ok := m["value"].([]any); ok && len(m) == 1 {
		return fmt.Sprintf("{value: %d}", len(items))
	}
	return "{" + strings.Join(sortedKeys(m), ", ") + "}"
}

func allowedDiff(name, diff string) int {
	for i, a := range restAllowed {
		if globMatch(a.examples, name) && globMatch(a.diff, diff) {
			return i
		}
	}
	return -1
}

// globMatch matches s against pattern, where "*" is any text. The
// examples pattern matches a case name's example path alone too.
func globMatch(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*") + "$"
	rx := regexp.MustCompile(re)
	if rx.MatchString(s) {
		return true
	}
	if i := strings.Index(s, " ("); i > 0 {
		return rx.MatchString(s[:i])
	}
	return false
}

func appendOnce(list []string, s string) []string {
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}

// relaxJSON drops the trailing commas some published examples carry
// (",\n}"), outside strings, so that encoding/json reads them.
func relaxJSON(b []byte) []byte {
	out := make([]byte, 0, len(b))
	inString, escaped := false, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			out = append(out, c)
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		if c == '"' {
			inString = true
		}
		if c == ',' {
			j := i + 1
			for j < len(b) && (b[j] == ' ' || b[j] == '\n' || b[j] == '\r' || b[j] == '\t') {
				j++
			}
			if j < len(b) && (b[j] == '}' || b[j] == ']') {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
