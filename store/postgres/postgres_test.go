package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/postgres"
	"github.com/avowhq/avow/store/storetest"
)

// The tests run against the database named by AVOW_TEST_POSTGRES (a
// connection URL; .ci/postgres starts a throw-away cluster and prints it),
// each in a new schema that is dropped afterwards.
func testURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("AVOW_TEST_POSTGRES")
	if u == "" {
		t.Skip("AVOW_TEST_POSTGRES is not set: skipping the PostgreSQL store tests (start a throw-away cluster with `eval \"$(.ci/postgres start)\"`)")
	}
	return u
}

// newSchema creates an empty schema and returns a URL whose search_path
// selects it; the schema is dropped when t ends.
func newSchema(t testing.TB) string {
	t.Helper()
	base := testURL(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "avow_t_" + hex.EncodeToString(b)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to AVOW_TEST_POSTGRES: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withParam(t, base, "search_path", schema)
}

func withParam(t testing.TB, raw, k, v string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("AVOW_TEST_POSTGRES must be a postgres:// URL: %v", err)
	}
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t testing.TB) store.Store { return open(t, newSchema(t)) })
}

func TestConformanceNodes(t *testing.T) {
	testURL(t)
	storetest.RunNodes(t, func(t testing.TB) (store.Store, store.Store) {
		u := newSchema(t)
		return open(t, u), open(t, u)
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(t testing.TB) store.Store { return open(t, newSchema(t)) })
}

// Nodes starting at once apply each migration step once.
func TestConcurrentOpen(t *testing.T) {
	u := newSchema(t)
	const n = 8
	var wg sync.WaitGroup
	errc := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := postgres.Open(t.Context(), u, postgres.Options{MaxConns: 2})
			if err != nil {
				errc <- err
				return
			}
			defer s.Close()
			v, err := s.SchemaVersion(t.Context())
			if err == nil && v != postgres.SchemaVersion {
				t.Errorf("schema version %d, want %d", v, postgres.SchemaVersion)
			}
			if _, err := s.CreateProvider(t.Context(), store.Provider{Name: fmt.Sprintf("p%d", i%2), TrustModel: store.TrustModelAAD}); err != nil && !errors.Is(err, store.ErrConflict) {
				errc <- err
			}
		}()
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	s := open(t, u)
	var steps int
	if err := pgxQueryRow(t, u, `SELECT count(*) FROM schema_version`, &steps); err != nil {
		t.Fatal(err)
	}
	if steps != postgres.SchemaVersion {
		t.Errorf("%d schema_version rows, want %d", steps, postgres.SchemaVersion)
	}
	// Opening again is a no-op.
	open(t, u)
	if _, err := s.ChangeVersion(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func pgxQueryRow(t *testing.T, u, q string, dest ...any) error {
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		return err
	}
	defer conn.Close(t.Context())
	return conn.QueryRow(t.Context(), q, nil...).Scan(dest...)
}

func pgxExec(t *testing.T, u, q string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	if _, err := conn.Exec(t.Context(), q, args...); err != nil {
		t.Fatal(err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	u := newSchema(t)
	open(t, u).Close()
	pgxExec(t, u, `INSERT INTO schema_version (version, applied_at) VALUES ($1, now())`, postgres.SchemaVersion+1)
	_, err := postgres.Open(t.Context(), u, postgres.Options{})
	if !errors.Is(err, store.ErrStore) || !strings.Contains(err.Error(), "upgrade avow") {
		t.Fatalf("open of a newer schema: %v", err)
	}
}

func TestBadURL(t *testing.T) {
	_, err := postgres.Open(t.Context(), "postgres://user:secret@[::1", postgres.Options{})
	if !errors.Is(err, store.ErrInvalid) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("bad URL: %v", err)
	}
	// Unreachable: a clear store_unavailable, no password.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err = postgres.Open(ctx, "postgres://user:secret@127.0.0.1:1/db?connect_timeout=2", postgres.Options{})
	if !errors.Is(err, store.ErrStore) || strings.Contains(err.Error(), "secret") {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestSchemaAndChannel(t *testing.T) {
	u := newSchema(t)
	s := open(t, u)
	if !strings.HasPrefix(s.Schema(), "avow_t_") || s.Channel() != "avow_changes."+s.Schema() {
		t.Errorf("schema %q, channel %q", s.Schema(), s.Channel())
	}
}

// waitFor reads ch until it yields a value >= want, or fails after d.
func waitFor(t *testing.T, ch <-chan int64, want int64, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := time.After(d)
	for {
		select {
		case v, ok := <-ch:
			if !ok {
				t.Fatal("changes channel closed")
			}
			if v >= want {
				return time.Since(start)
			}
		case <-deadline:
			t.Fatalf("no notification of change version %d within %v", want, d)
		}
	}
}

func TestChangesNotify(t *testing.T) {
	u := newSchema(t)
	a, b := open(t, u), open(t, u)
	ch := b.Changes(t.Context())
	v0 := waitFor(t, ch, 0, 5*time.Second) // the first value: the current counter
	_ = v0
	if _, err := a.CreateProvider(t.Context(), store.Provider{Name: "n1", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	want, _ := a.ChangeVersion(t.Context())
	took := waitFor(t, ch, want, time.Second)
	t.Logf("notification after %v", took)

	// Audit appends and rolled-back changes do not notify.
	if err := a.AppendAudit(t.Context(), store.AuditEntry{Kind: store.AuditAttestation, Operation: "attest.x"}); err != nil {
		t.Fatal(err)
	}
	_ = a.WithTx(t.Context(), func(tx store.Tx) error {
		tx.CreateProvider(t.Context(), store.Provider{Name: "n2", TrustModel: store.TrustModelAAD})
		return errors.New("roll back")
	})
	select {
	case v := <-ch:
		t.Fatalf("notification %d without a change", v)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestChangesReconnect(t *testing.T) {
	u := newSchema(t)
	a, b := open(t, u), open(t, u)
	ch := b.Changes(t.Context())
	waitFor(t, ch, 0, 5*time.Second)
	// Drop the listener's connection, then change something while it is
	// away: after reconnecting it reports the current counter.
	pgxExec(t, u, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, "avow-notify:"+b.Schema())
	if _, err := a.CreateProvider(t.Context(), store.Provider{Name: "r1", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	want, _ := a.ChangeVersion(t.Context())
	took := waitFor(t, ch, want, 5*time.Second)
	t.Logf("current counter after reconnect within %v", took)
	// And notifications flow again.
	if _, err := a.CreateProvider(t.Context(), store.Provider{Name: "r2", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	want, _ = a.ChangeVersion(t.Context())
	waitFor(t, ch, want, time.Second)
}

func TestChangesClosed(t *testing.T) {
	u := newSchema(t)
	s, err := postgres.Open(t.Context(), u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	ch1 := s.Changes(ctx)
	ch2 := s.Changes(t.Context())
	cancel()
	drain := func(ch <-chan int64) {
		t.Helper()
		timeout := time.After(5 * time.Second)
		for {
			select {
			case _, ok := <-ch:
				if !ok {
					return
				}
			case <-timeout:
				t.Fatal("changes channel not closed")
			}
		}
	}
	drain(ch1)
	s.Close()
	drain(ch2)
}

func TestPoolBounded(t *testing.T) {
	u := newSchema(t)
	s, err := postgres.Open(t.Context(), u, postgres.Options{MaxConns: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				if _, err := s.ChangeVersion(t.Context()); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st := s.Stat(); st.TotalConns() > 3 {
		t.Errorf("pool has %d connections, bounded at 3", st.TotalConns())
	}
}
