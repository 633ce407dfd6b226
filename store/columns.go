package store

import "encoding/json"

// Column encodings of the SQL store (store/sqlstore, for sqlite and
// postgres): the same values go into the same columns whatever the
// dialect.

// JSONColumn is v encoded as JSON text for a column, or SQL NULL when
// isNil.
func JSONColumn(v any, isNil bool) (any, error) {
	if isNil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, ErrInvalid.Wrap(err)
	}
	return string(b), nil
}

// ProviderColumns are the values of a provider's columns after its name:
// trust model, accepted TCB statuses (JSON), grace period (nanoseconds),
// extra settings (JSON or NULL), subscription, resource group, location,
// tags (JSON or NULL).
func ProviderColumns(p *Provider) ([]any, error) {
	accepted, err := json.Marshal(p.Settings.AcceptedTCBStatuses)
	if err != nil {
		return nil, ErrInvalid.Wrap(err)
	}
	var extra any
	if len(p.Settings.Extra) > 0 {
		extra = string(p.Settings.Extra)
	}
	tags, err := JSONColumn(p.Metadata.Tags, p.Metadata.Tags == nil)
	if err != nil {
		return nil, err
	}
	return []any{string(p.TrustModel), string(accepted), int64(p.Settings.CollateralGracePeriod), extra,
		p.Metadata.SubscriptionID, p.Metadata.ResourceGroup, p.Metadata.Location, tags}, nil
}
