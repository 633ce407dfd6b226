// Package service is avow's core, with no HTTP in it: providers, their
// policies, signers and signing keys, admin tokens and collateral, and the
// attestation pipeline — provider lookup, quote verification, claims, policy
// evaluation, token. The api package maps HTTP onto it; the CLI's
// quickstart and the tests call it directly.
package service

import (
	"context"
	"crypto/x509"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
)

// Clock gives the service its notion of now. Tests pin it; the server uses
// the wall clock.
type Clock interface{ Now() time.Time }

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns the current time.
func (SystemClock) Now() time.Time { return time.Now() }

// Errors of the service. The HTTP layer maps codes to statuses.
var (
	ErrInvalidRequest     = attestation.ErrInvalidRequest
	ErrUnauthorized       = errs.New("unauthorized", "a valid bearer token is required").WithStatus(http.StatusUnauthorized)
	ErrForbidden          = errs.New("forbidden", "the token's role does not allow this operation").WithStatus(http.StatusForbidden)
	ErrProviderNotFound   = errs.New("provider_not_found", "there is no attestation provider with this name").WithStatus(http.StatusNotFound)
	ErrUnknownType        = errs.New("unknown_attestation_type", "the attestation type is not supported").WithStatus(http.StatusNotFound)
	ErrPolicyDenied       = errs.New("policy_denied", "the attestation policy did not permit the evidence")
	ErrPolicyInvalid      = errs.New("policy_invalid", "the policy is not valid")
	ErrPolicyLimit        = errs.New("policy_limit_exceeded", "the policy's evaluation was stopped at one of its limits")
	ErrSignerNotTrusted   = errs.New("policy_signer_not_trusted", "the document must be signed by one of the provider's policy signer certificates")
	ErrTCBNotAccepted     = errs.New("tcb_status_not_accepted", "the platform's TCB status is not accepted by this provider")
	ErrCollateralNotFound = errs.New("collateral_not_found", "no collateral is stored for the platform of this quote")
	ErrCollateralExpired  = errs.New("collateral_expired", "the collateral for this platform has expired beyond the provider's grace period")
	ErrRuntimeData        = attestation.ErrRuntimeDataMismatch // the binding is checked by the attestation type
	ErrLastSigner         = errs.New("last_signer", "the last policy signer certificate of a provider cannot be removed")
	ErrNotIsolated        = errs.New("not_isolated", "policy signer certificates are managed only on providers with the Isolated trust model")
	// ErrKEKMismatch: the node's key-encryption key does not open the
	// signing keys in the store (CheckKEK); nodes of one store share it.
	ErrKEKMismatch = errs.New("kek_mismatch", "this node's key-encryption key (--kek-file) does not open the signing keys in the store").WithStatus(http.StatusInternalServerError)
)

// Config configures a Service.
type Config struct {
	Store store.Store
	// Types are the attestation types the service answers
	// (attestation/builtin.Registry for avow's); the service only reads
	// the registry.
	Types *attestation.Registry
	// KEK is the 32-byte key-encryption key that seals signing keys at rest.
	KEK []byte
	// KEKSource names where KEK comes from (its file) in errors; never
	// the key itself.
	KEKSource string
	// PublicURL is the base URL clients use (no trailing slash); a
	// provider's attest URI is PublicURL + "/providers/" + name.
	PublicURL string
	// ExtraRoots are trusted beside Intel's pinned root key, each marked in
	// tokens as simulated when Simulated is true (development mode).
	ExtraRoots []*x509.Certificate
	Simulated  bool
	// SimulatedKeys are root keys, as an attestation type reports them in
	// Verified.RootKey, of other simulated platforms (the SEV-SNP
	// simulator's ARK, the simulated GPU's device root): their tokens
	// carry x-avow-simulated too.
	SimulatedKeys [][]byte
	// PrivateRoots are trusted beside Intel's pinned root key too (avow
	// serve --trust-root); tokens for evidence that chains to one carry
	// "x-avow-private-root": true.
	PrivateRoots []*x509.Certificate
	// Collateral configures collateral sources and refresh (sources.go).
	Collateral CollateralConfig
	Clock      Clock
	Logger     *slog.Logger
	// PollInterval is how often Run checks the store's change counter to
	// drop caches after changes made by other nodes (default 250 ms).
	PollInterval time.Duration
	// Observer receives timings and outcomes (nil: none).
	Observer Observer
	// Audit configures the asynchronous writer of attestation records.
	Audit AuditConfig
	// OIDC, when set, accepts JWT bearer tokens of an OpenID issuer beside
	// admin tokens (an *oidc.Verifier).
	OIDC BearerVerifier
	// ProviderDomain, when set, gives each provider NAME its own host,
	// NAME.{ProviderDomain} (with the public URL's scheme and port): its
	// attest URI and token issuer, with its whole data plane at that
	// host's root (urls.go).
	ProviderDomain string
	// RootProvider, when set, serves that provider's data plane at the
	// root of the server: its attest URI is the public URL's origin.
	RootProvider string
	// SharedProviders are the operator's shared (default) providers
	// (shared.go): EnsureSharedProviders creates them, the API refuses
	// changes to them.
	SharedProviders []SharedProvider
}

// Service is the attestation service. It is safe for concurrent use.
type Service struct {
	st        store.Store
	types     *attestation.Registry
	kek       []byte
	kekSource string
	urls      providerURLs
	clock     Clock
	log       *slog.Logger
	poll      time.Duration

	rootKeys      [][]byte // trusted root keys: Intel's, then ExtraRoots
	simulatedKeys [][]byte // keys of roots whose tokens carry x-avow-simulated
	privateKeys   [][]byte // keys of roots whose tokens carry x-avow-private-root
	colsrc        *collateralState
	verifier      *dcap.Cache

	mu      sync.RWMutex
	version int64
	cache   *cache

	obs   Observer
	audit *auditWriter

	oidc BearerVerifier

	shared map[string]SharedProvider // by name; read-only after New

	// kekChecked is set once CheckKEK has opened at least one stored key:
	// until then a new key is sealed only after CheckKEK passes (kek.go).
	kekChecked atomic.Bool
}

// New returns a service over cfg.Store.
func New(cfg Config) (*Service, error) {
	if cfg.Store == nil {
		return nil, errs.New("invalid_config", "the service needs a store")
	}
	if cfg.Types == nil || len(cfg.Types.Names()) == 0 {
		return nil, errs.New("invalid_config", "the service needs its attestation types (Config.Types)")
	}
	if len(cfg.KEK) != 32 {
		return nil, errs.New("invalid_config", "the key-encryption key must be 32 bytes")
	}
	urls, err := newProviderURLs(cfg.PublicURL, cfg.ProviderDomain, cfg.RootProvider)
	if err != nil {
		return nil, err
	}
	s := &Service{
		st:        cfg.Store,
		types:     cfg.Types,
		kek:       cfg.KEK,
		kekSource: cfg.KEKSource,
		urls:      urls,
		clock:     cfg.Clock,
		log:       cfg.Logger,
		poll:      cfg.PollInterval,
		rootKeys:  [][]byte{dcap.IntelRootKey()},
		verifier:  dcap.NewCache(),
		cache:     newCache(),
		oidc:      cfg.OIDC,
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.poll <= 0 {
		s.poll = 250 * time.Millisecond
	}
	s.obs = cfg.Observer
	if s.obs == nil {
		s.obs = NopObserver{}
	}
	s.audit = newAuditWriter(s.st, cfg.Audit, s.obs, s.log, s.clock)
	for _, root := range cfg.ExtraRoots {
		key := dcap.RootKey(root)
		if key == nil {
			return nil, errs.New("invalid_config", "a trusted root must have an ECDSA P-256 key").Wrapf("%s", root.Subject)
		}
		s.rootKeys = append(s.rootKeys, key)
		if cfg.Simulated {
			s.simulatedKeys = append(s.simulatedKeys, key)
		}
	}
	s.simulatedKeys = append(s.simulatedKeys, cfg.SimulatedKeys...)
	if err := s.configureCollateral(cfg); err != nil {
		return nil, err
	}
	if err := s.setShared(cfg.SharedProviders); err != nil {
		return nil, err
	}
	return s, nil
}

// Now returns the service clock's time.
func (s *Service) Now() time.Time { return s.clock.Now() }

// Run polls the store's change counter until ctx ends, dropping every cache
// when another node changed something. Changes made through this service
// drop the caches at once. When the store pushes change notifications
// (store.Notifier: PostgreSQL's LISTEN/NOTIFY), they drop the caches as
// soon as they arrive; the poll stays as the fallback.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(s.poll)
	defer t.Stop()
	notes := s.changes(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case v, ok := <-notes:
			if !ok {
				notes = nil
				continue
			}
			s.observe(v)
		case <-t.C:
			v, err := s.st.ChangeVersion(ctx)
			if err != nil {
				s.log.Warn("change version poll failed", "err", errs.Detail(err))
				continue
			}
			s.mu.RLock()
			changed := v != s.version
			s.mu.RUnlock()
			if changed {
				s.invalidate(v)
			}
		}
	}
}

// invalidate drops every cache; version is the store's change counter it
// corresponds to (0: unknown, read on the next poll).
func (s *Service) invalidate(version int64) {
	s.mu.Lock()
	s.cache = newCache()
	s.version = version
	s.mu.Unlock()
}

func (s *Service) caches() *cache {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cache
}

// Ready reports whether the store answers.
func (s *Service) Ready(ctx context.Context) error { return s.st.Ping(ctx) }
