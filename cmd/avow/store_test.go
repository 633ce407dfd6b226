package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/avowhq/avow/client"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/server"
	"github.com/avowhq/avow/sgxsim"
)

// migrateFixture runs a node on SQLite in dir, creates a provider with a
// policy, rotates its key, attests once and stops: a store with some of
// everything. It returns the provider's policy JWS and active key id.
func migrateFixture(t *testing.T, dir string) (jws, kid string) {
	t.Helper()
	ctx := context.Background()
	n, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"),
		InsecureHTTP: true, Dev: true, SimDir: filepath.Join(dir, "sim")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(ctx)
	c, _ := client.New(n.URL, client.WithToken(n.AdminToken.Secret))
	p, err := c.CreateProvider(ctx, client.CreateProviderRequest{Name: "contoso"})
	if err != nil {
		t.Fatal(err)
	}
	jws = policy.UnsignedDocument(`version=1.0; authorizationrules { => permit(); }; issuancerules { c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value); };`)
	if _, err := c.SetPolicy(ctx, p.AttestURI, "SgxEnclave", jws); err != nil {
		t.Fatal(err)
	}
	key, err := c.RotateKey(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{ISVSVN: 3})
	if _, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{}); err != nil {
		t.Fatal(err)
	}
	return jws, key.KID
}

// checkMigrated serves the migrated store with the source's key-encryption
// key and checks the policy, the keys and an attestation with the old key.
func checkMigrated(t *testing.T, dir, storeURL, jws, kid string) {
	t.Helper()
	ctx := context.Background()
	admin := filepath.Join(dir, "admin-token")
	os.WriteFile(admin, []byte("avow_migration_test_token_0123456789"), 0o600)
	n, err := server.Start(ctx, server.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data2"),
		KEKFile: filepath.Join(dir, "data", "kek"), StoreURL: storeURL, AdminTokenFile: admin,
		InsecureHTTP: true, Dev: true, SimDir: filepath.Join(dir, "sim")})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Shutdown(ctx)
	c, _ := client.New(n.URL, client.WithToken("avow_migration_test_token_0123456789"))
	p, err := c.GetProvider(ctx, "contoso")
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.GetPolicy(ctx, p.AttestURI, "SgxEnclave"); err != nil || got != jws {
		t.Fatalf("migrated policy %q, %v", got, err)
	}
	keys, err := c.ListKeys(ctx, "contoso")
	if err != nil || len(keys) != 2 || keys[0].KID != kid || !keys[0].Active || keys[1].Active {
		t.Fatalf("migrated keys %+v, %v", keys, err)
	}
	sim, _ := sgxsim.Open(filepath.Join(dir, "sim"))
	q, _ := sim.Quote(sgxsim.QuoteOptions{ISVSVN: 3})
	tok, err := c.AttestSGX(ctx, p.AttestURI, q, client.AttestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.VerifyToken(ctx, tok, p.AttestURI)
	if err != nil {
		t.Fatal(err)
	}
	if v.Header.KID != kid {
		t.Errorf("token signed with %s, want the migrated key %s", v.Header.KID, kid)
	}
}

func TestStoreMigrateSQLiteToSQLite(t *testing.T) {
	dir := t.TempDir()
	jws, kid := migrateFixture(t, dir)
	from := "sqlite:" + filepath.Join(dir, "data", "avow.db")
	to := "sqlite:" + filepath.Join(dir, "copy.db")
	out, _ := mustRemote(t, 0, "store", "migrate", "--from", from, "--to", to)
	// collateral rows: the dev server's simulated SGX and TDX collateral, numbers 17 and 18 (pinned).
	for _, want := range []string{"providers:", "policies:", "signing keys:     2", "audit entries:", "collateral rows:  4"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	checkMigrated(t, dir, to, jws, kid)

	// Again into the same destination: refused, exit 1.
	_, errOut := mustRemote(t, 1, "store", "migrate", "--from", from, "--to", to)
	if !strings.Contains(errOut, "not empty") {
		t.Errorf("stderr: %s", errOut)
	}
	// Usage errors: exit 2.
	for _, args := range [][]string{
		{"store", "migrate", "--from", from},
		{"store", "migrate", "--from", from, "--to", from},
		{"store", "migrate", "--from", "sqlite:" + filepath.Join(dir, "missing.db"), "--to", "sqlite:" + filepath.Join(dir, "x.db")},
		{"store", "migrate", "--from", from, "--to", "mysql://x"},
	} {
		if code, out, errOut := runAvow(t, args...); code != 2 {
			t.Errorf("avow %s: exit %d, want 2\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("migrating from a missing file created it")
	}
}

func TestStoreMigrateSQLiteToPostgres(t *testing.T) {
	base := os.Getenv("AVOW_TEST_POSTGRES")
	if base == "" {
		t.Skip("AVOW_TEST_POSTGRES is not set: skipping the migration to PostgreSQL")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	rand.Read(b)
	schema := "avow_cli_" + hex.EncodeToString(b)
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	t.Cleanup(func() {
		if conn, err := pgx.Connect(ctx, base); err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	to := u.String()

	dir := t.TempDir()
	jws, kid := migrateFixture(t, dir)
	from := "sqlite:" + filepath.Join(dir, "data", "avow.db")
	mustRemote(t, 0, "store", "migrate", "--from", from, "--to", to)
	checkMigrated(t, dir, to, jws, kid)
	_, errOut := mustRemote(t, 1, "store", "migrate", "--from", from, "--to", to)
	if !strings.Contains(errOut, "not empty") {
		t.Errorf("stderr: %s", errOut)
	}
	// And back: PostgreSQL to a new SQLite file (a backup of a cluster).
	back := "sqlite:" + filepath.Join(dir, "back.db")
	mustRemote(t, 0, "store", "migrate", "--from", to, "--to", back)
	checkMigrated(t, dir, back, jws, kid)
}
