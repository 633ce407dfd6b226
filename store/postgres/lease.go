package postgres

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/avowhq/avow/store"
)

var _ store.Leaser = (*Store)(nil)

// TryLease implements store.Leaser in one statement on the database's
// clock, so nodes with skewed clocks agree. Leases are not cached state:
// taking one does not move ChangeVersion.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(holder) == "" {
		return false, store.ErrInvalid.Wrapf("lease name and holder are required")
	}
	if ttl < 0 {
		return false, store.ErrInvalid.Wrapf("negative lease duration")
	}
	var got string
	err := s.db.QueryRowContext(ctx, `INSERT INTO leases (name, holder, expires_at)
		VALUES ($1, $2, now() + $3 * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
			WHERE leases.holder = excluded.holder OR leases.expires_at <= now()
		RETURNING holder`, name, holder, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, s.MapErr(ctx, err, "take lease %s", name)
}
