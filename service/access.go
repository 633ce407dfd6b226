package service

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/avowhq/avow/store"
)

// The ARM properties publicNetworkAccess and tpmAttestationAuthentication
// (Microsoft.Attestation 2021-06-01) are provider settings, kept in
// store.Settings.Extra as {"publicNetworkAccess": "Disabled",
// "tpmAttestationAuthentication": "Disabled"}; absent means "Enabled", as
// on MAA.
//
//   - publicNetworkAccess Disabled: the provider's data plane answers only
//     to the networks the operator declared private (avow serve
//     --private-networks); package api enforces it, as the network is an
//     HTTP matter.
//   - tpmAttestationAuthentication: stored and returned. avow has no TPM
//     attestation yet; once /attest/Tpm exists, Enabled will require a
//     bearer token for it, as MAA does.
const (
	publicNetworkAccessMember = "publicNetworkAccess"
	tpmAuthenticationMember   = "tpmAttestationAuthentication"

	AccessEnabled  = "Enabled"
	AccessDisabled = "Disabled"
)

// PublicNetworkAccess returns a provider's publicNetworkAccess setting:
// Enabled (the default) or Disabled.
func PublicNetworkAccess(s store.Settings) string {
	return enabledSetting(s, publicNetworkAccessMember)
}

// TPMAttestationAuthentication returns a provider's
// tpmAttestationAuthentication setting: Enabled (the default) or Disabled.
func TPMAttestationAuthentication(s store.Settings) string {
	return enabledSetting(s, tpmAuthenticationMember)
}

func enabledSetting(s store.Settings, member string) string {
	var v string
	if !extraMember(s.Extra, member, &v) || v != AccessDisabled {
		return AccessEnabled
	}
	return AccessDisabled
}

// canonicalAccess spells an Enabled/Disabled value as MAA does (ARM enum
// values are case-insensitive).
func canonicalAccess(field, v string) (string, error) {
	switch {
	case strings.EqualFold(v, AccessEnabled):
		return AccessEnabled, nil
	case strings.EqualFold(v, AccessDisabled):
		return AccessDisabled, nil
	}
	return "", ErrInvalidRequest.Wrapf("%s %q is neither Enabled nor Disabled", field, v)
}

// withEnabledSetting sets member of Extra to Disabled, or removes it for
// Enabled (the default), keeping the other members.
func withEnabledSetting(extra json.RawMessage, member, v string) (json.RawMessage, error) {
	if v == AccessEnabled {
		return withExtraMember(extra, member, nil)
	}
	return withExtraMember(extra, member, v)
}

// accessSettings applies the two access members of in to out.
func accessSettings(out store.Settings, in *ProviderSettings) (store.Settings, error) {
	for _, f := range []struct {
		member, field string
		v             *string
	}{
		{publicNetworkAccessMember, "publicNetworkAccess", in.PublicNetworkAccess},
		{tpmAuthenticationMember, "tpmAttestationAuthentication", in.TPMAttestationAuthentication},
	} {
		if f.v == nil {
			continue
		}
		v, err := canonicalAccess(f.field, *f.v)
		if err != nil {
			return out, err
		}
		extra, err := withEnabledSetting(out.Extra, f.member, v)
		if err != nil {
			return out, ErrInvalidRequest.Wrap(err)
		}
		out.Extra = extra
	}
	return out, nil
}

// PublicNetworkAccessDisabled reports whether provider's data plane is
// closed to public networks (publicNetworkAccess Disabled). An unknown
// provider is not: its requests go on to their own "not found".
func (s *Service) PublicNetworkAccessDisabled(ctx context.Context, provider string) bool {
	p, err := s.provider(ctx, provider)
	if err != nil {
		return false
	}
	return PublicNetworkAccess(p.Settings) == AccessDisabled
}
