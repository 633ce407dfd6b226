package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/avowhq/avow/store"
)

// Migrations are a backend's schema: one numbered step each (Steps[0] is
// unused), applied in order and never edited once released; a change is a
// new step at the end. The backends' steps differ in types but build the
// same logical schema.
type Migrations struct {
	Steps []string
	// VersionTable creates the schema_version table if it does not exist.
	VersionTable string
	// Lock, when set, runs first in every step's transaction (PostgreSQL:
	// an advisory lock; SQLite's BEGIN IMMEDIATE already excludes).
	Lock string
}

// Latest is the schema version the steps build.
func (m Migrations) Latest() int { return len(m.Steps) - 1 }

// Migrate applies the missing steps on db, each in its own transaction
// that first takes the lock and re-reads the version: when several nodes
// or processes open the same database at once, one applies a step and the
// others, waiting on the lock, then see it applied and skip it.
func Migrate(ctx context.Context, db *sql.DB, d Dialect, m Migrations) error {
	s := &Store{d: d, cfg: Config{Write: db}}
	for v := 1; v <= m.Latest(); v++ {
		if err := s.withTx(ctx, true, func(t *tx) error { return migrateStep(ctx, t.reader, m, v) }); err != nil {
			return err
		}
	}
	return nil
}

func migrateStep(ctx context.Context, r reader, m Migrations, v int) error {
	for _, q := range []string{m.Lock, m.VersionTable} {
		if q == "" {
			continue
		}
		if _, err := r.exec(ctx, "prepare migration", q); err != nil {
			return err
		}
	}
	cur, err := schemaVersion(ctx, r.s, r.q)
	switch {
	case err != nil:
		return err
	case cur > m.Latest():
		return store.ErrStore.Wrapf("database schema version %d is newer than this program's %d: upgrade avow", cur, m.Latest())
	case cur >= v:
		return nil
	case cur != v-1:
		return store.ErrStore.Wrapf("database schema version %d, cannot apply migration %d", cur, v)
	}
	// One Exec runs all of a step's statements (no arguments: pgx's
	// simple protocol; modernc's Exec runs every statement).
	if _, err := r.exec(ctx, fmt.Sprintf("migration %d", v), m.Steps[v]); err != nil {
		return err
	}
	_, err = r.exec(ctx, "record migration", r.s.d.Rebind(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`),
		v, r.s.ts(time.Now()))
	return err
}

// schemaVersion reads the applied schema version.
func schemaVersion(ctx context.Context, s *Store, q querier) (int, error) {
	var v int
	err := q.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&v)
	if err != nil {
		return 0, s.mapErr(ctx, err, "read schema version")
	}
	return v, nil
}
