package api

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// countingBody is a request body that counts the bytes read from it.
type countingBody struct {
	r    io.Reader
	read atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	b.read.Add(int64(n))
	return n, err
}

// TestRoleBeforeBody is issue 13 item 9(d): every route that takes a body
// decides whether the caller's role may use it before it reads the body.
// A reader (or an anonymous caller) sending a large body to a route that
// needs policy-admin or owner gets 403 (401) and not a byte of the body is
// read, let alone parsed (a collateral bundle, a JWS whose signature would
// be verified, JSON).
func TestRoleBeforeBody(t *testing.T) {
	e := newFuzzEnv(t)
	const dp = "api-version=2022-08-01"
	routes := []struct{ method, path, query, ctype string }{
		{http.MethodPost, "/management/providers", "", "application/json"},
		{http.MethodPatch, "/management/providers/contoso", "", "application/json"},
		{http.MethodPost, "/management/admin-tokens", "", "application/json"},
		{http.MethodPost, "/management/collateral", "", "application/json"},
		{http.MethodPost, "/management/collateral:refresh", "", "application/json"},
		{http.MethodPost, "/management/collateral:prune", "", "application/json"},
		{http.MethodPut, "/providers/contoso/policies/SgxEnclave", dp, "text/plain"},
		{http.MethodPost, "/providers/contoso/policies/SgxEnclave:reset", dp, "text/plain"},
		{http.MethodPost, "/providers/isolated/certificates:add", dp, "application/json"},
		{http.MethodPost, "/providers/isolated/certificates:remove", dp, "application/json"},
		{http.MethodPut, armBase + "/armprov", "api-version=2021-06-01", "application/json"},
		{http.MethodPut, armBase + "/fuzznew", "api-version=2021-06-01", "application/json"},
		{http.MethodPatch, armBase + "/armprov", "api-version=2021-06-01", "application/json"},
	}
	big := `{"x":"` + strings.Repeat("a", 200<<10) + `"}`
	for _, rt := range routes {
		for _, caller := range []struct {
			name, token string
			status      int
		}{{"reader", e.reader, http.StatusForbidden}, {"anonymous", "", http.StatusUnauthorized}} {
			body := &countingBody{r: strings.NewReader(big)}
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Method, r.URL, r.RequestURI = rt.method, &url.URL{Path: rt.path, RawQuery: rt.query}, ""
			r.Body, r.ContentLength = io.NopCloser(body), int64(len(big))
			r.Header.Set("Content-Type", rt.ctype)
			if caller.token != "" {
				r.Header.Set("Authorization", "Bearer "+caller.token)
			}
			rec := httptest.NewRecorder()
			e.srv.ServeHTTP(rec, r)
			what := caller.name + " " + rt.method + " " + rt.path
			if rec.Code != caller.status {
				t.Errorf("%s: %d, want %d: %.200s", what, rec.Code, caller.status, rec.Body.Bytes())
			}
			if n := body.read.Load(); n != 0 {
				t.Errorf("%s: %d bytes of the body read before the role was checked", what, n)
			}
		}
	}
}
