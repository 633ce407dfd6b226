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

// tx implements store.Tx. Every write method checks its input before it
// writes, and inside a caller's WithTx runs in a savepoint: one that fails
// has written nothing, and the transaction goes on.
type tx struct {
	reader
	sqlTx      *sql.Tx
	savepoints bool // a caller's transaction (not a single Store method)
	changed    bool // a cached-state change: bump change_version on commit
	done       bool
}

var _ store.Tx = (*tx)(nil)

// step runs the SQL of one write method, in a savepoint when inside a
// caller's transaction. changes reports whether a success changes cached
// state.
func (t *tx) step(ctx context.Context, changes bool, fn func() error) error {
	if t.done {
		return store.ErrStore.Wrapf("transaction used after WithTx returned")
	}
	if !t.savepoints {
		if err := fn(); err != nil {
			return err
		}
		t.changed = t.changed || changes
		return nil
	}
	if _, err := t.sqlTx.ExecContext(ctx, `SAVEPOINT avow_step`); err != nil {
		return t.s.mapErr(ctx, err, "savepoint")
	}
	if err := fn(); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = t.sqlTx.ExecContext(rctx, `ROLLBACK TO SAVEPOINT avow_step`)
		return err
	}
	if _, err := t.sqlTx.ExecContext(ctx, `RELEASE SAVEPOINT avow_step`); err != nil {
		return t.s.mapErr(ctx, err, "release savepoint")
	}
	t.changed = t.changed || changes
	return nil
}

func (t *tx) exec(ctx context.Context, what, q string, args ...any) (int64, error) {
	res, err := t.sqlTx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, t.s.mapErr(ctx, err, "%s", what)
	}
	n, err := res.RowsAffected()
	return n, t.s.mapErr(ctx, err, "%s", what)
}

// execOne is exec for a statement that must touch a row: none is err.
func (t *tx) execOne(ctx context.Context, err error, what, q string, args ...any) error {
	n, xerr := t.exec(ctx, what, q, args...)
	if xerr == nil && n == 0 {
		return err
	}
	return xerr
}

func (t *tx) CreateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
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
	args = append(append([]any{p.Name}, args...), t.s.ts(p.CreatedAt), t.s.ts(p.UpdatedAt))
	err = t.step(ctx, true, func() error {
		out, err = scanProvider(t.sqlTx.QueryRowContext(ctx, t.s.q.createProvider, args...))
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrConflict.Wrapf("provider %q exists", p.Name)
		}
		return t.s.mapErr(ctx, err, "create provider %q", p.Name)
	})
	return out, err
}

func (t *tx) UpdateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	if err := p.Validate(); err != nil {
		return out, err
	}
	args, err := store.ProviderColumns(&p)
	if err != nil {
		return out, err
	}
	args = append(args, t.s.ts(store.TimestampOrNow(p.UpdatedAt)), p.Name, p.Version)
	err = t.step(ctx, true, func() error {
		out, err = scanProvider(t.sqlTx.QueryRowContext(ctx, t.s.q.updateProvider, args...))
		if errors.Is(err, sql.ErrNoRows) {
			cur, gerr := t.GetProvider(ctx, p.Name)
			if gerr != nil {
				return gerr
			}
			return store.ErrConflict.Wrapf("provider %q is at version %d, not %d", cur.Name, cur.Version, p.Version)
		}
		return t.s.mapErr(ctx, err, "update provider %q", p.Name)
	})
	return out, err
}

func (t *tx) DeleteProvider(ctx context.Context, name string) error {
	return t.step(ctx, true, func() error {
		return t.execOne(ctx, store.ErrNotFound.Wrapf("provider %q", name), "delete provider "+name, t.s.q.deleteProvider, name)
	})
}

func (t *tx) SetPolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
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
	err := t.step(ctx, true, func() error {
		pid, pname, err := t.providerID(ctx, p.Provider, false)
		if err != nil {
			return err
		}
		p.Provider = pname
		var row *sql.Row
		if p.Version == 0 {
			// Unconditional: insert, or replace and bump atomically.
			row = t.sqlTx.QueryRowContext(ctx, t.s.q.upsertPolicy,
				pid, p.AttestationType, p.Document, p.Text, hash, signer, t.s.ts(p.UpdatedAt))
		} else {
			// Conditional: only over the version the caller read; a
			// missing policy has version 0, so this finds no row either.
			row = t.sqlTx.QueryRowContext(ctx, t.s.q.updatePolicy,
				p.Document, p.Text, hash, signer, t.s.ts(p.UpdatedAt), pid, p.AttestationType, p.Version)
		}
		err = row.Scan(&p.AttestationType, &p.Version)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrConflict.Wrapf("policy %s of %q is not at version %d", p.AttestationType, pname, p.Version)
		}
		return t.s.mapErr(ctx, err, "set policy %s of %q", p.AttestationType, pname)
	})
	if err != nil {
		return store.Policy{}, err
	}
	p.Hash, p.SignerCert = nilIfEmpty(p.Hash), nilIfEmpty(p.SignerCert)
	return p, nil
}

func (t *tx) DeletePolicy(ctx context.Context, provider, typ string) error {
	return t.step(ctx, true, func() error {
		pid, pname, err := t.providerID(ctx, provider, false)
		if err != nil {
			return err
		}
		return t.execOne(ctx, store.ErrNotFound.Wrapf("policy %s of provider %q", typ, pname),
			"delete policy", t.s.q.deletePolicy, pid, typ)
	})
}

func (t *tx) AddSigner(ctx context.Context, s store.Signer) (store.Signer, error) {
	if len(s.Certificate) == 0 {
		return store.Signer{}, store.ErrInvalid.Wrapf("signer certificate is empty")
	}
	s.Thumbprint = store.Thumbprint(s.Certificate)
	s.AddedAt = store.TimestampOrNow(s.AddedAt)
	err := t.step(ctx, true, func() error {
		pid, pname, err := t.providerID(ctx, s.Provider, false)
		if err != nil {
			return err
		}
		s.Provider = pname
		return t.execOne(ctx, store.ErrConflict.Wrapf("provider %q already has signer %s", pname, s.Thumbprint),
			"add signer "+s.Thumbprint+" to "+pname, t.s.q.addSigner, pid, s.Thumbprint, s.Certificate, t.s.ts(s.AddedAt))
	})
	if err != nil {
		return store.Signer{}, err
	}
	return s, nil
}

func (t *tx) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	return t.step(ctx, true, func() error {
		pid, pname, err := t.providerID(ctx, provider, false)
		if err != nil {
			return err
		}
		return t.execOne(ctx, store.ErrNotFound.Wrapf("signer %s of provider %q", thumbprint, pname),
			"remove signer", t.s.q.removeSigner, pid, strings.ToLower(thumbprint))
	})
}

func (t *tx) RotateKey(ctx context.Context, provider string, k store.SigningKey, retireAt time.Time) (store.SigningKey, error) {
	if err := k.Validate(); err != nil {
		return store.SigningKey{}, err
	}
	k.CreatedAt = store.TimestampOrNow(k.CreatedAt)
	k.RetiredAt = time.Time{}
	k.Active = true
	if retireAt.IsZero() {
		retireAt = k.CreatedAt
	}
	err := t.step(ctx, true, func() error {
		// Lock the provider row: concurrent rotations (from any node)
		// serialise here instead of failing on the one-active-key index.
		pid, pname, err := t.providerID(ctx, provider, true)
		if err != nil {
			return err
		}
		k.Provider = pname
		// Check the KID first: once the current key is retired, the
		// insert must not fail on something we could have seen.
		var dup int
		if err := t.sqlTx.QueryRowContext(ctx, t.s.q.keyExists, pid, k.KID).Scan(&dup); err != nil {
			return t.s.mapErr(ctx, err, "rotate key of %q", pname)
		}
		if dup > 0 {
			return store.ErrConflict.Wrapf("provider %q already has a key %q", pname, k.KID)
		}
		if _, err := t.exec(ctx, "retire key of "+pname, t.s.q.retireKey, t.s.ts(retireAt), pid); err != nil {
			return err
		}
		_, err = t.exec(ctx, "insert key of "+pname, t.s.q.insertKey,
			pid, k.KID, k.SealedKey, k.Certificate, t.s.ts(k.CreatedAt))
		return err
	})
	if err != nil {
		return store.SigningKey{}, err
	}
	return k, nil
}

func (t *tx) PruneRetiredKeys(ctx context.Context, before time.Time) (n int64, err error) {
	err = t.step(ctx, false, func() error {
		n, err = t.exec(ctx, "prune retired keys", t.s.q.pruneKeys, t.s.ts(store.TimestampOrNow(before)))
		return err
	})
	if err == nil && n > 0 {
		t.changed = true
	}
	return n, err
}

func (t *tx) CreateAdminToken(ctx context.Context, a store.AdminToken) (store.AdminToken, error) {
	if err := a.Validate(); err != nil {
		return store.AdminToken{}, err
	}
	a.CreatedAt = store.TimestampOrNow(a.CreatedAt)
	a.RevokedAt = store.Timestamp(a.RevokedAt)
	if a.Revoked && a.RevokedAt.IsZero() {
		a.RevokedAt = a.CreatedAt
	}
	a.Revoked = !a.RevokedAt.IsZero()
	err := t.step(ctx, true, func() error {
		return t.execOne(ctx, store.ErrConflict.Wrapf("admin token %q or its hash exists", a.ID),
			"create admin token "+a.ID, t.s.q.createToken,
			a.ID, a.Hash, string(a.Role), a.Description, t.s.ts(a.CreatedAt), t.s.nullTS(a.RevokedAt))
	})
	if err != nil {
		return store.AdminToken{}, err
	}
	return a, nil
}

func (t *tx) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	return t.step(ctx, true, func() error {
		return t.execOne(ctx, store.ErrNotFound.Wrapf("admin token %q", id), "revoke admin token "+id,
			t.s.q.revokeToken, t.s.ts(store.TimestampOrNow(at)), id)
	})
}

func (t *tx) PutCollateral(ctx context.Context, c store.Collateral) (store.Collateral, error) {
	k, err := c.Key.Normalize()
	if err != nil {
		return store.Collateral{}, err
	}
	if len(c.Bundle) == 0 {
		return store.Collateral{}, store.ErrInvalid.Wrapf("collateral %s: empty bundle", k)
	}
	sum := sha256.Sum256(c.Bundle)
	c.Key = k
	c.Size = int64(len(c.Bundle))
	c.SHA256 = hex.EncodeToString(sum[:])
	c.IssueDate = store.Timestamp(c.IssueDate)
	c.NextUpdate = store.Timestamp(c.NextUpdate)
	c.FetchedAt = store.TimestampOrNow(c.FetchedAt)
	err = t.step(ctx, true, func() error {
		err := t.sqlTx.QueryRowContext(ctx, t.s.q.putCollateral, k.TEE, k.FMSPC, k.PCEID, c.Bundle, c.Size,
			c.SHA256, t.s.nullTS(c.IssueDate), t.s.nullTS(c.NextUpdate), t.s.ts(c.FetchedAt), c.Source).Scan(&c.ID)
		return t.s.mapErr(ctx, err, "put collateral %s", k)
	})
	if err != nil {
		return store.Collateral{}, err
	}
	return c, nil
}

func (t *tx) PruneCollateral(ctx context.Context, olderThan time.Time) (n int64, err error) {
	// Only history rows go: what GetCollateral returns does not change, so
	// the change version is not bumped.
	err = t.step(ctx, false, func() error {
		n, err = t.exec(ctx, "prune collateral", t.s.q.pruneCollateral, t.s.ts(store.TimestampOrNow(olderThan)))
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

func (t *tx) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	args, err := t.s.auditArgs(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	return t.step(ctx, false, func() error { return t.s.appendAudit(ctx, t.sqlTx, args) })
}

func (t *tx) PruneAttestations(ctx context.Context, olderThan time.Time) (n int64, err error) {
	err = t.step(ctx, false, func() error {
		n, err = t.exec(ctx, "prune attestation records", t.s.q.pruneAttestations,
			t.s.ts(store.TimestampOrNow(olderThan)))
		return err
	})
	return n, err
}

// The Store's write methods: one transaction each (no savepoint needed:
// an error rolls the whole transaction back).

func write[T any](s *Store, ctx context.Context, fn func(t *tx) (T, error)) (out T, err error) {
	err = s.withTx(ctx, false, func(t *tx) error { out, err = fn(t); return err })
	return out, err
}

func write0(s *Store, ctx context.Context, fn func(t *tx) error) error {
	return s.withTx(ctx, false, fn)
}

func (s *Store) CreateProvider(ctx context.Context, p store.Provider) (store.Provider, error) {
	return write(s, ctx, func(t *tx) (store.Provider, error) { return t.CreateProvider(ctx, p) })
}

func (s *Store) UpdateProvider(ctx context.Context, p store.Provider) (store.Provider, error) {
	return write(s, ctx, func(t *tx) (store.Provider, error) { return t.UpdateProvider(ctx, p) })
}

func (s *Store) DeleteProvider(ctx context.Context, name string) error {
	return write0(s, ctx, func(t *tx) error { return t.DeleteProvider(ctx, name) })
}

func (s *Store) SetPolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	return write(s, ctx, func(t *tx) (store.Policy, error) { return t.SetPolicy(ctx, p) })
}

func (s *Store) DeletePolicy(ctx context.Context, provider, typ string) error {
	return write0(s, ctx, func(t *tx) error { return t.DeletePolicy(ctx, provider, typ) })
}

func (s *Store) AddSigner(ctx context.Context, sg store.Signer) (store.Signer, error) {
	return write(s, ctx, func(t *tx) (store.Signer, error) { return t.AddSigner(ctx, sg) })
}

func (s *Store) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	return write0(s, ctx, func(t *tx) error { return t.RemoveSigner(ctx, provider, thumbprint) })
}

func (s *Store) RotateKey(ctx context.Context, provider string, k store.SigningKey, retireAt time.Time) (store.SigningKey, error) {
	return write(s, ctx, func(t *tx) (store.SigningKey, error) { return t.RotateKey(ctx, provider, k, retireAt) })
}

func (s *Store) PruneRetiredKeys(ctx context.Context, before time.Time) (int64, error) {
	return write(s, ctx, func(t *tx) (int64, error) { return t.PruneRetiredKeys(ctx, before) })
}

func (s *Store) CreateAdminToken(ctx context.Context, a store.AdminToken) (store.AdminToken, error) {
	return write(s, ctx, func(t *tx) (store.AdminToken, error) { return t.CreateAdminToken(ctx, a) })
}

func (s *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	return write0(s, ctx, func(t *tx) error { return t.RevokeAdminToken(ctx, id, at) })
}

func (s *Store) PutCollateral(ctx context.Context, c store.Collateral) (store.Collateral, error) {
	return write(s, ctx, func(t *tx) (store.Collateral, error) { return t.PutCollateral(ctx, c) })
}

func (s *Store) PruneCollateral(ctx context.Context, olderThan time.Time) (int64, error) {
	return write(s, ctx, func(t *tx) (int64, error) { return t.PruneCollateral(ctx, olderThan) })
}

// AppendAudit appends entries. Up to auditBatch entries are one
// autocommitted INSERT: attestation records are the hottest write, and
// they change no cached state.
func (s *Store) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	args, err := s.auditArgs(entries)
	if err != nil || len(entries) == 0 {
		return err
	}
	if len(entries) <= auditBatch {
		return s.appendAudit(ctx, s.cfg.Write, args)
	}
	return write0(s, ctx, func(t *tx) error { return s.appendAudit(ctx, t.sqlTx, args) })
}

func (s *Store) PruneAttestations(ctx context.Context, olderThan time.Time) (int64, error) {
	return write(s, ctx, func(t *tx) (int64, error) { return t.PruneAttestations(ctx, olderThan) })
}
