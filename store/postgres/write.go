package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/avowhq/avow/store"
)

// tx implements store.Tx. Inside a caller's WithTx every write method runs
// in a savepoint: one that fails is rolled back to it, so it has written
// nothing and the transaction stays usable, even if the caller goes on
// (PostgreSQL aborts the whole transaction on an error otherwise).
type tx struct {
	reader
	pgTx       pgx.Tx
	savepoints bool // a caller's transaction (not a single Store method)
	changed    bool // a cached-state change: bump change_version on commit
	done       bool
}

var _ store.Tx = (*tx)(nil)

func (t *tx) check() error {
	if t.done {
		return store.ErrStore.Wrapf("transaction used after WithTx returned")
	}
	return nil
}

// step runs the SQL of one write method, in a savepoint when inside a
// caller's transaction. changes reports whether a success changes cached
// state.
func (t *tx) step(ctx context.Context, changes bool, fn func() error) error {
	if !t.savepoints {
		if err := fn(); err != nil {
			return err
		}
		t.changed = t.changed || changes
		return nil
	}
	if _, err := t.pgTx.Exec(ctx, `SAVEPOINT avow_step`); err != nil {
		return mapErr(ctx, err, "savepoint")
	}
	if err := fn(); err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		_, _ = t.pgTx.Exec(rctx, `ROLLBACK TO SAVEPOINT avow_step`)
		return err
	}
	if _, err := t.pgTx.Exec(ctx, `RELEASE SAVEPOINT avow_step`); err != nil {
		return mapErr(ctx, err, "release savepoint")
	}
	t.changed = t.changed || changes
	return nil
}

func (t *tx) exec(ctx context.Context, what, q string, args ...any) (int64, error) {
	tag, err := t.pgTx.Exec(ctx, q, args...)
	if err != nil {
		return 0, mapErr(ctx, err, "%s", what)
	}
	return tag.RowsAffected(), nil
}

func (t *tx) CreateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	if err := t.check(); err != nil {
		return store.Provider{}, err
	}
	if err := p.Validate(); err != nil {
		return store.Provider{}, err
	}
	args, err := store.ProviderColumns(&p)
	if err != nil {
		return store.Provider{}, err
	}
	p.CreatedAt = store.TimestampOrNow(p.CreatedAt)
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	args = append([]any{p.Name}, args...)
	args = append(args, p.CreatedAt, ts(p.UpdatedAt))
	err = t.step(ctx, true, func() error {
		// ON CONFLICT DO NOTHING: a taken name (in any case) is no error
		// inside PostgreSQL, just no row.
		_, out, err = scanProvider(t.pgTx.QueryRow(ctx, `INSERT INTO providers (name, trust_model,
			accepted_tcb, grace_ns, settings_extra, subscription, resource_group, location, tags,
			created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)
			ON CONFLICT DO NOTHING RETURNING `+providerCols, args...))
		if err == pgx.ErrNoRows {
			return store.ErrConflict.Wrapf("provider %q exists", p.Name)
		}
		return mapErr(ctx, err, "create provider %q", p.Name)
	})
	if err != nil {
		return store.Provider{}, err
	}
	return out, nil
}

func (t *tx) UpdateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	if err := t.check(); err != nil {
		return store.Provider{}, err
	}
	if err := p.Validate(); err != nil {
		return store.Provider{}, err
	}
	args, err := store.ProviderColumns(&p)
	if err != nil {
		return store.Provider{}, err
	}
	args = append(args, store.TimestampOrNow(p.UpdatedAt), p.Name, p.Version)
	err = t.step(ctx, true, func() error {
		// Under READ COMMITTED the WHERE is re-checked after waiting for a
		// concurrent update: a stale version is a conflict, never a lost
		// update.
		_, out, err = scanProvider(t.pgTx.QueryRow(ctx, `UPDATE providers SET trust_model = $1,
			accepted_tcb = $2, grace_ns = $3, settings_extra = $4, subscription = $5, resource_group = $6,
			location = $7, tags = $8, updated_at = $9, version = version + 1
			WHERE lower(name) = lower($10) AND version = $11 RETURNING `+providerCols, args...))
		if err == pgx.ErrNoRows {
			cur, gerr := t.GetProvider(ctx, p.Name)
			if gerr != nil {
				return gerr
			}
			return store.ErrConflict.Wrapf("provider %q is at version %d, not %d", cur.Name, cur.Version, p.Version)
		}
		return mapErr(ctx, err, "update provider %q", p.Name)
	})
	if err != nil {
		return store.Provider{}, err
	}
	return out, nil
}

func (t *tx) DeleteProvider(ctx context.Context, name string) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.step(ctx, true, func() error {
		n, err := t.exec(ctx, "delete provider "+name, `DELETE FROM providers WHERE lower(name) = lower($1)`, name)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound.Wrapf("provider %q", name)
		}
		return nil
	})
}

func (t *tx) SetPolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	if err := t.check(); err != nil {
		return store.Policy{}, err
	}
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
		pid, pname, err := t.providerID(ctx, p.Provider, "")
		if err != nil {
			return err
		}
		p.Provider = pname
		var row pgx.Row
		if p.Version == 0 {
			// Unconditional: insert, or replace and bump atomically.
			row = t.pgTx.QueryRow(ctx, `INSERT INTO policies (provider_id, attestation_type, document,
				policy_text, hash, signer_cert, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1)
				ON CONFLICT (provider_id, lower(attestation_type)) DO UPDATE SET document = excluded.document,
				policy_text = excluded.policy_text, hash = excluded.hash, signer_cert = excluded.signer_cert,
				updated_at = excluded.updated_at, version = policies.version + 1
				RETURNING attestation_type, version`,
				pid, p.AttestationType, p.Document, p.Text, hash, signer, p.UpdatedAt)
		} else {
			// Conditional: only over the version the caller read; a
			// missing policy has version 0, so this finds no row either.
			row = t.pgTx.QueryRow(ctx, `UPDATE policies SET document = $3, policy_text = $4, hash = $5,
				signer_cert = $6, updated_at = $7, version = version + 1
				WHERE provider_id = $1 AND lower(attestation_type) = lower($2) AND version = $8
				RETURNING attestation_type, version`,
				pid, p.AttestationType, p.Document, p.Text, hash, signer, p.UpdatedAt, p.Version)
		}
		err = row.Scan(&p.AttestationType, &p.Version)
		if err == pgx.ErrNoRows {
			return store.ErrConflict.Wrapf("policy %s of %q is not at version %d", p.AttestationType, pname, p.Version)
		}
		return mapErr(ctx, err, "set policy %s of %q", p.AttestationType, pname)
	})
	if err != nil {
		return store.Policy{}, err
	}
	p.Hash, p.SignerCert = nilIfEmpty(p.Hash), nilIfEmpty(p.SignerCert)
	return p, nil
}

func (t *tx) DeletePolicy(ctx context.Context, provider, typ string) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.step(ctx, true, func() error {
		pid, pname, err := t.providerID(ctx, provider, "")
		if err != nil {
			return err
		}
		n, err := t.exec(ctx, "delete policy", `DELETE FROM policies WHERE provider_id = $1 AND lower(attestation_type) = lower($2)`, pid, typ)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound.Wrapf("policy %s of provider %q", typ, pname)
		}
		return nil
	})
}

func (t *tx) AddSigner(ctx context.Context, s store.Signer) (store.Signer, error) {
	if err := t.check(); err != nil {
		return store.Signer{}, err
	}
	if len(s.Certificate) == 0 {
		return store.Signer{}, store.ErrInvalid.Wrapf("signer certificate is empty")
	}
	s.Thumbprint = store.Thumbprint(s.Certificate)
	s.AddedAt = store.TimestampOrNow(s.AddedAt)
	err := t.step(ctx, true, func() error {
		pid, pname, err := t.providerID(ctx, s.Provider, "")
		if err != nil {
			return err
		}
		s.Provider = pname
		n, err := t.exec(ctx, "add signer "+s.Thumbprint+" to "+pname,
			`INSERT INTO signers (provider_id, thumbprint, certificate, added_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT DO NOTHING`, pid, s.Thumbprint, s.Certificate, s.AddedAt)
		if err == nil && n == 0 {
			err = store.ErrConflict.Wrapf("provider %q already has signer %s", pname, s.Thumbprint)
		}
		return err
	})
	if err != nil {
		return store.Signer{}, err
	}
	return s, nil
}

func (t *tx) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.step(ctx, true, func() error {
		pid, pname, err := t.providerID(ctx, provider, "")
		if err != nil {
			return err
		}
		n, err := t.exec(ctx, "remove signer", `DELETE FROM signers WHERE provider_id = $1 AND thumbprint = $2`,
			pid, strings.ToLower(thumbprint))
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound.Wrapf("signer %s of provider %q", thumbprint, pname)
		}
		return nil
	})
}

func (t *tx) RotateKey(ctx context.Context, provider string, k store.SigningKey, retireAt time.Time) (store.SigningKey, error) {
	if err := t.check(); err != nil {
		return store.SigningKey{}, err
	}
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
		pid, pname, err := t.providerID(ctx, provider, "FOR NO KEY UPDATE")
		if err != nil {
			return err
		}
		k.Provider = pname
		var dup bool
		if err := t.pgTx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM signing_keys WHERE provider_id = $1 AND kid = $2)`,
			pid, k.KID).Scan(&dup); err != nil {
			return mapErr(ctx, err, "rotate key of %q", pname)
		}
		if dup {
			return store.ErrConflict.Wrapf("provider %q already has a key %q", pname, k.KID)
		}
		if _, err := t.exec(ctx, "retire key of "+pname,
			`UPDATE signing_keys SET active = false, retired_at = $1 WHERE provider_id = $2 AND active`,
			ts(retireAt), pid); err != nil {
			return err
		}
		_, err = t.exec(ctx, "insert key of "+pname, `INSERT INTO signing_keys (provider_id, kid, sealed_key,
			certificate, created_at, retired_at, active) VALUES ($1, $2, $3, $4, $5, NULL, true)`,
			pid, k.KID, k.SealedKey, k.Certificate, k.CreatedAt)
		return err
	})
	if err != nil {
		return store.SigningKey{}, err
	}
	return k, nil
}

func (t *tx) PruneRetiredKeys(ctx context.Context, before time.Time) (n int64, err error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	err = t.step(ctx, false, func() error {
		n, err = t.exec(ctx, "prune retired keys",
			`DELETE FROM signing_keys WHERE NOT active AND retired_at < $1`, store.TimestampOrNow(before))
		return err
	})
	if err == nil && n > 0 {
		t.changed = true
	}
	return n, err
}

func (t *tx) CreateAdminToken(ctx context.Context, a store.AdminToken) (store.AdminToken, error) {
	if err := t.check(); err != nil {
		return store.AdminToken{}, err
	}
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
		n, err := t.exec(ctx, "create admin token "+a.ID, `INSERT INTO admin_tokens (id, hash, role,
			description, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
			a.ID, a.Hash, string(a.Role), a.Description, a.CreatedAt, nullTS(a.RevokedAt))
		if err == nil && n == 0 {
			err = store.ErrConflict.Wrapf("admin token %q or its hash exists", a.ID)
		}
		return err
	})
	if err != nil {
		return store.AdminToken{}, err
	}
	return a, nil
}

func (t *tx) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	if err := t.check(); err != nil {
		return err
	}
	return t.step(ctx, true, func() error {
		n, err := t.exec(ctx, "revoke admin token "+id,
			`UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`,
			store.TimestampOrNow(at), id)
		if err != nil {
			return err
		}
		if n == 0 {
			return store.ErrNotFound.Wrapf("admin token %q", id)
		}
		return nil
	})
}

func (t *tx) PutCollateral(ctx context.Context, c store.Collateral) (store.Collateral, error) {
	if err := t.check(); err != nil {
		return store.Collateral{}, err
	}
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
		err := t.pgTx.QueryRow(ctx, `INSERT INTO collateral (tee, fmspc, pce_id, bundle, size, sha256,
			issue_date, next_update, fetched_at, source, tcb_eval, pinned) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
			k.TEE, k.FMSPC, k.PCEID, c.Bundle, c.Size, c.SHA256, nullTS(c.IssueDate), nullTS(c.NextUpdate),
			c.FetchedAt, c.Source, int64(c.TCBEvaluationDataNumber), c.Pinned).Scan(&c.ID)
		return mapErr(ctx, err, "put collateral %s", k)
	})
	if err != nil {
		return store.Collateral{}, err
	}
	return c, nil
}

func (t *tx) PruneCollateral(ctx context.Context, olderThan time.Time) (n int64, err error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	// Only history rows go: what GetCollateral returns does not change, so
	// the change version is not bumped.
	err = t.step(ctx, false, func() error {
		n, err = t.exec(ctx, "prune collateral", `DELETE FROM collateral c WHERE c.fetched_at < $1
			AND (c.pinned OR EXISTS (SELECT 1 FROM collateral n WHERE n.tee = c.tee AND n.fmspc = c.fmspc
				AND n.pce_id = c.pce_id AND NOT n.pinned AND n.id > c.id))
			AND EXISTS (SELECT 1 FROM collateral n WHERE n.tee = c.tee AND n.fmspc = c.fmspc
				AND n.pce_id = c.pce_id AND n.tcb_eval = c.tcb_eval AND n.id > c.id)`,
			store.TimestampOrNow(olderThan))
		return err
	})
	return n, err
}

var auditCols = []string{"logged_at", "kind", "actor", "provider", "operation", "outcome", "details", "request_id"}

const insertAudit = `INSERT INTO audit (logged_at, kind, actor, provider, operation, outcome, details, request_id)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

func (t *tx) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	if err := t.check(); err != nil {
		return err
	}
	args := make([][]any, len(entries))
	for i := range entries {
		e := &entries[i]
		if err := e.Validate(); err != nil {
			return err
		}
		details, err := store.JSONColumn(e.Details, e.Details == nil)
		if err != nil {
			return err
		}
		args[i] = []any{store.TimestampOrNow(e.Time), string(e.Kind), e.Actor, e.Provider,
			e.Operation, e.Outcome, details, e.RequestID}
	}
	if len(entries) == 0 {
		return nil
	}
	return t.step(ctx, false, func() error {
		if len(entries) == 1 {
			_, err := t.exec(ctx, "append audit", insertAudit, args[0]...)
			return err
		}
		// COPY: one statement for the batch, rows (and their identities)
		// in the batch's order.
		_, err := t.pgTx.CopyFrom(ctx, pgx.Identifier{"audit"}, auditCols, pgx.CopyFromRows(args))
		return mapErr(ctx, err, "append audit")
	})
}

func (t *tx) PruneAttestations(ctx context.Context, olderThan time.Time) (n int64, err error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	err = t.step(ctx, false, func() error {
		n, err = t.exec(ctx, "prune attestation records", `DELETE FROM audit WHERE kind = 'attestation' AND logged_at < $1`,
			store.TimestampOrNow(olderThan))
		return err
	})
	return n, err
}

// The Store's write methods: one transaction each (no savepoint needed:
// an error rolls the whole transaction back).

func (s *Store) write(ctx context.Context, fn func(t *tx) error) error {
	return s.withTx(ctx, false, fn)
}

func (s *Store) CreateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.CreateProvider(ctx, p); return err })
	return out, err
}

func (s *Store) UpdateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.UpdateProvider(ctx, p); return err })
	return out, err
}

func (s *Store) DeleteProvider(ctx context.Context, name string) error {
	return s.write(ctx, func(t *tx) error { return t.DeleteProvider(ctx, name) })
}

func (s *Store) SetPolicy(ctx context.Context, p store.Policy) (out store.Policy, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.SetPolicy(ctx, p); return err })
	return out, err
}

func (s *Store) DeletePolicy(ctx context.Context, provider, typ string) error {
	return s.write(ctx, func(t *tx) error { return t.DeletePolicy(ctx, provider, typ) })
}

func (s *Store) AddSigner(ctx context.Context, sg store.Signer) (out store.Signer, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.AddSigner(ctx, sg); return err })
	return out, err
}

func (s *Store) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	return s.write(ctx, func(t *tx) error { return t.RemoveSigner(ctx, provider, thumbprint) })
}

func (s *Store) RotateKey(ctx context.Context, provider string, k store.SigningKey, retireAt time.Time) (out store.SigningKey, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.RotateKey(ctx, provider, k, retireAt); return err })
	return out, err
}

func (s *Store) PruneRetiredKeys(ctx context.Context, before time.Time) (n int64, err error) {
	err = s.write(ctx, func(t *tx) error { n, err = t.PruneRetiredKeys(ctx, before); return err })
	return n, err
}

func (s *Store) CreateAdminToken(ctx context.Context, a store.AdminToken) (out store.AdminToken, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.CreateAdminToken(ctx, a); return err })
	return out, err
}

func (s *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	return s.write(ctx, func(t *tx) error { return t.RevokeAdminToken(ctx, id, at) })
}

func (s *Store) PutCollateral(ctx context.Context, c store.Collateral) (out store.Collateral, err error) {
	err = s.write(ctx, func(t *tx) error { out, err = t.PutCollateral(ctx, c); return err })
	return out, err
}

func (s *Store) PruneCollateral(ctx context.Context, olderThan time.Time) (n int64, err error) {
	err = s.write(ctx, func(t *tx) error { n, err = t.PruneCollateral(ctx, olderThan); return err })
	return n, err
}

// AppendAudit appends entries in one transaction. A single entry is one
// autocommitted INSERT: attestation records are the hottest write.
func (s *Store) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	if len(entries) == 1 {
		e := entries[0]
		if err := e.Validate(); err != nil {
			return err
		}
		details, err := store.JSONColumn(e.Details, e.Details == nil)
		if err != nil {
			return err
		}
		_, err = s.pool.Exec(ctx, insertAudit, store.TimestampOrNow(e.Time), string(e.Kind), e.Actor, e.Provider,
			e.Operation, e.Outcome, details, e.RequestID)
		return mapErr(ctx, err, "append audit")
	}
	return s.write(ctx, func(t *tx) error { return t.AppendAudit(ctx, entries...) })
}

func (s *Store) PruneAttestations(ctx context.Context, olderThan time.Time) (n int64, err error) {
	err = s.write(ctx, func(t *tx) error { n, err = t.PruneAttestations(ctx, olderThan); return err })
	return n, err
}
