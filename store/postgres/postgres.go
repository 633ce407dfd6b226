// Package postgres is avow's store for several nodes: PostgreSQL through
// pgx, with a bounded connection pool. It implements store.Store and
// store.Notifier with store/sqlstore (through pgx's database/sql adapter
// over the pool) and PostgreSQL's dialect.
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
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/store/sqlstore"
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
	*sqlstore.Store

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
		return nil, store.ErrStore.Wrapf("postgres: connect: %w", err)
	}
	// database/sql over the pool, which bounds the connections:
	// database/sql borrows them and keeps the idle ones (as many as the
	// pool allows, for as long as the pool would), so that an operation
	// does not acquire one from the pool.
	db := sql.OpenDB(stdlib.GetPoolConnector(pool))
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	db.SetConnMaxLifetime(cfg.MaxConnLifetime)
	s := &Store{pool: pool, cfg: cfg, log: o.Logger}
	if err = db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&s.schema); err != nil {
		err = store.ErrStore.Wrapf("postgres: connect: %w", err)
	} else {
		err = sqlstore.Migrate(ctx, db, dialect{}, migrations)
	}
	if err != nil {
		db.Close()
		pool.Close()
		return nil, err
	}
	s.channel = channelName(s.schema)
	s.Store = sqlstore.New(sqlstore.Config{Dialect: dialect{channel: s.channel}, Write: db,
		TxOptions: &sql.TxOptions{Isolation: sql.LevelReadCommitted}})
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
	defer s.pool.Close()
	return s.Store.Close()
}

// quoteIdent quotes an SQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Stat returns the connection pool's statistics.
func (s *Store) Stat() *pgxpool.Stat { return s.pool.Stat() }

// dialect is PostgreSQL's sqlstore.Dialect: $n placeholders, timestamptz,
// lower(name) indexes, row locks, NOTIFY on the store's channel.
type dialect struct{ channel string }

func (dialect) Rebind(q string) string       { return sqlstore.RebindDollar(q) }
func (dialect) Time(t time.Time) any         { return t }
func (dialect) Fold(expr string) string      { return "lower(" + expr + ")" }
func (dialect) FoldOrder(expr string) string { return "lower(" + expr + `) COLLATE "C"` }
func (dialect) Bool(v bool) string           { return map[bool]string{true: "TRUE", false: "FALSE"}[v] }

func (dialect) LockRow() string { return "FOR NO KEY UPDATE" }

func (dialect) InsertOrder(table string) string {
	if table == "admin_tokens" {
		return "seq"
	}
	return "id"
}

func (dialect) LatestPerKey(table, key, cols string) string {
	return `SELECT DISTINCT ON (` + key + `) ` + cols + ` FROM ` + table + ` ORDER BY ` + key + `, id DESC`
}

// BumpChange notifies the listeners in the committing transaction (NOTIFY
// is delivered on commit).
func (d dialect) BumpChange() (string, []any) {
	return `WITH v AS (UPDATE change_version SET version = version + 1 WHERE id = 1 RETURNING version)
	SELECT pg_notify($1, version::text) FROM v`, []any{d.channel}
}

func (dialect) Lease(name, holder string, ttl time.Duration) (string, []any) {
	return `INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= now()`,
		[]any{name, holder, ttl.Microseconds()}
}

func (dialect) Classify(err error) *errs.Error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case "23505", "40001", "40P01": // unique_violation, serialization_failure, deadlock_detected
		return store.ErrConflict
	case "23503": // foreign_key_violation
		return store.ErrNotFound
	case "23514", "23502": // check_violation, not_null_violation
		return store.ErrInvalid
	}
	return nil
}
