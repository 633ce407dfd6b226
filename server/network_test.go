package server

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// TestNetworkAndSharedProviders: a node started with --shared-provider
// creates the shared provider (and finds it again on restart), and with
// --private-networks closes a Disabled provider's data plane to a client
// outside them (this test's client, on 127.0.0.1).
func TestNetworkAndSharedProviders(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	mutate := func(c *Config) {
		c.SharedProviders = []service.SharedProvider{{Name: "sharedweu", Location: "West Europe"}}
		c.Network = api.NetworkOptions{PrivateNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	}
	n, c := startNode(t, dir, mutate)
	admin := n.AdminToken.Secret
	v, err := n.Service.GetProvider(ctx, &service.Principal{Role: store.RoleReader}, "sharedweu")
	if err != nil || !v.Shared || v.Metadata.Location != "West Europe" {
		t.Fatalf("shared provider: %+v %v", v, err)
	}
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "closed"})
	if err != nil {
		t.Fatal(err)
	}
	hc := mustHTTP(t, n)
	send := func(method, url, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+admin)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send("GET", p.AttestURI+"/certs", ""); st != 200 {
		t.Fatalf("certs before: %d", st)
	}
	if st := send("PATCH", n.URL+"/management/providers/closed", `{"settings":{"publicNetworkAccess":"Disabled"}}`); st != 200 {
		t.Fatalf("disable: %d", st)
	}
	if st := send("GET", p.AttestURI+"/certs", ""); st != http.StatusForbidden {
		t.Errorf("certs from outside the private networks: %d", st)
	}
	if st := send("PUT", n.URL+"/providers/sharedweu/policies/SgxEnclave?api-version=2022-08-01", "eyJhbGciOiJub25lIn0.."); st != http.StatusForbidden {
		t.Errorf("policy change on a shared provider: %d", st)
	}

	// Restart: the shared provider is found, not created again.
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	startNode(t, dir, mutate)

	// A proxy header without the proxies allowed to set it.
	_, err = Start(ctx, Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "other"),
		Network: api.NetworkOptions{TrustedProxyHeader: "X-Forwarded-For"}})
	if !errors.Is(err, ErrConfig) {
		t.Errorf("--trusted-proxy-header without --trusted-proxies: %v", err)
	}
}
