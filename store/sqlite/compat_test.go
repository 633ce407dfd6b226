package sqlite

import (
	"database/sql"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/store"
)

// TestOpensVersion1 opens a database written by an avow of schema version
// 1 (before the backends shared their queries): migrations 2
// (type_collateral) and 3 (two columns renamed, the lease table) apply, and
// every row reads back unchanged.
func TestOpensVersion1(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "avow.db")
	raw, err := sql.Open("sqlite", path+"?_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 678901000, time.UTC)
	us := t0.UnixMicro()
	for _, st := range []struct {
		q    string
		args []any
	}{
		{q: migrations.VersionTable}, {q: steps[1]},
		{q: `INSERT INTO schema_version (version, applied_at) VALUES (1, 0)`},
		{`INSERT INTO providers VALUES (1, 'Contoso', 'AAD', '["UpToDate"]', 0, NULL, '', '', 'here', NULL, ?, ?, 3)`, []any{us, us}},
		{`INSERT INTO policies VALUES (1, 'SgxEnclave', 'doc', 'text', x'01', NULL, ?, 2)`, []any{us}},
		{`INSERT INTO signing_keys VALUES (1, 1, 'k1', x'02', x'03', ?, NULL, 1)`, []any{us}},
		{`INSERT INTO audit (time, kind, actor, provider, operation, outcome, details, request_id)
			VALUES (?, 'management', 'a', 'Contoso', 'policy.set', 'success', '{"k":"v"}', 'r')`, []any{us}},
		{q: `UPDATE change_version SET version = 7`},
		// The lease table a version-1 avow created on first use.
		{q: `CREATE TABLE leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL, expires_at INTEGER NOT NULL) STRICT`},
		{q: `INSERT INTO leases VALUES ('job', 'node-a', 0)`},
	} {
		if _, err := raw.ExecContext(ctx, st.q, st.args...); err != nil {
			t.Fatalf("%s: %v", st.q, err)
		}
	}
	raw.Close()

	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != SchemaVersion {
		t.Fatalf("schema version %d, %v", v, err)
	}
	p, err := s.GetProvider(ctx, "contoso")
	if err != nil || p.Name != "Contoso" || p.Version != 3 || !p.CreatedAt.Equal(t0) || p.Metadata.Location != "here" {
		t.Fatalf("provider %+v, %v", p, err)
	}
	pol, err := s.GetPolicy(ctx, "contoso", "sgxenclave")
	if err != nil || pol.Text != "text" || pol.Version != 2 || !pol.UpdatedAt.Equal(t0) {
		t.Fatalf("policy %+v, %v", pol, err)
	}
	if k, err := s.ActiveKey(ctx, "Contoso"); err != nil || k.KID != "k1" || !k.CreatedAt.Equal(t0) {
		t.Fatalf("key %+v, %v", k, err)
	}
	a, err := s.ListAudit(ctx, store.AuditFilter{Since: t0})
	if err != nil || len(a) != 1 || !a[0].Time.Equal(t0) || a[0].Details["k"] != "v" {
		t.Fatalf("audit %+v, %v", a, err)
	}
	if v, err := s.ChangeVersion(ctx); err != nil || v != 7 {
		t.Fatalf("change version %d, %v", v, err)
	}
	if ok, err := s.TryLease(ctx, "job", "node-b", time.Minute); err != nil || !ok {
		t.Fatalf("expired lease: %v, %v", ok, err)
	}
}
