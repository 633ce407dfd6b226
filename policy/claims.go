package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/avowhq/avow/internal/jsonenc"
)

// Issuers of claims, as the policy language names them.
const (
	IssuerAttestationService = "AttestationService" // derived from the evidence by the service
	IssuerAttestationPolicy  = "AttestationPolicy"  // added or issued by a policy rule
	IssuerCustomClaim        = "CustomClaim"        // supplied by the client
)

// Claim is one claim of the incoming or outgoing claim set.
//
// Value is a bool, an integer (any Go integer type, an integral float64 or
// a json.Number) or a string. Anything else (objects, arrays, fractions) is
// treated as a String holding its JSON text, which is how the policy
// language represents JSON evidence. ValueType is optional ("String",
// "Integer" or "Boolean"); when set, Value is converted to it (a string
// "5" with ValueType "Integer" is the integer 5).
type Claim struct {
	Type      string `json:"type"`
	Value     any    `json:"value"`
	Issuer    string `json:"issuer,omitempty"`
	ValueType string `json:"valueType,omitempty"`
}

// ClaimsFromMap builds the incoming claim set from a JSON object of claim
// type to value: the shape of an attestation token's claims. Claims are
// ordered by type; their issuer is AttestationService, because the object
// stands for what the service derives from evidence. Object and array
// values become String claims holding their compact JSON text.
func ClaimsFromMap(m map[string]any) []Claim {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]Claim, 0, len(keys))
	for _, k := range keys {
		out = append(out, Claim{Type: k, Value: normalizeJSON(m[k]), Issuer: IssuerAttestationService})
	}
	return out
}

// ClaimsFromList builds the incoming claim set from a JSON list of
// {"type", "value", "issuer", "valueType"} objects. A missing issuer is
// AttestationService, as in ClaimsFromMap.
func ClaimsFromList(list []any) ([]Claim, error) {
	out := make([]Claim, 0, len(list))
	for i, item := range list {
		obj, ok := item.(map[string]any)
		if !ok {
			return nil, ErrBadClaims.Wrapf("claim %d is not a JSON object", i+1)
		}
		var c Claim
		for k, v := range obj {
			switch k {
			case "type", "Type":
				s, ok := v.(string)
				if !ok || s == "" {
					return nil, ErrBadClaims.Wrapf("claim %d: type must be a non-empty string", i+1)
				}
				c.Type = s
			case "value", "Value":
				c.Value = normalizeJSON(v)
			case "issuer", "Issuer":
				s, ok := v.(string)
				if !ok {
					return nil, ErrBadClaims.Wrapf("claim %d: issuer must be a string", i+1)
				}
				c.Issuer = s
			case "valueType", "ValueType", "valuetype":
				s, ok := v.(string)
				if !ok || (s != "String" && s != "Integer" && s != "Boolean") {
					return nil, ErrBadClaims.Wrapf("claim %d: valueType must be String, Integer or Boolean", i+1)
				}
				c.ValueType = s
			default:
				return nil, ErrBadClaims.Wrapf("claim %d: unknown member %q (a claim has type, value, issuer and valueType)", i+1, k)
			}
		}
		if c.Type == "" {
			return nil, ErrBadClaims.Wrapf("claim %d has no type", i+1)
		}
		if c.Value == nil {
			return nil, ErrBadClaims.Wrapf("claim %d (%s) has no value", i+1, c.Type)
		}
		if c.Issuer == "" {
			c.Issuer = IssuerAttestationService
		}
		if c.ValueType != "" {
			if _, ok := coerce(valueFromAny(c.Value), c.ValueType); !ok {
				return nil, ErrBadClaims.Wrapf("claim %d (%s): value %v is not a %s", i+1, c.Type, c.Value, c.ValueType)
			}
		}
		out = append(out, c)
	}
	return out, nil
}

// ParseClaims reads claims from JSON: an object of claim type to value
// (ClaimsFromMap) or a list of claim objects (ClaimsFromList). Numbers keep
// their exact integer value.
func ParseClaims(data []byte) ([]Claim, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return nil, ErrBadClaims.Wrapf("not JSON: %v", err)
	}
	if dec.More() {
		return nil, ErrBadClaims.Wrapf("trailing data after the JSON value")
	}
	switch t := bytes.TrimSpace(raw); {
	case len(t) > 0 && t[0] == '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(t, &m); err != nil {
			return nil, ErrBadClaims.Wrapf("not JSON: %v", err)
		}
		obj := make(map[string]any, len(m))
		for k, v := range m {
			x, err := rawValue(v)
			if err != nil {
				return nil, ErrBadClaims.Wrapf("claim %q: %v", k, err)
			}
			obj[k] = x
		}
		return ClaimsFromMap(obj), nil
	case len(t) > 0 && t[0] == '[':
		var items []map[string]json.RawMessage
		if err := json.Unmarshal(t, &items); err != nil {
			return nil, ErrBadClaims.Wrapf("a claim list holds {\"type\", \"value\", \"issuer\"} objects: %v", err)
		}
		list := make([]any, len(items))
		for i, item := range items {
			if item == nil {
				return nil, ErrBadClaims.Wrapf("claim %d is not a JSON object", i+1)
			}
			obj := make(map[string]any, len(item))
			for k, v := range item {
				x, err := rawValue(v)
				if err != nil {
					return nil, ErrBadClaims.Wrapf("claim %d: %v", i+1, err)
				}
				obj[k] = x
			}
			list[i] = obj
		}
		return ClaimsFromList(list)
	}
	return nil, ErrBadClaims.Wrapf("claims must be a JSON object of claim type to value, or a list of {\"type\", \"value\", \"issuer\"} objects")
}

// rawValue decodes a scalar (numbers as json.Number) and keeps objects and
// arrays as their compact JSON text, members in their original order.
func rawValue(raw json.RawMessage) (any, error) {
	t := bytes.TrimSpace(raw)
	if len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		var b bytes.Buffer
		if err := json.Compact(&b, t); err != nil {
			return nil, err
		}
		return b.String(), nil
	}
	dec := json.NewDecoder(bytes.NewReader(t))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// normalizeJSON turns decoded JSON objects and arrays into their compact
// JSON text; scalars are returned unchanged.
func normalizeJSON(v any) any {
	switch v.(type) {
	case map[string]any, []any:
		b, err := jsonenc.Encoder{EscapeHTML: true}.Append(make([]byte, 0, 512), v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
	return v
}

// claimOf converts an internal claim to the exported form.
func (c *iclaim) claim() Claim {
	return Claim{Type: c.typ, Value: c.v.toAny(), Issuer: c.issuer, ValueType: c.v.k.String()}
}
