package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/avowhq/avow/store"
)

// reader implements store.Reader on a querier: the read pool for the
// Store, the transaction for a tx.
type reader struct{ q querier }

// Times are unix microseconds; NULL (nil) is the zero time.

func toMicros(t time.Time) int64 { return store.Timestamp(t).UnixMicro() }

func toNullMicros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.Timestamp(t).UnixMicro()
}

func fromMicros(v int64) time.Time { return time.UnixMicro(v).UTC() }

func fromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return time.UnixMicro(v.Int64).UTC()
}

type scanner interface{ Scan(dest ...any) error }

const providerCols = `id, name, trust_model, accepted_tcb, grace_ns, settings_extra,
	subscription, resource_group, location, tags, created_at, updated_at, version`

func scanProvider(sc scanner) (int64, store.Provider, error) {
	var (
		id                int64
		p                 store.Provider
		tm, accepted      string
		grace             int64
		extra, tags       sql.NullString
		created, updated  int64
		sub, rg, location string
	)
	err := sc.Scan(&id, &p.Name, &tm, &accepted, &grace, &extra,
		&sub, &rg, &location, &tags, &created, &updated, &p.Version)
	if err != nil {
		return 0, p, err
	}
	p.TrustModel = store.TrustModel(tm)
	if err := json.Unmarshal([]byte(accepted), &p.Settings.AcceptedTCBStatuses); err != nil {
		return 0, p, store.ErrStore.Wrapf("provider %q: accepted TCB statuses: %w", p.Name, err)
	}
	p.Settings.CollateralGracePeriod = time.Duration(grace)
	if extra.Valid {
		p.Settings.Extra = json.RawMessage(extra.String)
	}
	p.Metadata = store.Metadata{SubscriptionID: sub, ResourceGroup: rg, Location: location}
	if tags.Valid {
		if err := json.Unmarshal([]byte(tags.String), &p.Metadata.Tags); err != nil {
			return 0, p, store.ErrStore.Wrapf("provider %q: tags: %w", p.Name, err)
		}
	}
	p.CreatedAt = fromMicros(created)
	p.UpdatedAt = fromMicros(updated)
	return id, p, nil
}

func (r reader) GetProvider(ctx context.Context, name string) (store.Provider, error) {
	_, p, err := scanProvider(r.q.QueryRowContext(ctx,
		`SELECT `+providerCols+` FROM providers WHERE name = ?`, name))
	if err != nil {
		return store.Provider{}, mapErr(ctx, err, "provider %q", name)
	}
	return p, nil
}

func (r reader) ListProviders(ctx context.Context) ([]store.Provider, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+providerCols+` FROM providers ORDER BY name`)
	if err != nil {
		return nil, mapErr(ctx, err, "list providers")
	}
	defer rows.Close()
	var out []store.Provider
	for rows.Next() {
		_, p, err := scanProvider(rows)
		if err != nil {
			return nil, mapErr(ctx, err, "list providers")
		}
		out = append(out, p)
	}
	return out, mapErr(ctx, rows.Err(), "list providers")
}

// providerID returns the row id and stored name of a provider.
func (r reader) providerID(ctx context.Context, name string) (int64, string, error) {
	var (
		id     int64
		stored string
	)
	err := r.q.QueryRowContext(ctx, `SELECT id, name FROM providers WHERE name = ?`, name).Scan(&id, &stored)
	if err != nil {
		return 0, "", mapErr(ctx, err, "provider %q", name)
	}
	return id, stored, nil
}

const policyCols = `pr.name, po.attestation_type, po.document, po.text, po.hash, po.signer_cert, po.updated_at, po.version`

func scanPolicy(sc scanner) (store.Policy, error) {
	var (
		p       store.Policy
		updated int64
	)
	if err := sc.Scan(&p.Provider, &p.AttestationType, &p.Document, &p.Text, &p.Hash, &p.SignerCert, &updated, &p.Version); err != nil {
		return p, err
	}
	p.UpdatedAt = fromMicros(updated)
	return p, nil
}

func (r reader) GetPolicy(ctx context.Context, provider, typ string) (store.Policy, error) {
	p, err := scanPolicy(r.q.QueryRowContext(ctx, `SELECT `+policyCols+`
		FROM policies po JOIN providers pr ON pr.id = po.provider_id
		WHERE pr.name = ? AND po.attestation_type = ?`, provider, typ))
	if err != nil {
		return store.Policy{}, mapErr(ctx, err, "policy %s of provider %q", typ, provider)
	}
	return p, nil
}

func (r reader) ListPolicies(ctx context.Context, provider string) ([]store.Policy, error) {
	id, _, err := r.providerID(ctx, provider)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+policyCols+`
		FROM policies po JOIN providers pr ON pr.id = po.provider_id
		WHERE po.provider_id = ? ORDER BY po.attestation_type`, id)
	if err != nil {
		return nil, mapErr(ctx, err, "list policies of %q", provider)
	}
	defer rows.Close()
	var out []store.Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			return nil, mapErr(ctx, err, "list policies of %q", provider)
		}
		out = append(out, p)
	}
	return out, mapErr(ctx, rows.Err(), "list policies of %q", provider)
}

func (r reader) ListSigners(ctx context.Context, provider string) ([]store.Signer, error) {
	id, name, err := r.providerID(ctx, provider)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, `SELECT thumbprint, certificate, added_at FROM signers
		WHERE provider_id = ? ORDER BY added_at, rowid`, id)
	if err != nil {
		return nil, mapErr(ctx, err, "list signers of %q", provider)
	}
	defer rows.Close()
	var out []store.Signer
	for rows.Next() {
		s := store.Signer{Provider: name}
		var added int64
		if err := rows.Scan(&s.Thumbprint, &s.Certificate, &added); err != nil {
			return nil, mapErr(ctx, err, "list signers of %q", provider)
		}
		s.AddedAt = fromMicros(added)
		out = append(out, s)
	}
	return out, mapErr(ctx, rows.Err(), "list signers of %q", provider)
}

const keyCols = `pr.name, k.kid, k.sealed_key, k.certificate, k.created_at, k.retired_at, k.active`

func scanKey(sc scanner) (store.SigningKey, error) {
	var (
		k       store.SigningKey
		created int64
		retired sql.NullInt64
	)
	if err := sc.Scan(&k.Provider, &k.KID, &k.SealedKey, &k.Certificate, &created, &retired, &k.Active); err != nil {
		return k, err
	}
	k.CreatedAt = fromMicros(created)
	k.RetiredAt = fromNullMicros(retired)
	return k, nil
}

func (r reader) ActiveKey(ctx context.Context, provider string) (store.SigningKey, error) {
	k, err := scanKey(r.q.QueryRowContext(ctx, `SELECT `+keyCols+`
		FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
		WHERE pr.name = ? AND k.active = 1`, provider))
	if err != nil {
		return store.SigningKey{}, mapErr(ctx, err, "active key of provider %q", provider)
	}
	return k, nil
}

func (r reader) ListKeys(ctx context.Context, provider string) ([]store.SigningKey, error) {
	id, _, err := r.providerID(ctx, provider)
	if err != nil {
		return nil, err
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+keyCols+`
		FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
		WHERE k.provider_id = ? ORDER BY k.active DESC, k.created_at DESC, k.id DESC`, id)
	if err != nil {
		return nil, mapErr(ctx, err, "list keys of %q", provider)
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, mapErr(ctx, err, "list keys of %q", provider)
		}
		out = append(out, k)
	}
	return out, mapErr(ctx, rows.Err(), "list keys of %q", provider)
}

func (r reader) ActiveKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+keyCols+`
		FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
		WHERE k.active = 1 ORDER BY pr.name`)
	if err != nil {
		return nil, mapErr(ctx, err, "list active keys")
	}
	defer rows.Close()
	var out []store.SigningKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, mapErr(ctx, err, "list active keys")
		}
		out = append(out, k)
	}
	return out, mapErr(ctx, rows.Err(), "list active keys")
}

const tokenCols = `id, hash, role, description, created_at, revoked_at`

func scanToken(sc scanner) (store.AdminToken, error) {
	var (
		t       store.AdminToken
		role    string
		created int64
		revoked sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.Hash, &role, &t.Description, &created, &revoked); err != nil {
		return t, err
	}
	t.Role = store.Role(role)
	t.CreatedAt = fromMicros(created)
	t.RevokedAt = fromNullMicros(revoked)
	t.Revoked = revoked.Valid
	return t, nil
}

func (r reader) GetAdminTokenByHash(ctx context.Context, hash []byte) (store.AdminToken, error) {
	t, err := scanToken(r.q.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM admin_tokens WHERE hash = ?`, hash))
	if err != nil {
		return store.AdminToken{}, mapErr(ctx, err, "admin token")
	}
	return t, nil
}

func (r reader) ListAdminTokens(ctx context.Context) ([]store.AdminToken, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+tokenCols+` FROM admin_tokens ORDER BY created_at, rowid`)
	if err != nil {
		return nil, mapErr(ctx, err, "list admin tokens")
	}
	defer rows.Close()
	var out []store.AdminToken
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, mapErr(ctx, err, "list admin tokens")
		}
		out = append(out, t)
	}
	return out, mapErr(ctx, rows.Err(), "list admin tokens")
}

const collateralMeta = `id, tee, fmspc, pce_id, size, sha256, issue_date, next_update, fetched_at, source`

func scanCollateral(sc scanner, withBundle bool) (store.Collateral, error) {
	var (
		c           store.Collateral
		issue, next sql.NullInt64
		fetched     int64
		bundle      sql.RawBytes
	)
	dest := []any{&c.ID, &c.Key.TEE, &c.Key.FMSPC, &c.Key.PCEID, &c.Size, &c.SHA256, &issue, &next, &fetched, &c.Source}
	if withBundle {
		// RawBytes (valid until the next Next) saves a copy of the bundle.
		dest = append(dest, &bundle)
	}
	if err := sc.Scan(dest...); err != nil {
		return c, err
	}
	if withBundle {
		c.Bundle = bytes.Clone(bundle)
	}
	c.IssueDate = fromNullMicros(issue)
	c.NextUpdate = fromNullMicros(next)
	c.FetchedAt = fromMicros(fetched)
	return c, nil
}

// getCollateral reads one row with its bundle; Rows, not Row, because
// Row.Scan refuses RawBytes.
func (r reader) getCollateral(ctx context.Context, what string, q string, args ...any) (store.Collateral, error) {
	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return store.Collateral{}, mapErr(ctx, err, "%s", what)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return store.Collateral{}, mapErr(ctx, err, "%s", what)
		}
		return store.Collateral{}, store.ErrNotFound.Wrapf("%s", what)
	}
	c, err := scanCollateral(rows, true)
	if err != nil {
		return store.Collateral{}, mapErr(ctx, err, "%s", what)
	}
	return c, nil
}

func (r reader) GetCollateral(ctx context.Context, key store.CollateralKey) (store.Collateral, error) {
	k, err := key.Normalize()
	if err != nil {
		return store.Collateral{}, err
	}
	return r.getCollateral(ctx, "collateral "+k.String(), `SELECT `+collateralMeta+`, bundle FROM collateral
		WHERE tee = ? AND fmspc = ? AND pce_id = ? ORDER BY id DESC LIMIT 1`, k.TEE, k.FMSPC, k.PCEID)
}

func (r reader) GetCollateralByID(ctx context.Context, id int64) (store.Collateral, error) {
	return r.getCollateral(ctx, fmt.Sprintf("collateral #%d", id), `SELECT `+collateralMeta+`, bundle FROM collateral
		WHERE id = ?`, id)
}

func (r reader) ListCollateral(ctx context.Context) ([]store.Collateral, error) {
	return r.listCollateral(ctx, `SELECT `+collateralMeta+` FROM collateral
		WHERE id IN (SELECT max(id) FROM collateral GROUP BY tee, fmspc, pce_id)
		ORDER BY tee, fmspc, pce_id`)
}

func (r reader) CollateralHistory(ctx context.Context, key store.CollateralKey) ([]store.Collateral, error) {
	k, err := key.Normalize()
	if err != nil {
		return nil, err
	}
	out, err := r.listCollateral(ctx, `SELECT `+collateralMeta+` FROM collateral
		WHERE tee = ? AND fmspc = ? AND pce_id = ? ORDER BY id DESC`, k.TEE, k.FMSPC, k.PCEID)
	if err == nil && len(out) == 0 {
		err = store.ErrNotFound.Wrapf("collateral %s", k)
	}
	return out, err
}

func (r reader) listCollateral(ctx context.Context, q string, args ...any) ([]store.Collateral, error) {
	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err, "list collateral")
	}
	defer rows.Close()
	var out []store.Collateral
	for rows.Next() {
		c, err := scanCollateral(rows, false)
		if err != nil {
			return nil, mapErr(ctx, err, "list collateral")
		}
		out = append(out, c)
	}
	return out, mapErr(ctx, rows.Err(), "list collateral")
}

func (r reader) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	if f.Provider != "" {
		where, args = append(where, "provider = ?"), append(args, f.Provider)
	}
	if f.Kind != "" {
		if !f.Kind.Valid() {
			return nil, store.ErrInvalid.Wrapf("unknown audit kind %q", f.Kind)
		}
		where, args = append(where, "kind = ?"), append(args, string(f.Kind))
	}
	if f.OperationPrefix != "" {
		// substr counts characters; so does length.
		where = append(where, "substr(operation, 1, length(?)) = ?")
		args = append(args, f.OperationPrefix, f.OperationPrefix)
	}
	if !f.Since.IsZero() {
		where, args = append(where, "time >= ?"), append(args, toMicros(f.Since))
	}
	if !f.Until.IsZero() {
		where, args = append(where, "time < ?"), append(args, toMicros(f.Until))
	}
	if f.BeforeID > 0 {
		where, args = append(where, "id < ?"), append(args, f.BeforeID)
	}
	q := `SELECT id, time, kind, actor, provider, operation, outcome, details, request_id FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.EffectiveLimit())

	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err, "list audit")
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var (
			e       store.AuditEntry
			tm      int64
			kind    string
			details sql.NullString
		)
		if err := rows.Scan(&e.ID, &tm, &kind, &e.Actor, &e.Provider, &e.Operation, &e.Outcome, &details, &e.RequestID); err != nil {
			return nil, mapErr(ctx, err, "list audit")
		}
		e.Time = fromMicros(tm)
		e.Kind = store.AuditKind(kind)
		if details.Valid {
			if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
				return nil, store.ErrStore.Wrapf("audit entry %d: details: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, mapErr(ctx, rows.Err(), "list audit")
}
