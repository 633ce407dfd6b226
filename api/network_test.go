package api

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strings"
	"testing"
)

// TestARMAccessPropertiesRoundTrip: publicNetworkAccess and
// tpmAttestationAuthentication (ARM 2021-06-01) are accepted on PUT and
// PATCH, kept, and returned by GET, the lists and the native API; a PUT or
// PATCH that does not name them keeps them.
func TestARMAccessPropertiesRoundTrip(t *testing.T) {
	e := newARMEnv(t)
	q := "?api-version=2021-06-01"
	p := armBase + "/contoso" + q
	props := func(body map[string]any) (string, string) {
		t.Helper()
		pr, _ := body["properties"].(map[string]any)
		a, _ := pr["publicNetworkAccess"].(string)
		b, _ := pr["tpmAttestationAuthentication"].(string)
		return a, b
	}
	st, body := e.do(http.MethodPut, p, e.owner, map[string]any{"location": "East US",
		"properties": map[string]any{"tpmAttestationAuthentication": "disabled"}})
	if a, b := props(body); st != http.StatusCreated || a != "Enabled" || b != "Disabled" {
		t.Fatalf("create: %d %v", st, body)
	}
	// The Update example of the 2021-06-01 specification.
	st, body = e.do(http.MethodPatch, p, e.owner, map[string]any{"tags": map[string]string{"Property1": "Value1"},
		"properties": map[string]any{"publicNetworkAccess": "Disabled", "tpmAttestationAuthentication": "Disabled"}})
	if a, b := props(body); st != http.StatusOK || a != "Disabled" || b != "Disabled" {
		t.Fatalf("patch: %d %v", st, body)
	}
	for _, v := range []string{"2021-06-01", "2020-10-01", "2018-09-01-preview"} {
		st, body = e.do(http.MethodGet, armBase+"/contoso?api-version="+v, e.reader, nil)
		if a, b := props(body); st != http.StatusOK || a != "Disabled" || b != "Disabled" {
			t.Errorf("get %s: %d %v", v, st, body)
		}
	}
	st, body = e.do(http.MethodGet, armBase+q, e.reader, nil)
	if items, _ := body["value"].([]any); st != http.StatusOK || len(items) != 1 {
		t.Fatalf("list: %d %v", st, body)
	} else if a, b := props(items[0].(map[string]any)); a != "Disabled" || b != "Disabled" {
		t.Errorf("list: %v", items[0])
	}
	// Tags only, and a PUT without properties: both kept.
	if st, body = e.do(http.MethodPatch, p, e.owner, map[string]any{"tags": map[string]string{}}); st != 200 {
		t.Fatalf("patch tags: %d %v", st, body)
	} else if a, b := props(body); a != "Disabled" || b != "Disabled" {
		t.Errorf("patch tags changed the properties: %v", body)
	}
	if st, body = e.do(http.MethodPut, p, e.owner, map[string]any{"location": "West US"}); st != 200 {
		t.Fatalf("put: %d %v", st, body)
	} else if a, b := props(body); a != "Disabled" || b != "Disabled" {
		t.Errorf("put without properties changed them: %v", body)
	}
	// The native API shows them (only when Disabled) and changes them.
	st, native := e.do(http.MethodGet, "/management/providers/contoso", e.reader, nil)
	if s, _ := native["settings"].(map[string]any); st != 200 || s["publicNetworkAccess"] != "Disabled" || s["tpmAttestationAuthentication"] != "Disabled" {
		t.Errorf("native: %d %v", st, native)
	}
	st, native = e.do(http.MethodPatch, "/management/providers/contoso", e.owner, map[string]any{"settings": map[string]any{"publicNetworkAccess": "Enabled"}})
	if s, _ := native["settings"].(map[string]any); st != 200 || s["publicNetworkAccess"] != nil || s["tpmAttestationAuthentication"] != "Disabled" {
		t.Errorf("native patch: %d %v", st, native)
	}
	st, body = e.do(http.MethodGet, p, e.reader, nil)
	if a, b := props(body); st != 200 || a != "Enabled" || b != "Disabled" {
		t.Errorf("after native patch: %d %v", st, body)
	}
}

// TestPublicNetworkAccessDisabled: a provider with publicNetworkAccess
// Disabled answers on its data plane (attest, certs, metadata, policies)
// only to clients on the declared private networks; others get 403 with
// MAA's error body. The test client connects from 127.0.0.1.
func TestPublicNetworkAccessDisabled(t *testing.T) {
	mustPrefixes := func(s string) []netip.Prefix {
		p, err := ParsePrefixes(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	disable := func(e *testEnv, name string) {
		t.Helper()
		if r := e.do(t, "POST", "/management/providers", e.owner, strings.NewReader(`{"name":"`+name+`"}`)); r.status != 201 && r.status != 409 {
			t.Fatalf("create %s: %d %s", name, r.status, r.body)
		}
		r := e.do(t, "PATCH", "/management/providers/"+name, e.owner, strings.NewReader(`{"settings":{"publicNetworkAccess":"Disabled"}}`))
		if r.status != 200 {
			t.Fatalf("disable %s: %d %s", name, r.status, r.body)
		}
	}
	paths := []struct{ method, path string }{
		{"POST", "/providers/closed/attest/SgxEnclave?api-version=2022-08-01"},
		{"GET", "/providers/closed/certs"},
		{"GET", "/providers/closed/.well-known/openid-configuration"},
		{"GET", "/providers/closed/policies/SgxEnclave?api-version=2022-08-01"},
	}
	refused := func(t *testing.T, e *testEnv, want bool, hdr ...string) {
		t.Helper()
		for _, p := range paths {
			r := e.do(t, p.method, p.path, e.reader, strings.NewReader(e.attestBody(e.quote)), hdr...)
			var b errBody
			_ = json.Unmarshal(r.body, &b)
			got := r.status == http.StatusForbidden && b.Error.Code == "public_network_access_disabled" && b.Error.Message != ""
			if got != want {
				t.Errorf("%s %s %v: %d %s (refusal expected: %v)", p.method, p.path, hdr, r.status, r.body, want)
			}
			if !want && r.status != 200 {
				t.Errorf("%s %s %v: %d %s", p.method, p.path, hdr, r.status, r.body)
			}
		}
		// contoso keeps public access: always answers.
		if r := e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(e.quote)), hdr...); r.status != 200 {
			t.Errorf("contoso %v: %d %s", hdr, r.status, r.body)
		}
	}

	t.Run("outside the private networks", func(t *testing.T) {
		e := newEnv(t, Options{Network: NetworkOptions{PrivateNetworks: mustPrefixes("10.0.0.0/8, fd00::/8")}})
		disable(e, "closed")
		refused(t, e, true)
		// Without a trusted proxy header, a forwarded address is ignored.
		refused(t, e, true, "X-Forwarded-For", "10.1.2.3")
	})
	t.Run("no private networks declared", func(t *testing.T) {
		e := newEnv(t, Options{})
		disable(e, "closed")
		refused(t, e, true)
	})
	t.Run("inside", func(t *testing.T) {
		e := newEnv(t, Options{Network: NetworkOptions{PrivateNetworks: mustPrefixes("10.0.0.0/8,127.0.0.0/8")}})
		disable(e, "closed")
		refused(t, e, false)
	})
	t.Run("behind a trusted proxy", func(t *testing.T) {
		e := newEnv(t, Options{Network: NetworkOptions{PrivateNetworks: mustPrefixes("10.0.0.0/8"),
			TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: mustPrefixes("127.0.0.1")}})
		disable(e, "closed")
		refused(t, e, false, "X-Forwarded-For", "10.1.2.3")
		refused(t, e, false, "X-Forwarded-For", "203.0.113.9, 10.1.2.3") // the left entry is the client's claim
		refused(t, e, true, "X-Forwarded-For", "10.1.2.3, 203.0.113.9")
		refused(t, e, true, "X-Forwarded-For", "203.0.113.9")
		refused(t, e, true, "X-Forwarded-For", "not an address")
		refused(t, e, true) // the proxy itself is not on a private network
	})
	t.Run("header from an untrusted peer", func(t *testing.T) {
		e := newEnv(t, Options{Network: NetworkOptions{PrivateNetworks: mustPrefixes("10.0.0.0/8"),
			TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: mustPrefixes("192.0.2.0/24")}})
		disable(e, "closed")
		refused(t, e, true, "X-Forwarded-For", "10.1.2.3")
	})
}

func TestClientAddr(t *testing.T) {
	pp := func(s string) []netip.Prefix { p, _ := ParsePrefixes(s); return p }
	s := &Server{network: NetworkOptions{TrustedProxyHeader: "X-Forwarded-For", TrustedProxies: pp("10.0.0.1,10.0.0.2,::1")}}
	for _, tc := range []struct{ remote, xff, want string }{
		{"192.0.2.1:5000", "10.9.9.9", "192.0.2.1"}, // untrusted peer: header ignored
		{"10.0.0.1:5000", "", "10.0.0.1"},
		{"10.0.0.1:5000", "198.51.100.7", "198.51.100.7"},
		{"10.0.0.1:5000", "198.51.100.7, 10.0.0.2", "198.51.100.7"},
		{"10.0.0.1:5000", "[2001:db8::1]:443", "2001:db8::1"},
		{"10.0.0.1:5000", "198.51.100.7:8080", "198.51.100.7"},
		{"[::1]:5000", "::ffff:198.51.100.7", "198.51.100.7"},
		{"10.0.0.1:5000", "10.0.0.2, 10.0.0.2", "10.0.0.2"},
		{"10.0.0.1:5000", "bogus, 198.51.100.7", "198.51.100.7"},
		{"10.0.0.1:5000", "198.51.100.7, bogus", "invalid IP"},
	} {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.remote
		if tc.xff != "" {
			r.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := s.networkClient(r).String(); got != tc.want {
			t.Errorf("%s %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	if _, err := ParsePrefixes("10.0.0.0/8,nope"); err == nil {
		t.Error("ParsePrefixes accepted nope")
	}
	if p := pp("::ffff:10.0.0.0/104, 192.0.2.7"); len(p) != 2 || p[0].String() != "10.0.0.0/8" || p[1].String() != "192.0.2.7/32" {
		t.Errorf("ParsePrefixes: %v", p)
	}
}
