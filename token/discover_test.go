package token

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// issuerServer serves OpenID metadata and a JWKS like an avow provider at
// {server}/providers/p1.
type issuerServer struct {
	*httptest.Server
	issuer   string
	metadata func(issuer string) []byte
	jwks     []byte
	status   int
	hits     atomic.Int32
	accept   atomic.Value
}

func newIssuerServer(t *testing.T, keys []*SigningKey) *issuerServer {
	s := &issuerServer{metadata: OpenIDMetadata, jwks: JWKS(keys), status: http.StatusOK}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /providers/p1/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(s.status)
		w.Write(s.metadata(s.issuer))
	})
	mux.HandleFunc("GET /providers/p1/certs", func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.accept.Store(r.Header.Get("Accept"))
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Write(s.jwks)
	})
	mux.HandleFunc("GET /slow/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	mux.HandleFunc("GET /big/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jwks_uri":"http://x/certs","pad":"`))
		w.Write([]byte(strings.Repeat("a", MaxDocumentSize)))
		w.Write([]byte(`"}`))
	})
	s.Server = httptest.NewServer(mux)
	s.issuer = s.URL + "/providers/p1"
	t.Cleanup(s.Close)
	return s
}

func TestDiscover(t *testing.T) {
	a, b := testKeys(t)
	srv := newIssuerServer(t, []*SigningKey{b, a})
	ctx := context.Background()

	keys, cfg, err := Discover(ctx, srv.Client(), srv.issuer)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != srv.issuer || cfg.JWKSURI != srv.issuer+"/certs" || len(keys) != 2 || keys[0].KID != b.KID || keys[1].KID != a.KID {
		t.Fatalf("cfg %+v keys %v", cfg, keys)
	}
	if got := srv.accept.Load(); got != "application/jwk+json, application/json" {
		t.Errorf("Accept %q", got)
	}
	// A token of the provider verifies with the discovered keys.
	tok, _ := Issue(sgxClaims(), a, srv.issuer, t0, AttestationLifetime, "")
	if _, _, err := Verify(tok, keys, VerifyOptions{Issuer: cfg.Issuer, Now: t0}); err != nil {
		t.Errorf("verify with discovered keys: %v", err)
	}
	// A trailing slash on the issuer is fine; a nil client means the default.
	if _, _, err := Discover(ctx, nil, srv.issuer+"/"); err != nil {
		t.Errorf("trailing slash, default client: %v", err)
	}
	// MAA's spec example has no issuer member: accepted.
	srv.metadata = func(string) []byte { return []byte(`{"jwks_uri":"` + srv.issuer + `/certs"}`) }
	if _, _, err := Discover(ctx, nil, srv.issuer); err != nil {
		t.Errorf("metadata without issuer: %v", err)
	}
	// Metadata of another issuer is refused.
	srv.metadata = func(string) []byte { return OpenIDMetadata("https://evil.example") }
	if _, _, err := Discover(ctx, nil, srv.issuer); !errors.Is(err, ErrMetadataInvalid) {
		t.Errorf("other issuer: %v", err)
	}
	// jwks_uri not served.
	srv.metadata = func(string) []byte { return []byte(`{"jwks_uri":"` + srv.URL + `/nowhere"}`) }
	if _, _, err := Discover(ctx, nil, srv.issuer); !errors.Is(err, ErrDiscoveryFailed) || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("404 jwks: %v", err)
	}
	srv.metadata = OpenIDMetadata
	srv.status = http.StatusInternalServerError
	if _, _, err := Discover(ctx, nil, srv.issuer); !errors.Is(err, ErrDiscoveryFailed) || !strings.Contains(err.Error(), "HTTP 500") {
		t.Errorf("500: %v", err)
	}
	srv.status = http.StatusOK
	srv.jwks = []byte(`{"keys":[{"kty":"RSA"}]}`)
	if _, _, err := Discover(ctx, nil, srv.issuer); !errors.Is(err, ErrJWKSInvalid) {
		t.Errorf("bad JWKS: %v", err)
	}
	srv.jwks = []byte("not json")
	if _, err := FetchJWKS(ctx, nil, srv.issuer+"/certs"); !errors.Is(err, ErrJWKSInvalid) {
		t.Errorf("FetchJWKS bad JWKS: %v", err)
	}

	// Oversized response.
	if _, err := FetchOpenIDConfiguration(ctx, nil, srv.URL+"/big"); !errors.Is(err, ErrDiscoveryFailed) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("big: %v", err)
	}
	// The deadline comes from ctx.
	tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, _, err := Discover(tctx, nil, srv.URL+"/slow"); !errors.Is(err, ErrDiscoveryFailed) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow: %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("timeout took %v", d)
	}
	// Not URLs.
	for _, iss := range []string{"", "avow.example", "ftp://avow.example", "https://"} {
		if _, _, err := Discover(ctx, nil, iss); !errors.Is(err, ErrDiscoveryFailed) {
			t.Errorf("issuer %q: %v", iss, err)
		}
	}
	if _, err := FetchJWKS(ctx, nil, "file:///etc/passwd"); !errors.Is(err, ErrDiscoveryFailed) {
		t.Errorf("file jwks_uri: %v", err)
	}
	// Connection refused.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, _, err := Discover(ctx, nil, closed.URL); !errors.Is(err, ErrDiscoveryFailed) {
		t.Errorf("closed: %v", err)
	}
}

// TestDiscoverNoDowngrade: the keys of an https issuer are fetched over
// https; metadata that sends the verifier to an http jwks_uri is refused
// without fetching it. (A plain-http issuer, avow serve --insecure-http on
// loopback, keeps working: TestDiscover.)
func TestDiscoverNoDowngrade(t *testing.T) {
	a, _ := testKeys(t)
	plain := newIssuerServer(t, []*SigningKey{a})
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"jwks_uri":"` + plain.issuer + `/certs"}`))
	}))
	t.Cleanup(tlsSrv.Close)
	_, _, err := Discover(context.Background(), tlsSrv.Client(), tlsSrv.URL)
	if !errors.Is(err, ErrDiscoveryFailed) || !strings.Contains(err.Error(), "https") {
		t.Errorf("https issuer, http jwks_uri: %v", err)
	}
	if n := plain.hits.Load(); n != 0 {
		t.Errorf("the http jwks_uri was fetched %d times", n)
	}
}
