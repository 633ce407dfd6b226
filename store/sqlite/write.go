package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"strings"
	"time"

	"github.com/avowhq/avow/store"
)

// tx implements store.Tx. Every write method checks what can fail before it
// writes, so a method that returns an error has written nothing, even
// inside a caller's transaction that goes on.
type tx struct {
	reader
	sqlTx   *sql.Tx
	changed bool // a cached-state change: bump change_version on commit
	done    bool
}

var _ store.Tx = (*tx)(nil)

func (t *tx) check() error {
	if t.done {
		return store.ErrStore.Wrapf("transaction used after WithTx returned")
	}
	return nil
}

func (t *tx) exec(ctx context.Context, what, q string, args ...any) (int64, error) {
	res, err := t.sqlTx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, mapErr(ctx, err, "%s", what)
	}
	n, err := res.RowsAffected()
	return n, mapErr(ctx, err, "%s", what)
}

func (t *tx) CreateProvider(ctx context.Context, p store.Provider) (store.Provider, error) {
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
	args = append(args, toMicros(p.CreatedAt), toMicros(p.UpdatedAt))
	_, out, err := scanProvider(t.sqlTx.QueryRowContext(ctx, `INSERT INTO providers (name, trust_model,
		accepted_tcb, grace_ns, settings_extra, subscription, resource_group, location, tags,
		created_at, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
		RETURNING `+providerCols, args...))
	if err != nil {
		return store.Provider{}, mapErr(ctx, err, "create provider %q", p.Name)
	}
	t.changed = true
	return out, nil
}

func (t *tx) UpdateProvider(ctx context.Context, p store.Provider) (store.Provider, error) {
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
	args = append(args, toMicros(store.TimestampOrNow(p.UpdatedAt)), p.Name, p.Version)
	_, out, err := scanProvider(t.sqlTx.QueryRowContext(ctx, `UPDATE providers SET trust_model = ?,
		accepted_tcb = ?, grace_ns = ?, settings_extra = ?, subscription = ?, resource_group = ?,
		location = ?, tags = ?, updated_at = ?, version = version + 1
		WHERE name = ? AND version = ? RETURNING `+providerCols, args...))
	if err == sql.ErrNoRows {
		cur, gerr := t.GetProvider(ctx, p.Name)
		if gerr != nil {
			return store.Provider{}, gerr
		}
		return store.Provider{}, store.ErrConflict.Wrapf("provider %q is at version %d, not %d", cur.Name, cur.Version, p.Version)
	}
	if err != nil {
		return store.Provider{}, mapErr(ctx, err, "update provider %q", p.Name)
	}
	t.changed = true
	return out, nil
}

func (t *tx) DeleteProvider(ctx context.Context, name string) error {
	if err := t.check(); err != nil {
		return err
	}
	n, err := t.exec(ctx, "delete provider "+name, `DELETE FROM providers WHERE name = ?`, name)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound.Wrapf("provider %q", name)
	}
	t.changed = true
	return nil
}

func (t *tx) SetPolicy(ctx context.Context, p store.Policy) (store.Policy, error) {
	if err := t.check(); err != nil {
		return store.Policy{}, err
	}
	if err := p.Validate(); err != nil {
		return store.Policy{}, err
	}
	pid, pname, err := t.providerID(ctx, p.Provider)
	if err != nil {
		return store.Policy{}, err
	}
	var cur int64
	err = t.sqlTx.QueryRowContext(ctx, `SELECT version FROM policies WHERE provider_id = ? AND attestation_type = ?`,
		pid, p.AttestationType).Scan(&cur)
	if err != nil && err != sql.ErrNoRows {
		return store.Policy{}, mapErr(ctx, err, "policy %s of %q", p.AttestationType, pname)
	}
	if p.Version != 0 && p.Version != cur {
		return store.Policy{}, store.ErrConflict.Wrapf("policy %s of %q is at version %d, not %d", p.AttestationType, pname, cur, p.Version)
	}
	p.Provider = pname
	p.UpdatedAt = store.TimestampOrNow(p.UpdatedAt)
	p.Version = cur + 1
	if p.Hash == nil {
		p.Hash = []byte{}
	}
	err = t.sqlTx.QueryRowContext(ctx, `INSERT INTO policies (provider_id, attestation_type, document, text,
		hash, signer_cert, updated_at, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (provider_id, attestation_type) DO UPDATE SET document = excluded.document,
		text = excluded.text, hash = excluded.hash, signer_cert = excluded.signer_cert,
		updated_at = excluded.updated_at, version = excluded.version
		RETURNING attestation_type`, pid, p.AttestationType, p.Document, p.Text, p.Hash, nilIfEmpty(p.SignerCert),
		toMicros(p.UpdatedAt), p.Version).Scan(&p.AttestationType)
	if err != nil {
		return store.Policy{}, mapErr(ctx, err, "set policy %s of %q", p.AttestationType, pname)
	}
	if len(p.SignerCert) == 0 {
		p.SignerCert = nil
	}
	if len(p.Hash) == 0 {
		p.Hash = nil
	}
	t.changed = true
	return p, nil
}

func nilIfEmpty(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (t *tx) DeletePolicy(ctx context.Context, provider, typ string) error {
	if err := t.check(); err != nil {
		return err
	}
	pid, pname, err := t.providerID(ctx, provider)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "delete policy", `DELETE FROM policies WHERE provider_id = ? AND attestation_type = ?`, pid, typ)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound.Wrapf("policy %s of provider %q", typ, pname)
	}
	t.changed = true
	return nil
}

func (t *tx) AddSigner(ctx context.Context, s store.Signer) (store.Signer, error) {
	if err := t.check(); err != nil {
		return store.Signer{}, err
	}
	if len(s.Certificate) == 0 {
		return store.Signer{}, store.ErrInvalid.Wrapf("signer certificate is empty")
	}
	pid, pname, err := t.providerID(ctx, s.Provider)
	if err != nil {
		return store.Signer{}, err
	}
	s.Provider = pname
	s.Thumbprint = store.Thumbprint(s.Certificate)
	s.AddedAt = store.TimestampOrNow(s.AddedAt)
	if _, err := t.exec(ctx, "add signer "+s.Thumbprint+" to "+pname,
		`INSERT INTO signers (provider_id, thumbprint, certificate, added_at) VALUES (?, ?, ?, ?)`,
		pid, s.Thumbprint, s.Certificate, toMicros(s.AddedAt)); err != nil {
		return store.Signer{}, err
	}
	t.changed = true
	return s, nil
}

func (t *tx) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	if err := t.check(); err != nil {
		return err
	}
	pid, pname, err := t.providerID(ctx, provider)
	if err != nil {
		return err
	}
	n, err := t.exec(ctx, "remove signer", `DELETE FROM signers WHERE provider_id = ? AND thumbprint = ?`,
		pid, strings.ToLower(thumbprint))
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound.Wrapf("signer %s of provider %q", thumbprint, pname)
	}
	t.changed = true
	return nil
}

func (t *tx) RotateKey(ctx context.Context, provider string, k store.SigningKey, retireAt time.Time) (store.SigningKey, error) {
	if err := t.check(); err != nil {
		return store.SigningKey{}, err
	}
	if err := k.Validate(); err != nil {
		return store.SigningKey{}, err
	}
	pid, pname, err := t.providerID(ctx, provider)
	if err != nil {
		return store.SigningKey{}, err
	}
	// Check the KID first: once the current key is retired, the insert
	// must not fail on something we could have seen.
	var dup int
	err = t.sqlTx.QueryRowContext(ctx, `SELECT count(*) FROM signing_keys WHERE provider_id = ? AND kid = ?`, pid, k.KID).Scan(&dup)
	if err != nil {
		return store.SigningKey{}, mapErr(ctx, err, "rotate key of %q", pname)
	}
	if dup > 0 {
		return store.SigningKey{}, store.ErrConflict.Wrapf("provider %q already has a key %q", pname, k.KID)
	}
	k.Provider = pname
	k.CreatedAt = store.TimestampOrNow(k.CreatedAt)
	k.RetiredAt = time.Time{}
	k.Active = true
	if retireAt.IsZero() {
		retireAt = k.CreatedAt
	}
	if _, err := t.exec(ctx, "retire key of "+pname,
		`UPDATE signing_keys SET active = 0, retired_at = ? WHERE provider_id = ? AND active = 1`,
		toMicros(retireAt), pid); err != nil {
		return store.SigningKey{}, err
	}
	if _, err := t.exec(ctx, "insert key of "+pname, `INSERT INTO signing_keys (provider_id, kid, sealed_key,
		certificate, created_at, retired_at, active) VALUES (?, ?, ?, ?, ?, NULL, 1)`,
		pid, k.KID, k.SealedKey, k.Certificate, toMicros(k.CreatedAt)); err != nil {
		return store.SigningKey{}, err
	}
	t.changed = true
	return k, nil
}

func (t *tx) PruneRetiredKeys(ctx context.Context, before time.Time) (int64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	n, err := t.exec(ctx, "prune retired keys",
		`DELETE FROM signing_keys WHERE active = 0 AND retired_at < ?`, toMicros(store.TimestampOrNow(before)))
	if n > 0 {
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
	if _, err := t.exec(ctx, "create admin token "+a.ID, `INSERT INTO admin_tokens (id, hash, role,
		description, created_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?)`,
		a.ID, a.Hash, string(a.Role), a.Description, toMicros(a.CreatedAt), toNullMicros(a.RevokedAt)); err != nil {
		return store.AdminToken{}, err
	}
	t.changed = true
	return a, nil
}

func (t *tx) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	if err := t.check(); err != nil {
		return err
	}
	n, err := t.exec(ctx, "revoke admin token "+id,
		`UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`,
		toMicros(store.TimestampOrNow(at)), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return store.ErrNotFound.Wrapf("admin token %q", id)
	}
	t.changed = true
	return nil
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
	pinned := 0
	if c.Pinned {
		pinned = 1
	}
	err = t.sqlTx.QueryRowContext(ctx, `INSERT INTO collateral (tee, fmspc, pce_id, bundle, size, sha256,
		issue_date, next_update, fetched_at, source, tcb_eval, pinned) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		k.TEE, k.FMSPC, k.PCEID, c.Bundle, c.Size, c.SHA256, toNullMicros(c.IssueDate), toNullMicros(c.NextUpdate),
		toMicros(c.FetchedAt), c.Source, int64(c.TCBEvaluationDataNumber), pinned).Scan(&c.ID)
	if err != nil {
		return store.Collateral{}, mapErr(ctx, err, "put collateral %s", k)
	}
	t.changed = true
	return c, nil
}

func (t *tx) PruneCollateral(ctx context.Context, olderThan time.Time) (int64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	// Only history rows go: what GetCollateral returns does not change, so
	// the change version is not bumped.
	return t.exec(ctx, "prune collateral", `DELETE FROM collateral WHERE fetched_at < ?
		AND id NOT IN (SELECT max(id) FROM collateral WHERE pinned = 0 GROUP BY tee, fmspc, pce_id)
		AND id NOT IN (SELECT max(id) FROM collateral GROUP BY tee, fmspc, pce_id, tcb_eval)`,
		toMicros(store.TimestampOrNow(olderThan)))
}

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
		args[i] = []any{toMicros(store.TimestampOrNow(e.Time)), string(e.Kind), e.Actor, e.Provider,
			e.Operation, e.Outcome, details, e.RequestID}
	}
	const q = `INSERT INTO audit (time, kind, actor, provider, operation, outcome, details, request_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	if len(entries) == 1 {
		_, err := t.exec(ctx, "append audit", q, args[0]...)
		return err
	}
	st, err := t.sqlTx.PrepareContext(ctx, q)
	if err != nil {
		return mapErr(ctx, err, "append audit")
	}
	defer st.Close()
	for _, a := range args {
		if _, err := st.ExecContext(ctx, a...); err != nil {
			return mapErr(ctx, err, "append audit")
		}
	}
	return nil
}

func (t *tx) PruneAttestations(ctx context.Context, olderThan time.Time) (int64, error) {
	if err := t.check(); err != nil {
		return 0, err
	}
	return t.exec(ctx, "prune attestation records", `DELETE FROM audit WHERE kind = 'attestation' AND time < ?`,
		toMicros(store.TimestampOrNow(olderThan)))
}

// The Store's write methods: one transaction each.

func (s *Store) CreateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.CreateProvider(ctx, p); return err })
	return out, err
}

func (s *Store) UpdateProvider(ctx context.Context, p store.Provider) (out store.Provider, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.UpdateProvider(ctx, p); return err })
	return out, err
}

func (s *Store) DeleteProvider(ctx context.Context, name string) error {
	return s.WithTx(ctx, func(t store.Tx) error { return t.DeleteProvider(ctx, name) })
}

func (s *Store) SetPolicy(ctx context.Context, p store.Policy) (out store.Policy, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.SetPolicy(ctx, p); return err })
	return out, err
}

func (s *Store) DeletePolicy(ctx context.Context, provider, typ string) error {
	return s.WithTx(ctx, func(t store.Tx) error { return t.DeletePolicy(ctx, provider, typ) })
}

func (s *Store) AddSigner(ctx context.Context, sg store.Signer) (out store.Signer, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.AddSigner(ctx, sg); return err })
	return out, err
}

func (s *Store) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	return s.WithTx(ctx, func(t store.Tx) error { return t.RemoveSigner(ctx, provider, thumbprint) })
}

func (s *Store) RotateKey(ctx context.Context, provider string, k store.SigningKey, retireAt time.Time) (out store.SigningKey, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.RotateKey(ctx, provider, k, retireAt); return err })
	return out, err
}

func (s *Store) PruneRetiredKeys(ctx context.Context, before time.Time) (n int64, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { n, err = t.PruneRetiredKeys(ctx, before); return err })
	return n, err
}

func (s *Store) CreateAdminToken(ctx context.Context, a store.AdminToken) (out store.AdminToken, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.CreateAdminToken(ctx, a); return err })
	return out, err
}

func (s *Store) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	return s.WithTx(ctx, func(t store.Tx) error { return t.RevokeAdminToken(ctx, id, at) })
}

func (s *Store) PutCollateral(ctx context.Context, c store.Collateral) (out store.Collateral, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { out, err = t.PutCollateral(ctx, c); return err })
	return out, err
}

func (s *Store) PruneCollateral(ctx context.Context, olderThan time.Time) (n int64, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { n, err = t.PruneCollateral(ctx, olderThan); return err })
	return n, err
}

func (s *Store) AppendAudit(ctx context.Context, entries ...store.AuditEntry) error {
	return s.WithTx(ctx, func(t store.Tx) error { return t.AppendAudit(ctx, entries...) })
}

func (s *Store) PruneAttestations(ctx context.Context, olderThan time.Time) (n int64, err error) {
	err = s.WithTx(ctx, func(t store.Tx) error { n, err = t.PruneAttestations(ctx, olderThan); return err })
	return n, err
}
