package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/avowhq/avow/store"
)

var _ store.Leaser = (*Store)(nil)

// createLeases makes the lease table. It is created on first use rather
// than by a schema migration: a lease is coordination between running
// nodes, not data, and an older avow that does not know the table loses
// nothing.
const createLeases = `CREATE TABLE IF NOT EXISTS leases (
	name       TEXT    PRIMARY KEY,
	holder     TEXT    NOT NULL,
	expires_at INTEGER NOT NULL -- unix microseconds, UTC
) STRICT`

// TryLease implements store.Leaser on the write connection (BEGIN
// IMMEDIATE, so processes sharing the file take turns) with the process's
// clock: nodes sharing one SQLite file share a machine.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(holder) == "" {
		return false, store.ErrInvalid.Wrapf("lease name and holder are required")
	}
	if ttl < 0 {
		return false, store.ErrInvalid.Wrapf("negative lease duration")
	}
	now := time.Now().UTC()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return false, mapErr(ctx, err, "begin lease %s", name)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, createLeases); err != nil {
		return false, mapErr(ctx, err, "create lease table")
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		name, holder, now.Add(ttl).UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, mapErr(ctx, err, "take lease %s", name)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, mapErr(ctx, err, "take lease %s", name)
	}
	if err := tx.Commit(); err != nil {
		return false, mapErr(ctx, err, "commit lease %s", name)
	}
	return n == 1, nil
}
