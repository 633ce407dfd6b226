package pcs_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/pcs"
)

// recorder counts the requests a test server gets and the ones that
// carried the PCS API key, per Host header.
type recorder struct {
	h http.Handler

	mu    sync.Mutex
	total map[string]int
	keyed map[string]int
}

func record(h http.Handler) *recorder {
	return &recorder{h: h, total: map[string]int{}, keyed: map[string]int{}}
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	host := req.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	r.mu.Lock()
	r.total[host]++
	if req.Header.Get(pcs.HeaderAPIKey) != "" {
		r.keyed[host]++
	}
	r.mu.Unlock()
	if r.h != nil {
		r.h.ServeHTTP(w, req)
	}
}

func (r *recorder) counts() (total, keyed map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	total, keyed = map[string]int{}, map[string]int{}
	for k, v := range r.total {
		total[k] = v
	}
	for k, v := range r.keyed {
		keyed[k] = v
	}
	return total, keyed
}

// hostsClient dials the test server named for each host:port in hosts
// (so that https://api.trustedservices.intel.com reaches a test server
// with its Host header intact) and accepts the test servers' TLS
// certificates.
func hostsClient(t *testing.T, hosts map[string]string) *http.Client {
	t.Helper()
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			to, ok := hosts[addr]
			if !ok {
				t.Errorf("a request to %s, which the test does not serve", addr)
				return nil, errors.New("no test server for " + addr)
			}
			return (&net.Dialer{}).DialContext(ctx, network, to)
		},
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// addVector serves a vector's collateral and returns the request for it.
func addVector(t *testing.T, srv *pcsfake.Server, set string) pcs.FetchRequest {
	t.Helper()
	col := vectorCollateral(t, set)
	if err := srv.Add(col); err != nil {
		t.Fatal(err)
	}
	id, err := pcs.Identify(col)
	if err != nil {
		t.Fatal(err)
	}
	return pcs.FetchRequest{TEE: id.TEE, FMSPC: id.FMSPC, PCKCA: id.PCKCA}
}

func serverAddr(ts *httptest.Server) string { return ts.Listener.Addr().String() }

// TestAPIKeyOnlyToIntelOverHTTPS: the PCS key goes to
// https://api.trustedservices.intel.com only: not to a pcs: source over
// http, not to one at another host over https, not over http to Intel's
// host, and not to the root CA CRL's distribution point.
func TestAPIKeyOnlyToIntelOverHTTPS(t *testing.T) {
	fake := pcsfake.New(pcs.KindPCS)
	req := addVector(t, fake, "S01-sgx-v3-phala")
	rec := record(fake)
	plain, secure := httptest.NewServer(rec), httptest.NewTLSServer(rec)
	t.Cleanup(plain.Close)
	t.Cleanup(secure.Close)
	hc := hostsClient(t, map[string]string{
		serverAddr(plain):                            serverAddr(plain),
		serverAddr(secure):                           serverAddr(secure),
		"api.trustedservices.intel.com:80":           serverAddr(plain),
		"api.trustedservices.intel.com:443":          serverAddr(secure),
		"certificates.trustedservices.intel.com:443": serverAddr(secure),
	})
	for _, spec := range []string{
		"pcs:" + plain.URL,
		"pcs:" + secure.URL,
		"pcs:http://api.trustedservices.intel.com",
		"https://127.0.0.1:" + strings.Split(serverAddr(secure), ":")[1],
	} {
		src, err := pcs.ParseSource(spec, pcs.SourceOptions{APIKey: "secret-key", Client: hc})
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		_, _ = src.Fetch(context.Background(), req)
		total, keyed := rec.counts()
		if len(total) == 0 {
			t.Errorf("%s: no request", spec)
		}
		if len(keyed) != 0 {
			t.Errorf("%s: the API key was sent (requests with it per host: %v)", spec, keyed)
		}
		rec = record(fake)
		plain.Config.Handler, secure.Config.Handler = rec, rec
	}

	src, err := pcs.ParseSource("pcs", pcs.SourceOptions{APIKey: "secret-key", Client: hc})
	if err != nil {
		t.Fatal(err)
	}
	fake.APIKey = "secret-key"
	if _, err := src.Fetch(context.Background(), req); err != nil {
		t.Fatalf("Intel's PCS: %v", err)
	}
	total, keyed := rec.counts()
	if keyed["api.trustedservices.intel.com"] == 0 || keyed["api.trustedservices.intel.com"] != total["api.trustedservices.intel.com"] {
		t.Errorf("Intel's PCS: %v requests, %v with the key", total, keyed)
	}
	if total["certificates.trustedservices.intel.com"] == 0 || keyed["certificates.trustedservices.intel.com"] != 0 {
		t.Errorf("root CA CRL distribution point: %v requests, %v with the key", total, keyed)
	}
}

// TestRedirectsStayOnOrigin: a redirect to another host (which Go's client
// would follow with the custom key header), an https→http downgrade and
// a redirect to another port are refused without a request to the
// target; a redirect within one origin is followed; a redirect loop ends
// after a few requests, not Go's ten.
func TestRedirectsStayOnOrigin(t *testing.T) {
	fake := pcsfake.New(pcs.KindPCCS)
	req := addVector(t, fake, "S01-sgx-v3-phala")
	target := record(fake)
	evilTLS, evilPlain := httptest.NewTLSServer(target), httptest.NewServer(target)
	t.Cleanup(evilTLS.Close)
	t.Cleanup(evilPlain.Close)
	redirectTo := func(base string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, base+r.URL.RequestURI(), http.StatusFound)
		})
	}
	intel, crls := httptest.NewTLSServer(nil), httptest.NewTLSServer(fake)
	t.Cleanup(intel.Close)
	t.Cleanup(crls.Close)
	pccs := httptest.NewServer(nil)
	t.Cleanup(pccs.Close)
	hc := hostsClient(t, map[string]string{
		"api.trustedservices.intel.com:443":          serverAddr(intel),
		"api.trustedservices.intel.com:80":           serverAddr(evilPlain),
		"certificates.trustedservices.intel.com:443": serverAddr(crls),
		"evil.test:443":                              serverAddr(evilTLS),
		"evil.test:80":                               serverAddr(evilPlain),
		serverAddr(pccs):                             serverAddr(pccs),
		"127.0.0.1:1":                                serverAddr(evilPlain),
	})
	for _, c := range []struct {
		name, spec string
		srv        *httptest.Server
		to         string
	}{
		{"to another host with the key", "pcs", intel, "https://evil.test"},
		{"https to http on the same host", "pcs", intel, "http://api.trustedservices.intel.com"},
		{"to another host", "pccs:" + pccs.URL, pccs, "http://evil.test"},
		{"to another port", "pccs:" + pccs.URL, pccs, "http://127.0.0.1:1"},
	} {
		c.srv.Config.Handler = redirectTo(c.to)
		target = record(fake)
		evilTLS.Config.Handler, evilPlain.Config.Handler = target, target
		src, err := pcs.ParseSource(c.spec, pcs.SourceOptions{APIKey: "secret-key", Client: hc})
		if err != nil {
			t.Fatal(err)
		}
		_, err = src.Fetch(context.Background(), req)
		total, keyed := target.counts()
		if !errors.Is(err, pcs.ErrFetch) || len(total) != 0 || len(keyed) != 0 {
			t.Errorf("%s: %v; the target got %v requests, %v with the key", c.name, err, total, keyed)
		}
		if err != nil && !strings.Contains(errs.Detail(err), "redirect") {
			t.Errorf("%s: the error does not say why: %v", c.name, err)
		}
	}

	// Within one origin: /old/... moves to /...
	pccs.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/old"); ok {
			u := *r.URL
			u.Path = rest
			http.Redirect(w, r, u.RequestURI(), http.StatusMovedPermanently)
			return
		}
		fake.ServeHTTP(w, r)
	})
	src, err := pcs.ParseSource("pccs:"+pccs.URL+"/old", pcs.SourceOptions{Client: hc})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Fetch(context.Background(), req); err != nil {
		t.Errorf("a redirect within the origin: %v", err)
	}

	loop := record(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.RequestURI(), http.StatusFound)
	}))
	pccs.Config.Handler = loop
	if _, err := src.Fetch(context.Background(), req); !errors.Is(err, pcs.ErrFetch) {
		t.Errorf("a redirect loop: %v", err)
	}
	// PCCS: four requests (TCB info, QE identity, PCK CRL, root CA CRL),
	// each followed through at most 3 redirects.
	if total, _ := loop.counts(); total["127.0.0.1"] > 4*4 {
		t.Errorf("a redirect loop: %d requests", total["127.0.0.1"])
	}
}
