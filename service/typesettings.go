package service

import (
	"encoding/json"
	"sort"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/store"
)

// typeSettingsMember is the provider setting of per-type settings in
// store.Settings.Extra: {"typeSettings": {"SevSnpVm": {"minimumTcb": "…"}}}.
const typeSettingsMember = "typeSettings"

// Bounds of a provider's typeSettings: they come from its owner's requests.
const (
	maxTypeSettings     = 16  // per type
	maxTypeSettingBytes = 256 // a key or a value
)

// TypeSettings returns a provider's settings per attestation type (nil
// when it has none).
func TypeSettings(s store.Settings) map[string]map[string]string {
	var out map[string]map[string]string
	if !extraMember(s.Extra, typeSettingsMember, &out) || len(out) == 0 {
		return nil
	}
	return out
}

// withTypeSettings applies changes to the provider's typeSettings: for each
// type named, its settings are replaced by the given ones (an empty map
// removes them). Each type checks its own keys and values
// (attestation.SettingsChecker); a type without settings refuses any.
func (s *Service) withTypeSettings(cur store.Settings, changes map[string]map[string]string) (json.RawMessage, error) {
	all := TypeSettings(cur)
	if all == nil {
		all = map[string]map[string]string{}
	}
	names := make([]string, 0, len(changes))
	for name := range changes {
		names = append(names, name)
	}
	sort.Strings(names) // the first error is the same on every run
	for _, name := range names {
		typ, err := s.AttestationType(name)
		if err != nil {
			return nil, ErrInvalidRequest.Wrapf("typeSettings: %s", err)
		}
		kv := changes[name]
		if len(kv) == 0 {
			delete(all, typ.Name())
			continue
		}
		checker, ok := typ.(attestation.SettingsChecker)
		if !ok {
			return nil, ErrInvalidRequest.Wrapf("typeSettings: %s takes no settings", typ.Name())
		}
		if len(kv) > maxTypeSettings {
			return nil, ErrInvalidRequest.Wrapf("typeSettings: %d settings for %s; at most %d", len(kv), typ.Name(), maxTypeSettings)
		}
		for k, v := range kv {
			if len(k) > maxTypeSettingBytes || len(v) > maxTypeSettingBytes {
				return nil, ErrInvalidRequest.Wrapf("typeSettings: a key or value of %s is longer than %d bytes", typ.Name(), maxTypeSettingBytes)
			}
			if err := checker.CheckSetting(k, v); err != nil {
				return nil, ErrInvalidRequest.Wrap(err)
			}
		}
		all[typ.Name()] = kv
	}
	if len(all) == 0 {
		return withExtraMember(cur.Extra, typeSettingsMember, nil)
	}
	return withExtraMember(cur.Extra, typeSettingsMember, all)
}
