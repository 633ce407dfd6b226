// Package sqlite is avow's embedded store: one SQLite file (WAL mode), no
// cgo (modernc.org/sqlite). It implements store.Store with store/sqlstore
// and SQLite's dialect.
//
// Writes go through a single connection whose transactions start with
// BEGIN IMMEDIATE, so writers in one process queue in Go and writers in
// other processes wait on SQLite's lock (busy_timeout); reads use a pool of
// query-only connections and never wait for writers (WAL).
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlstore"
)

// Options tune Open. The zero value is the default.
type Options struct {
	// BusyTimeout is how long a writer waits for another process's write
	// lock before failing with store_unavailable. Default 10s.
	BusyTimeout time.Duration
	// ReadConns is the size of the read connection pool. Default
	// max(4, GOMAXPROCS).
	ReadConns int
	// Durable selects synchronous=FULL: a commit survives power loss, at
	// the cost of an fsync per commit. The default, synchronous=NORMAL in
	// WAL mode, survives a crash of the process (kill -9) but may lose the
	// last commits on power loss; the database is never corrupted.
	Durable bool
}

// Store is the SQLite store. It is safe for concurrent use.
type Store struct {
	*sqlstore.Store

	path string
	w    *sql.DB // one connection: all writes
}

var _ store.Store = (*Store)(nil)

// Open opens (creating it with mode 0600 if needed) the database file at
// path and brings its schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenOptions(ctx, path, Options{})
}

// OpenOptions is Open with options.
func OpenOptions(ctx context.Context, path string, o Options) (*Store, error) {
	if path == "" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return nil, store.ErrInvalid.Wrapf("sqlite: path %q must be a plain file path", path)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = max(4, runtime.GOMAXPROCS(0))
	}
	// Create the file ourselves so that it, and the -wal and -shm files
	// SQLite derives from it, are private to the service's user.
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, store.ErrStore.Wrapf("sqlite: create %s: %w", path, err)
	}
	f.Close()

	syncMode := "NORMAL"
	if o.Durable {
		syncMode = "FULL"
	}
	busy := fmt.Sprint(o.BusyTimeout.Milliseconds())
	wq := url.Values{}
	wq.Add("_pragma", "busy_timeout("+busy+")")
	wq.Add("_pragma", "foreign_keys(1)")
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", "synchronous("+syncMode+")")
	wq.Set("_txlock", "immediate")
	// Switching a new file to WAL takes an exclusive lock that SQLite does
	// not wait for through busy_timeout, so nodes or processes opening the
	// same new file at once can see SQLITE_BUSY here: retry until the busy
	// timeout has passed.
	deadline := time.Now().Add(o.BusyTimeout)
	var w *sql.DB
	for {
		w, err = openWriter(ctx, path, wq)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, store.ErrStore.Wrapf("sqlite: open %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if err != nil {
		return nil, err
	}

	rq := url.Values{}
	rq.Add("_pragma", "busy_timeout("+busy+")")
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, store.ErrStore.Wrapf("sqlite: open %s: %w", path, err)
	}
	// Connections never expire (the default): their statements stay prepared.
	r.SetMaxOpenConns(o.ReadConns)
	r.SetMaxIdleConns(o.ReadConns)

	s := sqlstore.New(sqlstore.Config{Dialect: dialect{}, Write: w, Read: r, PrepareReads: true})
	return &Store{Store: s, path: path, w: w}, nil
}

// openWriter opens the single writer connection, checks WAL mode and
// applies the migrations.
func openWriter(ctx context.Context, path string, q url.Values) (*sql.DB, error) {
	w, err := sql.Open("sqlite", path+"?"+q.Encode())
	if err != nil {
		return nil, store.ErrStore.Wrapf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)

	var mode string
	if err := w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		w.Close()
		return nil, store.ErrStore.Wrapf("sqlite: open %s: %w", path, err)
	}
	if !strings.EqualFold(mode, "wal") {
		w.Close()
		return nil, store.ErrStore.Wrapf("sqlite: %s: journal mode is %q, not wal (is the file on a network file system?)", path, mode)
	}
	if err := sqlstore.Migrate(ctx, w, dialect{}, migrations); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

// isBusy reports whether err is SQLite's "database is locked".
func isBusy(err error) bool {
	var le *sqlite.Error
	return errors.As(err, &le) && le.Code()&0xff == sqlite3.SQLITE_BUSY
}

// Path returns the database file's path.
func (s *Store) Path() string { return s.path }

// Backup writes a consistent copy of the database to dest (which must not
// exist, or be empty) with VACUUM INTO while the store keeps serving. The
// copy is created with mode 0600 and is a self-contained database file.
func (s *Store) Backup(ctx context.Context, dest string) error {
	f, err := os.OpenFile(dest, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return store.ErrStore.Wrapf("sqlite: backup to %s: %w", dest, err)
	}
	f.Close()
	// VACUUM INTO reads through a read transaction; it needs a connection
	// that is not query-only (it writes the new file), but takes no write
	// lock on this database, so writers carry on.
	db, err := sql.Open("sqlite", s.path+"?_pragma=busy_timeout(10000)")
	if err != nil {
		os.Remove(dest)
		return store.ErrStore.Wrapf("sqlite: backup: %w", err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		os.Remove(dest)
		return s.MapErr(ctx, err, "sqlite: backup to %s", dest)
	}
	return nil
}

// dialect is SQLite's sqlstore.Dialect: ? placeholders, times as unix
// microseconds, COLLATE NOCASE name columns, one writer.
type dialect struct{}

func (dialect) Rebind(q string) string          { return q }
func (dialect) Time(t time.Time) any            { return t.UnixMicro() }
func (dialect) Fold(expr string) string         { return expr }
func (dialect) FoldOrder(expr string) string    { return expr }
func (dialect) InsertOrder(table string) string { return "rowid" }
func (dialect) Bool(v bool) string              { return map[bool]string{true: "1", false: "0"}[v] }

func (dialect) LockRow() string { return "" }
func (dialect) BumpChange() (string, []any) {
	return `UPDATE change_version SET version = version + 1 WHERE id = 1`, nil
}
func (dialect) LatestPerKey(table, key, cols string) string {
	return `SELECT ` + cols + ` FROM ` + table + ` WHERE id IN (SELECT max(id) FROM ` + table +
		` GROUP BY ` + key + `) ORDER BY ` + key
}

func (dialect) Lease(name, holder string, ttl time.Duration) (string, []any) {
	now := time.Now().UTC()
	return `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		[]any{name, holder, now.Add(ttl).UnixMicro(), now.UnixMicro()}
}

func (dialect) Classify(err error) *errs.Error {
	var le *sqlite.Error
	if !errors.As(err, &le) {
		return nil
	}
	switch le.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	case sqlite3.SQLITE_CONSTRAINT_CHECK, sqlite3.SQLITE_CONSTRAINT_NOTNULL:
		return store.ErrInvalid
	}
	return nil // SQLITE_BUSY and the rest: store_unavailable
}
