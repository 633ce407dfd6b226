package service

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/token"
)

// DefaultAcceptedTCBStatuses are the TCB statuses a new provider accepts:
// a platform that needs a configuration change or software hardening is
// still genuine and patched; OutOfDate platforms are refused unless the
// administrator accepts them explicitly.
var DefaultAcceptedTCBStatuses = []string{
	string(pcs.StatusUpToDate), string(pcs.StatusSWHardeningNeeded),
	string(pcs.StatusConfigurationNeeded), string(pcs.StatusConfigurationAndSWHardeningNeeded),
}

var knownTCBStatuses = map[string]bool{
	string(pcs.StatusUpToDate): true, string(pcs.StatusSWHardeningNeeded): true,
	string(pcs.StatusConfigurationNeeded): true, string(pcs.StatusConfigurationAndSWHardeningNeeded): true,
	string(pcs.StatusOutOfDate): true, string(pcs.StatusOutOfDateConfigurationNeeded): true,
	string(pcs.StatusTDRelaunchAdvised): true, string(pcs.StatusTDRelaunchAdvisedConfigurationNeeded): true,
}

var providerName = regexp.MustCompile(`^[a-z][a-z0-9-]{2,23}$`)

// Principal is the authenticated caller of a management operation.
type Principal struct {
	ID   string // admin token id (or OIDC subject)
	Role store.Role
	// RequestID is the id of the request the principal authenticated
	// (Authenticate takes it from the context); audit entries carry it.
	RequestID string
}

// Allows reports whether p's role includes need.
func (p *Principal) Allows(need store.Role) bool {
	rank := map[store.Role]int{store.RoleReader: 1, store.RolePolicyAdmin: 2, store.RoleOwner: 3}
	return p != nil && rank[p.Role] >= rank[need]
}

func require(p *Principal, need store.Role) error {
	if p == nil {
		return ErrUnauthorized
	}
	if !p.Allows(need) {
		return ErrForbidden.Wrapf("role %s, %s needed", p.Role, need)
	}
	return nil
}

// ProviderRequest creates a provider.
type ProviderRequest struct {
	Name                      string
	TrustModel                store.TrustModel // AAD when empty
	PolicySigningCertificates []*x509.Certificate
	Settings                  *ProviderSettings
	Metadata                  store.Metadata
}

// ProviderSettings are a provider's verification settings. A nil member
// means the default on creation and "unchanged" on update.
type ProviderSettings struct {
	AcceptedTCBStatuses   []string
	CollateralGracePeriod *time.Duration
	// TokenAlgorithm is RS256 (MAA's, the default) or ES256. Changing it
	// rotates the provider's signing key to a key of the new algorithm.
	TokenAlgorithm *string
	// CollateralSources, when not empty, replace the deployment's
	// collateral sources for attestations against the provider (the
	// strings of avow serve --collateral-source, in order); an empty,
	// non-nil list goes back to the deployment's.
	CollateralSources []string
	// PublicNetworkAccess and TPMAttestationAuthentication are MAA's ARM
	// properties, "Enabled" (the default) or "Disabled" (access.go).
	PublicNetworkAccess          *string
	TPMAttestationAuthentication *string
	// TCBGrace, when not nil, replaces the provider's tcbGrace setting
	// (baselines.go); an empty list removes it.
	TCBGrace *[]TCBGrace
	// TypeSettings change the settings of the attestation types named:
	// each type's settings are replaced (an empty map removes them);
	// types not named keep theirs (typesettings.go).
	TypeSettings map[string]map[string]string
}

// ProviderView is a provider as the API shows it.
type ProviderView struct {
	store.Provider
	AttestURI string
	Signers   int
	Shared    bool // a shared provider of the operator (shared.go)
}

// settings applies in to base (a new provider's defaults or its current
// settings) and validates the result.
func (s *Service) settings(base store.Settings, in *ProviderSettings) (store.Settings, error) {
	out := base
	if in == nil {
		return out, nil
	}
	if in.AcceptedTCBStatuses != nil {
		for _, st := range in.AcceptedTCBStatuses {
			if !knownTCBStatuses[st] {
				return out, ErrInvalidRequest.Wrapf("%q is not a TCB status (Revoked is never accepted)", st)
			}
		}
		out.AcceptedTCBStatuses = in.AcceptedTCBStatuses
	}
	if g := in.CollateralGracePeriod; g != nil {
		if *g < 0 {
			return out, ErrInvalidRequest.Wrapf("the collateral grace period is negative")
		}
		out.CollateralGracePeriod = *g
	}
	if a := in.TokenAlgorithm; a != nil {
		if !token.ValidAlg(*a) {
			return out, ErrInvalidRequest.Wrapf("token algorithm %q is neither RS256 nor ES256", *a)
		}
		extra, err := withTokenAlgorithm(out.Extra, *a)
		if err != nil {
			return out, ErrInvalidRequest.Wrap(err)
		}
		out.Extra = extra
	}
	if in.TCBGrace != nil {
		g, err := checkTCBGrace(*in.TCBGrace)
		if err != nil {
			return out, err
		}
		extra, err := withTCBGrace(out.Extra, g)
		if err != nil {
			return out, ErrInvalidRequest.Wrap(err)
		}
		out.Extra = extra
	}
	if in.CollateralSources != nil {
		specs, err := s.checkCollateralSources(in.CollateralSources)
		if err != nil {
			return out, err
		}
		extra, err := withCollateralSources(out.Extra, specs)
		if err != nil {
			return out, ErrInvalidRequest.Wrap(err)
		}
		out.Extra = extra
	}
	if in.TypeSettings != nil {
		extra, err := s.withTypeSettings(out, in.TypeSettings)
		if err != nil {
			return out, err
		}
		out.Extra = extra
	}
	return accessSettings(out, in)
}

// CreateProvider creates a provider with a fresh signing key. New providers
// evaluate MAA's default policy for each attestation type until one is set.
func (s *Service) CreateProvider(ctx context.Context, who *Principal, req ProviderRequest) (*ProviderView, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return nil, err
	}
	if !providerName.MatchString(req.Name) {
		return nil, ErrInvalidRequest.Wrapf("provider name %q must be 3-24 lowercase letters, digits or '-', starting with a letter", req.Name)
	}
	if req.TrustModel == "" {
		req.TrustModel = store.TrustModelAAD
	}
	if !req.TrustModel.Valid() {
		return nil, ErrInvalidRequest.Wrapf("trust model %q is neither AAD nor Isolated", req.TrustModel)
	}
	if req.TrustModel == store.TrustModelIsolated && len(req.PolicySigningCertificates) == 0 {
		return nil, ErrInvalidRequest.Wrapf("an Isolated provider needs at least one policy signing certificate")
	}
	settings, err := s.settings(store.Settings{AcceptedTCBStatuses: DefaultAcceptedTCBStatuses}, req.Settings)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	// A signer that cannot sign now would make the provider's policies
	// unchangeable (policy.CheckCertificateTime refuses its documents).
	for _, cert := range req.PolicySigningCertificates {
		if err := policy.CheckCertificateTime(cert, now, "the policy signing certificate"); err != nil {
			return nil, err
		}
	}
	key, sealed, err := s.newKey(ctx, req.Name, TokenAlgorithm(settings), now)
	if err != nil {
		return nil, err
	}
	var created store.Provider
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		created, err = tx.CreateProvider(ctx, store.Provider{
			Name: req.Name, TrustModel: req.TrustModel, Settings: settings, Metadata: req.Metadata,
			CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			return err
		}
		for _, cert := range req.PolicySigningCertificates {
			if _, err := tx.AddSigner(ctx, store.Signer{Provider: req.Name, Certificate: cert.Raw, AddedAt: now}); err != nil {
				return err
			}
		}
		if _, err := tx.RotateKey(ctx, req.Name, storedKey(req.Name, key, sealed), time.Time{}); err != nil {
			return err
		}
		details := map[string]string{"trust_model": string(req.TrustModel), "signers": strconv.Itoa(len(req.PolicySigningCertificates)),
			"kid": key.KID, "token_algorithm": key.Alg()}
		for i, cert := range req.PolicySigningCertificates {
			details["signer."+strconv.Itoa(i)] = store.Thumbprint(cert.Raw)
		}
		return tx.AppendAudit(ctx, audit(who, req.Name, "provider.create", now, details))
	})
	if err != nil {
		return nil, mapStoreErr(err, "provider "+req.Name)
	}
	s.invalidate(0)
	return &ProviderView{Provider: created, AttestURI: s.AttestURI(created.Name), Signers: len(req.PolicySigningCertificates)}, nil
}

func (s *Service) newKey(ctx context.Context, provider, alg string, now time.Time) (*token.SigningKey, []byte, error) {
	if err := s.checkKEKBeforeSeal(ctx); err != nil {
		return nil, nil, err
	}
	key, err := token.GenerateSigningKeyAlg(rand.Reader, alg, "avow attestation signing key: "+provider, now)
	if err != nil {
		return nil, nil, err
	}
	sealed, err := token.SealKey(s.kek, key.PrivateKey(), token.KeyAAD(provider, key.KID))
	if err != nil {
		return nil, nil, err
	}
	return key, sealed, nil
}

func storedKey(provider string, key *token.SigningKey, sealed []byte) store.SigningKey {
	return store.SigningKey{Provider: provider, KID: key.KID, SealedKey: sealed, Certificate: key.Certificate.Raw, CreatedAt: key.CreatedAt, Active: true}
}

// RotateKey makes a new active signing key for a provider; the previous key
// stays published until its last token has expired.
func (s *Service) RotateKey(ctx context.Context, who *Principal, name string) (*token.SigningKey, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return nil, err
	}
	p, err := s.provider(ctx, name)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	key, sealed, err := s.newKey(ctx, p.Name, TokenAlgorithm(p.Settings), now)
	if err != nil {
		return nil, err
	}
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.RotateKey(ctx, p.Name, storedKey(p.Name, key, sealed), now); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, p.Name, "key.rotate", now, map[string]string{"kid": key.KID, "token_algorithm": key.Alg()}))
	})
	if err != nil {
		return nil, mapStoreErr(err, "provider "+name)
	}
	s.invalidate(0)
	return key, nil
}

// ListKeys returns a provider's signing keys, newest first.
func (s *Service) ListKeys(ctx context.Context, who *Principal, name string) ([]store.SigningKey, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	keys, err := s.st.ListKeys(ctx, name)
	if err != nil {
		return nil, mapStoreErr(err, "provider "+name)
	}
	for i := range keys {
		keys[i].SealedKey = nil
	}
	return keys, nil
}

// ListProviders returns every provider.
func (s *Service) ListProviders(ctx context.Context, who *Principal) ([]ProviderView, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	ps, err := s.st.ListProviders(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "providers")
	}
	out := make([]ProviderView, 0, len(ps))
	for _, p := range ps {
		v, err := s.view(ctx, p)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// GetProvider returns one provider.
func (s *Service) GetProvider(ctx context.Context, who *Principal, name string) (*ProviderView, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	p, err := s.st.GetProvider(ctx, name)
	if err != nil {
		return nil, mapStoreErr(err, "provider "+name)
	}
	return s.view(ctx, p)
}

func (s *Service) view(ctx context.Context, p store.Provider) (*ProviderView, error) {
	signers, err := s.st.ListSigners(ctx, p.Name)
	if err != nil {
		return nil, mapStoreErr(err, "provider "+p.Name)
	}
	return &ProviderView{Provider: p, AttestURI: s.AttestURI(p.Name), Signers: len(signers), Shared: s.IsShared(p.Name)}, nil
}

// UpdateProviderSettings changes the settings given in in; nil members
// keep their current values.
func (s *Service) UpdateProviderSettings(ctx context.Context, who *Principal, name string, in ProviderSettings) (*ProviderView, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return nil, err
	}
	if err := s.refuseShared(name, "settings change"); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	// A new token algorithm needs a new key, made outside the transaction.
	var key *token.SigningKey
	var sealed []byte
	if a := in.TokenAlgorithm; a != nil && token.ValidAlg(*a) {
		cur, err := s.st.GetProvider(ctx, name)
		if err != nil {
			return nil, mapStoreErr(err, "provider "+name)
		}
		if TokenAlgorithm(cur.Settings) != *a {
			if key, sealed, err = s.newKey(ctx, cur.Name, *a, now); err != nil {
				return nil, err
			}
		}
	}
	var updated store.Provider
	err := s.st.WithTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetProvider(ctx, name)
		if err != nil {
			return err
		}
		oldAlg := TokenAlgorithm(p.Settings)
		settings, err := s.settings(p.Settings, &in)
		if err != nil {
			return err
		}
		p.Settings = settings
		p.UpdatedAt = now
		if updated, err = tx.UpdateProvider(ctx, p); err != nil {
			return err
		}
		details := map[string]string{
			"accepted_tcb_statuses":   strings.Join(settings.AcceptedTCBStatuses, ","),
			"collateral_grace_period": settings.CollateralGracePeriod.String(),
			"token_algorithm":         TokenAlgorithm(settings),
			"collateral_sources":      strings.Join(CollateralSources(settings), ",")}
		if newAlg := TokenAlgorithm(settings); newAlg != oldAlg {
			if key == nil || key.Alg() != newAlg {
				return store.ErrConflict.Wrapf("the token algorithm of provider %s changed concurrently; retry", p.Name)
			}
			if _, err := tx.RotateKey(ctx, p.Name, storedKey(p.Name, key, sealed), now); err != nil {
				return err
			}
			details["kid"] = key.KID
		}
		return tx.AppendAudit(ctx, audit(who, p.Name, "provider.update", now, details))
	})
	if err != nil {
		return nil, mapStoreErr(err, "provider "+name)
	}
	s.invalidate(0)
	return s.view(ctx, updated)
}

// DeleteProvider deletes a provider with its policies, signers and keys.
func (s *Service) DeleteProvider(ctx context.Context, who *Principal, name string) error {
	if err := require(who, store.RoleOwner); err != nil {
		return err
	}
	if err := s.refuseShared(name, "deletion"); err != nil {
		return err
	}
	now := s.clock.Now()
	err := s.st.WithTx(ctx, func(tx store.Tx) error {
		if err := tx.DeleteProvider(ctx, name); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, name, "provider.delete", now, nil))
	})
	if err != nil {
		return mapStoreErr(err, "provider "+name)
	}
	s.invalidate(0)
	return nil
}

// provider returns a provider from the cache or the store.
func (s *Service) provider(ctx context.Context, name string) (store.Provider, error) {
	c := s.caches()
	key := strings.ToLower(name)
	if p, ok := lookup(s, c, c.providers, key, CacheProvider); ok {
		return p, nil
	}
	p, err := s.st.GetProvider(ctx, name)
	if err != nil {
		return store.Provider{}, mapStoreErr(err, "provider "+name)
	}
	putCached(c, c.providers, key, p)
	return p, nil
}

// activeKey returns a provider's unsealed active signing key.
func (s *Service) activeKey(ctx context.Context, provider string) (*token.SigningKey, error) {
	c := s.caches()
	key := strings.ToLower(provider)
	if k, ok := lookup(s, c, c.keys, key, CacheKey); ok {
		return k, nil
	}
	sk, err := s.st.ActiveKey(ctx, provider)
	if err != nil {
		return nil, mapStoreErr(err, "signing key of "+provider)
	}
	k, err := s.unseal(sk)
	if err != nil {
		return nil, err
	}
	putCached(c, c.keys, key, k)
	return k, nil
}

func (s *Service) unseal(sk store.SigningKey) (*token.SigningKey, error) {
	priv, err := token.OpenKey(s.kek, sk.SealedKey, token.KeyAAD(sk.Provider, sk.KID))
	if err != nil {
		return nil, err
	}
	return token.NewSigningKeyFromPrivate(sk.Certificate, priv, sk.CreatedAt, sk.RetiredAt)
}

// JWKS returns the provider's published signing keys as MAA's /certs body.
func (s *Service) JWKS(ctx context.Context, provider string) ([]byte, error) {
	p, err := s.provider(ctx, provider)
	if err != nil {
		return nil, err
	}
	stored, err := s.st.ListKeys(ctx, p.Name)
	if err != nil {
		return nil, mapStoreErr(err, "signing keys of "+provider)
	}
	keys := make([]*token.SigningKey, 0, len(stored))
	for _, sk := range stored {
		cert, err := x509.ParseCertificate(sk.Certificate)
		if err != nil {
			return nil, errs.Internal("a stored signing certificate cannot be parsed").Wrap(err)
		}
		keys = append(keys, &token.SigningKey{KID: sk.KID, Certificate: cert, CreatedAt: sk.CreatedAt, RetiredAt: sk.RetiredAt})
	}
	return token.JWKS(token.Published(keys, s.clock.Now(), token.AttestationLifetime)), nil
}

// OpenIDMetadata returns the provider's OpenID configuration document.
func (s *Service) OpenIDMetadata(ctx context.Context, provider string) ([]byte, error) {
	p, err := s.provider(ctx, provider)
	if err != nil {
		return nil, err
	}
	if alg := TokenAlgorithm(p.Settings); alg != "" && alg != "RS256" {
		// A provider that signs ES256 says so; RS256 providers keep MAA's
		// document byte for byte.
		cfg := token.NewOpenIDConfiguration(s.AttestURI(p.Name))
		cfg.IDTokenSigningAlgValuesSupported = []string{alg}
		return json.Marshal(cfg)
	}
	return token.OpenIDMetadata(s.AttestURI(p.Name)), nil
}

func audit(who *Principal, provider, op string, now time.Time, details map[string]string) store.AuditEntry {
	actor, requestID := "", ""
	if who != nil {
		actor, requestID = who.ID, who.RequestID
	}
	return store.AuditEntry{Time: now, Kind: store.AuditManagement, Actor: actor, Provider: provider,
		Operation: op, Outcome: "success", Details: details, RequestID: requestID}
}

// mapStoreErr turns store errors into service errors that name what was
// looked for.
func mapStoreErr(err error, what string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		if strings.HasPrefix(what, "provider ") {
			return ErrProviderNotFound.Wrapf("%s", what)
		}
		return err
	case errors.Is(err, store.ErrConflict):
		return store.ErrConflict.Wrapf("%s", what)
	}
	var e *errs.Error
	if errors.As(err, &e) {
		return err
	}
	return errs.Internal("internal error").Wrap(err)
}
