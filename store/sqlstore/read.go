package sqlstore

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
// Store, the transaction for a tx (then t).
type reader struct {
	s *Store
	q querier
	t *tx // nil outside a transaction
}

type scanner interface{ Scan(dest ...any) error }

func scanProvider(sc scanner) (store.Provider, error) {
	var (
		id                int64
		p                 store.Provider
		tm, accepted      string
		grace             int64
		extra, tags       sql.NullString
		sub, rg, location string
	)
	err := sc.Scan(&id, &p.Name, &tm, &accepted, &grace, &extra,
		&sub, &rg, &location, &tags, tsCol{&p.CreatedAt}, tsCol{&p.UpdatedAt}, &p.Version)
	if err != nil {
		return p, err
	}
	p.TrustModel = store.TrustModel(tm)
	if err := json.Unmarshal([]byte(accepted), &p.Settings.AcceptedTCBStatuses); err != nil {
		return p, store.ErrStore.Wrapf("provider %q: accepted TCB statuses: %w", p.Name, err)
	}
	p.Settings.CollateralGracePeriod = time.Duration(grace)
	if extra.Valid {
		p.Settings.Extra = json.RawMessage(extra.String)
	}
	p.Metadata = store.Metadata{SubscriptionID: sub, ResourceGroup: rg, Location: location}
	if tags.Valid {
		if err := json.Unmarshal([]byte(tags.String), &p.Metadata.Tags); err != nil {
			return p, store.ErrStore.Wrapf("provider %q: tags: %w", p.Name, err)
		}
	}
	return p, nil
}

// list runs a query and scans every row with scan.
func list[T any](r reader, ctx context.Context, what string, scan func(scanner) (T, error), q string, args ...any) ([]T, error) {
	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, r.s.mapErr(ctx, err, "%s", what)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, r.s.mapErr(ctx, err, "%s", what)
		}
		out = append(out, v)
	}
	return out, r.s.mapErr(ctx, rows.Err(), "%s", what)
}

// one scans the row of a query that selects one; what describes the row
// in errors.
func one[T any](r reader, ctx context.Context, scan func(scanner) (T, error), what func() string, q string, args ...any) (T, error) {
	v, err := scan(r.q.QueryRowContext(ctx, q, args...))
	if err != nil {
		return v, r.s.mapErr(ctx, err, "%s", what())
	}
	return v, nil
}

func (r reader) GetProvider(ctx context.Context, name string) (store.Provider, error) {
	return one(r, ctx, scanProvider, func() string { return fmt.Sprintf("provider %q", name) }, r.s.q.getProvider, name)
}

func (r reader) ListProviders(ctx context.Context) ([]store.Provider, error) {
	return list(r, ctx, "list providers", scanProvider, r.s.q.listProviders)
}

// providerID returns the row id and stored name of a provider, with the
// dialect's row lock when lock is set.
func (r reader) providerID(ctx context.Context, name string, lock bool) (int64, string, error) {
	var (
		id     int64
		stored string
	)
	q := r.s.q.providerID
	if lock {
		q = r.s.q.providerIDLock
	}
	if err := r.q.QueryRowContext(ctx, q, name).Scan(&id, &stored); err != nil {
		return 0, "", r.s.mapErr(ctx, err, "provider %q", name)
	}
	return id, stored, nil
}

func scanPolicy(sc scanner) (store.Policy, error) {
	var p store.Policy
	if err := sc.Scan(&p.Provider, &p.AttestationType, &p.Document, &p.Text, &p.Hash, &p.SignerCert,
		tsCol{&p.UpdatedAt}, &p.Version); err != nil {
		return p, err
	}
	p.Hash, p.SignerCert = nilIfEmpty(p.Hash), nilIfEmpty(p.SignerCert)
	return p, nil
}

func nilIfEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (r reader) GetPolicy(ctx context.Context, provider, typ string) (store.Policy, error) {
	return one(r, ctx, scanPolicy, func() string { return fmt.Sprintf("policy %s of provider %q", typ, provider) },
		r.s.q.getPolicy, provider, typ)
}

func (r reader) ListPolicies(ctx context.Context, provider string) ([]store.Policy, error) {
	id, _, err := r.providerID(ctx, provider, false)
	if err != nil {
		return nil, err
	}
	return list(r, ctx, fmt.Sprintf("list policies of %q", provider), scanPolicy, r.s.q.listPolicies, id)
}

func (r reader) ListSigners(ctx context.Context, provider string) ([]store.Signer, error) {
	id, name, err := r.providerID(ctx, provider, false)
	if err != nil {
		return nil, err
	}
	return list(r, ctx, fmt.Sprintf("list signers of %q", provider), func(sc scanner) (store.Signer, error) {
		s := store.Signer{Provider: name}
		return s, sc.Scan(&s.Thumbprint, &s.Certificate, tsCol{&s.AddedAt})
	}, r.s.q.listSigners, id)
}

func scanKey(sc scanner) (store.SigningKey, error) {
	var k store.SigningKey
	err := sc.Scan(&k.Provider, &k.KID, &k.SealedKey, &k.Certificate, tsCol{&k.CreatedAt}, tsCol{&k.RetiredAt}, &k.Active)
	return k, err
}

func (r reader) ActiveKey(ctx context.Context, provider string) (store.SigningKey, error) {
	return one(r, ctx, scanKey, func() string { return fmt.Sprintf("active key of provider %q", provider) },
		r.s.q.activeKey, provider)
}

func (r reader) ActiveKeys(ctx context.Context) ([]store.SigningKey, error) {
	return list(r, ctx, "list active keys", scanKey, r.s.q.activeKeys)
}

func (r reader) ListKeys(ctx context.Context, provider string) ([]store.SigningKey, error) {
	id, _, err := r.providerID(ctx, provider, false)
	if err != nil {
		return nil, err
	}
	return list(r, ctx, fmt.Sprintf("list keys of %q", provider), scanKey, r.s.q.listKeys, id)
}

func scanToken(sc scanner) (store.AdminToken, error) {
	var (
		t    store.AdminToken
		role string
	)
	if err := sc.Scan(&t.ID, &t.Hash, &role, &t.Description, tsCol{&t.CreatedAt}, tsCol{&t.RevokedAt}); err != nil {
		return t, err
	}
	t.Role = store.Role(role)
	t.Revoked = !t.RevokedAt.IsZero()
	return t, nil
}

func (r reader) GetAdminTokenByHash(ctx context.Context, hash []byte) (store.AdminToken, error) {
	return one(r, ctx, scanToken, func() string { return "admin token" }, r.s.q.tokenByHash, hash)
}

func (r reader) ListAdminTokens(ctx context.Context) ([]store.AdminToken, error) {
	return list(r, ctx, "list admin tokens", scanToken, r.s.q.listTokens)
}

func scanCollateral(sc scanner) (store.Collateral, error) { return scanCollateralBundle(sc, nil) }

// scanCollateralBundle scans a collateral row, and its bundle into bundle
// when not nil.
func scanCollateralBundle(sc scanner, bundle *sql.RawBytes) (store.Collateral, error) {
	var c store.Collateral
	dest := []any{&c.ID, &c.Key.TEE, &c.Key.FMSPC, &c.Key.PCEID, &c.Size, &c.SHA256,
		tsCol{&c.IssueDate}, tsCol{&c.NextUpdate}, tsCol{&c.FetchedAt}, &c.Source, &c.TCBEvaluationDataNumber, &c.Pinned}
	if bundle != nil {
		dest = append(dest, bundle)
	}
	return c, sc.Scan(dest...)
}

// getCollateral reads one row with its bundle; Rows, not Row, because
// Row.Scan refuses RawBytes, which saves a copy of the bundle.
func (r reader) getCollateral(ctx context.Context, what string, q string, args ...any) (store.Collateral, error) {
	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return store.Collateral{}, r.s.mapErr(ctx, err, "%s", what)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return store.Collateral{}, r.s.mapErr(ctx, err, "%s", what)
		}
		return store.Collateral{}, store.ErrNotFound.Wrapf("%s", what)
	}
	var bundle sql.RawBytes // valid until Close: saves a copy of the bundle
	c, err := scanCollateralBundle(rows, &bundle)
	if err != nil {
		return store.Collateral{}, r.s.mapErr(ctx, err, "%s", what)
	}
	c.Bundle = bytes.Clone(bundle)
	return c, nil
}

func (r reader) GetCollateral(ctx context.Context, key store.CollateralKey) (store.Collateral, error) {
	k, err := key.Normalize()
	if err != nil {
		return store.Collateral{}, err
	}
	return r.getCollateral(ctx, "collateral "+k.String(), r.s.q.getCollateral, k.TEE, k.FMSPC, k.PCEID)
}

func (r reader) GetCollateralByID(ctx context.Context, id int64) (store.Collateral, error) {
	return r.getCollateral(ctx, fmt.Sprintf("collateral #%d", id), r.s.q.collateralByID, id)
}

func (r reader) ListCollateral(ctx context.Context) ([]store.Collateral, error) {
	return list(r, ctx, "list collateral", scanCollateral, r.s.q.listCollateral)
}

func (r reader) GetCollateralForNumber(ctx context.Context, key store.CollateralKey, n uint32) (store.Collateral, error) {
	k, err := key.Normalize()
	if err != nil {
		return store.Collateral{}, err
	}
	return r.getCollateral(ctx, fmt.Sprintf("collateral %s TCB evaluation data number %d", k, n), r.s.q.collateralForNumber,
		k.TEE, k.FMSPC, k.PCEID, int64(n))
}

func (r reader) ListCollateralNumbers(ctx context.Context) ([]store.Collateral, error) {
	return list(r, ctx, "list collateral", scanCollateral, r.s.q.listCollateralNumbers)
}

func (r reader) CollateralHistory(ctx context.Context, key store.CollateralKey) ([]store.Collateral, error) {
	k, err := key.Normalize()
	if err != nil {
		return nil, err
	}
	out, err := list(r, ctx, "collateral history", scanCollateral, r.s.q.collateralHistory, k.TEE, k.FMSPC, k.PCEID)
	if err == nil && len(out) == 0 {
		err = store.ErrNotFound.Wrapf("collateral %s", k)
	}
	return out, err
}

func (r reader) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	var (
		where []string
		args  []any
	)
	add := func(cond string, v ...any) { where, args = append(where, cond), append(args, v...) }
	if f.Provider != "" {
		add(r.s.d.Fold("provider")+" = "+r.s.d.Fold("?"), f.Provider)
	}
	if f.Kind != "" {
		if !f.Kind.Valid() {
			return nil, store.ErrInvalid.Wrapf("unknown audit kind %q", f.Kind)
		}
		add("kind = ?", string(f.Kind))
	}
	if f.OperationPrefix != "" {
		// substr counts characters; so does length.
		add("substr(operation, 1, length(?)) = ?", f.OperationPrefix, f.OperationPrefix)
	}
	if !f.Since.IsZero() {
		add("logged_at >= ?", r.s.ts(f.Since))
	}
	if !f.Until.IsZero() {
		add("logged_at < ?", r.s.ts(f.Until))
	}
	if f.BeforeID > 0 {
		add("id < ?", f.BeforeID)
	}
	q := `SELECT id, ` + auditCols + ` FROM audit`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id DESC LIMIT ?"
	args = append(args, f.EffectiveLimit())
	return list(r, ctx, "list audit", func(sc scanner) (store.AuditEntry, error) {
		var (
			e       store.AuditEntry
			kind    string
			details sql.NullString
		)
		if err := sc.Scan(&e.ID, tsCol{&e.Time}, &kind, &e.Actor, &e.Provider, &e.Operation, &e.Outcome,
			&details, &e.RequestID); err != nil {
			return e, err
		}
		e.Kind = store.AuditKind(kind)
		if details.Valid {
			if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
				return e, store.ErrStore.Wrapf("audit entry %d: details: %w", e.ID, err)
			}
		}
		return e, nil
	}, r.s.d.Rebind(q), args...)
}
