package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/avowhq/avow/store"
)

var _ store.Leaser = (*Store)(nil)

// TryLease implements store.Leaser in one statement on the write
// connection with the process's clock: nodes sharing one SQLite file share
// a machine.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(holder) == "" {
		return false, store.ErrInvalid.Wrapf("lease name and holder are required")
	}
	if ttl < 0 {
		return false, store.ErrInvalid.Wrapf("negative lease duration")
	}
	now := time.Now().UTC()
	res, err := s.w.ExecContext(ctx, `INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at <= ?`,
		name, holder, now.Add(ttl).UnixMicro(), now.UnixMicro())
	if err != nil {
		return false, s.MapErr(ctx, err, "take lease %s", name)
	}
	n, err := res.RowsAffected()
	return n == 1, s.MapErr(ctx, err, "take lease %s", name)
}
