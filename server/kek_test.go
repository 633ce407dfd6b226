package server

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/sgxsim"
)

// testKEKMismatch: a first node creates a provider (a key sealed with its
// KEK); a second node on the same store with another --kek-file refuses to
// start with kek_mismatch naming --kek-file and its file, and the secret
// appears nowhere; with the first node's KEK it starts and signs.
func testKEKMismatch(t *testing.T, dir, storeURL string) {
	ctx := context.Background()
	firstKEK := filepath.Join(dir, "kek-a")
	n1, c1 := startNode(t, dir, func(cfg *Config) {
		cfg.DataDir = filepath.Join(dir, "a")
		cfg.KEKFile, cfg.StoreURL = firstKEK, storeURL
	})
	if _, err := c1.CreateProvider(ctx, client.CreateProviderRequest{Name: "contoso"}); err != nil {
		t.Fatal(err)
	}
	owner := n1.AdminToken.Secret
	n1.Shutdown(ctx)

	otherKEK := filepath.Join(dir, "kek-b")
	cfg := Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "a"), KEKFile: otherKEK, StoreURL: storeURL}
	if storeURL != "" {
		cfg.DataDir = filepath.Join(dir, "b")
	}
	n2, err := Start(ctx, cfg)
	if err == nil {
		n2.Shutdown(ctx)
		t.Fatal("a node with another key-encryption key started")
	}
	if !errors.Is(err, service.ErrKEKMismatch) {
		t.Fatalf("error %v, want kek_mismatch", err)
	}
	detail := errs.Detail(err)
	for _, want := range []string{"--kek-file", otherKEK + " (generated at this start: the file did not exist) opens 0 of 1 (provider contoso)"} {
		if !strings.Contains(detail, want) {
			t.Errorf("error %q lacks %q", detail, want)
		}
	}
	if _, err := os.Stat(otherKEK); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the key generated for the refused start is left in %s: %v", otherKEK, err)
	}
	// An existing file with another key: the same refusal, the file kept.
	if err := os.WriteFile(otherKEK, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Start(ctx, cfg)
	if want := otherKEK + " opens 0 of 1"; !errors.Is(err, service.ErrKEKMismatch) || !strings.Contains(errs.Detail(err), want) || strings.Contains(errs.Detail(err), strings.Repeat("ab", 32)) {
		t.Errorf("error %v, want %q (and never the key)", err, want)
	}
	if _, err := os.Stat(otherKEK); err != nil {
		t.Errorf("an existing KEK file was removed: %v", err)
	}

	// The same KEK: the node starts and signs with the stored key.
	n3, _ := startNode(t, dir, func(cfg *Config) {
		cfg.DataDir = filepath.Join(dir, "c")
		if storeURL == "" {
			cfg.DataDir = filepath.Join(dir, "a")
		}
		cfg.KEKFile, cfg.StoreURL = firstKEK, storeURL
	})
	c3, err := client.New(n3.URL, client.WithHTTPClient(mustHTTP(t, n3)), client.WithToken(owner))
	if err != nil {
		t.Fatal(err)
	}
	sim, err := sgxsim.Open(filepath.Join(dir, "sim"))
	if err != nil {
		t.Fatal(err)
	}
	q, err := sim.Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c3.AttestSGX(ctx, c3.AttestURI("contoso"), q, client.AttestOptions{}); err != nil {
		t.Fatalf("attest with the store's KEK: %v", err)
	}
}

func TestKEKMismatchSQLite(t *testing.T) {
	testKEKMismatch(t, t.TempDir(), "")
}

func TestKEKMismatchPostgres(t *testing.T) {
	storeURL, _ := pgSchema(t)
	testKEKMismatch(t, t.TempDir(), storeURL)
}
