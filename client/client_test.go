package client

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/avowhq/avow/internal/fakemaa"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/sgxsim"
	"github.com/avowhq/avow/token"
)

func newTestClient(t *testing.T, f *fakemaa.Server, tok string, opts ...Option) *Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(f.Certificate())
	c, err := New(f.URL, append([]Option{WithToken(tok), WithRootCAs(pool), WithClock(func() time.Time { return fakemaa.Now.Add(time.Minute) })}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func wantServerError(t *testing.T, err error, status int, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want *client.Error %d %s", err, err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("error %d %q %q, want %d %q", e.Status, e.Code, e.Message, status, code)
	}
	if e.RequestID != fakemaa.RequestID {
		t.Errorf("request id %q, want %q", e.RequestID, fakemaa.RequestID)
	}
	return e
}

func TestClientProviders(t *testing.T) {
	f := fakemaa.New(t)
	c := newTestClient(t, f, fakemaa.OwnerToken)
	ctx := context.Background()
	_, signer := fakemaa.Signer(t, "signer one")

	p, err := c.CreateProvider(ctx, CreateProviderRequest{
		Name: "contoso", TrustModel: TrustModelIsolated,
		PolicySigningCertificates: []*x509.Certificate{signer},
		Settings:                  &Settings{AcceptedTCBStatuses: []string{"UpToDate"}, CollateralGracePeriod: "72h0m0s"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "contoso" || p.TrustModel != "Isolated" || p.AttestURI != f.AttestURI("contoso") || p.PolicySigningCertificates != 1 ||
		p.Settings.CollateralGracePeriod != "72h0m0s" || !p.CreatedAt.Equal(fakemaa.Now) || p.Version != 1 {
		t.Errorf("created %+v", p)
	}
	req := f.LastRequest()
	if req.Method != "POST" || req.Path != "/management/providers" || req.Auth != "Bearer "+fakemaa.OwnerToken || !strings.HasPrefix(req.ContentType, "application/json") {
		t.Errorf("request %+v", req)
	}
	var body map[string]any
	if err := json.Unmarshal(req.Body, &body); err != nil {
		t.Fatal(err)
	}
	if certs, _ := body["policySigningCertificates"].([]any); len(certs) != 1 || !strings.HasPrefix(certs[0].(string), "-----BEGIN CERTIFICATE-----") {
		t.Errorf("policySigningCertificates %v", body["policySigningCertificates"])
	}
	if g, _ := p.Settings.GracePeriod(); g != 72*time.Hour {
		t.Errorf("grace %v", g)
	}

	if _, err := c.CreateProvider(ctx, CreateProviderRequest{Name: "contoso"}); err == nil {
		t.Fatal("duplicate created")
	} else {
		wantServerError(t, err, 409, "conflict")
	}

	list, err := c.ListProviders(ctx)
	if err != nil || len(list) != 1 || list[0].Name != "contoso" {
		t.Fatalf("list %v %v", list, err)
	}
	got, err := c.GetProvider(ctx, "contoso")
	if err != nil || got.AttestURI != p.AttestURI {
		t.Fatalf("get %v %v", got, err)
	}
	up, err := c.UpdateProviderSettings(ctx, "contoso", Settings{CollateralGracePeriod: "1h0m0s"})
	if err != nil || up.Settings.CollateralGracePeriod != "1h0m0s" {
		t.Fatalf("update %+v %v", up, err)
	}
	if req := f.LastRequest(); req.Method != "PATCH" || string(req.Body) != `{"settings":{"collateralGracePeriod":"1h0m0s"}}` {
		t.Errorf("update request %s %s", req.Method, req.Body)
	}
	k, err := c.RotateKey(ctx, "contoso")
	if err != nil || k.KID != "kid-2" || !k.Active {
		t.Fatalf("rotate %+v %v", k, err)
	}
	if req := f.LastRequest(); req.Path != "/management/providers/contoso/keys:rotate" {
		t.Errorf("rotate path %s", req.Path)
	}
	keys, err := c.ListKeys(ctx, "contoso")
	if err != nil || len(keys) != 2 || !keys[0].Active || keys[1].RetiredAt == nil {
		t.Fatalf("keys %+v %v", keys, err)
	}
	if err := c.DeleteProvider(ctx, "contoso"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProvider(ctx, "contoso")
	wantServerError(t, err, 404, "not_found")
}

func TestClientErrors(t *testing.T) {
	f := fakemaa.New(t)
	ctx := context.Background()

	// No token, then a bad one: 401 with MAA's error body.
	for _, tok := range []string{"", "wrong"} {
		_, err := newTestClient(t, f, tok).ListProviders(ctx)
		e := wantServerError(t, err, 401, "unauthorized")
		if !strings.Contains(e.Message, "bearer token") || !strings.Contains(e.Error(), "401 unauthorized") {
			t.Errorf("message %q, text %q", e.Message, e.Error())
		}
		if !IsStatus(err, http.StatusUnauthorized) {
			t.Error("IsStatus 401 false")
		}
	}
	// Reader cannot write.
	_, err := newTestClient(t, f, fakemaa.ReaderToken).CreateProvider(ctx, CreateProviderRequest{Name: "x"})
	wantServerError(t, err, 403, "forbidden")

	c := newTestClient(t, f, fakemaa.OwnerToken)
	f.AddProvider("huge", "")
	f.AddProvider("proxy", "")
	// A body over the limit is refused, not read whole.
	_, err = c.GetProvider(ctx, "huge")
	if !errors.Is(err, ErrResponseTooLarge) {
		t.Fatalf("huge: %v", err)
	}
	// A non-MAA error body keeps the status and the start of the text.
	_, err = c.GetProvider(ctx, "proxy")
	e := wantServerError(t, err, 502, "")
	if !strings.Contains(e.Message, "Bad Gateway") {
		t.Errorf("proxy message %q", e.Message)
	}
	// Invalid arguments are refused before sending.
	if _, err := c.GetProvider(ctx, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := c.AttestSGX(ctx, "not a url", []byte("q"), AttestOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad attest URI: %v", err)
	}
}

func TestClientDecodeErrorLimits(t *testing.T) {
	long := strings.Repeat("e", 1000)
	resp := &http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(long))}
	e := decodeError(resp).(*Error)
	if len(e.Message) > 210 || e.Code != "" {
		t.Errorf("message length %d code %q", len(e.Message), e.Code)
	}
	resp = &http.Response{StatusCode: 503, Header: http.Header{}, Body: io.NopCloser(bytes.NewReader([]byte{0, 1, 2}))}
	if e := decodeError(resp).(*Error); e.Message != "Service Unavailable" {
		t.Errorf("binary body message %q", e.Message)
	}
}

func TestClientTLSOptions(t *testing.T) {
	f := fakemaa.New(t)
	f.AddProvider("contoso", "")
	ctx := context.Background()

	// The self-signed certificate is not trusted by default.
	c, err := New(f.URL, WithToken(fakemaa.OwnerToken))
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListProviders(ctx)
	var ce *Error
	if err == nil || errors.As(err, &ce) {
		t.Fatalf("untrusted certificate: %v", err)
	}
	// CertPoolFromPEM adds it to the system roots.
	pool, err := CertPoolFromPEM(f.CertPEM)
	if err != nil {
		t.Fatal(err)
	}
	c, _ = New(f.URL+"/", WithToken(fakemaa.OwnerToken), WithRootCAs(pool))
	if _, err := c.ListProviders(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := CertPoolFromPEM([]byte("no pem")); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("CertPoolFromPEM: %v", err)
	}
	// Explicitly insecure works too; a given HTTP client is not modified.
	hc := &http.Client{Timeout: 5 * time.Second}
	c, _ = New(f.URL, WithToken(fakemaa.OwnerToken), WithHTTPClient(hc), WithInsecureSkipVerify())
	if _, err := c.ListProviders(ctx); err != nil {
		t.Fatal(err)
	}
	if hc.Transport != nil || c.HTTPClient().Timeout != 5*time.Second {
		t.Error("caller's HTTP client changed or timeout lost")
	}
	// TLS options cannot reach into an unknown transport.
	_, err = New(f.URL, WithHTTPClient(&http.Client{Transport: roundTripFunc(nil)}), WithRootCAs(pool))
	if !errors.Is(err, ErrOptions) {
		t.Errorf("custom transport: %v", err)
	}
	// Server URLs.
	for _, bad := range []string{"localhost:8443", "ftp://x", "https://", "https://h/?q=1"} {
		if _, err := New(bad); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("New(%q): %v", bad, err)
		}
	}
	c, _ = New("")
	if _, err := c.ListProviders(ctx); !errors.Is(err, ErrNoServer) {
		t.Errorf("no server: %v", err)
	}
	if got := newTestClient(t, f, "").AttestURI("a b"); got != f.URL+"/providers/a%20b" {
		t.Errorf("AttestURI %s", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestClientAttest(t *testing.T) {
	f := fakemaa.New(t)
	f.AddProvider("contoso", "")
	c := newTestClient(t, f, fakemaa.OwnerToken)
	ctx := context.Background()
	uri := f.AttestURI("contoso")
	q := []byte{3, 0, 2, 0, 0xfb, 0xff} // not a real quote: the fake does not parse it

	tok, err := c.AttestSGX(ctx, uri, q, AttestOptions{RuntimeData: []byte{1, 2, 3, 4, 5, 0xfe}, Nonce: "n-1"})
	if err != nil {
		t.Fatal(err)
	}
	req := f.LastRequest()
	if req.Path != "/providers/contoso/attest/SgxEnclave" || req.Query != "api-version=2022-08-01" || req.Auth != "" {
		t.Errorf("request %s?%s auth %q", req.Path, req.Query, req.Auth)
	}
	want := `{"quote":"AwACAPv_","runtimeData":{"data":"AQIDBAX-","dataType":"Binary"},"nonce":"n-1"}`
	if string(req.Body) != want {
		t.Errorf("body %s\nwant %s", req.Body, want)
	}
	d, err := DecodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if d.Claims["nonce"] != "n-1" || d.Claims["x-ms-sgx-ehd"] != "AQIDBAX-" || d.Header.Alg != "RS256" || d.Claims["iss"] != uri {
		t.Errorf("claims %v header %+v", d.Claims, d.Header)
	}

	// JSON runtime data, OpenEnclave report, TDX.
	tok, err = c.AttestOpenEnclave(ctx, uri, OpenEnclaveReport(q), AttestOptions{RuntimeData: []byte(`{"k":1}`), RuntimeDataJSON: true})
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	json.Unmarshal(f.LastRequest().Body, &body)
	rep, _ := base64.RawURLEncoding.DecodeString(body["report"].(string))
	if len(rep) != 16+len(q) || rep[0] != 1 || rep[4] != 2 || rep[8] != byte(len(q)) || body["quote"] != nil {
		t.Errorf("OpenEnclave body %v", body)
	}
	if d, _ := DecodeToken(tok); d.Claims["x-ms-runtime"] == nil || d.Claims["x-ms-sgx-ehd"] != nil {
		t.Errorf("JSON runtime claims %v", d.Claims)
	}
	if _, err := c.AttestSGX(ctx, uri, q, AttestOptions{RuntimeData: []byte("{"), RuntimeDataJSON: true}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("invalid JSON runtime data: %v", err)
	}
	tok, err = c.AttestTDX(ctx, uri, q, AttestOptions{InitTimeData: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if req := f.LastRequest(); req.Path != "/providers/contoso/attest/TdxVm" || !strings.Contains(string(req.Body), `"initTimeData":{"data":"eA","dataType":"Binary"}`) {
		t.Errorf("TDX request %s %s", req.Path, req.Body)
	}

	// A draft policy gives an unsigned token.
	tok, err = c.AttestSGX(ctx, uri, q, AttestOptions{DraftPolicy: "version=1.0; authorizationrules{=>permit();};"})
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := DecodeToken(tok); d.Header.Alg != "none" {
		t.Errorf("draft token alg %s", d.Header.Alg)
	}
	// Refusals.
	_, err = c.AttestSGX(ctx, uri, []byte("bad quote"), AttestOptions{})
	wantServerError(t, err, 400, "quote_invalid")
	_, err = c.AttestSGX(ctx, f.AttestURI("nobody"), q, AttestOptions{})
	wantServerError(t, err, 404, "not_found")
	if _, err := c.Attest(ctx, uri, "Tpm", q, AttestOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Tpm: %v", err)
	}
	if _, err := c.AttestSGX(ctx, uri, nil, AttestOptions{}); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("no evidence: %v", err)
	}
}

func TestClientPolicy(t *testing.T) {
	f := fakemaa.New(t)
	f.AddProvider("contoso", "")
	c := newTestClient(t, f, fakemaa.OwnerToken)
	ctx := context.Background()
	uri := f.AttestURI("contoso")

	text, jws, err := c.GetPolicy(ctx, uri, TypeSgxEnclave)
	if err != nil || text != fakemaa.DefaultText || jws != policy.UnsignedDocument(fakemaa.DefaultText) {
		t.Fatalf("default policy %q %q %v", text, jws, err)
	}
	if req := f.LastRequest(); req.Path != "/providers/contoso/policies/SgxEnclave" || req.Auth == "" {
		t.Errorf("get request %+v", req)
	}

	const mine = "version= 1.0;\nauthorizationrules { c:[type==\"x-ms-sgx-svn\"] => permit(); };\n"
	doc := policy.UnsignedDocument(mine)
	res, err := c.SetPolicy(ctx, uri, TypeSgxEnclave, doc)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "Updated" || res.TokenHash != policy.PolicyTokenHash(doc) || res.Signer != nil || res.SignerCertificate() != nil {
		t.Errorf("set result %+v", res)
	}
	req := f.LastRequest()
	if req.Method != "PUT" || string(req.Body) != doc || !strings.HasPrefix(req.ContentType, "text/plain") {
		t.Errorf("set request %s %s %q", req.Method, req.ContentType, req.Body)
	}
	text, jws, err = c.GetPolicy(ctx, uri, TypeSgxEnclave)
	if err != nil || text != mine || jws != doc {
		t.Fatalf("get after set %q %v", text, err)
	}

	// Signed.
	key, cert := fakemaa.Signer(t, "policy author")
	signed, err := policy.SignDocument(mine, key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	res, err = c.SetPolicy(ctx, uri, TypeSgxEnclave, signed)
	if err != nil {
		t.Fatal(err)
	}
	if sc := res.SignerCertificate(); sc == nil || !sc.Equal(cert) {
		t.Errorf("signer %v", res.Signer)
	}

	// Reset.
	res, err = c.ResetPolicy(ctx, uri, TypeSgxEnclave, UnsignedResetDocument)
	if err != nil || res.Result != "Removed" {
		t.Fatalf("reset %+v %v", res, err)
	}
	if req := f.LastRequest(); req.Method != "POST" || req.Path != "/providers/contoso/policies/SgxEnclave:reset" || string(req.Body) != "eyJhbGciOiJub25lIn0.." {
		t.Errorf("reset request %+v", req)
	}
	if text, _, _ := c.GetPolicy(ctx, uri, TypeSgxEnclave); text != fakemaa.DefaultText {
		t.Errorf("after reset %q", text)
	}

	// Errors.
	_, err = c.SetPolicy(ctx, uri, TypeSgxEnclave, "not.a.jws")
	wantServerError(t, err, 400, "policy_document_malformed")
	_, _, err = newTestClient(t, f, "").GetPolicy(ctx, uri, TypeSgxEnclave)
	wantServerError(t, err, 401, "unauthorized")
	if _, err := c.SetPolicy(ctx, uri, TypeSgxEnclave, " "); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("empty document: %v", err)
	}
	if _, _, err := c.GetPolicy(ctx, uri, "Sgx/../x"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("bad type: %v", err)
	}
}

func TestClientIsolatedPolicyAndSigners(t *testing.T) {
	f := fakemaa.New(t)
	keyA, certA := fakemaa.Signer(t, "signer A")
	keyB, certB := fakemaa.Signer(t, "signer B")
	keyC, certC := fakemaa.Signer(t, "signer C")
	f.AddProvider("fabrikam", "Isolated", certA)
	c := newTestClient(t, f, fakemaa.OwnerToken)
	ctx := context.Background()
	uri := f.AttestURI("fabrikam")

	// Unsigned and unknown-signer documents are refused; A's is accepted.
	_, err := c.SetPolicy(ctx, uri, TypeSgxEnclave, policy.UnsignedDocument(fakemaa.DefaultText))
	wantServerError(t, err, 400, "policy_signer_untrusted")
	byC, _ := policy.SignDocument(fakemaa.DefaultText, keyC, []*x509.Certificate{certC})
	_, err = c.SetPolicy(ctx, uri, TypeSgxEnclave, byC)
	wantServerError(t, err, 400, "policy_signer_untrusted")
	byA, _ := policy.SignDocument(fakemaa.DefaultText, keyA, []*x509.Certificate{certA})
	if _, err := c.SetPolicy(ctx, uri, TypeSgxEnclave, byA); err != nil {
		t.Fatal(err)
	}
	_, err = c.ResetPolicy(ctx, uri, TypeSgxEnclave, UnsignedResetDocument)
	wantServerError(t, err, 400, "policy_signer_untrusted")
	reset, err := ResetDocument(keyA, []*x509.Certificate{certA})
	if err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(reset, "."); len(parts) != 3 || parts[1] != "" || parts[2] == "" {
		t.Errorf("signed reset %s", reset)
	}
	if res, err := c.ResetPolicy(ctx, uri, TypeSgxEnclave, reset); err != nil || res.Result != "Removed" {
		t.Fatalf("signed reset: %v %v", res, err)
	}

	// Signers.
	certs, err := c.ListSigners(ctx, uri)
	if err != nil || len(certs) != 1 || !certs[0].Equal(certA) {
		t.Fatalf("signers %v %v", certs, err)
	}
	add, err := SignerChangeDocument(SignerAdd, certB, keyA, certA)
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.AddSigner(ctx, uri, add)
	if err != nil || res.Result != "IsPresent" || len(res.Thumbprint) != 40 {
		t.Fatalf("add %+v %v", res, err)
	}
	req := f.LastRequest()
	var sent string
	if req.Path != "/providers/fabrikam/certificates:add" || json.Unmarshal(req.Body, &sent) != nil || sent != add {
		t.Errorf("add request %s %s", req.Path, req.Body)
	}
	if certs, _ := c.ListSigners(ctx, uri); len(certs) != 2 {
		t.Errorf("after add: %d signers", len(certs))
	}
	// C is not a signer: its change is refused.
	byCadd, _ := SignerChangeDocument(SignerAdd, certC, keyC, certC)
	_, err = c.AddSigner(ctx, uri, byCadd)
	wantServerError(t, err, 400, "policy_signer_untrusted")
	// B removes itself.
	rm, _ := SignerChangeDocument(SignerRemove, certB, keyB, certB)
	res, err = c.RemoveSigner(ctx, uri, rm)
	if err != nil || res.Result != "IsAbsent" {
		t.Fatalf("remove %+v %v", res, err)
	}
	if certs, _ := c.ListSigners(ctx, uri); len(certs) != 1 {
		t.Errorf("after remove: %d signers", len(certs))
	}

	// Argument checks.
	if _, err := SignerChangeDocument(SignerAdd, certB, keyA, certB); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("key/cert mismatch: %v", err)
	}
	if _, err := SignerChangeDocument(SignerAdd, certB, nil, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unsigned change: %v", err)
	}
	if _, err := SignerChangeDocument("replace", certB, keyA, certA); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("unknown operation: %v", err)
	}
	if _, err := SignerChangeDocument(SignerAdd, certB, keyA, certA, DocumentValidity(-time.Minute)); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("negative validity: %v", err)
	}
	if d, _ := ResetDocument(nil, nil); d != UnsignedResetDocument {
		t.Errorf("unsigned reset %s", d)
	}
}

// TestClientSignerDocumentShape compares SignerChangeDocument with the
// certificates:add JWS of MAA's documentation: same header members, a payload
// with one policy certificate member holding kty and x5c; besides it only
// x-avow-operation, and with DocumentValidity(0) no time claims.
func TestClientSignerDocumentShape(t *testing.T) {
	dir := vectors.Dir(t, "maa/transcribed/azure-docs")
	ref, err := os.ReadFile(filepath.Join(dir, "add_policy_signer_request.jws"))
	if err != nil {
		t.Fatal(err)
	}
	f := fakemaa.New(t) // for its RSA key and certificate
	_, cert := fakemaa.Signer(t, "new signer")
	mine, err := SignerChangeDocument(SignerAdd, cert, f.Key.Private, f.Key.Certificate, DocumentValidity(0))
	if err != nil {
		t.Fatal(err)
	}
	type shape struct {
		header  map[string]any
		payload map[string]any
	}
	decode := func(jws string) shape {
		parts := strings.Split(strings.TrimSpace(jws), ".")
		if len(parts) != 3 {
			t.Fatalf("%d parts", len(parts))
		}
		var s shape
		hb, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[0], "="))
		pb, _ := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
		if err := json.Unmarshal(hb, &s.header); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(pb, &s.payload); err != nil {
			t.Fatal(err)
		}
		return s
	}
	r, m := decode(string(ref)), decode(mine)
	if r.header["alg"] != m.header["alg"] || len(r.header) != len(m.header) || m.header["x5c"] == nil {
		t.Errorf("header %v, MAA docs %v", m.header, r.header)
	}
	rc, _ := r.payload["maa-policyCertificate"].(map[string]any)
	mc, _ := m.payload["policyCertificate"].(map[string]any)
	if rc == nil || mc == nil || len(m.payload) != 2 || m.payload["x-avow-operation"] != "add" || mc["kty"] != "EC" || rc["kty"] != "RSA" || len(mc["x5c"].([]any)) != 1 {
		t.Errorf("payload %v, MAA docs %v", m.payload, r.payload)
	}
}

func TestClientVerifyToken(t *testing.T) {
	f := fakemaa.New(t)
	f.AddProvider("contoso", "")
	f.AddProvider("other", "")
	c := newTestClient(t, f, fakemaa.OwnerToken)
	ctx := context.Background()
	uri := f.AttestURI("contoso")
	tok, err := c.AttestSGX(ctx, uri, []byte("quote"), AttestOptions{Nonce: "abc"})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := c.VerifyToken(ctx, tok, uri+"/")
	if err != nil {
		t.Fatal(err)
	}
	if vt.Claims["nonce"] != "abc" || vt.Header.KID != f.Key.KID {
		t.Errorf("verified %v %+v", vt.Claims, vt.Header)
	}
	for _, r := range f.Requests {
		if strings.Contains(r.Path, "well-known") && r.Auth != "" {
			t.Error("admin token sent to OpenID discovery")
		}
	}
	// Expired (the clock is an input).
	late := newTestClient(t, f, "", WithClock(func() time.Time { return fakemaa.Now.Add(9 * time.Hour) }))
	if _, err := late.VerifyToken(ctx, tok, uri); !errors.Is(err, token.ErrExpired) {
		t.Errorf("expired: %v", err)
	}
	skew := newTestClient(t, f, "", WithClock(func() time.Time { return fakemaa.Now.Add(-time.Minute) }), WithClockSkew(2*time.Minute))
	if _, err := skew.VerifyToken(ctx, tok, uri); err != nil {
		t.Errorf("within skew: %v", err)
	}
	// Another issuer.
	if _, err := c.VerifyToken(ctx, tok, f.AttestURI("other")); !errors.Is(err, token.ErrIssuerMismatch) {
		t.Errorf("other issuer: %v", err)
	}
	// Tampered payload.
	parts := strings.Split(tok, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString(bytes.Replace(claims, []byte(`"abc"`), []byte(`"abd"`), 1))
	vt, err = c.VerifyToken(ctx, strings.Join(parts, "."), uri)
	if !errors.Is(err, token.ErrSignatureInvalid) || vt == nil || vt.Header == nil || vt.Claims != nil {
		t.Errorf("tampered: %v %+v", err, vt)
	}
	// An issuer that does not exist: refused before its metadata is
	// fetched, as another issuer.
	if _, err := c.VerifyToken(ctx, tok, f.AttestURI("nobody")); !errors.Is(err, token.ErrIssuerMismatch) ||
		!strings.Contains(err.Error(), "the token's issuer is "+uri+", not "+f.AttestURI("nobody")) {
		t.Errorf("unknown issuer: %v", err)
	}
	// Discovery failure (the server's certificate is not trusted) and
	// malformed input.
	untrusting, err := New(f.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := untrusting.VerifyToken(ctx, tok, uri); !errors.Is(err, token.ErrDiscoveryFailed) {
		t.Errorf("discovery failure: %v", err)
	}
	if _, err := c.VerifyToken(ctx, "abc", uri); !errors.Is(err, token.ErrMalformed) {
		t.Errorf("malformed: %v", err)
	}
	if _, err := c.VerifyToken(ctx, tok, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("no issuer: %v", err)
	}
	// A draft-policy token is unsigned: refused.
	draft, _ := c.AttestSGX(ctx, uri, []byte("quote"), AttestOptions{DraftPolicy: "x"})
	if _, err := c.VerifyToken(ctx, draft, uri); !errors.Is(err, token.ErrUnsigned) {
		t.Errorf("draft: %v", err)
	}
}

func TestClientAdminTokensAndCollateral(t *testing.T) {
	f := fakemaa.New(t)
	c := newTestClient(t, f, fakemaa.OwnerToken)
	ctx := context.Background()

	at, err := c.CreateAdminToken(ctx, RolePolicyAdmin, "ci")
	if err != nil || at.ID != "tok-1" || at.Token != "avow_secret_1" || at.Role != RolePolicyAdmin || at.Description != "ci" {
		t.Fatalf("create %+v %v", at, err)
	}
	_, err = c.CreateAdminToken(ctx, "root", "")
	wantServerError(t, err, 400, "invalid_request")
	list, err := c.ListAdminTokens(ctx)
	if err != nil || len(list) != 1 || list[0].Token != "" || list[0].Description != "ci" {
		t.Fatalf("list %+v %v", list, err)
	}
	if err := c.RevokeAdminToken(ctx, "tok-1"); err != nil {
		t.Fatal(err)
	}
	wantServerError(t, c.RevokeAdminToken(ctx, "tok-9"), 404, "not_found")

	col, err := sgxsim.Default().Collateral(sgxsim.CollateralOptions{Now: fakemaa.Now})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := col.MarshalBundle()
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.ImportCollateral(ctx, bundle)
	if err != nil || info.FMSPC == "" || len(info.SHA256) != 64 || !info.IssueDate.Equal(fakemaa.Now) {
		t.Fatalf("import %+v %v", info, err)
	}
	if req := f.LastRequest(); !bytes.Equal(req.Body, bundle) {
		t.Error("bundle not sent verbatim")
	}
	_, err = c.ImportCollateral(ctx, []byte(`{"x":1}`))
	wantServerError(t, err, 400, "collateral_format")
	cs, err := c.ListCollateral(ctx)
	if err != nil || len(cs) != 1 || cs[0].Source != "import" || cs[0].FetchedAt.IsZero() {
		t.Fatalf("list collateral %+v %v", cs, err)
	}
}
