package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/avowhq/avow/store"
)

// writer implements store.Writer. On a Store (tx nil) every method runs in
// a transaction of its own; in a caller's WithTx each runs in a savepoint
// of the caller's transaction. Every method checks its input before it
// writes, and one that fails has written nothing.
type writer struct {
	s  *Store
	tx *tx // nil on the Store
}

// tx implements store.Tx: the reads and writes of one transaction.
type tx struct {
	reader
	writer
	sqlTx  *sql.Tx
	auto   bool // one Store method's own transaction: no savepoints
	change bool // a cached-state change: bump change_version on commit
	done   bool
}

// step runs the SQL of one write method with a reader on its transaction:
// a new one on the Store, the caller's in a savepoint otherwise. changes
// reports whether a success changes cached state.
func (w writer) step(ctx context.Context, changes bool, fn func(r reader) error) error {
	t := w.tx
	if t == nil {
		return w.s.withTx(ctx, true, func(t *tx) error { return t.run(ctx, changes, fn) })
	}
	if t.done {
		return store.ErrStore.Wrapf("transaction used after WithTx returned")
	}
	return t.run(ctx, changes, fn)
}

func (t *tx) run(ctx context.Context, changes bool, fn func(r reader) error) error {
	if !t.auto {
		if _, err := t.sqlTx.ExecContext(ctx, `SAVEPOINT avow_step`); err != nil {
			return t.reader.s.mapErr(ctx, err, "savepoint")
		}
	}
	if err := fn(t.reader); err != nil {
		if !t.auto {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _ = t.sqlTx.ExecContext(rctx, `ROLLBACK TO SAVEPOINT avow_step`)
		}
		return err
	}
	if !t.auto {
		if _, err := t.sqlTx.ExecContext(ctx, `RELEASE SAVEPOINT avow_step`); err != nil {
			return t.reader.s.mapErr(ctx, err, "release savepoint")
		}
	}
	t.change = t.change || changes
	return nil
}

// only returns v, or the zero value with a non-nil err.
func only[T any](v T, err error) (T, error) {
	if err != nil {
		var zero T
		return zero, err
	}
	return v, nil
}

func (r reader) exec(ctx context.Context, what, q string, args ...any) (int64, error) {
	res, err := r.q.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, r.s.mapErr(ctx, err, "%s", what)
	}
	n, err := res.RowsAffected()
	return n, r.s.mapErr(ctx, err, "%s", what)
}

// execOne is exec for a statement that must touch a row: none is err.
func (r reader) execOne(ctx context.Context, err error, what, q string, args ...any) error {
	n, xerr := r.exec(ctx, what, q, args...)
	if xerr == nil && n == 0 {
		return err
	}
	return xerr
}

func (w writer) CreateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	if err := p.Validate(); err != nil {
		return out, err
	}
	args, err := store.ProviderColumns(&p)
	if err != nil {
		return out, err
	}
	p.CreatedAt = store.TimestampOrNow(p.CreatedAt)
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	args = append(append([]any{p.Name}, args...), w.s.ts(p.CreatedAt), w.s.ts(p.UpdatedAt))
	err = w.step(ctx, true, func(r reader) error {
		out, err = scanProvider(r.q.QueryRowContext(ctx, w.s.q.createProvider, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrConflict.Wrapf("provider %q exists", p.Name)
		}
		return w.s.mapErr(ctx, err, "create provider %q", p.Name)
	})
	return out, err
}

func (w writer) UpdateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	if err := p.Validate(); err != nil {
		return out, err
	}
	args, err := store.ProviderColumns(&p)
	if err != nil {
		return out, err
	}
	args = append(args, w.s.ts(store.TimestampOrNow(p.UpdatedAt)), p.Name, p.Version)
	err = w.step(ctx, true, func(r reader) error {
		out, err = scanProvider(r.q.QueryRowContext(ctx, w.s.q.updateProvider, args...))
		if errors.Is(err, sql.ErrNoRows) {
			cur, gerr := r.GetProvider(ctx, p.Name)
			if gerr != nil {
				return gerr
			}
			return store.ErrConflict.Wrapf("provider %q is at version %d, not %d", cur.Name, cur.Version, p.Version)
		}
		return w.s.mapErr(ctx, err, "update provider %q", p.Name)
	})
	return out, err
}

func (w writer) DeleteProvider(ctx context.Context, name string) error {
	return w.step(ctx, true, func(r reader) error {
		return r.execOne(ctx, store.ErrNotFound.Wrapf("provider %q", name), "delete provider "+name, w.s.q.deleteProvider, name)
	})
}

func (w writer) SetPolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	if err := p.Validate(); err != nil {
		return store.Policy{}, err
	}
	p.UpdatedAt = store.TimestampOrNow(p.UpdatedAt)
	hash := p.Hash
	if hash == nil {
		hash = []byte{}
	}
	var signer any
	if len(p.SignerCert) > 0 {
		signer = p.SignerCert
	}
	err := w.step(ctx, true, func(r reader) error {
		pid, pname, err := r.providerID(ctx, p.Provider, false)
		if err != nil {
			return err
		}
		p.Provider = pname
		var row *sql.Row
		if p.Version == 0 {
			// Unconditional: insert, or replace and bump atomically.
			row = r.q.QueryRowContext(ctx, w.s.q.upsertPolicy,
				pid, p.AttestationType, p.Document, p.Text, hash, signer, w.s.ts(p.UpdatedAt))
		} else {
			// Conditional: only over the version the caller read; a
			// missing policy has version 0, so this finds no row either.
			row = r.q.QueryRowContext(ctx, w.s.q.updatePolicy,
				p.Document, p.Text, hash, signer, w.s.ts(p.UpdatedAt), pid, p.AttestationType, p.Version)
		}
		err = row.Scan(&p.AttestationType, &p.Version)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrConflict.Wrapf("policy %s of %q is not at version %d", p.AttestationType, pname, p.Version)
		}
		return w.s.mapErr(ctx, err, "set policy %s of %q", p.AttestationType, pname)
	})
	p.Hash, p.SignerCert = nilIfEmpty(p.Hash), nilIfEmpty(p.SignerCert)
	return only(p, err)
}

func (w writer) DeletePolicy(ctx context.Context, provider, typ string) error {
	return w.step(ctx, true, func(r reader) error {
		pid, pname, err := r.providerID(ctx, provider, false)
		if err != nil {
			return err
		}
		return r.execOne(ctx, store.ErrNotFound.Wrapf("policy %s of provider %q", typ, pname),
			"delete policy", w.s.q.deletePolicy, pid, typ)
	})
}

func (w writer) AddSigner(ctx context.Context, s store.Signer) (store.Signer, error) {
	if len(s.Certificate) == 0 {
		return store.Signer{}, store.ErrInvalid.Wrapf("signer certificate is empty")
	}
	s.Thumbprint, s.AddedAt = store.Thumbprint(s.Certificate), store.TimestampOrNow(s.AddedAt)
	err := w.step(ctx, true, func(r reader) error {
		pid, pname, err := r.providerID(ctx, s.Provider, false)
		if err != nil {
			return err
		}
		s.Provider = pname
		return r.execOne(ctx, store.ErrConflict.Wrapf("provider %q already has signer %s", pname, s.Thumbprint),
			"add signer "+s.Thumbprint+" to "+pname, w.s.q.addSigner, pid, s.Thumbprint, s.Certificate, w.s.ts(s.AddedAt))
	})
	return only(s, err)
}

func (w writer) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	return w.step(ctx, true, func(r reader) error {
		pid, pname, err := r.providerID(ctx, provider, false)
		if err != nil {
			return err
		}
		return r.execOne(ctx, store.ErrNotFound.Wrapf("signer %s of provider %q", thumbprint, pname),
			"remove signer", w.s.q.removeSigner, pid, strings.ToLower(thumbprint))
	})
}

func (w writer) RotateKey(ctx context.Context, provider string, k store.SigningKey, retireAt time.Time) (store.SigningKey, error) {
	if err := k.Validate(); err != nil {
		return store.SigningKey{}, err
	}
	k.CreatedAt, k.RetiredAt, k.Active = store.TimestampOrNow(k.CreatedAt), time.Time{}, true
	if retireAt.IsZero() {
		retireAt = k.CreatedAt
	}
	err := w.step(ctx, true, func(r reader) error {
		// Lock the provider row: concurrent rotations (from any node)
		// serialise here instead of failing on the one-active-key index.
		pid, pname, err := r.providerID(ctx, provider, true)
		if err != nil {
			return err
		}
		k.Provider = pname
		// Check the KID first: once the current key is retired, the
		// insert must not fail on something we could have seen.
		var dup int
		if err := r.q.QueryRowContext(ctx, w.s.q.keyExists, pid, k.KID).Scan(&dup); err != nil {
			return w.s.mapErr(ctx, err, "rotate key of %q", pname)
		}
		if dup > 0 {
			return store.ErrConflict.Wrapf("provider %q already has a key %q", pname, k.KID)
		}
		if _, err := r.exec(ctx, "retire key of "+pname, w.s.q.retireKey, w.s.ts(retireAt), pid); err != nil {
			return err
		}
		_, err = r.exec(ctx, "insert key of "+pname, w.s.q.insertKey,
			pid, k.KID, k.SealedKey, k.Certificate, w.s.ts(k.CreatedAt))
		return err
	})
	return only(k, err)
}

func (w writer) PruneRetiredKeys(ctx context.Context, before time.Time) (n int64, err error) {
	err = w.step(ctx, false, func(r reader) error {
		n, err = r.exec(ctx, "prune retired keys", w.s.q.pruneKeys, w.s.ts(store.TimestampOrNow(before)))
		r.t.change = r.t.change || n > 0
		return err
	})
	return n, err
}

func (w writer) CreateAdminToken(ctx context.Context, a store.AdminToken) (store.AdminToken, error) {
	if err := a.Validate(); err != nil {
		return store.AdminToken{}, err
	}
	a.CreatedAt, a.RevokedAt = store.TimestampOrNow(a.CreatedAt), store.Timestamp(a.RevokedAt)
	if a.Revoked && a.RevokedAt.IsZero() {
		a.RevokedAt = a.CreatedAt
	}
	a.Revoked = !a.RevokedAt.IsZero()
	err := w.step(ctx, true, func(r reader) error {
		return r.execOne(ctx, store.ErrConflict.Wrapf("admin token %q or its hash exists", a.ID),
			"create admin token "+a.ID, w.s.q.createToken,
			a.ID, a.Hash, string(a.Role), a.Description, w.s.ts(a.CreatedAt), w.s.nullTS(a.RevokedAt))
	})
	return only(a, err)
}

func (w writer) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	return w.step(ctx, true, func(r reader) error {
		return r.execOne(ctx, store.ErrNotFound.Wrapf("admin token %q", id), "revoke admin token "+id,
			w.s.q.revokeToken, w.s.ts(store.TimestampOrNow(at)), id)
	})
}

func (w writer) PutCollateral(ctx context.Context, c store.Collateral) (store.Collateral, error) {
	k, err := c.Key.Normalize()
	if err != nil {
		return store.Collateral{}, err
	}
	if len(c.Bundle) == 0 {
		return store.Collateral{}, store.ErrInvalid.Wrapf("collateral %s: empty bundle", k)
	}
	sum := sha256.Sum256(c.Bundle)
	c.Key, c.Size, c.SHA256 = k, int64(len(c.Bundle)), hex.EncodeToString(sum[:])
	c.IssueDate, c.NextUpdate = store.Timestamp(c.IssueDate), store.Timestamp(c.NextUpdate)
	c.FetchedAt = store.TimestampOrNow(c.FetchedAt)
	err = w.step(ctx, true, func(r reader) error {
		err := r.q.QueryRowContext(ctx, w.s.q.putCollateral, k.TEE, k.FMSPC, k.PCEID, c.Bundle, c.Size,
			c.SHA256, w.s.nullTS(c.IssueDate), w.s.nullTS(c.NextUpdate), w.s.ts(c.FetchedAt), c.Source,
			int64(c.TCBEvaluationDataNumber), c.Pinned).Scan(&c.ID)
		return w.s.mapErr(ctx, err, "put collateral %s", k)
	})
	return only(c, err)
}

func (w writer) PruneCollateral(ctx context.Context, olderThan time.Time) (n int64, err error) {
	// Only history rows go: what GetCollateral returns does not change, so
	// the change version is not bumped.
	err = w.step(ctx, false, func(r reader) error {
		n, err = r.exec(ctx, "prune collateral", w.s.q.pruneCollateral, w.s.ts(store.TimestampOrNow(olderThan)))
		return err
	})
	return n, err
}

// auditBatch is the most rows one INSERT appends (8 values each: well
// under SQLite's and PostgreSQL's limits on parameters).
const auditBatch = 100

// auditArgs checks entries and returns their column values, in order.
func (s *Store) auditArgs(entries []store.AuditEntry) ([]any, error) {
	args := make([]any, 0, 8*len(entries))
	for i := range entries {
		e := &entries[i]
		if err := e.Validate(); err != nil {
			return nil, err
		}
		details, err := store.JSONColumn(e.Details, e.Details == nil)
		if err != nil {
			return nil, err
		}
		args = append(args, s.ts(store.TimestampOrNow(e.Time)), string(e.Kind), e.Actor, e.Provider,
			e.Operation, e.Outcome, details, e.RequestID)
	}
	return args, nil
}

// insertAudit returns the INSERT of n audit rows: one statement for a
// batch, rows (and their ids) in the batch's order.
func (s *Store) insertAudit(n int) string {
	if q, ok := s.audit.Load(n); ok {
		return q.(string)
	}
	row := "(?, ?, ?, ?, ?, ?, ?, ?)"
	q := s.d.Rebind(`INSERT INTO audit (` + auditCols + `) VALUES ` + strings.Repeat(row+", ", n-1) + row)
	s.audit.Store(n, q)
	return q
}

// appendAudit appends the checked rows of args on q.
func (s *Store) appendAudit(ctx context.Context, q querier, args []any) error {
	for len(args) > 0 {
		n := min(len(args)/8, auditBatch)
		if _, err := q.ExecContext(ctx, s.insertAudit(n), args[:8*n]...); err != nil {
			return s.mapErr(ctx, err, "append audit")
		}
		args = args[8*n:]
	}
	return nil
}

func (w writer) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	args, err := w.s.auditArgs(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	if w.tx == nil && len(entries) <= auditBatch {
		// One autocommitted INSERT: attestation records are the hottest
		// write, and they change no cached state.
		return w.s.appendAudit(ctx, w.s.cfg.Write, args)
	}
	return w.step(ctx, false, func(r reader) error { return w.s.appendAudit(ctx, r.q, args) })
}

func (w writer) PruneAttestations(ctx context.Context, olderThan time.Time) (n int64, err error) {
	err = w.step(ctx, false, func(r reader) error {
		n, err = r.exec(ctx, "prune attestation records", w.s.q.pruneAttestations,
			w.s.ts(store.TimestampOrNow(olderThan)))
		return err
	})
	return n, err
}
