package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/avowhq/avow/store"
)

// reader implements store.Reader on a querier: the pool for the Store, the
// transaction for a tx.
type reader struct{ q querier }

// Times are timestamptz (microseconds); NULL is the zero time.

func ts(t time.Time) time.Time { return store.Timestamp(t) }

func nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return store.Timestamp(t)
}

func fromTS(v pgtype.Timestamptz) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return v.Time.UTC()
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

const providerCols = `id, name, trust_model, accepted_tcb, grace_ns, settings_extra,
	subscription, resource_group, location, tags, created_at, updated_at, version`

func scanProvider(sc pgx.Row) (int64, store.Provider, error) {
	var (
		id                int64
		p                 store.Provider
		tm, accepted      string
		grace             int64
		extra, tags       *string
		created, updated  time.Time
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
	if extra != nil {
		p.Settings.Extra = json.RawMessage(*extra)
	}
	p.Metadata = store.Metadata{SubscriptionID: sub, ResourceGroup: rg, Location: location}
	if tags != nil {
		if err := json.Unmarshal([]byte(*tags), &p.Metadata.Tags); err != nil {
			return 0, p, store.ErrStore.Wrapf("provider %q: tags: %w", p.Name, err)
		}
	}
	p.CreatedAt = created.UTC()
	p.UpdatedAt = updated.UTC()
	return id, p, nil
}

func (r reader) GetProvider(ctx context.Context, name string) (store.Provider, error) {
	_, p, err := scanProvider(r.q.QueryRow(ctx,
		`SELECT `+providerCols+` FROM providers WHERE lower(name) = lower($1)`, name))
	if err != nil {
		return store.Provider{}, mapErr(ctx, err, "provider %q", name)
	}
	return p, nil
}

func (r reader) ListProviders(ctx context.Context) ([]store.Provider, error) {
	rows, err := r.q.Query(ctx, `SELECT `+providerCols+` FROM providers ORDER BY lower(name) COLLATE "C", id`)
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

// providerID returns the row id and stored name of a provider; lock is
// appended to the query (e.g. "FOR NO KEY UPDATE").
func (r reader) providerID(ctx context.Context, name, lock string) (int64, string, error) {
	var (
		id     int64
		stored string
	)
	err := r.q.QueryRow(ctx, `SELECT id, name FROM providers WHERE lower(name) = lower($1) `+lock, name).Scan(&id, &stored)
	if err != nil {
		return 0, "", mapErr(ctx, err, "provider %q", name)
	}
	return id, stored, nil
}

const policyCols = `pr.name, po.attestation_type, po.document, po.policy_text, po.hash, po.signer_cert, po.updated_at, po.version`

func scanPolicy(sc pgx.Row) (store.Policy, error) {
	var (
		p       store.Policy
		updated time.Time
	)
	if err := sc.Scan(&p.Provider, &p.AttestationType, &p.Document, &p.Text, &p.Hash, &p.SignerCert, &updated, &p.Version); err != nil {
		return p, err
	}
	p.Hash, p.SignerCert = nilIfEmpty(p.Hash), nilIfEmpty(p.SignerCert)
	p.UpdatedAt = updated.UTC()
	return p, nil
}

func (r reader) GetPolicy(ctx context.Context, provider, typ string) (store.Policy, error) {
	p, err := scanPolicy(r.q.QueryRow(ctx, `SELECT `+policyCols+`
		FROM policies po JOIN providers pr ON pr.id = po.provider_id
		WHERE lower(pr.name) = lower($1) AND lower(po.attestation_type) = lower($2)`, provider, typ))
	if err != nil {
		return store.Policy{}, mapErr(ctx, err, "policy %s of provider %q", typ, provider)
	}
	return p, nil
}

func (r reader) ListPolicies(ctx context.Context, provider string) ([]store.Policy, error) {
	id, _, err := r.providerID(ctx, provider, "")
	if err != nil {
		return nil, err
	}
	rows, err := r.q.Query(ctx, `SELECT `+policyCols+`
		FROM policies po JOIN providers pr ON pr.id = po.provider_id
		WHERE po.provider_id = $1 ORDER BY lower(po.attestation_type) COLLATE "C"`, id)
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
	id, name, err := r.providerID(ctx, provider, "")
	if err != nil {
		return nil, err
	}
	rows, err := r.q.Query(ctx, `SELECT thumbprint, certificate, added_at FROM signers
		WHERE provider_id = $1 ORDER BY added_at, id`, id)
	if err != nil {
		return nil, mapErr(ctx, err, "list signers of %q", provider)
	}
	defer rows.Close()
	var out []store.Signer
	for rows.Next() {
		s := store.Signer{Provider: name}
		var added time.Time
		if err := rows.Scan(&s.Thumbprint, &s.Certificate, &added); err != nil {
			return nil, mapErr(ctx, err, "list signers of %q", provider)
		}
		s.AddedAt = added.UTC()
		out = append(out, s)
	}
	return out, mapErr(ctx, rows.Err(), "list signers of %q", provider)
}

const keyCols = `pr.name, k.kid, k.sealed_key, k.certificate, k.created_at, k.retired_at, k.active`

func scanKey(sc pgx.Row) (store.SigningKey, error) {
	var (
		k       store.SigningKey
		created time.Time
		retired pgtype.Timestamptz
	)
	if err := sc.Scan(&k.Provider, &k.KID, &k.SealedKey, &k.Certificate, &created, &retired, &k.Active); err != nil {
		return k, err
	}
	k.CreatedAt = created.UTC()
	k.RetiredAt = fromTS(retired)
	return k, nil
}

func (r reader) ActiveKey(ctx context.Context, provider string) (store.SigningKey, error) {
	k, err := scanKey(r.q.QueryRow(ctx, `SELECT `+keyCols+`
		FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
		WHERE lower(pr.name) = lower($1) AND k.active`, provider))
	if err != nil {
		return store.SigningKey{}, mapErr(ctx, err, "active key of provider %q", provider)
	}
	return k, nil
}

func (r reader) ListKeys(ctx context.Context, provider string) ([]store.SigningKey, error) {
	id, _, err := r.providerID(ctx, provider, "")
	if err != nil {
		return nil, err
	}
	rows, err := r.q.Query(ctx, `SELECT `+keyCols+`
		FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
		WHERE k.provider_id = $1 ORDER BY k.active DESC, k.created_at DESC, k.id DESC`, id)
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
	rows, err := r.q.Query(ctx, `SELECT `+keyCols+`
		FROM signing_keys k JOIN providers pr ON pr.id = k.provider_id
		WHERE k.active ORDER BY lower(pr.name) COLLATE "C", pr.id`)
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

func scanToken(sc pgx.Row) (store.AdminToken, error) {
	var (
		t       store.AdminToken
		role    string
		created time.Time
		revoked pgtype.Timestamptz
	)
	if err := sc.Scan(&t.ID, &t.Hash, &role, &t.Description, &created, &revoked); err != nil {
		return t, err
	}
	t.Role = store.Role(role)
	t.CreatedAt = created.UTC()
	t.RevokedAt = fromTS(revoked)
	t.Revoked = revoked.Valid
	return t, nil
}

func (r reader) GetAdminTokenByHash(ctx context.Context, hash []byte) (store.AdminToken, error) {
	t, err := scanToken(r.q.QueryRow(ctx, `SELECT `+tokenCols+` FROM admin_tokens WHERE hash = $1`, hash))
	if err != nil {
		return store.AdminToken{}, mapErr(ctx, err, "admin token")
	}
	return t, nil
}

func (r reader) ListAdminTokens(ctx context.Context) ([]store.AdminToken, error) {
	rows, err := r.q.Query(ctx, `SELECT `+tokenCols+` FROM admin_tokens ORDER BY created_at, seq`)
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

func scanCollateral(sc pgx.Row, withBundle bool) (store.Collateral, error) {
	var (
		c           store.Collateral
		issue, next pgtype.Timestamptz
		fetched     time.Time
	)
	dest := []any{&c.ID, &c.Key.TEE, &c.Key.FMSPC, &c.Key.PCEID, &c.Size, &c.SHA256, &issue, &next, &fetched, &c.Source}
	if withBundle {
		dest = append(dest, &c.Bundle)
	}
	if err := sc.Scan(dest...); err != nil {
		return c, err
	}
	c.IssueDate = fromTS(issue)
	c.NextUpdate = fromTS(next)
	c.FetchedAt = fetched.UTC()
	return c, nil
}

func (r reader) GetCollateral(ctx context.Context, key store.CollateralKey) (store.Collateral, error) {
	k, err := key.Normalize()
	if err != nil {
		return store.Collateral{}, err
	}
	c, err := scanCollateral(r.q.QueryRow(ctx, `SELECT `+collateralMeta+`, bundle FROM collateral
		WHERE tee = $1 AND fmspc = $2 AND pce_id = $3 ORDER BY id DESC LIMIT 1`, k.TEE, k.FMSPC, k.PCEID), true)
	if err != nil {
		return store.Collateral{}, mapErr(ctx, err, "collateral %s", k)
	}
	return c, nil
}

func (r reader) GetCollateralByID(ctx context.Context, id int64) (store.Collateral, error) {
	c, err := scanCollateral(r.q.QueryRow(ctx, `SELECT `+collateralMeta+`, bundle FROM collateral WHERE id = $1`, id), true)
	if err != nil {
		return store.Collateral{}, mapErr(ctx, err, "collateral #%d", id)
	}
	return c, nil
}

func (r reader) ListCollateral(ctx context.Context) ([]store.Collateral, error) {
	return r.listCollateral(ctx, `SELECT DISTINCT ON (tee, fmspc, pce_id) `+collateralMeta+` FROM collateral
		ORDER BY tee, fmspc, pce_id, id DESC`)
}

func (r reader) CollateralHistory(ctx context.Context, key store.CollateralKey) ([]store.Collateral, error) {
	k, err := key.Normalize()
	if err != nil {
		return nil, err
	}
	out, err := r.listCollateral(ctx, `SELECT `+collateralMeta+` FROM collateral
		WHERE tee = $1 AND fmspc = $2 AND pce_id = $3 ORDER BY id DESC`, k.TEE, k.FMSPC, k.PCEID)
	if err == nil && len(out) == 0 {
		err = store.ErrNotFound.Wrapf("collateral %s", k)
	}
	return out, err
}

func (r reader) listCollateral(ctx context.Context, q string, args ...any) ([]store.Collateral, error) {
	rows, err := r.q.Query(ctx, q, args...)
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
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	if f.Provider != "" {
		where = append(where, "lower(provider) = lower("+arg(f.Provider)+")")
	}
	if f.Kind != "" {
		if !f.Kind.Valid() {
			return nil, store.ErrInvalid.Wrapf("unknown audit kind %q", f.Kind)
		}
		where = append(where, "kind = "+arg(string(f.Kind)))
	}
	if f.OperationPrefix != "" {
		where = append(where, "starts_with(operation, "+arg(f.OperationPrefix)+")")
	}
	if !f.Since.IsZero() {
		where = append(where, "logged_at >= "+arg(ts(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, "logged_at < "+arg(ts(f.Until)))
	}
	if f.BeforeID > 0 {
		where = append(where, "id < "+arg(f.BeforeID))
	}
	q := `SELECT id, logged_at, kind, actor, provider, operation, outcome, details, request_id FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT " + arg(f.EffectiveLimit())

	rows, err := r.q.Query(ctx, q, args...)
	if err != nil {
		return nil, mapErr(ctx, err, "list audit")
	}
	defer rows.Close()
	var out []store.AuditEntry
	for rows.Next() {
		var (
			e       store.AuditEntry
			tm      time.Time
			kind    string
			details *string
		)
		if err := rows.Scan(&e.ID, &tm, &kind, &e.Actor, &e.Provider, &e.Operation, &e.Outcome, &details, &e.RequestID); err != nil {
			return nil, mapErr(ctx, err, "list audit")
		}
		e.Time = tm.UTC()
		e.Kind = store.AuditKind(kind)
		if details != nil {
			if err := json.Unmarshal([]byte(*details), &e.Details); err != nil {
				return nil, store.ErrStore.Wrapf("audit entry %d: details: %w", e.ID, err)
			}
		}
		out = append(out, e)
	}
	return out, mapErr(ctx, rows.Err(), "list audit")
}
