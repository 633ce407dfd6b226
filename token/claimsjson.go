package token

import (
	"slices"
	"strconv"
	"strings"
)

// appendJSON appends v to dst exactly as compactJSON would write it
// (encoding/json without HTML escaping, map keys sorted). The types that
// claims are made of — strings, booleans, integers, []any, []string and
// map[string]any — are written directly; anything else, and any string that
// needs escaping, goes through encoding/json. A token's payload is written
// on every attestation, and encoding/json's reflection and map-key sorting
// were about a twentieth of an ES256 attestation's CPU time.
func appendJSON(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case string:
		return appendJSONString(dst, v)
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
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case []string:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '[')
		for i, e := range v {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSONString(dst, e); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return appendJSONObject(dst, sortedKeys(v), func(k string) any { return v[k] })
	default:
		b, err := compactJSON(v)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
}

// appendJSONObject appends an object with the members keys (in that order)
// whose values value returns.
func appendJSONObject(dst []byte, keys []string, value func(string) any) ([]byte, error) {
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendJSONString(dst, k); err != nil {
			return nil, err
		}
		dst = append(dst, ':')
		if dst, err = appendJSON(dst, value(k)); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// appendJSONString appends s as a JSON string. Printable ASCII other than
// the quote and the backslash is written as it is, as encoding/json does
// without HTML escaping; any other string is encoded by encoding/json
// (control characters, invalid UTF-8, U+2028 and U+2029 have its own rules).
func appendJSONString(dst []byte, s string) ([]byte, error) {
	if !plainASCII(s) {
		b, err := compactJSON(s)
		if err != nil {
			return nil, err
		}
		return append(dst, b...), nil
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"'), nil
}

func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// sortedKeys returns the keys of m and extra, sorted.
func sortedKeys(m map[string]any, extra ...string) []string {
	keys := make([]string, 0, len(m)+len(extra))
	for k := range m {
		keys = append(keys, k)
	}
	keys = append(keys, extra...)
	slices.SortFunc(keys, strings.Compare)
	return keys
}
