package api

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
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/wire"
)

// fuzzEnv is an in-process Server for the fuzz targets of the management,
// policy and ARM routes: a SQLite store, the simulated platform's
// collateral, an AAD provider "contoso", an Isolated provider "isolated"
// (signer: signerKey/signerCert), an ARM provider "armprov" in
// armSub/armRG, and owner and reader tokens. There is no management rate
// limit, so that every input reaches its parser.
type fuzzEnv struct {
	srv        *Server
	svc        *service.Service
	owner      string
	reader     string
	signerKey  *ecdsa.PrivateKey
	signerCert *x509.Certificate
	bundle     []byte // the imported collateral bundle
}

func newFuzzEnv(tb testing.TB) *fuzzEnv {
	tb.Helper()
	ctx := context.Background()
	svc, bundle, ownerToken, readerToken := newTestService(tb, nil)
	owner := &service.Principal{ID: "fuzz", Role: store.RoleOwner}
	key, cert := signerPair(tb, "fuzz policy signer")
	for _, req := range []service.ProviderRequest{
		{Name: "isolated", TrustModel: store.TrustModelIsolated, PolicySigningCertificates: []*x509.Certificate{cert}},
		{Name: "armprov", Metadata: store.Metadata{SubscriptionID: armSub, ResourceGroup: armRG, Location: "East US"}},
	} {
		if _, err := svc.CreateProvider(ctx, owner, req); err != nil {
			tb.Fatal(err)
		}
	}
	return &fuzzEnv{srv: NewServer(svc, nil, Options{Limits: Limits{ManagementRate: -1}}), svc: svc,
		owner: ownerToken, reader: readerToken, signerKey: key, signerCert: cert, bundle: bundle}
}

// signerPair is a self-signed P-256 certificate and its key.
func signerPair(tb testing.TB, cn string) (*ecdsa.PrivateKey, *x509.Certificate) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(11), Subject: pkix.Name{CommonName: cn},
		NotBefore: testNow.Add(-24 * time.Hour), NotAfter: testNow.Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return key, cert
}

// serve sends one request straight to the handler. path may hold
// anything (it is not parsed as a URL); query is the raw query.
func (e *fuzzEnv) serve(method, path, query, token, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, "/", bytes.NewReader(body))
	r.Method = method
	r.URL = &url.URL{Path: path, RawQuery: query}
	r.RequestURI = ""
	r.ContentLength = int64(len(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	return rec
}

// checkAnswer asserts what every answer of the API must be: never a 5xx;
// an x-ms-request-id; an error is JSON {"error": {"code", "message"}}
// with a non-empty code and message (MAA's body also repeats the request
// id; ARM's CloudError does not); a JSON success body is valid JSON.
func checkAnswer(t *testing.T, what string, rec *httptest.ResponseRecorder, arm bool) {
	t.Helper()
	id := rec.Header().Get("x-ms-request-id")
	if len(id) != 32 {
		t.Fatalf("%s: x-ms-request-id %q", what, id)
	}
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body.Bytes())
	}
	if rec.Code < 400 {
		if rec.Body.Len() > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") && !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s: %d answer is not JSON: %q", what, rec.Code, rec.Body.Bytes())
		}
		return
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s: %d with Content-Type %q", what, rec.Code, ct)
	}
	var b errBody
	if err := json.Unmarshal(rec.Body.Bytes(), &b); err != nil {
		t.Fatalf("%s: %d error body is not JSON: %v %q", what, rec.Code, err, rec.Body.Bytes())
	}
	if b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("%s: %d error body without code or message: %s", what, rec.Code, rec.Body.Bytes())
	}
	// A 429 of an ARM route is written by the shared rate limiter in MAA's
	// shape; every other ARM error is a CloudError.
	if (!arm || rec.Code == http.StatusTooManyRequests) && b.Error.RequestID != id {
		t.Fatalf("%s: error body names request %q, header %q", what, b.Error.RequestID, id)
	}
}

// typedCode asserts that err is an *errs.Error with one of codes and
// returns its code.
func typedCode(t *testing.T, what string, err error, codes ...string) string {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: untyped error %T %v", what, err, err)
	}
	if e.Code == "" || e.Message == "" {
		t.Fatalf("%s: error without code or message: %#v", what, e)
	}
	if len(codes) == 0 {
		return e.Code
	}
	for _, c := range codes {
		if e.Code == c {
			return e.Code
		}
	}
	t.Fatalf("%s: code %q, want one of %v (%v)", what, e.Code, codes, err)
	return ""
}

// bodyRequest is a request carrying body with an optional content type,
// for the body decoders.
func bodyRequest(contentType string, body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// TestFuzzSeedsAccepted keeps the fuzz targets' valid seeds valid: each is
// accepted on its route, so that fuzzing starts from bodies that reach
// the service and not only from refusals.
func TestFuzzSeedsAccepted(t *testing.T) {
	e := newFuzzEnv(t)
	ctx := context.Background()
	owner := &service.Principal{ID: "fuzz", Role: store.RoleOwner}
	pemCert := string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: e.signerCert.Raw}))
	mgmt := mgmtBodies(pemCert)
	for _, c := range []struct {
		route int
		body  string
	}{
		{0, mgmt[0]}, {0, mgmt[1]}, {0, mgmt[2]}, {0, mgmt[3]}, {1, mgmt[4]}, {1, mgmt[5]}, {1, mgmt[6]},
		{2, mgmt[7]}, {2, mgmt[8]}, {3, string(e.bundle)}, {5, mgmt[11]}, {5, mgmt[12]}, {5, mgmt[13]},
	} {
		rt := mgmtRoutes[c.route]
		rec := e.serve(rt.method, rt.path, "", e.owner, "application/json", []byte(c.body))
		if rec.Code/100 != 2 {
			t.Errorf("%s %s %.80s: %d %s", rt.method, rt.path, c.body, rec.Code, rec.Body.Bytes())
		}
		if rec.Code == http.StatusCreated && c.route == 0 {
			var out wire.Provider
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil || e.svc.DeleteProvider(ctx, owner, out.Name) != nil {
				t.Fatalf("delete %s: %v", rec.Body.Bytes(), err)
			}
		}
	}
	pol := policyBodies(t, e)
	for _, c := range []struct{ route, body int }{{0, 0}, {1, 1}, {2, 2}, {3, 3}, {4, 4}, {5, 22}, {0, 5}, {1, 6}, {3, 7}, {4, 8}, {1, 9}} {
		rt := policyRoutes[c.route]
		rec := e.serve(rt.method, rt.path, "api-version=2022-08-01", e.owner, "text/plain", []byte(pol[c.body]))
		if rec.Code != http.StatusOK {
			t.Errorf("%s %s body %d: %d %s", rt.method, rt.path, c.body, rec.Code, rec.Body.Bytes())
		}
	}
	arm := armBodies(base64.StdEncoding.EncodeToString(e.signerCert.Raw))
	for _, c := range []struct{ route, body, status int }{{1, 0, 201}, {0, 0, 200}, {0, 1, 200}, {2, 3, 200}, {2, 4, 200}, {2, 5, 200}, {0, 6, 200}, {1, 2, 201}} {
		rt := armFuzzRoutes[c.route]
		rec := e.serve(rt.method, rt.path, rt.query, e.owner, "application/json", []byte(arm[c.body]))
		if rec.Code != c.status {
			t.Errorf("%s %s body %d: %d %s", rt.method, rt.path, c.body, rec.Code, rec.Body.Bytes())
		}
		if rec.Code == http.StatusCreated {
			if err := e.svc.DeleteProvider(ctx, owner, "fuzznew"); err != nil {
				t.Fatal(err)
			}
		}
	}
}
