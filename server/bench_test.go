package server

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/sgxsim"
)

// BenchmarkAttestHTTPS is one SGX attestation over HTTPS on loopback with a
// kept-alive connection: request encoding, TLS, the server, and the
// response, as an MAA client sees it.
func BenchmarkAttestHTTPS(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	n, err := Start(ctx, Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), Dev: true, SimDir: filepath.Join(dir, "sim")})
	if err != nil {
		b.Fatal(err)
	}
	defer n.Shutdown(ctx)
	hc, err := n.HTTPClient()
	if err != nil {
		b.Fatal(err)
	}
	c, _ := client.New(n.URL, client.WithHTTPClient(hc), client.WithToken(n.AdminToken.Secret))
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{})
	if _, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
