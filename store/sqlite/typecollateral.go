package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"

	"github.com/avowhq/avow/store"
)

const typeCollateralCols = `type, kind, key, data, sha256, not_after, fetched_at, source`

func scanTypeCollateral(sc scanner) (store.TypeCollateral, error) {
	var (
		c       store.TypeCollateral
		notAft  sql.NullInt64
		fetched int64
	)
	if err := sc.Scan(&c.Type, &c.Kind, &c.Key, &c.Data, &c.SHA256, &notAft, &fetched, &c.Source); err != nil {
		return c, err
	}
	c.NotAfter = fromNullMicros(notAft)
	c.FetchedAt = fromMicros(fetched)
	return c, nil
}

func (r reader) GetTypeCollateral(ctx context.Context, typ, kind, key string) (store.TypeCollateral, error) {
	what := "type collateral " + typ + "/" + kind + "/" + key
	c, err := scanTypeCollateral(r.q.QueryRowContext(ctx, `SELECT `+typeCollateralCols+` FROM type_collateral
		WHERE type = ? AND kind = ? AND key = ?`, typ, kind, key))
	if err != nil {
		return store.TypeCollateral{}, mapErr(ctx, err, "%s", what)
	}
	return c, nil
}

func (r reader) ListTypeCollateral(ctx context.Context, typ string) ([]store.TypeCollateral, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+typeCollateralCols+` FROM type_collateral
		WHERE ? = '' OR type = ? ORDER BY type, kind, key`, typ, typ)
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
	_, err := t.sqlTx.ExecContext(ctx, `INSERT INTO type_collateral (`+typeCollateralCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (type, kind, key) DO UPDATE SET data = excluded.data, sha256 = excluded.sha256,
		not_after = excluded.not_after, fetched_at = excluded.fetched_at, source = excluded.source`,
		c.Type, c.Kind, c.Key, c.Data, c.SHA256, toNullMicros(c.NotAfter), toMicros(c.FetchedAt), c.Source)
	if err != nil {
		return store.TypeCollateral{}, mapErr(ctx, err, "put type collateral %s/%s/%s", c.Type, c.Kind, c.Key)
	}
	return c, nil
}

func (s *Store) PutTypeCollateral(ctx context.Context, c store.TypeCollateral) (out store.TypeCollateral, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.PutTypeCollateral(ctx, c); return err })
	return out, err
}
