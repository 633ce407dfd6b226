// Package postgres is avow's store for several nodes: PostgreSQL through
// pgx, with a bounded connection pool. It implements store.Store and
// store.Notifier.
//
// Every node opens the same database; schema migrations run on start under
// an advisory lock, so nodes starting at once apply each step once. Writes
// run in READ COMMITTED transactions; the invariants the suite checks (one
// active key per provider, unique case-insensitive names, optimistic
// versions) are the database's, through unique indexes, row locks and
// conditional updates. Every committed change to cached state bumps the
// change counter and sends NOTIFY in the same transaction, so other nodes
// drop their caches within milliseconds (see Store.Changes), with polling
// ChangeVersion as the fallback.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
)

// DefaultMaxConns is the pool size when Options.MaxConns is zero.
const DefaultMaxConns = 10

// ChannelPrefix names the NOTIFY channel of a schema: "avow_changes" in the
// public schema, "avow_changes.<schema>" in another, so that installations
// sharing a database do not wake each other.
const ChannelPrefix = "avow_changes"

// Options tune Open. The zero value is the default.
type Options struct {
	// MaxConns bounds the connection pool (default DefaultMaxConns). The
	// change listener uses one more connection.
	MaxConns int
	// Logger receives the listener's reconnection warnings.
	Logger *slog.Logger
}

// Store is the PostgreSQL store. It is safe for concurrent use.
type Store struct {
	reader // the read methods, on the pool

	pool    *pgxpool.Pool
	cfg     *pgxpool.Config
	schema  string
	channel string
	log     *slog.Logger

	stop    context.CancelFunc // stops the listeners
	stopCtx context.Context
}

var (
	_ store.Store    = (*Store)(nil)
	_ store.Notifier = (*Store)(nil)
)

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; search_path and other run-time parameters may be
// given in it), brings its schema up to date and returns the store.
func Open(ctx context.Context, url string, o Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// The parse error may quote the URL, password included: keep it out.
		return nil, store.ErrInvalid.Wrapf("postgres: the connection URL is not valid")
	}
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg.MaxConns = int32(o.MaxConns)
	cfg.MinConns = 0
	cfg.MaxConnIdleTime = 5 * time.Minute
	cfg.HealthCheckPeriod = 30 * time.Second
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "avow"
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, mapErr(ctx, err, "postgres: connect")
	}
	s := &Store{reader: reader{q: pool}, pool: pool, cfg: cfg, log: o.Logger}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
		pool.Close()
		return nil, mapErr(ctx, err, "postgres: current schema")
	}
	s.channel = channelName(s.schema)
	s.stopCtx, s.stop = context.WithCancel(context.Background())
	return s, nil
}

func channelName(schema string) string {
	if schema == "" || schema == "public" {
		return ChannelPrefix
	}
	c := ChannelPrefix + "." + schema
	if len(c) > 63 { // NAMEDATALEN - 1
		c = c[:63]
	}
	return c
}

// Channel returns the NOTIFY channel this store sends and listens on.
func (s *Store) Channel() string { return s.channel }

// Schema returns the schema the store's tables are in.
func (s *Store) Schema() string { return s.schema }

// Close stops the listeners and closes the pool.
func (s *Store) Close() error {
	s.stop()
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
		return mapErr(ctx, err, "ping")
	}
	return nil
}

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) { return schemaVersion(ctx, s.pool) }

// ChangeVersion returns the change counter.
func (s *Store) ChangeVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.pool.QueryRow(ctx, `SELECT version FROM change_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, mapErr(ctx, err, "read change version")
	}
	return v, nil
}

// WithTx runs fn in one READ COMMITTED transaction. Each write method fn
// calls runs in its own savepoint, so a method that fails has written
// nothing and leaves the transaction usable (PostgreSQL otherwise aborts a
// transaction on its first error).
func (s *Store) WithTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.withTx(ctx, true, func(t *tx) error { return fn(t) })
}

// bumpChange increases the change counter and notifies the listeners, in
// the committing transaction (NOTIFY is delivered on commit).
const bumpChange = `WITH v AS (UPDATE change_version SET version = version + 1 WHERE id = 1 RETURNING version)
	SELECT version, pg_notify($1, version::text) FROM v`

func (s *Store) withTx(ctx context.Context, savepoints bool, fn func(t *tx) error) error {
	pgTx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return mapErr(ctx, err, "begin")
	}
	t := &tx{reader: reader{q: pgTx}, pgTx: pgTx, savepoints: savepoints}
	committed := false
	defer func() {
		t.done = true
		if !committed {
			// Roll back also when ctx is cancelled or fn panicked.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_ = pgTx.Rollback(rctx)
			cancel()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.changed {
		var v int64
		if err := pgTx.QueryRow(ctx, bumpChange, s.channel).Scan(&v, new(any)); err != nil {
			return mapErr(ctx, err, "bump change version")
		}
	}
	if err := pgTx.Commit(ctx); err != nil {
		committed = true // Commit ends the transaction either way
		return store.ErrStore.Wrapf("commit: %w", causeOf(ctx, err))
	}
	committed = true
	return nil
}

// querier is what the pool and a transaction have in common.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func causeOf(ctx context.Context, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%w)", cerr, err)
	}
	return err
}

// mapErr turns a driver error into one of the store's errors: the cause
// keeps the detail for operators, the client-safe message is the
// sentinel's.
func mapErr(ctx context.Context, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var se *errs.Error
	if errors.As(err, &se) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound.Wrapf("%s", what)
	}
	if cerr := ctx.Err(); cerr != nil {
		return store.ErrStore.Wrapf("%s: %w", what, causeOf(ctx, err))
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "23505": // unique_violation
			return store.ErrConflict.Wrapf("%s: %w", what, err)
		case "23503": // foreign_key_violation
			return store.ErrNotFound.Wrapf("%s: %w", what, err)
		case "23514", "23502": // check_violation, not_null_violation
			return store.ErrInvalid.Wrapf("%s: %w", what, err)
		}
	}
	return store.ErrStore.Wrapf("%s: %w", what, err)
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Stat returns the connection pool's statistics.
func (s *Store) Stat() *pgxpool.Stat { return s.pool.Stat() }
