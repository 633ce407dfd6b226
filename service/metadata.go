package service

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/avowhq/avow/store"
)

// Scope places a provider in an ARM-style hierarchy: a subscription and a
// resource group, kept as the provider's metadata (store.Metadata). The
// ARM-compatible management API addresses providers by (subscription,
// resource group, name); provider names stay unique across scopes, as
// MAA's attest URIs are.
//
// A provider created through avow's native API has no subscription and no
// resource group: it is in no scope, so the ARM API neither lists nor
// finds it, and an ARM PUT of the same name is a conflict.
type Scope struct {
	SubscriptionID string
	ResourceGroup  string // empty: every resource group of the subscription (lists only)
}

// Contains reports whether a provider with metadata md is in sc. ARM
// compares subscription ids and resource group names case-insensitively.
func (sc Scope) Contains(md store.Metadata) bool {
	if md.SubscriptionID == "" || !strings.EqualFold(md.SubscriptionID, sc.SubscriptionID) {
		return false
	}
	return sc.ResourceGroup == "" || strings.EqualFold(md.ResourceGroup, sc.ResourceGroup)
}

// ValidProviderName reports whether name is a valid provider name: 3-24
// lowercase letters, digits or '-', starting with a letter.
func ValidProviderName(name string) bool { return providerName.MatchString(name) }

// ListProvidersIn returns the providers of a subscription, or of one of
// its resource groups, ordered by name.
func (s *Service) ListProvidersIn(ctx context.Context, who *Principal, sc Scope) ([]ProviderView, error) {
	all, err := s.ListProviders(ctx, who)
	if err != nil {
		return nil, err
	}
	out := make([]ProviderView, 0, len(all))
	for _, v := range all {
		if sc.Contains(v.Metadata) {
			out = append(out, v)
		}
	}
	return out, nil
}

// GetProviderIn returns the provider name of scope sc (whose ResourceGroup
// must be set); a provider of another scope, or of none, is
// ErrProviderNotFound.
func (s *Service) GetProviderIn(ctx context.Context, who *Principal, sc Scope, name string) (*ProviderView, error) {
	v, err := s.GetProvider(ctx, who, name)
	if err != nil {
		return nil, err
	}
	if !sc.Contains(v.Metadata) {
		return nil, notInScope(sc, name)
	}
	return v, nil
}

func notInScope(sc Scope, name string) error {
	return ErrProviderNotFound.Wrapf("provider %s in subscription %s, resource group %s", name, sc.SubscriptionID, sc.ResourceGroup)
}

// MetadataUpdate changes a provider's ARM metadata; nil members keep their
// values. Tags replace all tags (as ARM's PATCH does); an empty non-nil map
// removes them.
type MetadataUpdate struct {
	Location *string
	Tags     map[string]string
	// PublicNetworkAccess and TPMAttestationAuthentication are the ARM
	// properties of 2021-06-01, "Enabled" or "Disabled" (access.go); nil
	// keeps the current value.
	PublicNetworkAccess          *string
	TPMAttestationAuthentication *string
}

// UpdateProviderMetadata changes the location and tags of the provider
// name of scope sc, with an audit entry in the same transaction. A provider
// of another scope is ErrProviderNotFound.
func (s *Service) UpdateProviderMetadata(ctx context.Context, who *Principal, sc Scope, name string, in MetadataUpdate) (*ProviderView, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return nil, err
	}
	if err := CheckTags(in.Tags); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var updated store.Provider
	err := s.st.WithTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetProvider(ctx, name)
		if err != nil {
			return err
		}
		if !sc.Contains(p.Metadata) {
			return notInScope(sc, name)
		}
		details := map[string]string{}
		if in.Location != nil {
			p.Metadata.Location = *in.Location
			details["location"] = *in.Location
		}
		if in.Tags != nil {
			p.Metadata.Tags = maps.Clone(in.Tags)
			details["tags"] = strings.Join(slices.Sorted(maps.Keys(in.Tags)), ",")
		}
		if in.PublicNetworkAccess != nil || in.TPMAttestationAuthentication != nil {
			if p.Settings, err = accessSettings(p.Settings, &ProviderSettings{
				PublicNetworkAccess: in.PublicNetworkAccess, TPMAttestationAuthentication: in.TPMAttestationAuthentication}); err != nil {
				return err
			}
			details["public_network_access"] = PublicNetworkAccess(p.Settings)
			details["tpm_attestation_authentication"] = TPMAttestationAuthentication(p.Settings)
		}
		p.UpdatedAt = now
		if updated, err = tx.UpdateProvider(ctx, p); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, p.Name, "provider.metadata", now, details))
	})
	if err != nil {
		return nil, mapStoreErr(err, "provider "+name)
	}
	s.invalidate(0)
	return s.view(ctx, updated)
}

// DeleteProviderIn deletes the provider name of scope sc. A provider of
// another scope is ErrProviderNotFound and is left alone.
func (s *Service) DeleteProviderIn(ctx context.Context, who *Principal, sc Scope, name string) error {
	if err := require(who, store.RoleOwner); err != nil {
		return err
	}
	now := s.clock.Now()
	err := s.st.WithTx(ctx, func(tx store.Tx) error {
		p, err := tx.GetProvider(ctx, name)
		if err != nil {
			return err
		}
		if !sc.Contains(p.Metadata) {
			return notInScope(sc, name)
		}
		if err := tx.DeleteProvider(ctx, p.Name); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, p.Name, "provider.delete", now, map[string]string{
			"subscription": p.Metadata.SubscriptionID, "resource_group": p.Metadata.ResourceGroup}))
	})
	if err != nil {
		return mapStoreErr(err, "provider "+name)
	}
	s.invalidate(0)
	return nil
}

// Tag limits, as ARM's: at most 50 tags, names up to 512 characters,
// values up to 256.
const (
	maxTags        = 50
	maxTagName     = 512
	maxTagValueLen = 256
)

// CheckTags validates ARM tags (UpdateProviderMetadata does; callers that
// create providers with tags should too).
func CheckTags(tags map[string]string) error {
	if len(tags) > maxTags {
		return ErrInvalidRequest.Wrapf("%d tags; at most %d are allowed", len(tags), maxTags)
	}
	for k, v := range tags {
		if strings.TrimSpace(k) == "" || len(k) > maxTagName {
			return ErrInvalidRequest.Wrapf("tag name %q must have 1 to %d characters", k, maxTagName)
		}
		if len(v) > maxTagValueLen {
			return ErrInvalidRequest.Wrapf("the value of tag %q is longer than %d characters", k, maxTagValueLen)
		}
	}
	return nil
}
