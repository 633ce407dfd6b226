// Package store defines what avow keeps between requests and across nodes:
// attestation providers, their policies, policy signer certificates and
// token signing keys, admin tokens, Intel collateral, the audit log, and a
// change counter for cache invalidation.
//
// Only the store knows SQL. The interface here is implemented once, by
// store/sqlstore, for store/sqlite (embedded, the default) and
// store/postgres (several nodes), each through a small dialect; both must
// pass the one conformance suite in store/storetest.
//
// # Conventions
//
//   - Every method takes a context. Cancelling it aborts the operation; a
//     cancelled write leaves nothing behind.
//   - Times are inputs: the caller (the service, with its clock) stamps
//     CreatedAt, UpdatedAt, Time… A zero time on a required timestamp means
//     "now" (the wall clock). Stored times are truncated to microseconds and
//     returned in UTC, so every backend returns the same values.
//   - Names are case-insensitive: provider names and attestation types are
//     matched without regard to ASCII case and returned as first stored.
//   - Errors carry one of the codes below (errors.Is works on them). The
//     client-safe message never contains SQL or driver text; the cause does.
//
// # Transactions and audit
//
// Each method on a [Store] is one transaction. [Store.WithTx] runs several
// reads and writes, and typically an audit entry, as one transaction: a
// change and the audit entry describing it land together or not at all:
//
//	err := s.WithTx(ctx, func(tx store.Tx) error {
//		p, err := tx.SetPolicy(ctx, policy)
//		if err != nil {
//			return err
//		}
//		return tx.AppendAudit(ctx, entry)
//	})
//
// If fn returns an error (or panics) everything it wrote is rolled back.
// Inside fn use only tx: calling the Store's own write methods from fn may
// deadlock (the embedded store has a single writer).
//
// # Change notification
//
// [Store.ChangeVersion] is a global counter that increases in the same
// transaction as every change to state that nodes cache: providers,
// policies, signers, keys, admin tokens and collateral. Audit appends and
// prunes do not change it (they are written on every attestation and are
// never cached). A node polls it and drops its caches when it moves.
package store

import (
	"context"
	"net/http"
	"time"

	"github.com/avowhq/avow/errs"
)

// The store's errors. Backends wrap driver errors in ErrStore and map
// constraint violations to ErrConflict, so callers only ever see these
// codes (and context errors, wrapped in ErrStore, which errors.Is still
// finds).
var (
	ErrNotFound = errs.New("not_found", "the requested item does not exist").WithStatus(http.StatusNotFound)
	ErrConflict = errs.New("conflict", "the item already exists or was changed by someone else").WithStatus(http.StatusConflict)
	ErrInvalid  = errs.New("invalid_value", "the request is missing a required value or has an invalid one")
	ErrStore    = errs.New("store_unavailable", "the data store is unavailable").WithStatus(http.StatusServiceUnavailable)
)

// Reader holds the read methods, available on a Store and inside a Tx.
type Reader interface {
	// GetProvider returns the provider named name (case-insensitive).
	GetProvider(ctx context.Context, name string) (Provider, error)
	// ListProviders returns every provider ordered by name.
	ListProviders(ctx context.Context) ([]Provider, error)

	// GetPolicy returns the policy of a provider for an attestation type.
	// ErrNotFound when the provider or the policy does not exist.
	GetPolicy(ctx context.Context, provider, attestationType string) (Policy, error)
	// ListPolicies returns a provider's policies ordered by type.
	// ErrNotFound when the provider does not exist.
	ListPolicies(ctx context.Context, provider string) ([]Policy, error)

	// ListSigners returns a provider's policy signer certificates in the
	// order they were added. ErrNotFound when the provider does not exist.
	ListSigners(ctx context.Context, provider string) ([]Signer, error)

	// ActiveKey returns a provider's active signing key; ErrNotFound when
	// the provider does not exist or has no key yet.
	ActiveKey(ctx context.Context, provider string) (SigningKey, error)
	// ListKeys returns all of a provider's signing keys, newest first (the
	// active key first). ErrNotFound when the provider does not exist.
	ListKeys(ctx context.Context, provider string) ([]SigningKey, error)
	// ActiveKeys returns every provider's active signing key, ordered by
	// provider name: what a node checks its key-encryption key against
	// when it starts.
	ActiveKeys(ctx context.Context) ([]SigningKey, error)

	// GetAdminTokenByHash returns the token whose secret hashes to hash,
	// revoked or not: the caller must check Revoked.
	GetAdminTokenByHash(ctx context.Context, hash []byte) (AdminToken, error)
	// ListAdminTokens returns every admin token ordered by creation.
	ListAdminTokens(ctx context.Context) ([]AdminToken, error)

	// GetCollateral returns the latest collateral stored for key.
	GetCollateral(ctx context.Context, key CollateralKey) (Collateral, error)
	// GetCollateralByID returns one stored collateral row, latest or not.
	GetCollateralByID(ctx context.Context, id int64) (Collateral, error)
	// ListCollateral returns the latest collateral of every key, ordered by
	// key, without the Bundle bytes (Size and SHA256 describe them).
	ListCollateral(ctx context.Context) ([]Collateral, error)
	// CollateralHistory returns every stored row for key, newest first,
	// without the Bundle bytes. ErrNotFound when there is none.
	CollateralHistory(ctx context.Context, key CollateralKey) ([]Collateral, error)
	// GetCollateralForNumber returns the latest row of key whose TCB
	// evaluation data number is n, pinned or not.
	GetCollateralForNumber(ctx context.Context, key CollateralKey, n uint32) (Collateral, error)
	// ListCollateralNumbers returns the latest row of every key and TCB
	// evaluation data number, pinned or not, ordered by key and number,
	// without the Bundle bytes.
	ListCollateralNumbers(ctx context.Context) ([]Collateral, error)

	// GetTypeCollateral returns the collateral row (typ, kind, key) of an
	// attestation type; ErrNotFound when there is none.
	GetTypeCollateral(ctx context.Context, typ, kind, key string) (TypeCollateral, error)
	// ListTypeCollateral returns the collateral rows of an attestation
	// type ("" for every type), ordered by type, kind and key.
	ListTypeCollateral(ctx context.Context, typ string) ([]TypeCollateral, error)

	// ListAudit returns audit entries matching f, newest first.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}

// Writer holds the write methods, available on a Store (one transaction
// per call) and inside a Tx.
type Writer interface {
	// CreateProvider stores a new provider with Version 1 and returns it
	// as stored. ErrConflict when the name is taken (in any case).
	CreateProvider(ctx context.Context, p Provider) (Provider, error)
	// UpdateProvider replaces the trust model, settings and metadata of the
	// provider p.Name and sets UpdatedAt. p.Version must be the stored
	// version (ErrConflict otherwise); the stored version is bumped.
	UpdateProvider(ctx context.Context, p Provider) (Provider, error)
	// DeleteProvider deletes a provider with its policies, signers and
	// keys. Its audit entries stay.
	DeleteProvider(ctx context.Context, name string) error

	// SetPolicy creates or replaces the policy for (p.Provider,
	// p.AttestationType). When p.Version is not zero it must equal the
	// stored version (ErrConflict otherwise; a missing policy has version
	// 0). The stored version is bumped on every set.
	SetPolicy(ctx context.Context, p Policy) (Policy, error)
	// DeletePolicy removes a policy (MAA's reset). ErrNotFound when there
	// is none.
	DeletePolicy(ctx context.Context, provider, attestationType string) error

	// AddSigner adds a policy signer certificate. The store computes the
	// thumbprint from s.Certificate. ErrConflict when it is already there.
	AddSigner(ctx context.Context, s Signer) (Signer, error)
	// RemoveSigner removes the certificate with this thumbprint (SHA-256
	// hex, any case). ErrNotFound when it is not there.
	RemoveSigner(ctx context.Context, provider, thumbprint string) error

	// RotateKey atomically makes key the provider's active key: the current
	// active key (if any) is marked inactive with RetiredAt = retireAt
	// (zero: key.CreatedAt) and key is inserted as active. A provider
	// always has at most one active key, also under concurrent rotations.
	// ErrConflict when the provider already has a key with this KID.
	RotateKey(ctx context.Context, provider string, key SigningKey, retireAt time.Time) (SigningKey, error)
	// PruneRetiredKeys deletes inactive keys retired before before, for
	// every provider, and returns how many it deleted.
	PruneRetiredKeys(ctx context.Context, before time.Time) (int64, error)

	// CreateAdminToken stores a token. ErrConflict when the ID or the
	// hash exists.
	CreateAdminToken(ctx context.Context, t AdminToken) (AdminToken, error)
	// RevokeAdminToken marks a token revoked at at (zero: now). Revoking a
	// revoked token keeps its first revocation time. ErrNotFound when
	// there is no such token.
	RevokeAdminToken(ctx context.Context, id string, at time.Time) error

	// PutCollateral stores collateral for c.Key; it becomes the latest for
	// that key (unless Pinned: then only the latest for its TCB evaluation
	// data number) and earlier rows stay as history.
	PutCollateral(ctx context.Context, c Collateral) (Collateral, error)
	// PruneCollateral deletes history rows fetched before olderThan. The
	// latest unpinned row of each key and the latest row of each key and
	// TCB evaluation data number are never deleted.
	PruneCollateral(ctx context.Context, olderThan time.Time) (int64, error)

	// PutTypeCollateral stores (or replaces) the collateral row
	// (c.Type, c.Kind, c.Key) and returns it with its SHA256.
	PutTypeCollateral(ctx context.Context, c TypeCollateral) (TypeCollateral, error)

	// AppendAudit appends entries. An invalid entry (no Operation, unknown
	// Kind…) is rejected with ErrInvalid and, inside a Tx, the caller's
	// returning that error rolls back the whole transaction.
	AppendAudit(ctx context.Context, entries ...AuditEntry) error
	// PruneAttestations deletes attestation audit records (Kind
	// attestation) older than olderThan. Management records are kept.
	PruneAttestations(ctx context.Context, olderThan time.Time) (int64, error)
}

// Tx is a transaction: the reads see its own writes.
type Tx interface {
	Reader
	Writer
}

// Store is a data store. It is safe for concurrent use.
type Store interface {
	Reader
	Writer

	// WithTx runs fn in one transaction and commits it if fn returns nil.
	// fn's error is returned unchanged; a commit failure is ErrStore.
	// Do not keep tx after fn returns.
	WithTx(ctx context.Context, fn func(tx Tx) error) error

	// ChangeVersion returns the change counter: it increases with every
	// committed change to cached state (see the package documentation).
	ChangeVersion(ctx context.Context) (int64, error)

	// Ping checks that the store answers (for /readyz).
	Ping(ctx context.Context) error

	// Close releases the store.
	Close() error
}
