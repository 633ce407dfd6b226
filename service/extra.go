package service

import "encoding/json"

// A provider's settings beyond the store's columns live as members of one
// JSON object (store.Settings.Extra): tokenAlgorithm, collateralSources,
// publicNetworkAccess, tpmAttestationAuthentication, typeSettings, tcbGrace.

// extraMember reads member of extra into out; false when it is absent or
// does not read as out.
func extraMember(extra json.RawMessage, member string, out any) bool {
	if len(extra) == 0 {
		return false
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(extra, &m) != nil {
		return false
	}
	raw, ok := m[member]
	return ok && json.Unmarshal(raw, out) == nil
}

// withExtraMember returns extra with member set to v, or removed when v is
// nil, keeping the other members; nil when nothing is left.
func withExtraMember(extra json.RawMessage, member string, v any) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(extra) > 0 {
		if err := json.Unmarshal(extra, &m); err != nil || m == nil {
			m = map[string]json.RawMessage{}
		}
	}
	if v == nil {
		delete(m, member)
	} else {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		m[member] = b
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}
