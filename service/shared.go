package service

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
)

// Shared providers are MAA's default providers (sharedcus, shareduks…): one
// per location, declared by the operator (avow serve --shared-provider
// NAME=LOCATION, Config.SharedProviders), answering attestations with the
// default policies, for clients that need no policy of their own. The ARM
// API lists them under defaultProviders and locations/{l}/defaultProvider.
// Their policies, signers and settings are the operator's: the API refuses
// every change (ErrSharedProvider). Every node of a deployment must declare
// the same shared providers.

// ErrSharedProvider refuses a change to a shared provider.
var ErrSharedProvider = errs.New("shared_provider_read_only",
	"the provider is a shared provider declared by the operator: its policies, policy signers and settings cannot be changed through the API").WithStatus(http.StatusForbidden)

// SharedProvider is a declared shared provider.
type SharedProvider struct {
	Name     string // a provider name (lowercase DNS label)
	Location string // an Azure-style location, e.g. "Central US"
}

// ParseSharedProvider reads NAME=LOCATION (avow serve --shared-provider).
func ParseSharedProvider(spec string) (SharedProvider, error) {
	name, loc, ok := strings.Cut(spec, "=")
	name, loc = strings.TrimSpace(name), strings.TrimSpace(loc)
	if !ok || loc == "" {
		return SharedProvider{}, errs.New("invalid_config", "a shared provider is NAME=LOCATION, e.g. sharedcus=Central US").Wrapf("%q", spec)
	}
	if !providerName.MatchString(name) {
		return SharedProvider{}, errs.New("invalid_config", "a shared provider's name must be 3-24 lowercase letters, digits or '-', starting with a letter").Wrapf("%q", name)
	}
	return SharedProvider{Name: name, Location: loc}, nil
}

// SameLocation compares two locations as ARM does: case-insensitively and
// ignoring spaces ("Central US" is "centralus").
func SameLocation(a, b string) bool {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, " ", "")) }
	return norm(a) == norm(b)
}

func (s *Service) setShared(list []SharedProvider) error {
	s.shared = map[string]SharedProvider{}
	for _, sp := range list {
		if _, err := ParseSharedProvider(sp.Name + "=" + sp.Location); err != nil {
			return err
		}
		if _, dup := s.shared[sp.Name]; dup {
			return errs.New("invalid_config", "a shared provider is declared twice").Wrapf("%s", sp.Name)
		}
		for _, other := range s.shared {
			if SameLocation(other.Location, sp.Location) {
				return errs.New("invalid_config", "two shared providers are declared for one location").Wrapf("%s and %s in %s", other.Name, sp.Name, sp.Location)
			}
		}
		s.shared[sp.Name] = sp
	}
	return nil
}

// SharedProviders returns the declared shared providers ordered by name.
func (s *Service) SharedProviders() []SharedProvider {
	out := make([]SharedProvider, 0, len(s.shared))
	for _, sp := range s.shared {
		out = append(out, sp)
	}
	slices.SortFunc(out, func(a, b SharedProvider) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// IsShared reports whether name is a declared shared provider.
func (s *Service) IsShared(name string) bool {
	_, ok := s.shared[strings.ToLower(name)]
	return ok
}

// refuseShared refuses operation op on a shared provider.
func (s *Service) refuseShared(name, op string) error {
	if s.IsShared(name) {
		return ErrSharedProvider.Wrapf("%s on shared provider %s", op, strings.ToLower(name))
	}
	return nil
}

// EnsureSharedProviders creates the declared shared providers that do not
// exist yet (AAD trust model, default policies, no ARM scope) and checks
// those that do: a provider of a declared name must be AAD and have no
// policy of its own, since a shared provider answers with the default
// policies. avow serve calls it at start.
func (s *Service) EnsureSharedProviders(ctx context.Context) error {
	system := &Principal{ID: "avow-serve", Role: store.RoleOwner}
	for _, sp := range s.SharedProviders() {
		p, err := s.st.GetProvider(ctx, sp.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			_, err := s.CreateProvider(ctx, system, ProviderRequest{Name: sp.Name, Metadata: store.Metadata{Location: sp.Location}})
			if err != nil && !errors.Is(err, store.ErrConflict) { // another node made it
				return err
			}
			continue
		case err != nil:
			return mapStoreErr(err, "provider "+sp.Name)
		}
		if p.TrustModel != store.TrustModelAAD {
			return errs.New("invalid_config", "a shared provider must have the AAD trust model").Wrapf("provider %s exists and is %s", p.Name, p.TrustModel)
		}
		if p.Metadata.SubscriptionID != "" {
			return errs.New("invalid_config", "a shared provider cannot be a provider created through the ARM API").Wrapf("provider %s is in subscription %s", p.Name, p.Metadata.SubscriptionID)
		}
		pols, err := s.st.ListPolicies(ctx, p.Name)
		if err != nil {
			return mapStoreErr(err, "policies of "+p.Name)
		}
		if len(pols) > 0 {
			return errs.New("invalid_config", "a shared provider answers with the default policies; this provider has its own").Wrapf("provider %s has a %s policy; reset it first", p.Name, pols[0].AttestationType)
		}
		if p.Metadata.Location != sp.Location {
			p.Metadata.Location = sp.Location
			p.UpdatedAt = s.clock.Now()
			if _, err := s.st.UpdateProvider(ctx, p); err != nil {
				return mapStoreErr(err, "provider "+p.Name)
			}
			s.invalidate(0)
		}
	}
	return nil
}
