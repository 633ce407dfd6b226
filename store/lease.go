package store

import (
	"context"
	"time"
)

// Leaser is implemented by stores that grant named, time-limited leases,
// so that when several nodes share a store one of them does a periodic job
// (the collateral refresh) and the others stand by. It is optional: a
// service whose store has no Leaser (see LeaserOf) runs such jobs on every
// node.
//
// TryLease acquires or renews the lease name for holder until ttl from now
// on the store's clock (the database's, so that nodes with skewed clocks
// agree). It returns true when holder holds the lease after the call: the
// lease was free, had expired, or was already holder's (then renewed). It
// returns false, with a nil error, while another holder's lease has not
// expired. A holder gives its lease up with ttl 0. ErrInvalid for an empty
// name or holder or a negative ttl.
//
// store/sqlstore implements it for both SQL backends with one upsert of a
// leases row (the dialect's statement; PostgreSQL's, on the database's
// clock):
//
//	INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 microsecond')
//	ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
//		WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= now()
//	-- one row touched: holder holds the lease; none: someone else does
//
// Leases are not cached state: taking one does not move ChangeVersion.
type Leaser interface {
	TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
}

// LeaserOf returns s's Leaser, looking through wrappers that have an
// Unwrap() Store method (such as Instrument's).
func LeaserOf(s Store) (Leaser, bool) {
	for s != nil {
		if l, ok := s.(Leaser); ok {
			return l, true
		}
		u, ok := s.(interface{ Unwrap() Store })
		if !ok {
			return nil, false
		}
		s = u.Unwrap()
	}
	return nil, false
}
