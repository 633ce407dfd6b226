package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// This file is a small JSON reader with the semantics QVL gets from
// RapidJSON, which encoding/json's struct decoding does not have:
//   - member names are case-sensitive and the FIRST occurrence of a
//     duplicated name wins (RapidJSON FindMember);
//   - "unsigned" means a JSON integer token in [0, 2^32-1] ("1.0" and "1e0"
//     are doubles, not integers; RapidJSON also counts "-0" as 0);
//   - "int" means an integer token in [-2^31, 2^31-1];
//   - text after the root value is an error.

type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

func (k jkind) String() string {
	return [...]string{"null", "boolean", "number", "string", "array", "object"}[k]
}

// jval is one parsed JSON value.
type jval struct {
	kind jkind
	str  string // string value, or the literal text of a number
	b    bool
	arr  []*jval
	keys []string // object member names in document order (duplicates kept)
	vals []*jval
}

// parseJSON parses exactly one JSON value (surrounding whitespace allowed).
func parseJSON(data []byte) (*jval, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := readValue(dec)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		if err == nil {
			return nil, errors.New("unexpected data after the JSON value")
		}
		return nil, err
	}
	return v, nil
}

func readValue(dec *json.Decoder) (*jval, error) {
	tok, err := dec.Token()
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return readFrom(dec, tok)
}

func readFrom(dec *json.Decoder, tok json.Token) (*jval, error) {
	switch t := tok.(type) {
	case nil:
		return &jval{kind: jNull}, nil
	case bool:
		return &jval{kind: jBool, b: t}, nil
	case json.Number:
		return &jval{kind: jNumber, str: string(t)}, nil
	case string:
		return &jval{kind: jString, str: t}, nil
	case json.Delim:
		switch t {
		case '[':
			v := &jval{kind: jArray}
			for dec.More() {
				e, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil { // ']'
				return nil, err
			}
			return v, nil
		case '{':
			v := &jval{kind: jObject}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				key, ok := kt.(string)
				if !ok {
					return nil, errors.New("object member name is not a string")
				}
				e, err := readValue(dec)
				if err != nil {
					return nil, err
				}
				v.keys = append(v.keys, key)
				v.vals = append(v.vals, e)
			}
			if _, err := dec.Token(); err != nil { // '}'
				return nil, err
			}
			return v, nil
		}
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// get returns the first member named name, or nil.
func (v *jval) get(name string) *jval {
	for i, k := range v.keys {
		if k == name {
			return v.vals[i]
		}
	}
	return nil
}

// errMissing marks an absent member, so messages say "missing" rather than
// "malformed".
var errMissing = errors.New("missing")

// field returns member name of object v, or errMissing.
func (v *jval) field(name string) (*jval, error) {
	f := v.get(name)
	if f == nil {
		return nil, fmt.Errorf("%s is %w", name, errMissing)
	}
	return f, nil
}

func (v *jval) objectField(name string) (*jval, error) {
	f, err := v.field(name)
	if err != nil {
		return nil, err
	}
	if f.kind != jObject {
		return nil, fmt.Errorf("%s is a %s, not an object", name, f.kind)
	}
	return f, nil
}

func (v *jval) arrayField(name string) (*jval, error) {
	f, err := v.field(name)
	if err != nil {
		return nil, err
	}
	if f.kind != jArray {
		return nil, fmt.Errorf("%s is a %s, not an array", name, f.kind)
	}
	return f, nil
}

func (v *jval) stringField(name string) (string, error) {
	f, err := v.field(name)
	if err != nil {
		return "", err
	}
	if f.kind != jString {
		return "", fmt.Errorf("%s is a %s, not a string", name, f.kind)
	}
	return f.str, nil
}

// optionalStringField is for category/type: absent is fine, present must be
// a string.
func (v *jval) optionalStringField(name string) (string, error) {
	f := v.get(name)
	if f == nil {
		return "", nil
	}
	if f.kind != jString {
		return "", fmt.Errorf("%s is a %s, not a string", name, f.kind)
	}
	return f.str, nil
}

// uintField reads an unsigned 32-bit integer (RapidJSON IsUint).
func (v *jval) uintField(name string) (uint32, error) {
	f, err := v.field(name)
	if err != nil {
		return 0, err
	}
	n, ok := f.uint32()
	if !ok {
		return 0, fmt.Errorf("%s is not an unsigned 32-bit integer (%s)", name, f.describe())
	}
	return n, nil
}

// intField reads a signed 32-bit integer (RapidJSON IsInt).
func (v *jval) intField(name string) (int32, error) {
	f, err := v.field(name)
	if err != nil {
		return 0, err
	}
	n, ok := f.int32()
	if !ok {
		return 0, fmt.Errorf("%s is not a 32-bit integer (%s)", name, f.describe())
	}
	return n, nil
}

func (v *jval) uint32() (uint32, bool) {
	if v.kind != jNumber {
		return 0, false
	}
	if v.str == "-0" {
		return 0, true
	}
	if !allDigits(v.str) {
		return 0, false
	}
	n, err := strconv.ParseUint(v.str, 10, 32)
	return uint32(n), err == nil
}

func (v *jval) int32() (int32, bool) {
	if v.kind != jNumber {
		return 0, false
	}
	s := v.str
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(v.str, 10, 32)
	return int32(n), err == nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func (v *jval) describe() string {
	switch v.kind {
	case jNumber:
		return v.str
	case jString:
		return strconv.Quote(v.str)
	}
	return "a " + v.kind.String()
}

// hexField reads a string of exactly hexLen hex digits (either case).
func (v *jval) hexField(name string, hexLen int) ([]byte, error) {
	s, err := v.stringField(name)
	if err != nil {
		return nil, err
	}
	if len(s) != hexLen {
		return nil, fmt.Errorf("%s must be %d hex digits, has %d characters", name, hexLen, len(s))
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%s is not hex: %v", name, err)
	}
	return b, nil
}

// dateField reads a date in exactly the form YYYY-MM-DDThh:mm:ssZ (UTC),
// rejecting impossible calendar dates, as QVL's isValidTimeString does.
func (v *jval) dateField(name string) (time.Time, error) {
	s, err := v.stringField(name)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := parseDate(s)
	if !ok {
		return time.Time{}, fmt.Errorf("%s %q is not a date of the form YYYY-MM-DDThh:mm:ssZ", name, s)
	}
	return t, nil
}

func parseDate(s string) (time.Time, bool) {
	// Shape check first: time.Parse alone would accept fractional seconds.
	const shape = "dddd-dd-ddTdd:dd:ddZ"
	if len(s) != len(shape) {
		return time.Time{}, false
	}
	for i := 0; i < len(shape); i++ {
		if shape[i] == 'd' {
			if s[i] < '0' || s[i] > '9' {
				return time.Time{}, false
			}
		} else if s[i] != shape[i] {
			return time.Time{}, false
		}
	}
	t, err := time.Parse("2006-01-02T15:04:05Z", s)
	if err != nil {
		return time.Time{}, false
	}
	return t.UTC(), true
}

// stringArray reads an optional array of strings (advisoryIDs). present
// reports whether the member exists.
func (v *jval) stringArray(name string) (out []string, present bool, err error) {
	f := v.get(name)
	if f == nil {
		return nil, false, nil
	}
	if f.kind != jArray {
		return nil, true, fmt.Errorf("%s is a %s, not an array", name, f.kind)
	}
	out = make([]string, 0, len(f.arr))
	for i, e := range f.arr {
		if e.kind != jString {
			return nil, true, fmt.Errorf("%s[%d] is a %s, not a string", name, i, e.kind)
		}
		out = append(out, e.str)
	}
	return out, true, nil
}

// compactJSON returns raw with insignificant whitespace removed, member
// order and string escapes kept: the byte string QVL signs over.
func compactJSON(raw []byte) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(raw))
	if err := json.Compact(&buf, raw); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
