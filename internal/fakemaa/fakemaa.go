// Package fakemaa is an in-memory fake of avow's HTTP API (docs/api.md) with
// MAA-shaped answers, for the tests of the Go client and the CLI: they
// check request shapes and output formatting without a real server. It
// uses only exported APIs of the project.
package fakemaa

// contract_test.go sends the same requests to the fake and to a real server
// and compares the statuses and the shapes of the answers, so the fake
// cannot drift from the API it stands for.

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/token"
)

// Now is when the fake server issues its tokens.
var Now = time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)

const (
	OwnerToken  = "owner-secret"  // every role
	ReaderToken = "reader-secret" // GET only; writes are 403
	RequestID   = "00-fakerequest-00"
	DefaultText = "version= 1.0;\nauthorizationrules { => permit(); };\nissuancerules { };\n"
)

var (
	fakeKeyOnce sync.Once
	fakeKey     *token.SigningKey
	fakeKeyErr  error
)

// Request is a request the fake received.
type Request struct {
	Method, Path, Query, ContentType, Auth string
	Body                                   []byte
}

// Server implements the routes of docs/api.md in memory with MAA-shaped
// answers. Special provider names: "huge" answers GET with a 9 MiB body,
// "proxy" answers with a non-JSON 502.
type Server struct {
	*httptest.Server
	Key     *token.SigningKey
	CertPEM []byte // the server's TLS certificate (for --ca-cert)

	mu        sync.Mutex
	Requests  []Request
	providers map[string]map[string]any
	policies  map[string]string              // "provider/type" → stored JWS
	signers   map[string][]*x509.Certificate // provider → policy signers
	tokens    []map[string]any
	collat    []map[string]any
}

func New(t testing.TB) *Server {
	t.Helper()
	fakeKeyOnce.Do(func() { fakeKey, fakeKeyErr = token.GenerateSigningKey(nil, "fake avow", Now.Add(-time.Hour)) })
	if fakeKeyErr != nil {
		t.Fatal(fakeKeyErr)
	}
	f := &Server{Key: fakeKey, providers: map[string]map[string]any{}, policies: map[string]string{}, signers: map[string][]*x509.Certificate{}}
	f.Server = httptest.NewTLSServer(f)
	f.CertPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.Certificate().Raw})
	t.Cleanup(f.Close)
	return f
}

// AttestURI is the attest URI of a provider on the fake.
func (f *Server) AttestURI(name string) string { return f.URL + "/providers/" + name }

// AddProvider creates a provider directly.
func (f *Server) AddProvider(name, trustModel string, signers ...*x509.Certificate) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.providers[name] = f.providerJSON(name, trustModel, nil)
	f.signers[name] = signers
}

func (f *Server) LastRequest() Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Requests[len(f.Requests)-1]
}

func (f *Server) providerJSON(name, trustModel string, settings map[string]any) map[string]any {
	if trustModel == "" {
		trustModel = "AAD"
	}
	s := map[string]any{"acceptedTcbStatuses": []string{"UpToDate", "SWHardeningNeeded", "ConfigurationNeeded", "ConfigurationAndSWHardeningNeeded"}, "collateralGracePeriod": "0s", "tokenAlgorithm": "RS256"}
	for k, v := range settings {
		s[k] = v
	}
	return map[string]any{
		"name": name, "trustModel": trustModel, "attestUri": f.AttestURI(name), "settings": s,
		"policySigningCertificates": len(f.signers[name]),
		"createdAt":                 Now, "updatedAt": Now, "version": 1,
	}
}

func fakeError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": code, "message": msg, "requestId": RequestID}})
	w.Write(b)
}

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	b, _ := json.Marshal(v)
	w.Write(b)
}

// fakeToken answers {"token": <JWT>} signed by the fake's key.
func (f *Server) fakeToken(w http.ResponseWriter, issuer string, claims map[string]any, lifetime time.Duration) {
	tok, err := token.Issue(claims, f.Key, issuer, Now, lifetime, "")
	if err != nil {
		fakeError(w, 500, "internal", err.Error())
		return
	}
	fakeJSON(w, 200, map[string]string{"token": tok})
}

func (f *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	f.mu.Lock()
	f.Requests = append(f.Requests, Request{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), body})
	f.mu.Unlock()
	w.Header().Set("x-ms-request-id", RequestID)
	seg := strings.Split(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case seg[0] == "management":
		f.management(w, r, seg[1:], body)
	case seg[0] == "providers" && len(seg) >= 3:
		f.dataPlane(w, r, seg[1], strings.Join(seg[2:], "/"), body)
	default:
		fakeError(w, 404, "not_found", "no route "+r.URL.Path)
	}
}

// auth checks the bearer token: owner may do anything, reader only GET.
func (f *Server) auth(w http.ResponseWriter, r *http.Request) bool {
	switch r.Header.Get("Authorization") {
	case "Bearer " + OwnerToken:
		return true
	case "Bearer " + ReaderToken:
		if r.Method == http.MethodGet {
			return true
		}
		fakeError(w, 403, "forbidden", "the reader role cannot "+r.Method+" "+r.URL.Path)
		return false
	}
	fakeError(w, 401, "unauthorized", "Access to "+r.URL.Path+" requires a valid bearer token")
	return false
}

func (f *Server) management(w http.ResponseWriter, r *http.Request, seg []string, body []byte) {
	if !f.auth(w, r) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	route := r.Method + " " + strings.Join(seg, "/")
	var name string
	if len(seg) >= 2 && seg[0] == "providers" {
		name = seg[1]
		route = r.Method + " providers/{name}"
		if len(seg) > 2 {
			route = r.Method + " providers/{name}/" + strings.Join(seg[2:], "/")
		}
		switch name {
		case "huge":
			w.WriteHeader(200)
			w.Write([]byte(`{"name":"` + strings.Repeat("x", 9<<20) + `"}`))
			return
		case "proxy":
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(502)
			w.Write([]byte("<html>Bad Gateway</html>"))
			return
		}
		if _, ok := f.providers[name]; !ok {
			fakeError(w, 404, "not_found", "provider "+name+" does not exist")
			return
		}
	}
	switch route {
	case "POST providers":
		var req struct {
			Name                      string         `json:"name"`
			TrustModel                string         `json:"trustModel"`
			PolicySigningCertificates []string       `json:"policySigningCertificates"`
			Settings                  map[string]any `json:"settings"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Name == "" {
			fakeError(w, 400, "invalid_request", "the body is not a provider")
			return
		}
		if _, ok := f.providers[req.Name]; ok {
			fakeError(w, 409, "conflict", "provider "+req.Name+" exists")
			return
		}
		var certs []*x509.Certificate
		for _, p := range req.PolicySigningCertificates {
			blk, _ := pem.Decode([]byte(p))
			if blk == nil {
				fakeError(w, 400, "invalid_request", "policySigningCertificates: not PEM")
				return
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				fakeError(w, 400, "invalid_request", err.Error())
				return
			}
			certs = append(certs, c)
		}
		if req.TrustModel == "Isolated" && len(certs) == 0 {
			fakeError(w, 400, "invalid_request", "an Isolated provider needs a policy signing certificate")
			return
		}
		f.signers[req.Name] = certs
		f.providers[req.Name] = f.providerJSON(req.Name, req.TrustModel, req.Settings)
		fakeJSON(w, 201, f.providers[req.Name])
	case "GET providers":
		list := []any{}
		for _, p := range f.providers {
			list = append(list, p)
		}
		fakeJSON(w, 200, map[string]any{"providers": list})
	case "GET providers/{name}":
		fakeJSON(w, 200, f.providers[name])
	case "PATCH providers/{name}":
		var req struct {
			Settings map[string]any `json:"settings"`
		}
		if err := json.Unmarshal(body, &req); err != nil || req.Settings == nil {
			fakeError(w, 400, "invalid_request", "the body has no settings")
			return
		}
		p := f.providers[name]
		f.providers[name] = f.providerJSON(name, p["trustModel"].(string), req.Settings)
		fakeJSON(w, 200, f.providers[name])
	case "DELETE providers/{name}":
		delete(f.providers, name)
		w.WriteHeader(204)
	case "POST providers/{name}/keys:rotate":
		fakeJSON(w, 200, map[string]any{"kid": "kid-2", "active": true, "createdAt": Now})
	case "GET providers/{name}/keys":
		fakeJSON(w, 200, map[string]any{"keys": []any{
			map[string]any{"kid": "kid-2", "active": true, "createdAt": Now},
			map[string]any{"kid": "kid-1", "active": false, "createdAt": Now.Add(-time.Hour), "retiredAt": Now},
		}})
	case "POST admin-tokens":
		var req struct{ Role, Description string }
		if json.Unmarshal(body, &req) != nil || (req.Role != "reader" && req.Role != "policy-admin" && req.Role != "owner") {
			fakeError(w, 400, "invalid_request", "role must be reader, policy-admin or owner")
			return
		}
		t := map[string]any{"id": "tok-1", "role": req.Role, "description": req.Description, "createdAt": Now, "revoked": false}
		f.tokens = append(f.tokens, t)
		fakeJSON(w, 201, map[string]any{"id": "tok-1", "role": req.Role, "token": "avow_secret_1"})
	case "GET admin-tokens":
		fakeJSON(w, 200, map[string]any{"tokens": append([]map[string]any{}, f.tokens...)})
	case "DELETE admin-tokens/tok-1":
		w.WriteHeader(204)
	case "POST collateral":
		col, err := pcs.ParseBundle(body)
		if err != nil {
			fakeError(w, 400, "collateral_format", err.Error())
			return
		}
		sum := sha256.Sum256(body)
		c := map[string]any{"tee": "sgx", "fmspc": "00906ED50000", "pceId": "0000", "issueDate": Now, "nextUpdate": Now.Add(30 * 24 * time.Hour), "sha256": hex.EncodeToString(sum[:])}
		// As avow: the list says when it expires, the import which
		// documents are expired (at Now).
		out := map[string]any{}
		for k, v := range c {
			out[k] = v
		}
		if e := col.Expiries(); len(e) > 0 {
			c["expiresAt"], c["expiresInSeconds"], c["expired"] = e[0].At, int64(e[0].At.Sub(Now)/time.Second), !e[0].At.After(Now)
		}
		if expired := col.Expired(Now); len(expired) > 0 {
			docs := []map[string]any{}
			for _, e := range expired {
				docs = append(docs, map[string]any{"document": e.Document, "expiredAt": e.At})
			}
			out["expired"], out["expiredDocuments"] = true, docs
			out["warnings"] = []string{"the collateral is expired: " + expired[0].Document + " expired at " + expired[0].At.Format(time.RFC3339)}
		}
		f.collat = append(f.collat, c)
		fakeJSON(w, 201, out)
	case "GET collateral":
		list := []any{}
		for _, c := range f.collat {
			m := map[string]any{"fetchedAt": Now, "source": "import"}
			for k, v := range c {
				m[k] = v
			}
			list = append(list, m)
		}
		fakeJSON(w, 200, map[string]any{"collateral": list})
	default:
		if strings.HasPrefix(route, "DELETE admin-tokens/") {
			fakeError(w, 404, "not_found", "no admin token "+seg[len(seg)-1])
			return
		}
		fakeError(w, 404, "not_found", "no route "+route)
	}
}

func (f *Server) dataPlane(w http.ResponseWriter, r *http.Request, name, rest string, body []byte) {
	f.mu.Lock()
	_, ok := f.providers[name]
	f.mu.Unlock()
	if !ok {
		fakeError(w, 404, "not_found", "provider "+name+" does not exist")
		return
	}
	issuer := f.AttestURI(name)
	switch rest {
	case "certs":
		w.Write(token.JWKS([]*token.SigningKey{f.Key}))
		return
	case ".well-known/openid-configuration":
		w.Write(token.OpenIDMetadata(issuer))
		return
	}
	if v := r.URL.Query().Get("api-version"); v != "2022-08-01" {
		fakeError(w, 400, "invalid_api_version", "api-version "+v+" is not supported")
		return
	}
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "attest/"):
		f.attest(w, issuer, strings.TrimPrefix(rest, "attest/"), body)
	case strings.HasPrefix(rest, "policies/"):
		if f.auth(w, r) {
			f.policy(w, r, name, issuer, strings.TrimPrefix(rest, "policies/"), body)
		}
	case rest == "certificates" && r.Method == http.MethodGet:
		if !f.auth(w, r) {
			return
		}
		f.mu.Lock()
		keys := []any{}
		for _, c := range f.signers[name] {
			keys = append(keys, fakeJWK(c))
		}
		f.mu.Unlock()
		f.fakeToken(w, issuer, map[string]any{"x-ms-policy-certificates": map[string]any{"keys": keys}}, token.ManagementLifetime)
	case (rest == "certificates:add" || rest == "certificates:remove") && r.Method == http.MethodPost:
		if f.auth(w, r) {
			f.certificates(w, name, issuer, rest == "certificates:add", body)
		}
	default:
		fakeError(w, 404, "not_found", "no route "+r.Method+" "+rest)
	}
}

func fakeJWK(c *x509.Certificate) map[string]any {
	kty := "RSA"
	if _, ok := c.PublicKey.(*ecdsa.PublicKey); ok {
		kty = "EC"
	}
	return map[string]any{"kty": kty, "x5c": []string{base64.StdEncoding.EncodeToString(c.Raw)}}
}

func (f *Server) attest(w http.ResponseWriter, issuer, typ string, body []byte) {
	var req struct {
		Quote, Report, DraftPolicyForAttestation, Nonce string
		RuntimeData                                     *struct{ Data, DataType string }
	}
	if err := json.Unmarshal(body, &req); err != nil {
		fakeError(w, 400, "invalid_request", "the body is not JSON")
		return
	}
	evidence := req.Quote
	if typ == "OpenEnclave" {
		evidence = req.Report
	}
	raw, err := base64.RawURLEncoding.DecodeString(evidence)
	if err != nil || len(raw) == 0 {
		fakeError(w, 400, "invalid_request", "quote is not base64url")
		return
	}
	if string(raw) == "bad quote" {
		fakeError(w, 400, "quote_invalid", "the quote signature does not verify")
		return
	}
	sum := sha256.Sum256(raw)
	attType := map[string]string{"SgxEnclave": "sgx", "OpenEnclave": "sgx", "TdxVm": "tdxvm"}[typ]
	if attType == "" {
		fakeError(w, 404, "not_found", "unknown attestation type "+typ)
		return
	}
	claims := map[string]any{"x-ms-ver": "1.0", "x-ms-attestation-type": attType, "x-ms-sgx-collateral": map[string]any{"quotehash": hex.EncodeToString(sum[:])}, "x-ms-sgx-svn": 2}
	if req.Nonce != "" {
		claims["nonce"] = req.Nonce
	}
	if rd := req.RuntimeData; rd != nil {
		data, err := base64.RawURLEncoding.DecodeString(rd.Data)
		if err != nil {
			fakeError(w, 400, "invalid_request", "runtimeData is not base64url")
			return
		}
		if rd.DataType == "JSON" {
			var v any
			if json.Unmarshal(data, &v) != nil {
				fakeError(w, 400, "invalid_request", "runtimeData is not JSON")
				return
			}
			claims["x-ms-runtime"] = v
		} else {
			claims["x-ms-sgx-ehd"] = rd.Data
		}
	}
	if req.DraftPolicyForAttestation != "" {
		tok, _ := token.IssueUnsigned(claims, issuer, Now, token.AttestationLifetime, "")
		fakeJSON(w, 200, map[string]string{"token": tok})
		return
	}
	f.fakeToken(w, issuer, claims, token.AttestationLifetime)
}

// trusted reports whether c is one of the provider's signers.
func (f *Server) trusted(name string, c *x509.Certificate) bool {
	for _, s := range f.signers[name] {
		if s.Equal(c) {
			return true
		}
	}
	return false
}

func (f *Server) policy(w http.ResponseWriter, r *http.Request, name, issuer, typ string, body []byte) {
	reset := strings.HasSuffix(typ, ":reset")
	typ = strings.ToLower(strings.TrimSuffix(typ, ":reset"))
	key := name + "/" + typ
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodGet && !reset {
		jws, ok := f.policies[key]
		if !ok {
			jws = policy.UnsignedDocument(DefaultText)
		}
		f.fakeToken(w, issuer, map[string]any{"x-ms-policy": jws}, token.ManagementLifetime)
		return
	}
	if (r.Method != http.MethodPut || reset) && (r.Method != http.MethodPost || !reset) {
		fakeError(w, 404, "not_found", "no route")
		return
	}
	jws := strings.TrimSpace(string(body))
	if strings.HasPrefix(jws, `"`) {
		json.Unmarshal(body, &jws)
	}
	doc, err := policy.ParseDocument(jws)
	if err != nil {
		fakeError(w, 400, "policy_document_malformed", err.Error())
		return
	}
	if f.providers[name]["trustModel"] == "Isolated" && (!doc.Signed || !f.trusted(name, doc.Certificates[0])) {
		fakeError(w, 400, "policy_signer_untrusted", "an Isolated provider needs a document signed by one of its signers")
		return
	}
	if reset {
		if doc.Text != "" {
			fakeError(w, 400, "invalid_request", "a reset document has an empty payload")
			return
		}
		delete(f.policies, key)
		f.fakeToken(w, issuer, map[string]any{"x-ms-policy-result": "Removed"}, token.ManagementLifetime)
		return
	}
	f.policies[key] = jws
	claims := map[string]any{"x-ms-policy-result": "Updated", "x-ms-policy-token-hash": policy.PolicyTokenHash(jws)}
	if doc.Signed {
		claims["x-ms-policy-signer"] = fakeJWK(doc.Certificates[0])
	}
	// avow answers a policy with lint findings with {"token", "warnings"}.
	if p, err := policy.Parse(doc.Text); err == nil && len(p.Warnings()) > 0 {
		tok, err := token.Issue(claims, f.Key, issuer, Now, token.ManagementLifetime, "")
		if err != nil {
			fakeError(w, 500, "internal", err.Error())
			return
		}
		fakeJSON(w, 200, map[string]any{"token": tok, "warnings": p.Warnings()})
		return
	}
	f.fakeToken(w, issuer, claims, token.ManagementLifetime)
}

// fakeVerifyJWS checks a JWS signed with the certificate in its header's
// x5c and returns that certificate and the payload.
func fakeVerifyJWS(jws string) (*x509.Certificate, []byte, bool) {
	parts := strings.Split(jws, ".")
	if len(parts) != 3 {
		return nil, nil, false
	}
	hb, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	pb, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	var h struct {
		Alg string   `json:"alg"`
		X5c []string `json:"x5c"`
	}
	if err1 != nil || err2 != nil || err3 != nil || json.Unmarshal(hb, &h) != nil || len(h.X5c) == 0 {
		return nil, nil, false
	}
	der, err := base64.StdEncoding.DecodeString(h.X5c[0])
	if err != nil {
		return nil, nil, false
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, false
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		if h.Alg != "RS256" || rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest[:], sig) != nil {
			return nil, nil, false
		}
	case *ecdsa.PublicKey:
		if h.Alg != "ES256" || len(sig) != 64 || !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
			return nil, nil, false
		}
	default:
		return nil, nil, false
	}
	return cert, pb, true
}

func (f *Server) certificates(w http.ResponseWriter, name, issuer string, add bool, body []byte) {
	var jws string
	if err := json.Unmarshal(body, &jws); err != nil {
		fakeError(w, 400, "invalid_request", "the body must be a JSON string holding a JWS")
		return
	}
	signer, payload, ok := fakeVerifyJWS(jws)
	if !ok {
		fakeError(w, 400, "signature_invalid", "the document's signature does not verify")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.trusted(name, signer) {
		fakeError(w, 400, "policy_signer_untrusted", "the document is not signed by a policy signer of "+name)
		return
	}
	var p struct {
		PolicyCertificate *struct {
			Kty string   `json:"kty"`
			X5c []string `json:"x5c"`
		} `json:"policyCertificate"`
	}
	if json.Unmarshal(payload, &p) != nil || p.PolicyCertificate == nil || len(p.PolicyCertificate.X5c) != 1 || p.PolicyCertificate.Kty == "" {
		fakeError(w, 400, "invalid_request", "payload has no policyCertificate {kty, x5c}")
		return
	}
	der, _ := base64.StdEncoding.DecodeString(p.PolicyCertificate.X5c[0])
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		fakeError(w, 400, "invalid_request", "policyCertificate.x5c[0] is not a certificate")
		return
	}
	result := "IsPresent"
	if add {
		if !f.trusted(name, cert) {
			f.signers[name] = append(f.signers[name], cert)
		}
	} else {
		result = "IsAbsent"
		var keep []*x509.Certificate
		for _, s := range f.signers[name] {
			if !s.Equal(cert) {
				keep = append(keep, s)
			}
		}
		f.signers[name] = keep
	}
	thumb := sha1.Sum(cert.Raw)
	f.fakeToken(w, issuer, map[string]any{"x-ms-certificate-thumbprint": strings.ToUpper(hex.EncodeToString(thumb[:])), "x-ms-policycertificates-result": result}, token.ManagementLifetime)
}

// Signer makes an ECDSA P-256 policy signer with a self-signed
// certificate.
func Signer(t testing.TB, cn string) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    Now.Add(-24 * time.Hour),
		NotAfter:     Now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}
