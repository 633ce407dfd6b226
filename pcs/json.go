package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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
	s    []byte // string content (unescaped) or the literal text of a number
	b    bool
	keys [][]byte // object member names in document order (duplicates kept)
	vals []*jval  // object member values (parallel to keys) or array elements
}

// parseJSON validates data (one JSON value, surrounding whitespace allowed)
// and parses it.
func parseJSON(data []byte) (*jval, error) {
	if !json.Valid(data) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return nil, err
		}
		return nil, errors.New("invalid JSON")
	}
	return parseValidJSON(data)
}

// parseValidJSON parses JSON already known to be valid (json.Valid or the
// output of json.Compact): the scanner does not re-check the grammar.
// Strings are taken byte for byte unless they contain escapes (RapidJSON
// does not validate UTF-8 either). The values share data's memory.
func parseValidJSON(data []byte) (*jval, error) {
	p := jparser{data: data}
	return p.value()
}

type jparser struct {
	data []byte
	pos  int
	slab []jval
}

func (p *jparser) newVal(k jkind) *jval {
	if len(p.slab) == 0 {
		p.slab = make([]jval, 64)
	}
	v := &p.slab[0]
	p.slab = p.slab[1:]
	v.kind = k
	return v
}

func (p *jparser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\r', '\n':
			p.pos++
		default:
			return
		}
	}
}

func (p *jparser) value() (*jval, error) {
	p.skipSpace()
	if p.pos >= len(p.data) {
		return nil, errors.New("unexpected end of JSON")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		p.pos++
		v := p.newVal(jObject)
		p.skipSpace()
		if p.data[p.pos] == '}' {
			p.pos++
			return v, nil
		}
		for {
			p.skipSpace()
			key, err := p.string()
			if err != nil {
				return nil, err
			}
			p.skipSpace()
			p.pos++ // ':'
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			v.keys = append(v.keys, key)
			v.vals = append(v.vals, e)
			p.skipSpace()
			if p.data[p.pos] == '}' {
				p.pos++
				return v, nil
			}
			p.pos++ // ','
		}
	case '[':
		p.pos++
		v := p.newVal(jArray)
		p.skipSpace()
		if p.data[p.pos] == ']' {
			p.pos++
			return v, nil
		}
		for {
			e, err := p.value()
			if err != nil {
				return nil, err
			}
			v.vals = append(v.vals, e)
			p.skipSpace()
			if p.data[p.pos] == ']' {
				p.pos++
				return v, nil
			}
			p.pos++ // ','
		}
	case '"':
		s, err := p.string()
		if err != nil {
			return nil, err
		}
		v := p.newVal(jString)
		v.s = s
		return v, nil
	case 't':
		p.pos += 4
		v := p.newVal(jBool)
		v.b = true
		return v, nil
	case 'f':
		p.pos += 5
		return p.newVal(jBool), nil
	case 'n':
		p.pos += 4
		return p.newVal(jNull), nil
	default: // number
		start := p.pos
	digits:
		for p.pos < len(p.data) {
			switch p.data[p.pos] {
			case '-', '+', '.', 'e', 'E', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				p.pos++
			default:
				break digits
			}
		}
		v := p.newVal(jNumber)
		v.s = p.data[start:p.pos]
		return v, nil
	}
}

// string reads the string token at p.pos (which is '"').
func (p *jparser) string() ([]byte, error) {
	start := p.pos
	p.pos++
	escaped := false
	for {
		c := p.data[p.pos]
		if c == '\\' {
			escaped = true
			p.pos += 2
			continue
		}
		p.pos++
		if c == '"' {
			break
		}
	}
	if !escaped {
		return p.data[start+1 : p.pos-1], nil
	}
	var s string
	if err := json.Unmarshal(p.data[start:p.pos], &s); err != nil {
		return nil, err
	}
	return []byte(s), nil
}

// get returns the first member named name, or nil.
func (v *jval) get(name string) *jval {
	for i, k := range v.keys {
		if string(k) == name {
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
	b, err := v.bytesField(name)
	return string(b), err
}

// bytesField is stringField without the copy.
func (v *jval) bytesField(name string) ([]byte, error) {
	f, err := v.field(name)
	if err != nil {
		return nil, err
	}
	if f.kind != jString {
		return nil, fmt.Errorf("%s is a %s, not a string", name, f.kind)
	}
	return f.s, nil
}

// checkOptionalString is for category/type: absent is fine, present must
// be a string.
func (v *jval) checkOptionalString(name string) error {
	if f := v.get(name); f != nil && f.kind != jString {
		return fmt.Errorf("%s is a %s, not a string", name, f.kind)
	}
	return nil
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
	if string(v.s) == "-0" {
		return 0, true
	}
	if !allDigits(v.s) || len(v.s) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range v.s {
		n = n*10 + uint64(c-'0')
	}
	return uint32(n), n <= 0xFFFFFFFF
}

func (v *jval) int32() (int32, bool) {
	if v.kind != jNumber {
		return 0, false
	}
	s := v.s
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(v.s), 10, 32)
	return int32(n), err == nil
}

func allDigits(s []byte) bool {
	if len(s) == 0 {
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
		return string(v.s)
	case jString:
		return strconv.Quote(string(v.s))
	}
	return "a " + v.kind.String()
}

// hexField reads a string of exactly hexLen hex digits (either case).
func (v *jval) hexField(name string, hexLen int) ([]byte, error) {
	s, err := v.bytesField(name)
	if err != nil {
		return nil, err
	}
	if len(s) != hexLen {
		return nil, fmt.Errorf("%s must be %d hex digits, has %d characters", name, hexLen, len(s))
	}
	b := make([]byte, hexLen/2)
	if _, err := hex.Decode(b, s); err != nil {
		return nil, fmt.Errorf("%s is not hex: %v", name, err)
	}
	return b, nil
}

// dateField reads a date in exactly the form YYYY-MM-DDThh:mm:ssZ (UTC),
// rejecting impossible calendar dates, as QVL's isValidTimeString does.
func (v *jval) dateField(name string) (time.Time, error) {
	s, err := v.bytesField(name)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := parseDate(s)
	if !ok {
		return time.Time{}, fmt.Errorf("%s %q is not a date of the form YYYY-MM-DDThh:mm:ssZ", name, s)
	}
	return t, nil
}

func parseDate(s []byte) (time.Time, bool) {
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
	num := func(i, n int) int {
		v := 0
		for _, c := range s[i : i+n] {
			v = v*10 + int(c-'0')
		}
		return v
	}
	year, month, day := num(0, 4), num(5, 2), num(8, 2)
	hour, minute, sec := num(11, 2), num(14, 2), num(17, 2)
	if month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	if t.Day() != day { // 30 February and the like normalise into the next month
		return time.Time{}, false
	}
	return t, true
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
	out = make([]string, 0, len(f.vals))
	for i, e := range f.vals {
		if e.kind != jString {
			return nil, true, fmt.Errorf("%s[%d] is a %s, not a string", name, i, e.kind)
		}
		out = append(out, string(e.s))
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
