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
	"github.com/jackc/pgx/v5/pgconn"

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

// Two nodes share a lease: the holder renews it, nobody else gets it until
// it is given up (ttl 0) or expires; of many racing for a free lease, one
// wins.
func TestLease(t *testing.T) {
	ctx := t.Context()
	u := newSchema(t)
	a, b := open(t, u), open(t, u)
	v0, _ := a.ChangeVersion(ctx)
	step := func(s *postgres.Store, holder string, ttl time.Duration, want bool) {
		t.Helper()
		got, err := s.TryLease(ctx, "collateral-refresh", holder, ttl)
		if err != nil || got != want {
			t.Fatalf("TryLease(%s, %s) = %v, %v; want %v", holder, ttl, got, err, want)
		}
	}
	step(a, "node-a", time.Hour, true)
	step(b, "node-b", time.Hour, false)
	step(a, "node-a", time.Hour, true) // renewal
	step(b, "node-b", time.Hour, false)
	step(a, "node-a", 0, true) // given up
	step(b, "node-b", 50*time.Millisecond, true)
	step(a, "node-a", time.Hour, false)
	time.Sleep(100 * time.Millisecond) // b's lease expires
	step(a, "node-a", time.Hour, true)
	if v, _ := a.ChangeVersion(ctx); v != v0 {
		t.Errorf("leases moved the change version: %d → %d", v0, v)
	}
	if _, err := a.TryLease(ctx, "", "x", time.Hour); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("empty name: %v", err)
	}
	if _, err := a.TryLease(ctx, "x", "x", -time.Second); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("negative ttl: %v", err)
	}
	wrapped := store.Instrument(a, func(string, time.Duration, error) {})
	if l, ok := store.LeaserOf(wrapped); !ok || l != store.Leaser(a) {
		t.Errorf("LeaserOf(Instrument(a)) = %v, %v", l, ok)
	}
	if _, ok := wrapped.(store.Notifier); !ok {
		t.Error("Instrument(a) lost the change notifications")
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	winners := 0
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			ok, err := s.TryLease(ctx, "race", fmt.Sprint("node-", i), time.Hour)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				winners++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if winners != 1 {
		t.Errorf("%d nodes hold the lease", winners)
	}
}

// TestDriverTextHidden: a unique violation the database raises is
// store.ErrConflict whose text (what an API body shows of a 4xx) has no
// driver text; the driver's error stays reachable through errors.As.
func TestDriverTextHidden(t *testing.T) {
	u := newSchema(t)
	s := open(t, u)
	pgxExec(t, u, `CREATE UNIQUE INDEX test_one_document ON policies (document)`)
	ctx := t.Context()
	if _, err := s.CreateProvider(ctx, store.Provider{Name: "p", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SetPolicy(ctx, store.Policy{Provider: "p", AttestationType: "SgxEnclave", Document: "same"}); err != nil {
		t.Fatal(err)
	}
	_, err := s.SetPolicy(ctx, store.Policy{Provider: "p", AttestationType: "TdxVm", Document: "same"})
	var pe *pgconn.PgError
	if !errors.Is(err, store.ErrConflict) || !errors.As(err, &pe) || pe.Code != "23505" {
		t.Fatalf("unique violation: %v", err)
	}
	for _, leak := range []string{"duplicate", "test_one_document", "23505", "SQLSTATE"} {
		if strings.Contains(err.Error(), leak) {
			t.Errorf("%q shows the driver's text %q", err, leak)
		}
	}
	// In a caller's transaction the failed write is undone and the
	// transaction goes on.
	err = s.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.SetPolicy(ctx, store.Policy{Provider: "p", AttestationType: "TdxVm", Document: "same"}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("in a transaction: %v", err)
		}
		_, err := tx.SetPolicy(ctx, store.Policy{Provider: "p", AttestationType: "TdxVm", Document: "other"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
