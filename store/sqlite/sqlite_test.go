package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlite"
	"github.com/avowhq/avow/store/storetest"
)

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) store.Store {
		return open(t, filepath.Join(t.TempDir(), "avow.db"))
	})
}

func TestConformanceNodes(t *testing.T) {
	storetest.RunNodes(t, func(t testing.TB) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "avow.db")
		return open(t, path), open(t, path)
	})
}

func BenchmarkStore(b *testing.B) {
	storetest.Bench(b, func(t testing.TB) store.Store {
		return open(t, filepath.Join(t.TempDir(), "avow.db"))
	})
}

func TestFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "avow.db")
	s := open(t, path)
	if _, err := s.CreateProvider(t.Context(), store.Provider{Name: "p", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s has mode %o, want 600", filepath.Base(f), m)
		}
	}
}

func TestOpenBadPath(t *testing.T) {
	for _, p := range []string{"", ":memory:", "file:x.db", "a?b.db", filepath.Join(t.TempDir(), "missing-dir", "x.db")} {
		if s, err := sqlite.Open(t.Context(), p); err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", p)
		}
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "avow.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateProvider(ctx, store.Provider{Name: "kept", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	v1, _ := s.ChangeVersion(ctx)
	s.Close()
	for range 3 {
		s = open(t, path)
		v, err := s.SchemaVersion(ctx)
		if err != nil || v != sqlite.SchemaVersion {
			t.Fatalf("schema version %d, %v; want %d", v, err, sqlite.SchemaVersion)
		}
		if _, err := s.GetProvider(ctx, "kept"); err != nil {
			t.Fatal(err)
		}
		if v, _ := s.ChangeVersion(ctx); v != v1 {
			t.Fatalf("change version %d after reopen, want %d", v, v1)
		}
		s.Close()
	}
	// One schema_version row per migration.
	db := rawDB(t, path)
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM schema_version`).Scan(&n); err != nil || n != sqlite.SchemaVersion {
		t.Fatalf("schema_version has %d rows (%v), want %d", n, err, sqlite.SchemaVersion)
	}
}

func rawDB(t *testing.T, path string) *sql.DB {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "avow.db")
	open(t, path).Close()
	db := rawDB(t, path)
	if _, err := db.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (?, 0)`, sqlite.SchemaVersion+1); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(t.Context(), path)
	if !errors.Is(err, store.ErrStore) || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a newer schema: %v", err)
	}
}

func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "avow.db")
	const n = 8
	var wg sync.WaitGroup
	errc := make(chan error, n)
	stores := make(chan *sqlite.Store, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := sqlite.Open(context.Background(), path)
			if err != nil {
				errc <- err
				return
			}
			stores <- s
		}()
	}
	wg.Wait()
	close(errc)
	close(stores)
	for err := range errc {
		t.Fatal(err)
	}
	for s := range stores {
		if v, err := s.SchemaVersion(t.Context()); err != nil || v != sqlite.SchemaVersion {
			t.Errorf("schema version %d, %v", v, err)
		}
		s.Close()
	}
}

// TestTwoProcesses opens one new database from several processes at once
// (the test binary re-executed), each creating the same providers: the
// schema is applied once and every name has exactly one winner.
func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	path := filepath.Join(t.TempDir(), "avow.db")
	const procs = 3
	var wg sync.WaitGroup
	outs := make([]string, procs)
	errs := make([]error, procs)
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
			cmd.Env = append(os.Environ(), "AVOW_SQLITE_HELPER="+path)
			out, err := cmd.CombinedOutput()
			outs[i], errs[i] = string(out), err
		}()
	}
	wg.Wait()
	wins := map[string]int{}
	for i := range procs {
		if errs[i] != nil {
			t.Fatalf("process %d: %v\n%s", i, errs[i], outs[i])
		}
		for _, line := range strings.Split(outs[i], "\n") {
			if name, ok := strings.CutPrefix(line, "won "); ok {
				wins[name]++
			}
		}
	}
	s := open(t, path)
	ps, err := s.ListProviders(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 10 || len(wins) != 10 {
		t.Fatalf("%d providers, %d won names; want 10", len(ps), len(wins))
	}
	for name, n := range wins {
		if n != 1 {
			t.Errorf("%s won %d times", name, n)
		}
	}
}

func TestHelperProcess(t *testing.T) {
	path := os.Getenv("AVOW_SQLITE_HELPER")
	if path == "" {
		t.Skip("helper for TestTwoProcesses")
	}
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 10 {
		name := fmt.Sprintf("proc-%d", i)
		_, err := s.CreateProvider(context.Background(), store.Provider{Name: name, TrustModel: store.TrustModelAAD})
		switch {
		case err == nil:
			fmt.Printf("won %s\n", name)
		case errors.Is(err, store.ErrConflict):
		default:
			t.Fatal(err)
		}
	}
}

func TestForeignKeysAndCascade(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "avow.db")
	s := open(t, path)
	if _, err := s.CreateProvider(ctx, store.Provider{Name: "p", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RotateKey(ctx, "p", store.SigningKey{KID: "k", SealedKey: []byte{1}, Certificate: []byte{2}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProvider(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM signing_keys`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d orphan keys (%v)", n, err)
	}
}

// TestBackupWhileWriting copies the database with VACUUM INTO while a
// writer goes on; the copy opens as a store and holds a consistent state.
func TestBackupWhileWriting(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := open(t, filepath.Join(dir, "avow.db"))
	if _, err := s.CreateProvider(ctx, store.Provider{Name: "p", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- nil
				return
			default:
			}
			err := s.WithTx(ctx, func(tx store.Tx) error {
				if _, err := tx.SetPolicy(ctx, store.Policy{Provider: "p", AttestationType: "SgxEnclave", Document: fmt.Sprint(i)}); err != nil {
					return err
				}
				return tx.AppendAudit(ctx, store.AuditEntry{Kind: store.AuditManagement, Operation: "policy.set", Provider: "p"})
			})
			if err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(20 * time.Millisecond)
	dest := filepath.Join(dir, "backup.db")
	if err := s.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	close(stop)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, dest); err == nil {
		t.Error("backup over an existing file succeeded")
	}
	if fi, err := os.Stat(dest); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode: %v %v", fi.Mode(), err)
	}
	b := open(t, dest)
	pol, err := b.GetPolicy(ctx, "p", "SgxEnclave")
	if err != nil {
		t.Fatal(err)
	}
	// Each policy set was written with one audit entry in one
	// transaction: the copy has exactly as many entries as sets.
	entries, err := b.ListAudit(ctx, store.AuditFilter{Limit: store.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(entries)) != pol.Version {
		t.Fatalf("backup has policy version %d but %d audit entries", pol.Version, len(entries))
	}
	t.Logf("backup taken at policy version %d", pol.Version)
}

// TestDriverErrorsWrapped: a driver failure is store_unavailable with a
// client-safe message; the cause keeps the detail.
func TestDriverErrorsWrapped(t *testing.T) {
	ctx := t.Context()
	s := open(t, filepath.Join(t.TempDir(), "avow.db"))
	s.Close()
	_, err := s.GetProvider(ctx, "x")
	if !errors.Is(err, store.ErrStore) {
		t.Fatalf("read on a closed store: %v", err)
	}
	_, err = s.CreateProvider(ctx, store.Provider{Name: "x", TrustModel: store.TrustModelAAD})
	if !errors.Is(err, store.ErrStore) {
		t.Fatalf("write on a closed store: %v", err)
	}
}

// TestBusyTimeout: a writer in another process (here: another Store on the
// same file) holding the write lock past the busy timeout makes a write
// fail with store_unavailable, and leaves nothing behind.
func TestBusyTimeout(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "avow.db")
	a := open(t, path)
	b, err := sqlite.OpenOptions(ctx, path, sqlite.Options{BusyTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	locked := make(chan struct{})
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- a.WithTx(ctx, func(tx store.Tx) error {
			if _, err := tx.CreateProvider(ctx, store.Provider{Name: "holder", TrustModel: store.TrustModelAAD}); err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	start := time.Now()
	_, err = b.CreateProvider(ctx, store.Provider{Name: "waiter", TrustModel: store.TrustModelAAD})
	waited := time.Since(start)
	// Reads do not wait for the writer (WAL): they see the last commit.
	if ps, rerr := b.ListProviders(ctx); rerr != nil || len(ps) != 0 {
		t.Errorf("read during a write: %d providers, %v", len(ps), rerr)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !errors.Is(err, store.ErrStore) {
		t.Fatalf("write while locked: %v", err)
	}
	if waited < 90*time.Millisecond {
		t.Errorf("gave up after %v, before the busy timeout", waited)
	}
	// The lock holder's write landed.
	if _, err := b.GetProvider(ctx, "holder"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetProvider(ctx, "waiter"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("failed write left %v", err)
	}
	// And b writes again once the lock is free.
	if _, err := b.CreateProvider(ctx, store.Provider{Name: "waiter", TrustModel: store.TrustModelAAD}); err != nil {
		t.Fatal(err)
	}
}
