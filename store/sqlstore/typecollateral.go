package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"

	"github.com/avowhq/avow/store"
)

const typeCollateralCols = `type, kind, key, data, sha256, not_after, fetched_at, source`

func scanTypeCollateral(sc scanner) (store.TypeCollateral, error) {
	var c store.TypeCollateral
	err := sc.Scan(&c.Type, &c.Kind, &c.Key, &c.Data, &c.SHA256, tsCol{&c.NotAfter}, tsCol{&c.FetchedAt}, &c.Source)
	return c, err
}

func (r reader) GetTypeCollateral(ctx context.Context, typ, kind, key string) (store.TypeCollateral, error) {
	return one(r, ctx, scanTypeCollateral, func() string { return "type collateral " + typ + "/" + kind + "/" + key },
		r.s.q.getTypeCollateral, typ, kind, key)
}

func (r reader) ListTypeCollateral(ctx context.Context, typ string) ([]store.TypeCollateral, error) {
	return list(r, ctx, "list type collateral", scanTypeCollateral, r.s.q.listTypeCollateral, typ, typ)
}

// PutTypeCollateral stores or replaces a row. It does not move the change
// counter (as in the backends it replaces).
func (w writer) PutTypeCollateral(ctx context.Context, c store.TypeCollateral) (store.TypeCollateral, error) {
	if err := c.Validate(); err != nil {
		return store.TypeCollateral{}, err
	}
	sum := sha256.Sum256(c.Data)
	c.SHA256 = hex.EncodeToString(sum[:])
	c.NotAfter, c.FetchedAt = store.Timestamp(c.NotAfter), store.TimestampOrNow(c.FetchedAt)
	err := w.step(ctx, false, func(r reader) error {
		_, err := r.exec(ctx, "put type collateral "+c.Type+"/"+c.Kind+"/"+c.Key, w.s.q.putTypeCollateral,
			c.Type, c.Kind, c.Key, c.Data, c.SHA256, w.s.nullTS(c.NotAfter), w.s.ts(c.FetchedAt), c.Source)
		return err
	})
	return only(c, err)
}
