// Package jsonenc writes the JSON of claim sets — the map[string]any
// values that tokens and policies carry — byte for byte as encoding/json
// does, without its reflection for the common types. Every attestation
// writes its claims twice (the policy engine's text of object and array
// claims, the token's payload); with encoding/json that was about a
// twentieth of an ES256 attestation's CPU time.
package jsonenc

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
)

// Encoder writes JSON as encoding/json's Encoder with SetEscapeHTML(EscapeHTML)
// writes it (json.Marshal is EscapeHTML true), without the trailing newline:
// map keys sorted, strings escaped by the same rules. Strings, booleans,
// integers, []any, []string and map[string]any are written directly;
// anything else, and any string that needs escaping, goes through
// encoding/json.
type Encoder struct {
	EscapeHTML bool
}

// Marshal is encoding/json's encoding of v with e's escaping.
func (e Encoder) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(e.EscapeHTML)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte{'\n'}), nil
}

// Append appends the JSON of v to dst.
func (e Encoder) Append(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return e.AppendString(dst, v)
	case bool:
		return strconv.AppendBool(dst, v), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int32:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case uint16:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(dst, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(dst, v, 10), nil
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return appendArray(dst, v, e.Append)
	case []string:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return appendArray(dst, v, e.AppendString)
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return e.AppendObject(dst, SortedKeys(v), func(k string) any { return v[k] })
	default:
		b, err := e.Marshal(v)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
}

func appendArray[T any](dst []byte, list []T, appendOne func([]byte, T) ([]byte, error)) ([]byte, error) {
	dst = append(dst, '[')
	for i, item := range list {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendOne(dst, item); err != nil {
			return nil, err
		}
	}
	return append(dst, ']'), nil
}

// AppendObject appends an object with the members keys, in that order,
// whose values value returns.
func (e Encoder) AppendObject(dst []byte, keys []string, value func(string) any) ([]byte, error) {
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = e.AppendString(dst, k); err != nil {
			return nil, err
		}
		dst = append(dst, ':')
		if dst, err = e.Append(dst, value(k)); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// AppendString appends s as a JSON string. Printable ASCII other than the
// quote, the backslash and (when escaping HTML) <, > and & is written as it
// is; any other string is encoded by encoding/json (control characters,
// invalid UTF-8, U+2028 and U+2029 have its own rules).
func (e Encoder) AppendString(dst []byte, s string) ([]byte, error) {
	if !e.plain(s) {
		b, err := e.Marshal(s)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), nil
}

func (e Encoder) plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || e.EscapeHTML && (c == '<' || c == '>' || c == '&') {
			return false
		}
	}
	return true
}

// SortedKeys returns the keys of m and extra, sorted as encoding/json
// sorts map keys.
func SortedKeys(m map[string]any, extra ...string) []string {
	keys := make([]string, 0, len(m)+len(extra))
	for k := range m {
		keys = append(keys, k)
	}
	keys = append(keys, extra...)
	slices.Sort(keys)
	return keys
}
