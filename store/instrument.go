package store

import (
	"context"
	"time"
)

// Observe is told the duration and the error of one store operation; op is
// the method name in snake case ("get_provider", "tx" for WithTx).
type Observe func(op string, d time.Duration, err error)

// Instrument returns s with every method timed through observe (for the
// store latency metrics). A transaction is timed as a whole ("tx"). A
// store that pushes change notifications (a Changes method, see Notifier)
// keeps doing so through the returned store; Unwrap returns s.
func Instrument(s Store, observe Observe) Store {
	in := &instrumented{Store: s, observe: observe}
	if n, ok := s.(changeNotifier); ok {
		return &instrumentedNotifier{instrumented: in, n: n}
	}
	return in
}

// changeNotifier is the method of Notifier.
type changeNotifier interface {
	Changes(ctx context.Context) <-chan int64
}

type instrumented struct {
	Store
	observe Observe
}

// Unwrap returns the instrumented store.
func (s *instrumented) Unwrap() Store { return s.Store }

type instrumentedNotifier struct {
	*instrumented
	n changeNotifier
}

func (s *instrumentedNotifier) Changes(ctx context.Context) <-chan int64 { return s.n.Changes(ctx) }

func (s *instrumented) done(op string, start time.Time, err error) {
	s.observe(op, time.Since(start), err)
}

func (s *instrumented) GetProvider(ctx context.Context, name string) (Provider, error) {
	start := time.Now()
	v, err := s.Store.GetProvider(ctx, name)
	s.done("get_provider", start, err)
	return v, err
}

func (s *instrumented) ListProviders(ctx context.Context) ([]Provider, error) {
	start := time.Now()
	v, err := s.Store.ListProviders(ctx)
	s.done("list_providers", start, err)
	return v, err
}

func (s *instrumented) GetPolicy(ctx context.Context, provider, attestationType string) (Policy, error) {
	start := time.Now()
	v, err := s.Store.GetPolicy(ctx, provider, attestationType)
	s.done("get_policy", start, err)
	return v, err
}

func (s *instrumented) ListPolicies(ctx context.Context, provider string) ([]Policy, error) {
	start := time.Now()
	v, err := s.Store.ListPolicies(ctx, provider)
	s.done("list_policies", start, err)
	return v, err
}

func (s *instrumented) ListSigners(ctx context.Context, provider string) ([]Signer, error) {
	start := time.Now()
	v, err := s.Store.ListSigners(ctx, provider)
	s.done("list_signers", start, err)
	return v, err
}

func (s *instrumented) ActiveKey(ctx context.Context, provider string) (SigningKey, error) {
	start := time.Now()
	v, err := s.Store.ActiveKey(ctx, provider)
	s.done("active_key", start, err)
	return v, err
}

func (s *instrumented) ListKeys(ctx context.Context, provider string) ([]SigningKey, error) {
	start := time.Now()
	v, err := s.Store.ListKeys(ctx, provider)
	s.done("list_keys", start, err)
	return v, err
}

func (s *instrumented) ActiveKeys(ctx context.Context) ([]SigningKey, error) {
	start := time.Now()
	v, err := s.Store.ActiveKeys(ctx)
	s.done("active_keys", start, err)
	return v, err
}

func (s *instrumented) GetAdminTokenByHash(ctx context.Context, hash []byte) (AdminToken, error) {
	start := time.Now()
	v, err := s.Store.GetAdminTokenByHash(ctx, hash)
	s.done("get_admin_token_by_hash", start, err)
	return v, err
}

func (s *instrumented) ListAdminTokens(ctx context.Context) ([]AdminToken, error) {
	start := time.Now()
	v, err := s.Store.ListAdminTokens(ctx)
	s.done("list_admin_tokens", start, err)
	return v, err
}

func (s *instrumented) GetCollateral(ctx context.Context, key CollateralKey) (Collateral, error) {
	start := time.Now()
	v, err := s.Store.GetCollateral(ctx, key)
	s.done("get_collateral", start, err)
	return v, err
}

func (s *instrumented) GetCollateralByID(ctx context.Context, id int64) (Collateral, error) {
	start := time.Now()
	v, err := s.Store.GetCollateralByID(ctx, id)
	s.done("get_collateral_by_i_d", start, err)
	return v, err
}

func (s *instrumented) ListCollateral(ctx context.Context) ([]Collateral, error) {
	start := time.Now()
	v, err := s.Store.ListCollateral(ctx)
	s.done("list_collateral", start, err)
	return v, err
}

func (s *instrumented) CollateralHistory(ctx context.Context, key CollateralKey) ([]Collateral, error) {
	start := time.Now()
	v, err := s.Store.CollateralHistory(ctx, key)
	s.done("collateral_history", start, err)
	return v, err
}

func (s *instrumented) GetCollateralForNumber(ctx context.Context, key CollateralKey, n uint32) (Collateral, error) {
	start := time.Now()
	v, err := s.Store.GetCollateralForNumber(ctx, key, n)
	s.done("get_collateral_for_number", start, err)
	return v, err
}

func (s *instrumented) ListCollateralNumbers(ctx context.Context) ([]Collateral, error) {
	start := time.Now()
	v, err := s.Store.ListCollateralNumbers(ctx)
	s.done("list_collateral_numbers", start, err)
	return v, err
}

func (s *instrumented) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	start := time.Now()
	v, err := s.Store.ListAudit(ctx, f)
	s.done("list_audit", start, err)
	return v, err
}

func (s *instrumented) CreateProvider(ctx context.Context, p Provider) (Provider, error) {
	start := time.Now()
	v, err := s.Store.CreateProvider(ctx, p)
	s.done("create_provider", start, err)
	return v, err
}

func (s *instrumented) UpdateProvider(ctx context.Context, p Provider) (Provider, error) {
	start := time.Now()
	v, err := s.Store.UpdateProvider(ctx, p)
	s.done("update_provider", start, err)
	return v, err
}

func (s *instrumented) DeleteProvider(ctx context.Context, name string) error {
	start := time.Now()
	err := s.Store.DeleteProvider(ctx, name)
	s.done("delete_provider", start, err)
	return err
}

func (s *instrumented) SetPolicy(ctx context.Context, p Policy) (Policy, error) {
	start := time.Now()
	v, err := s.Store.SetPolicy(ctx, p)
	s.done("set_policy", start, err)
	return v, err
}

func (s *instrumented) DeletePolicy(ctx context.Context, provider, attestationType string) error {
	start := time.Now()
	err := s.Store.DeletePolicy(ctx, provider, attestationType)
	s.done("delete_policy", start, err)
	return err
}

func (s *instrumented) AddSigner(ctx context.Context, sg Signer) (Signer, error) {
	start := time.Now()
	v, err := s.Store.AddSigner(ctx, sg)
	s.done("add_signer", start, err)
	return v, err
}

func (s *instrumented) RemoveSigner(ctx context.Context, provider, thumbprint string) error {
	start := time.Now()
	err := s.Store.RemoveSigner(ctx, provider, thumbprint)
	s.done("remove_signer", start, err)
	return err
}

func (s *instrumented) RotateKey(ctx context.Context, provider string, key SigningKey, retireAt time.Time) (SigningKey, error) {
	start := time.Now()
	v, err := s.Store.RotateKey(ctx, provider, key, retireAt)
	s.done("rotate_key", start, err)
	return v, err
}

func (s *instrumented) PruneRetiredKeys(ctx context.Context, before time.Time) (int64, error) {
	start := time.Now()
	v, err := s.Store.PruneRetiredKeys(ctx, before)
	s.done("prune_retired_keys", start, err)
	return v, err
}

func (s *instrumented) CreateAdminToken(ctx context.Context, t AdminToken) (AdminToken, error) {
	start := time.Now()
	v, err := s.Store.CreateAdminToken(ctx, t)
	s.done("create_admin_token", start, err)
	return v, err
}

func (s *instrumented) RevokeAdminToken(ctx context.Context, id string, at time.Time) error {
	start := time.Now()
	err := s.Store.RevokeAdminToken(ctx, id, at)
	s.done("revoke_admin_token", start, err)
	return err
}

func (s *instrumented) PutCollateral(ctx context.Context, c Collateral) (Collateral, error) {
	start := time.Now()
	v, err := s.Store.PutCollateral(ctx, c)
	s.done("put_collateral", start, err)
	return v, err
}

func (s *instrumented) PruneCollateral(ctx context.Context, olderThan time.Time) (int64, error) {
	start := time.Now()
	v, err := s.Store.PruneCollateral(ctx, olderThan)
	s.done("prune_collateral", start, err)
	return v, err
}

func (s *instrumented) AppendAudit(ctx context.Context, entries ...AuditEntry) error {
	start := time.Now()
	err := s.Store.AppendAudit(ctx, entries...)
	s.done("append_audit", start, err)
	return err
}

func (s *instrumented) PruneAttestations(ctx context.Context, olderThan time.Time) (int64, error) {
	start := time.Now()
	v, err := s.Store.PruneAttestations(ctx, olderThan)
	s.done("prune_attestations", start, err)
	return v, err
}

func (s *instrumented) ChangeVersion(ctx context.Context) (int64, error) {
	start := time.Now()
	v, err := s.Store.ChangeVersion(ctx)
	s.done("change_version", start, err)
	return v, err
}

func (s *instrumented) Ping(ctx context.Context) error {
	start := time.Now()
	err := s.Store.Ping(ctx)
	s.done("ping", start, err)
	return err
}

func (s *instrumented) WithTx(ctx context.Context, fn func(tx Tx) error) error {
	start := time.Now()
	err := s.Store.WithTx(ctx, fn)
	s.done("tx", start, err)
	return err
}

func (s *instrumented) GetTypeCollateral(ctx context.Context, typ, kind, key string) (TypeCollateral, error) {
	start := time.Now()
	v, err := s.Store.GetTypeCollateral(ctx, typ, kind, key)
	s.done("get_type_collateral", start, err)
	return v, err
}

func (s *instrumented) ListTypeCollateral(ctx context.Context, typ string) ([]TypeCollateral, error) {
	start := time.Now()
	v, err := s.Store.ListTypeCollateral(ctx, typ)
	s.done("list_type_collateral", start, err)
	return v, err
}

func (s *instrumented) PutTypeCollateral(ctx context.Context, c TypeCollateral) (TypeCollateral, error) {
	start := time.Now()
	v, err := s.Store.PutTypeCollateral(ctx, c)
	s.done("put_type_collateral", start, err)
	return v, err
}
