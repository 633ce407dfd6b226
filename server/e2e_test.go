package server

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	josejwt "github.com/go-jose/go-jose/v4/jwt"

	"github.com/avowhq/avow/attestation/sgx"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"

	"github.com/avowhq/avow/sgxsim"
)

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

// node starts a server over HTTPS on loopback in dir.
func startNode(t *testing.T, dir string, mutate func(*Config)) (*Node, *client.Client) {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), Dev: true, SimDir: filepath.Join(dir, "sim")}
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Shutdown(context.Background()) })
	hc, err := n.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	tok := ""
	if n.AdminToken != nil {
		tok = n.AdminToken.Secret
	}
	c, err := client.New(n.URL, client.WithHTTPClient(hc), client.WithToken(tok))
	if err != nil {
		t.Fatal(err)
	}
	return n, c
}

func selfSigned(t *testing.T, cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return key, cert
}

func TestPolicyRoundTripAndRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, c := startNode(t, dir, nil)
	admin := n.AdminToken.Secret
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "contoso"})
	if err != nil {
		t.Fatal(err)
	}
	text := "version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type==\"x-ms-sgx-svn\"] => issue(type=\"svn-seen\", value=c.value); };"
	jws := policy.UnsignedDocument(text)
	res, err := c.SetPolicy(ctx, p.AttestURI, "SgxEnclave", jws)
	if err != nil {
		t.Fatal(err)
	}
	if res.Result != "Updated" || res.TokenHash != policy.PolicyTokenHash(jws) {
		t.Errorf("set result %+v, want token hash %s", res, policy.PolicyTokenHash(jws))
	}
	gotText, gotJWS, err := c.GetPolicy(ctx, p.AttestURI, "sgxenclave")
	if err != nil {
		t.Fatal(err)
	}
	if gotJWS != jws || gotText != text {
		t.Errorf("get returned %q / %q", gotJWS, gotText)
	}
	quote, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	q, _ := quote.Quote(sgxsim.QuoteOptions{ISVSVN: 7})
	tok, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{Nonce: "n-1"})
	if err != nil {
		t.Fatal(err)
	}
	verified, err := c.VerifyToken(ctx, tok, p.AttestURI)
	if err != nil {
		t.Fatal(err)
	}
	if verified.Claims["x-ms-policy-hash"] != policy.PolicyHash(text) || verified.Claims["nonce"] != "n-1" {
		t.Errorf("claims %v", verified.Claims)
	}

	// Restart on the same data folder: everything is still there.
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	n2, c2 := startNode(t, dir, nil)
	if n2.AdminToken != nil {
		t.Error("a restart created another admin token")
	}
	c2, _ = client.New(n2.URL, client.WithHTTPClient(mustHTTP(t, n2)), client.WithToken(admin))
	p2, err := c2.GetProvider(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if _, gotJWS, err := c2.GetPolicy(ctx, p2.AttestURI, "SgxEnclave"); err != nil || gotJWS != jws {
		t.Errorf("after restart: policy %q, %v", gotJWS, err)
	}
	// Tokens issued before the restart verify against the new node's /certs
	// (same key, same issuer when the port is the same; here, same key).
	keys, err := c2.ListKeys(ctx, "contoso")
	if err != nil || len(keys) != 1 || keys[0].KID != verified.Header.KID {
		t.Errorf("keys after restart %+v, %v; token kid %s", keys, err, verified.Header.KID)
	}
}

func mustHTTP(t *testing.T, n *Node) *http.Client {
	hc, err := n.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	return hc
}

// TestTokenVerifiesWithGoJose checks a token independently of avow's own
// verifier: go-jose with the provider's /certs.
func TestTokenVerifiesWithGoJose(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, c := startNode(t, dir, nil)
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "jose"})
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	tok, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := mustHTTP(t, n).Get(p.AttestURI + "/certs")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	parsed, err := josejwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatal(err)
	}
	keys := set.Key(parsed.Headers[0].KeyID)
	if len(keys) != 1 {
		t.Fatalf("kid %s not in /certs", parsed.Headers[0].KeyID)
	}
	var std josejwt.Claims
	var all map[string]any
	if err := parsed.Claims(keys[0].Key, &std, &all); err != nil {
		t.Fatal(err)
	}
	if err := std.Validate(josejwt.Expected{Issuer: p.AttestURI, Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if all["x-ms-attestation-type"] != "sgx" {
		t.Errorf("claims %v", all)
	}
}

func TestIsolatedProvider(t *testing.T) {
	ctx := context.Background()
	_, c := startNode(t, t.TempDir(), nil)
	key, cert := selfSigned(t, "signer one")
	_, stranger := selfSigned(t, "stranger")
	strangerKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "isolated", TrustModel: client.TrustModelIsolated,
		PolicySigningCertificates: []*x509.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	text := "version=1.0; authorizationrules { => permit(); };"
	_, err = c.SetPolicy(ctx, p.AttestURI, "SgxEnclave", policy.UnsignedDocument(text))
	assertCode(t, err, "policy_signer_not_trusted")
	_, otherKeyCert := selfSigned(t, "unknown signer")
	_ = stranger
	otherKey, otherCert := selfSigned(t, "unknown signer 2")
	_ = otherKeyCert
	_ = strangerKey
	signedByOther, err := policy.SignDocument(text, otherKey, []*x509.Certificate{otherCert})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SetPolicy(ctx, p.AttestURI, "SgxEnclave", signedByOther)
	assertCode(t, err, "policy_signer_not_trusted")
	signed, err := policy.SignDocument(text, key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.SetPolicy(ctx, p.AttestURI, "SgxEnclave", signed)
	if err != nil {
		t.Fatal(err)
	}
	if res.SignerCertificate() == nil || !bytes.Equal(res.SignerCertificate().Raw, cert.Raw) {
		t.Errorf("x-ms-policy-signer %v", res.Signer)
	}
	// Unsigned reset refused; signed reset accepted.
	_, err = c.ResetPolicy(ctx, p.AttestURI, "SgxEnclave", client.UnsignedResetDocument)
	assertCode(t, err, "policy_signer_not_trusted")
	reset, err := client.ResetDocument(key, []*x509.Certificate{cert})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.ResetPolicy(ctx, p.AttestURI, "SgxEnclave", reset); err != nil || r.Result != "Removed" {
		t.Fatalf("reset %+v, %v", r, err)
	}
	// Signer management: add the second certificate, signed by the first.
	add, err := client.SignerChangeDocument(client.SignerAdd, otherCert, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if r, err := c.AddSigner(ctx, p.AttestURI, add); err != nil || r.Result != "IsPresent" {
		t.Fatalf("add signer %+v, %v", r, err)
	}
	if _, err := c.SetPolicy(ctx, p.AttestURI, "SgxEnclave", signedByOther); err != nil {
		t.Fatalf("policy signed by the added signer: %v", err)
	}
	signers, err := c.ListSigners(ctx, p.AttestURI)
	if err != nil || len(signers) != 2 {
		t.Fatalf("signers %d, %v", len(signers), err)
	}
	remove, _ := client.SignerChangeDocument(client.SignerRemove, otherCert, key, cert)
	if r, err := c.RemoveSigner(ctx, p.AttestURI, remove); err != nil || r.Result != "IsAbsent" {
		t.Fatalf("remove signer %+v, %v", r, err)
	}
	last, _ := client.SignerChangeDocument(client.SignerRemove, cert, key, cert)
	_, err = c.RemoveSigner(ctx, p.AttestURI, last)
	assertCode(t, err, "last_signer")
}

func assertCode(t *testing.T, err error, code string) {
	t.Helper()
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

// TestRealQuoteOverHTTPS attests a real SGX quote with its Intel collateral
// imported, at the vector's verification time through an injected clock.
func TestRealQuoteOverHTTPS(t *testing.T) {
	set := filepath.Join(vectors.Dir(t, "dcap"), "S01-sgx-v3-phala")
	raw, err := os.ReadFile(filepath.Join(set, "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	col, err := pcs.Load(filepath.Join(set, "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	bundle, _ := col.MarshalBundle()
	ctx := context.Background()
	_, c := startNode(t, t.TempDir(), func(cfg *Config) {
		cfg.Dev = false
		cfg.Clock = fixedClock{time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)}
	})
	if _, err := c.ImportCollateral(ctx, bundle); err != nil {
		t.Fatal(err)
	}
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "phala", Settings: &client.Settings{
		AcceptedTCBStatuses: []string{"UpToDate", "ConfigurationAndSWHardeningNeeded"}}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := c.AttestSGX(ctx, p.AttestURI, raw, client.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := client.DecodeToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"x-ms-sgx-mrenclave":     "33d8736db756ed4997e04ba358d27833188f1932ff7b1d156904d3f560452fbb",
		"x-ms-sgx-mrsigner":      "815f42f11cf64430c30bab7816ba596a1da0130c3b028b673133a66cf9a3e0e6",
		"x-ms-sgx-tcb-status":    "ConfigurationAndSWHardeningNeeded",
		"x-ms-sgx-is-debuggable": "false",
		"x-ms-sgx-product-id":    "0",
	}
	for k, v := range want {
		if got := jsonString(decoded.Claims[k]); got != v {
			t.Errorf("%s = %s, want %s", k, got, v)
		}
	}
	if ids := jsonString(decoded.Claims["x-ms-sgx-advisory-ids"]); ids != "INTEL-SA-00289,INTEL-SA-00615" { // one string: no array claims in tokens
		t.Errorf("advisory ids %s", ids)
	}
	// A Dev-less server does not trust the simulated platform.
	sim, _ := sgxsim.New(nil)
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	_, err = c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{})
	var ce *client.Error
	if !errors.As(err, &ce) || ce.Status != 400 {
		t.Fatalf("simulated quote on a production server: %v", err)
	}
}

func jsonString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// TestBadInput sends malformed requests: each gets a 4xx with MAA's error
// body, never a 500.
func TestBadInput(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, c := startNode(t, dir, nil)
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "robust"})
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	b64 := base64.RawURLEncoding.EncodeToString
	hc := mustHTTP(t, n)
	attest := p.AttestURI + "/attest/SgxEnclave?api-version=2022-08-01"
	cases := []struct {
		name, method, url, ctype, body string
		status                         int
		code                           string
	}{
		{"malformed json", "POST", attest, "application/json", `{"quote":`, 400, "invalid_json"},
		{"bad base64", "POST", attest, "application/json", `{"quote":"***"}`, 400, "invalid_base64"},
		{"truncated quote", "POST", attest, "application/json", `{"quote":"` + b64(q[:500]) + `"}`, 400, "unsupported_quote_format"},
		{"garbage quote", "POST", attest, "application/json", `{"quote":"` + b64(bytes.Repeat([]byte{7}, 2000)) + `"}`, 400, "unsupported_quote_format"},
		{"no quote", "POST", attest, "application/json", `{}`, 400, "invalid_json"},
		{"huge body", "POST", attest, "application/json", `{"quote":"` + strings.Repeat("A", 2<<20) + `"}`, 413, "request_too_large"},
		{"wrong content type", "POST", attest, "text/plain", `{"quote":"` + b64(q) + `"}`, 415, "unsupported_media_type"},
		{"unknown provider", "POST", n.URL + "/providers/nobody/attest/SgxEnclave?api-version=2022-08-01", "application/json", `{"quote":"` + b64(q) + `"}`, 404, "provider_not_found"},
		{"unknown type", "POST", p.AttestURI + "/attest/Tpm?api-version=2022-08-01", "application/json", `{"data":"x"}`, 404, "unknown_attestation_type"},
		{"no api-version", "POST", p.AttestURI + "/attest/SgxEnclave", "application/json", `{"quote":"` + b64(q) + `"}`, 400, "invalid_api_version"},
		{"bad api-version", "POST", p.AttestURI + "/attest/SgxEnclave?api-version=1999-01-01", "application/json", `{"quote":"` + b64(q) + `"}`, 400, "invalid_api_version"},
		{"tdx quote as sgx", "POST", attest, "application/json", `{"quote":"` + b64(mustQuote(t, sim, sgxsim.TDX)) + `"}`, 400, "unsupported_quote_format"},
		{"runtime data mismatch", "POST", attest, "application/json", `{"quote":"` + b64(q) + `","runtimeData":{"data":"` + b64([]byte("other")) + `","dataType":"Binary"}}`, 400, "runtime_data_mismatch"},
		{"bad draft policy", "POST", attest, "application/json", `{"quote":"` + b64(q) + `","draftPolicyForAttestation":"version=1.0; authorizationrules { [type=\"x\"] => permit(); };"}`, 400, "policy_invalid"},
		{"policy without token", "GET", p.AttestURI + "/policies/SgxEnclave?api-version=2022-08-01", "", "", 401, "unauthorized"},
		{"management without token", "GET", n.URL + "/management/providers", "", "", 401, "unauthorized"},
		{"wrong method", "GET", attest, "", "", 405, "method_not_allowed"},
		{"unknown route", "GET", n.URL + "/nothing", "", "", 404, "not_found"},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, tc.url, strings.NewReader(tc.body))
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != tc.status || e.Error.Code != tc.code || e.Error.Message == "" {
			t.Errorf("%s: %d %s, want %d %s", tc.name, resp.StatusCode, body, tc.status, tc.code)
		}
		if resp.Header.Get("x-ms-request-id") == "" {
			t.Errorf("%s: no x-ms-request-id", tc.name)
		}
	}
	// A reader token may read but not write.
	reader, err := c.CreateAdminToken(ctx, "reader", "test")
	if err != nil {
		t.Fatal(err)
	}
	rc, _ := client.New(n.URL, client.WithHTTPClient(hc), client.WithToken(reader.Token))
	if _, err := rc.ListProviders(ctx); err != nil {
		t.Fatalf("reader list: %v", err)
	}
	_, err = rc.CreateProvider(ctx, client.CreateProviderRequest{Name: "nope"})
	assertCode(t, err, "forbidden")
}

func mustQuote(t *testing.T, p *sgxsim.Platform, tee sgxsim.TEE) []byte {
	q, err := p.Quote(sgxsim.QuoteOptions{TEE: tee})
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// TestDraftPolicy: a draft policy gives an unsigned token and stores nothing.
func TestDraftPolicy(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	_, c := startNode(t, dir, nil)
	p, _ := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "drafty"})
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	tok, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{DraftPolicy: "version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"custom-name\", value=\"x\"); };"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, "eyJhbGciOiJub25lIn0.") || !strings.HasSuffix(tok, ".") {
		t.Errorf("draft token is signed: %s", tok[:40])
	}
	d, _ := client.DecodeToken(tok)
	if pol, _ := d.Claims["x-ms-policy"].(map[string]any); pol["custom-name"] != "x" {
		t.Errorf("x-ms-policy %v", d.Claims["x-ms-policy"])
	}
	text, _, err := c.GetPolicy(ctx, p.AttestURI, "SgxEnclave")
	if err != nil || text != sgx.DefaultPolicy {
		t.Errorf("the draft was stored: %q %v", text, err)
	}
}
