package store_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/postgres"
	"github.com/avowhq/avow/store/sqlite"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func sqliteStore(t *testing.T) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "avow.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func postgresStore(t *testing.T) *postgres.Store {
	t.Helper()
	base := os.Getenv("AVOW_TEST_POSTGRES")
	if base == "" {
		t.Skip("AVOW_TEST_POSTGRES is not set: skipping the copy to PostgreSQL")
	}
	b := make([]byte, 6)
	rand.Read(b)
	schema := "avow_copy_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err == nil {
			conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			conn.Close(ctx)
		}
	})
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	s, err := postgres.Open(ctx, u.String(), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// populate fills s with one of everything, with history: provider
// versions, policy versions, retired keys, revoked tokens, collateral
// history and more audit entries than one copy page.
func populate(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i, name := range []string{"Contoso", "fabrikam", "iso"} {
		p := store.Provider{Name: name, TrustModel: store.TrustModelAAD, CreatedAt: at(time.Duration(i) * time.Minute),
			Settings: store.Settings{AcceptedTCBStatuses: []string{"UpToDate"}, CollateralGracePeriod: time.Hour,
				Extra: json.RawMessage(`{"b": 1,  "a": [2]}`)},
			Metadata: store.Metadata{Location: "here", Tags: map[string]string{"n": name}}}
		if name == "iso" {
			p.TrustModel = store.TrustModelIsolated
			p.Settings = store.Settings{}
		}
		cur := must[store.Provider](t)(s.CreateProvider(ctx, p))
		for v := range i * 2 {
			cur.Metadata.Location = fmt.Sprint("loc-", v)
			cur.UpdatedAt = at(time.Duration(v+1) * time.Hour)
			cur = must[store.Provider](t)(s.UpdateProvider(ctx, cur))
		}
		for v := range i + 1 {
			h := sha256.Sum256([]byte(fmt.Sprint(name, v)))
			pol := store.Policy{Provider: name, AttestationType: "SgxEnclave", Document: fmt.Sprint("doc-", v), Text: "text", Hash: h[:], UpdatedAt: at(time.Duration(v) * time.Hour)}
			if v == 1 {
				pol.SignerCert = []byte("signer-der")
			}
			must[store.Policy](t)(s.SetPolicy(ctx, pol))
		}
		must[store.Policy](t)(s.SetPolicy(ctx, store.Policy{Provider: name, AttestationType: "TdxVm", Document: "tdx", UpdatedAt: t0}))
		for c := range 3 {
			must[store.Signer](t)(s.AddSigner(ctx, store.Signer{Provider: name, Certificate: []byte(fmt.Sprint("cert-", c)), AddedAt: at(time.Duration(3-c) * time.Second)}))
		}
		for k := range i + 1 {
			must[store.SigningKey](t)(s.RotateKey(ctx, name, store.SigningKey{KID: fmt.Sprint(name, "-k", k), SealedKey: []byte("sealed"),
				Certificate: []byte("cert"), CreatedAt: at(time.Duration(k) * 24 * time.Hour)}, at(time.Duration(k)*24*time.Hour+time.Minute)))
		}
	}
	for i, role := range []store.Role{store.RoleOwner, store.RoleReader, store.RolePolicyAdmin} {
		h := sha256.Sum256([]byte(fmt.Sprint("secret-", i)))
		must[store.AdminToken](t)(s.CreateAdminToken(ctx, store.AdminToken{ID: fmt.Sprint("tok-", i), Hash: h[:], Role: role, Description: "d", CreatedAt: at(time.Duration(i) * time.Second)}))
	}
	if err := s.RevokeAdminToken(ctx, "tok-1", at(time.Hour)); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		k := store.CollateralKey{TEE: "sgx", FMSPC: "00906ED50000", PCEID: "0000"}
		if i%2 == 1 {
			k = store.CollateralKey{TEE: "tdx", FMSPC: "90c06f000000", PCEID: "0000"}
		}
		must[store.Collateral](t)(s.PutCollateral(ctx, store.Collateral{Key: k, Bundle: []byte(fmt.Sprint("bundle-", i)),
			IssueDate: at(time.Duration(i) * time.Hour), NextUpdate: at(time.Duration(i) * 30 * time.Hour), FetchedAt: at(time.Duration(10-i) * time.Hour), Source: "test"}))
	}
	for i, kind := range []string{"vcek", "cert_chain", "crl"} {
		must[store.TypeCollateral](t)(s.PutTypeCollateral(ctx, store.TypeCollateral{Type: "SevSnpVm", Kind: kind, Key: "Milan/" + kind,
			Data: []byte(kind), NotAfter: at(time.Duration(i) * time.Hour), FetchedAt: at(time.Duration(i) * time.Minute), Source: "test"}))
	}
	var batch []store.AuditEntry
	for i := range 23 {
		kind := store.AuditManagement
		if i%3 == 0 {
			kind = store.AuditAttestation
		}
		batch = append(batch, store.AuditEntry{Time: at(time.Duration(i) * time.Second), Kind: kind, Actor: "a", Provider: "contoso",
			Operation: fmt.Sprint("op.", i), Outcome: "success", Details: map[string]string{"i": fmt.Sprint(i)}, RequestID: "r"})
	}
	if err := s.AppendAudit(ctx, batch...); err != nil {
		t.Fatal(err)
	}
}

// snapshot is everything a store returns, without the IDs it assigns.
type snapshot struct {
	Providers  []store.Provider
	Policies   map[string][]store.Policy
	Signers    map[string][]store.Signer
	Keys       map[string][]store.SigningKey
	Tokens     []store.AdminToken
	Collateral []store.Collateral
	History    [][]store.Collateral
	Bundles    [][]byte
	TypeRows   []store.TypeCollateral
	Audit      []store.AuditEntry
}

func snap(t *testing.T, s store.Store) snapshot {
	ctx := t.Context()
	sn := snapshot{Policies: map[string][]store.Policy{}, Signers: map[string][]store.Signer{}, Keys: map[string][]store.SigningKey{}}
	sn.Providers = must[[]store.Provider](t)(s.ListProviders(ctx))
	for _, p := range sn.Providers {
		sn.Policies[p.Name] = must[[]store.Policy](t)(s.ListPolicies(ctx, p.Name))
		sn.Signers[p.Name] = must[[]store.Signer](t)(s.ListSigners(ctx, p.Name))
		sn.Keys[p.Name] = must[[]store.SigningKey](t)(s.ListKeys(ctx, p.Name))
	}
	sn.Tokens = must[[]store.AdminToken](t)(s.ListAdminTokens(ctx))
	sn.TypeRows = must[[]store.TypeCollateral](t)(s.ListTypeCollateral(ctx, ""))
	sn.Collateral = must[[]store.Collateral](t)(s.ListCollateral(ctx))
	for i, c := range sn.Collateral {
		h := must[[]store.Collateral](t)(s.CollateralHistory(ctx, c.Key))
		for j := range h {
			sn.Bundles = append(sn.Bundles, must[store.Collateral](t)(s.GetCollateralByID(ctx, h[j].ID)).Bundle)
			h[j].ID = 0
		}
		sn.History = append(sn.History, h)
		sn.Collateral[i].ID = 0
	}
	sn.Audit = must[[]store.AuditEntry](t)(s.ListAudit(ctx, store.AuditFilter{Limit: store.MaxAuditLimit}))
	for i := range sn.Audit {
		sn.Audit[i].ID = 0
	}
	return sn
}

func testCopy(t *testing.T, dst store.Store) {
	defer store.SetCopyAuditPage(5)()
	src := sqliteStore(t)
	populate(t, src)
	want := snap(t, src)
	st, err := store.Copy(t.Context(), dst, src)
	if err != nil {
		t.Fatal(err)
	}
	if got := snap(t, dst); !reflect.DeepEqual(got, want) {
		gj, _ := json.MarshalIndent(got, "", " ")
		wj, _ := json.MarshalIndent(want, "", " ")
		t.Fatalf("copy differs:\n got  %s\n want %s", gj, wj)
	}
	wantStats := store.CopyStats{Providers: 3, Policies: 6, Signers: 9, Keys: 6, AdminTokens: 3, Collateral: 5, TypeCollateral: 3, Audit: 23}
	if st != wantStats {
		t.Errorf("stats %+v, want %+v", st, wantStats)
	}
	if len(want.Audit) != 23 || want.Providers[2].Version != 5 || want.Policies["iso"][0].Version != 3 {
		t.Fatalf("the source is not what the test means to copy: %d audit entries, versions %d %d",
			len(want.Audit), want.Providers[2].Version, want.Policies["iso"][0].Version)
	}

	// A second copy into the now non-empty store is refused and changes nothing.
	if _, err := store.Copy(t.Context(), dst, src); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("copy into a non-empty store: %v", err)
	}
	if got := snap(t, dst); !reflect.DeepEqual(got, want) {
		t.Fatal("a refused copy changed the destination")
	}
}

func TestCopySQLiteToSQLite(t *testing.T) { testCopy(t, sqliteStore(t)) }

func TestCopySQLiteToPostgres(t *testing.T) { testCopy(t, postgresStore(t)) }

// A copy that fails part-way leaves the destination empty.
func TestCopyFailureWritesNothing(t *testing.T) {
	src := sqliteStore(t)
	populate(t, src)
	dst := sqliteStore(t)
	ctx, cancel := context.WithCancel(t.Context())
	failing := &cancelAfter{Store: src, n: 2, cancel: cancel}
	if _, err := store.Copy(ctx, dst, failing); err == nil {
		t.Fatal("copy with a cancelled context succeeded")
	}
	if ps := must[[]store.Provider](t)(dst.ListProviders(t.Context())); len(ps) != 0 {
		t.Fatalf("%d providers left behind", len(ps))
	}
}

// cancelAfter cancels the copy's context at its n-th policy listing, in the middle of the write transaction.
type cancelAfter struct {
	store.Store
	n      int
	cancel func()
}

func (c *cancelAfter) ListPolicies(ctx context.Context, provider string) ([]store.Policy, error) {
	c.n--
	if c.n <= 0 {
		c.cancel()
	}
	return c.Store.ListPolicies(ctx, provider)
}
