package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/avowhq/avow/store"
)

const typeCollateralCols = `type, kind, key, data, sha256, not_after, fetched_at, source`

type rowScanner interface{ Scan(dest ...any) error }

func scanTypeCollateral(sc rowScanner) (store.TypeCollateral, error) {
	var (
		c       store.TypeCollateral
		notAft  pgtype.Timestamptz
		fetched time.Time
	)
	if err := sc.Scan(&c.Type, &c.Kind, &c.Key, &c.Data, &c.SHA256, &notAft, &fetched, &c.Source); err != nil {
		return c, err
	}
	c.NotAfter = fromTS(notAft)
	c.FetchedAt = fetched.UTC()
	return c, nil
}

func (r reader) GetTypeCollateral(ctx context.Context, typ, kind, key string) (store.TypeCollateral, error) {
	c, err := scanTypeCollateral(r.q.QueryRow(ctx, `SELECT `+typeCollateralCols+` FROM type_collateral
		WHERE type = $1 AND kind = $2 AND key = $3`, typ, kind, key))
	if err != nil {
		return store.TypeCollateral{}, mapErr(ctx, err, "type collateral %s/%s/%s", typ, kind, key)
	}
	return c, nil
}

func (r reader) ListTypeCollateral(ctx context.Context, typ string) ([]store.TypeCollateral, error) {
	rows, err := r.q.Query(ctx, `SELECT `+typeCollateralCols+` FROM type_collateral
		WHERE $1 = '' OR type = $1 ORDER BY type, kind, key`, typ)
	if err != nil {
		return nil, mapErr(ctx, err, "list type collateral")
	}
	defer rows.Close()
	var out []store.TypeCollateral
	for rows.Next() {
		c, err := scanTypeCollateral(rows)
		if err != nil {
			return nil, mapErr(ctx, err, "list type collateral")
		}
		out = append(out, c)
	}
	return out, mapErr(ctx, rows.Err(), "list type collateral")
}

func (t *tx) PutTypeCollateral(ctx context.Context, c store.TypeCollateral) (store.TypeCollateral, error) {
	if err := t.check(); err != nil {
		return store.TypeCollateral{}, err
	}
	if err := c.Validate(); err != nil {
		return store.TypeCollateral{}, err
	}
	sum := sha256.Sum256(c.Data)
	c.SHA256 = hex.EncodeToString(sum[:])
	c.NotAfter = store.Timestamp(c.NotAfter)
	c.FetchedAt = store.TimestampOrNow(c.FetchedAt)
	err := t.step(ctx, false, func() error {
		_, err := t.pgTx.Exec(ctx, `INSERT INTO type_collateral (`+typeCollateralCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (type, kind, key) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256,
			not_after = excluded.not_after, fetched_at = excluded.fetched_at, source = excluded.source`,
			c.Type, c.Kind, c.Key, c.Data, c.SHA256, nullTS(c.NotAfter), c.FetchedAt, c.Source)
		return mapErr(ctx, err, "put type collateral %s/%s/%s", c.Type, c.Kind, c.Key)
	})
	if err != nil {
		return store.TypeCollateral{}, err
	}
	return c, nil
}

func (s *Store) PutTypeCollateral(ctx context.Context, c store.TypeCollateral) (out store.TypeCollateral, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.PutTypeCollateral(ctx, c); return err })
	return out, err
}
