package server

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/sgxsim"
)

// TestShutdownFlushesAudit: attestation records queued when the node
// shuts down are written before the store closes.
func TestShutdownFlushesAudit(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	n, c := startNode(t, dir, nil)
	admin := n.AdminToken.Secret
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "flush"})
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	const count = 25
	for i := 0; i < count; i++ {
		if _, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	n2, _ := startNode(t, dir, nil)
	c2, _ := client.New(n2.URL, client.WithHTTPClient(mustHTTP(t, n2)), client.WithToken(admin))
	page, err := c2.ListAudit(ctx, client.AuditQuery{Kind: client.AuditAttestation, Provider: "flush", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Entries) != count {
		t.Fatalf("%d attestation records after shutdown, want %d", len(page.Entries), count)
	}
}
