// Package sqlstore is avow's one SQL implementation of store.Store. The
// backends, store/sqlite and store/postgres, open their databases, apply
// their migrations (the same logical schema in each database's types) and
// hand sqlstore a Dialect: what differs between the databases, and only
// that. The queries, the input checks, the transactions and the mapping of
// driver errors to the store's errors are written once, here.
package sqlstore

import (
	"time"

	"github.com/avowhq/avow/errs"
)

// Dialect is what differs between the SQL databases avow runs on. Queries
// are written once, with ? placeholders, case-insensitive names through
// Fold and timestamps through Time; a Dialect renders them for its
// database.
type Dialect interface {
	// Rebind rewrites the ? placeholders of a query for the driver
	// (PostgreSQL: $1, $2…).
	Rebind(query string) string

	// Time encodes a non-zero, microsecond-truncated UTC time for a
	// timestamp column (SQLite: unix microseconds; PostgreSQL:
	// timestamptz). Columns are read back by a scanner that takes either.
	Time(t time.Time) any

	// Fold makes comparisons of expr ignore ASCII case (PostgreSQL:
	// lower(expr), matching its lower(...) indexes; SQLite: expr, its name
	// columns are COLLATE NOCASE). FoldOrder is the same for ORDER BY, in
	// byte order of the folded text.
	Fold(expr string) string
	FoldOrder(expr string) string

	// Bool is a boolean literal (SQLite: 1 or 0, which its partial
	// indexes on "active = 1" need; PostgreSQL: TRUE or FALSE).
	Bool(v bool) string

	// InsertOrder names the column that orders a table's rows by insertion
	// where the table has no integer key of its own ("signers",
	// "admin_tokens").
	InsertOrder(table string) string

	// LatestPerKey returns a query of cols from table's latest row (highest
	// id) of every value of key, ordered by key.
	LatestPerKey(table, key, cols string) string

	// LockRow is appended to the SELECT of a provider row that a write
	// builds on, so that concurrent writers from every node serialise on
	// it (PostgreSQL: FOR NO KEY UPDATE). Empty where the database has a
	// single writer (SQLite).
	LockRow() string

	// Classify maps a driver error to one of the store's sentinels
	// (store.ErrConflict for a unique violation or a serialization
	// failure, store.ErrNotFound for a foreign key violation,
	// store.ErrInvalid for a check or not-null violation), or nil: the
	// error is then store.ErrStore (a busy database, a lost connection…).
	Classify(err error) *errs.Error

	// BumpChange returns the statement that increases the change counter
	// in a committing transaction; it also announces the new value to
	// other nodes where the database can (PostgreSQL's NOTIFY, delivered
	// on commit).
	BumpChange() (query string, args []any)

	// Lease returns the statement of store.Leaser's TryLease, and its
	// arguments: an upsert of the lease row that touches the row when
	// holder takes or keeps the lease, on the clock the nodes share
	// (PostgreSQL: the database's; SQLite: the process's, as nodes sharing
	// one file share a machine).
	Lease(name, holder string, ttl time.Duration) (query string, args []any)
}
