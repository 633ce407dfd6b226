package sqlstore

import (
	"context"
	"database/sql"
	"strings"
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
	s := &Store{d: d}
	for v := 1; v <= m.Latest(); v++ {
		if err := migrateStep(ctx, s, db, m, v); err != nil {
			return err
		}
	}
	return nil
}

func migrateStep(ctx context.Context, s *Store, db *sql.DB, m Migrations, v int) (err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return s.mapErr(ctx, err, "begin migration %d", v)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	for _, q := range []string{m.Lock, m.VersionTable} {
		if q == "" {
			continue
		}
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return s.mapErr(ctx, err, "prepare migration %d", v)
		}
	}
	cur, err := schemaVersion(ctx, s, tx)
	if err != nil {
		return err
	}
	if cur > m.Latest() {
		return store.ErrStore.Wrapf("database schema version %d is newer than this program's %d: upgrade avow", cur, m.Latest())
	}
	if cur >= v {
		return tx.Commit()
	}
	if cur != v-1 {
		return store.ErrStore.Wrapf("database schema version %d, cannot apply migration %d", cur, v)
	}
	for _, stmt := range splitSQL(m.Steps[v]) {
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return s.mapErr(ctx, err, "migration %d", v)
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.Rebind(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`),
		v, s.ts(time.Now())); err != nil {
		return s.mapErr(ctx, err, "record migration %d", v)
	}
	if err := tx.Commit(); err != nil {
		return s.mapErr(ctx, err, "commit migration %d", v)
	}
	return nil
}

// splitSQL splits a migration into statements at semicolons that end a
// line, without -- comments. Migrations contain no triggers or literals
// with ";\n" or "--".
func splitSQL(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ";\n") {
		var b strings.Builder
		for _, line := range strings.Split(part, "\n") {
			if i := strings.Index(line, "--"); i >= 0 {
				line = line[:i]
			}
			if strings.TrimSpace(line) != "" {
				b.WriteString(line)
				b.WriteByte('\n')
			}
		}
		if st := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(b.String()), ";")); st != "" {
			out = append(out, st)
		}
	}
	return out
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
