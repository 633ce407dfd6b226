package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"strings"
	"sync"
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
//
// One pass over the text checks it with exactly encoding/json's grammar
// (json.Valid, json.Compact) and records every value on a flat tape; the
// accessors walk the tape. Nothing is allocated per value. Strings are taken
// byte for byte unless they contain escapes (RapidJSON does not validate
// UTF-8 either); escaped strings are decoded by encoding/json.

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

// jtok is one entry of the tape: a value, or an object member name (a
// jString entry directly followed by the member's value).
type jtok struct {
	kind jkind
	esc  bool // jString with escapes: its text is doc.strs[start]
	b    bool // jBool
	// jString, jNumber: the text is data[start:end] (a string without its
	// quotes). jObject, jArray: end is the index of the entry after the
	// value's last descendant, n the number of members or elements.
	start, end int
	n          int
}

// jdoc is a parsed JSON document: the text and its tape. The root value is
// toks[0].
type jdoc struct {
	data []byte
	toks []jtok
	strs [][]byte // decoded escaped strings
}

// jval is a value of a jdoc (an index into its tape). The zero jval stands
// for an absent member.
type jval struct {
	d *jdoc
	i int
}

// maxJSONDepth is encoding/json's nesting limit (scanner maxNestingDepth):
// deeper text is not valid JSON to json.Valid and json.Compact.
const maxJSONDepth = 10000

// parseJSON validates data (one JSON value, surrounding whitespace allowed)
// and parses it. The error is encoding/json's for the same text.
func parseJSON(data []byte) (jval, error) {
	d := &jdoc{data: data}
	if _, ok := d.parse(); !ok {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			return jval{}, err
		}
		return jval{}, errors.New("invalid JSON")
	}
	return jval{d, 0}, nil
}

// docPool recycles the tapes of signed documents, which parseSignedJSON's
// callers release when done.
var docPool = sync.Pool{New: func() any { return new(jdoc) }}

// parseSignedJSON parses the text of a signed document (a TCB info or QE
// identity) and returns it with its compact form, json.Compact(raw): the
// bytes QVL verifies the signature over. The compact form is a copy of raw
// (never raw itself), as json.Compact's output would be. The error is
// json.Compact's for the same text. The caller must call root.release when
// done with root, and must keep nothing that shares its memory.
func parseSignedJSON(raw []byte) (root jval, signed []byte, err error) {
	d := docPool.Get().(*jdoc)
	d.data = raw
	compact, ok := d.parse()
	if !ok || !compact {
		// Invalid text, for json.Compact's error, or text with whitespace:
		// json.Compact removes it.
		if signed, err = compactJSON(raw); err != nil {
			d.release()
			return jval{}, nil, err
		}
		if !ok {
			d.release()
			return jval{}, nil, errors.New("invalid JSON")
		}
		return jval{d, 0}, signed, nil
	}
	return jval{d, 0}, bytes.Clone(raw), nil
}

// release returns the document of a root from parseSignedJSON to docPool.
func (v jval) release() { v.d.release() }

func (d *jdoc) release() {
	if cap(d.toks) > 1<<16 {
		return // do not keep the tape of an unusually large text
	}
	*d = jdoc{toks: d.toks[:0]}
	docPool.Put(d)
}

func isJSONSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// parse fills d.toks from d.data. ok reports whether d.data is one valid
// JSON value with optional whitespace around it, by encoding/json's rules
// (RFC 8259 grammar, at most maxJSONDepth nested arrays and objects,
// strings not checked for UTF-8). compact reports that the text has no
// whitespace outside strings, i.e. json.Compact would return it unchanged.
func (d *jdoc) parse() (compact, ok bool) {
	data := d.data
	n := len(data)
	if want := min(n/5+8, 1<<12); cap(d.toks) < want {
		// Intel's documents have a value every 6 bytes; a large text grows
		// the tape as it needs.
		d.toks = make([]jtok, 0, want)
	}
	toks := d.toks[:0]
	var stackBuf [16]int
	stack := stackBuf[:0] // tape indices of the open arrays and objects
	compact = true
	pos := 0
	for pos < n && isJSONSpace(data[pos]) {
		pos++
		compact = false
	}

value:
	if pos >= n {
		goto fail
	}
	switch c := data[pos]; c {
	case '"':
		end, esc := scanJSONString(data, pos+1)
		if end < 0 {
			goto fail
		}
		t := jtok{kind: jString, start: pos + 1, end: end}
		if esc && !d.unescape(&t) {
			goto fail
		}
		toks = append(toks, t)
		pos = end + 1
	case '{', '[':
		if len(stack) >= maxJSONDepth {
			goto fail
		}
		kind, closer := jObject, byte('}')
		if c == '[' {
			kind, closer = jArray, ']'
		}
		stack = append(stack, len(toks))
		toks = append(toks, jtok{kind: kind})
		pos++
		for pos < n && isJSONSpace(data[pos]) {
			pos++
			compact = false
		}
		if pos < n && data[pos] == closer {
			pos++
			toks[stack[len(stack)-1]].end = len(toks)
			stack = stack[:len(stack)-1]
			goto after
		}
		if kind == jObject {
			goto member
		}
		goto value
	case 't':
		if n-pos < 4 || string(data[pos:pos+4]) != "true" {
			goto fail
		}
		toks = append(toks, jtok{kind: jBool, b: true})
		pos += 4
	case 'f':
		if n-pos < 5 || string(data[pos:pos+5]) != "false" {
			goto fail
		}
		toks = append(toks, jtok{kind: jBool})
		pos += 5
	case 'n':
		if n-pos < 4 || string(data[pos:pos+4]) != "null" {
			goto fail
		}
		toks = append(toks, jtok{kind: jNull})
		pos += 4
	default:
		end := scanJSONNumber(data, pos)
		if end < 0 {
			goto fail
		}
		toks = append(toks, jtok{kind: jNumber, start: pos, end: end})
		pos = end
	}

after: // a value ended at pos
	for pos < n && isJSONSpace(data[pos]) {
		pos++
		compact = false
	}
	if len(stack) == 0 {
		d.toks = toks
		return compact, pos == n
	}
	{
		top := &toks[stack[len(stack)-1]]
		top.n++
		if pos >= n {
			goto fail
		}
		c := data[pos]
		pos++
		if c == ',' {
			for pos < n && isJSONSpace(data[pos]) {
				pos++
				compact = false
			}
			if top.kind == jObject {
				goto member
			}
			goto value
		}
		if top.kind == jObject && c != '}' || top.kind == jArray && c != ']' {
			goto fail
		}
		top.end = len(toks)
		stack = stack[:len(stack)-1]
		goto after
	}

member: // an object member name is expected at pos
	if pos >= n || data[pos] != '"' {
		goto fail
	}
	{
		end, esc := scanJSONString(data, pos+1)
		if end < 0 {
			goto fail
		}
		t := jtok{kind: jString, start: pos + 1, end: end}
		if esc && !d.unescape(&t) {
			goto fail
		}
		toks = append(toks, t)
		pos = end + 1
	}
	for pos < n && isJSONSpace(data[pos]) {
		pos++
		compact = false
	}
	if pos >= n || data[pos] != ':' {
		goto fail
	}
	pos++
	for pos < n && isJSONSpace(data[pos]) {
		pos++
		compact = false
	}
	goto value

fail:
	d.toks = toks
	return false, false
}

// scanJSONString scans the string whose text starts at i (after the opening
// quote) and returns the index of the closing quote, or -1 when the string
// is not valid JSON. esc reports escapes.
func scanJSONString(data []byte, i int) (end int, esc bool) {
	for {
		for i < len(data) && jsonPlain[data[i]] {
			i++
		}
		if i >= len(data) {
			return -1, esc
		}
		switch data[i] {
		case '"':
			return i, esc
		case '\\':
			esc = true
			i++
			if i >= len(data) {
				return -1, esc
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if len(data)-i < 5 || !isHex(data[i+1:i+5]) {
					return -1, esc
				}
				i += 5
			default:
				return -1, esc
			}
		default: // a control character
			return -1, esc
		}
	}
}

// jsonPlain marks the bytes that stand for themselves in a JSON string: all
// but the quote, the backslash and the control characters below 0x20.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanJSONNumber scans the number starting at i and returns the index after
// it, or -1 when there is no valid JSON number at i:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func scanJSONNumber(data []byte, i int) int {
	n := len(data)
	if i < n && data[i] == '-' {
		i++
	}
	if i >= n {
		return -1
	}
	switch c := data[i]; {
	case c == '0':
		i++
	case '1' <= c && c <= '9':
		i++
		for i < n && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	default:
		return -1
	}
	if i < n && data[i] == '.' {
		i++
		if i >= n || data[i] < '0' || data[i] > '9' {
			return -1
		}
		for i < n && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	}
	if i < n && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < n && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= n || data[i] < '0' || data[i] > '9' {
			return -1
		}
		for i < n && '0' <= data[i] && data[i] <= '9' {
			i++
		}
	}
	return i
}

// unescape decodes the escaped string t (as encoding/json does: invalid
// UTF-8 and lone surrogates become U+FFFD) into d.strs.
func (d *jdoc) unescape(t *jtok) bool {
	var s string
	if err := json.Unmarshal(d.data[t.start-1:t.end+1], &s); err != nil {
		return false
	}
	t.esc = true
	t.start = len(d.strs)
	d.strs = append(d.strs, []byte(s))
	return true
}

func (v jval) ok() bool      { return v.d != nil }
func (v jval) kind() jkind   { return v.d.toks[v.i].kind }
func (v jval) boolean() bool { return v.d.toks[v.i].b }

// text is the content of a string (decoded) or the literal text of a number.
// The bytes share the document's memory.
func (v jval) text() []byte {
	t := &v.d.toks[v.i]
	if t.esc {
		return v.d.strs[t.start]
	}
	return v.d.data[t.start:t.end:t.end]
}

// next returns the tape index after the value at tape index i.
func (d *jdoc) next(i int) int {
	if k := d.toks[i].kind; k == jObject || k == jArray {
		return d.toks[i].end
	}
	return i + 1
}

// len is the number of elements of an array (members of an object).
func (v jval) len() int { return v.d.toks[v.i].n }

// elems iterates over the elements of an array.
func (v jval) elems() iter.Seq2[int, jval] {
	return func(yield func(int, jval) bool) {
		t := &v.d.toks[v.i]
		if t.kind != jArray {
			return
		}
		j := v.i + 1
		for k := 0; k < t.n; k++ {
			if !yield(k, jval{v.d, j}) {
				return
			}
			j = v.d.next(j)
		}
	}
}

// get returns the first member named name, or the zero jval.
func (v jval) get(name string) jval {
	d := v.d
	t := &d.toks[v.i]
	if t.kind != jObject {
		return jval{}
	}
	j := v.i + 1
	for k := 0; k < t.n; k++ {
		key := &d.toks[j]
		var ks []byte
		if key.esc {
			ks = d.strs[key.start]
		} else {
			ks = d.data[key.start:key.end]
		}
		if string(ks) == name {
			return jval{d, j + 1}
		}
		j = d.next(j + 1)
	}
	return jval{}
}

// has reports whether object v has a member named name.
func (v jval) has(name string) bool { return v.get(name).ok() }

// errMissing marks an absent member, so messages say "missing" rather than
// "malformed".
var errMissing = errors.New("missing")

// field returns member name of object v, or errMissing.
func (v jval) field(name string) (jval, error) {
	f := v.get(name)
	if !f.ok() {
		return jval{}, fmt.Errorf("%s is %w", name, errMissing)
	}
	return f, nil
}

func (v jval) objectField(name string) (jval, error) {
	f, err := v.field(name)
	if err != nil {
		return jval{}, err
	}
	if f.kind() != jObject {
		return jval{}, fmt.Errorf("%s is a %s, not an object", name, f.kind())
	}
	return f, nil
}

func (v jval) arrayField(name string) (jval, error) {
	f, err := v.field(name)
	if err != nil {
		return jval{}, err
	}
	if f.kind() != jArray {
		return jval{}, fmt.Errorf("%s is a %s, not an array", name, f.kind())
	}
	return f, nil
}

func (v jval) stringField(name string) (string, error) {
	b, err := v.bytesField(name)
	return string(b), err
}

// bytesField is stringField without the copy.
func (v jval) bytesField(name string) ([]byte, error) {
	f, err := v.field(name)
	if err != nil {
		return nil, err
	}
	if f.kind() != jString {
		return nil, fmt.Errorf("%s is a %s, not a string", name, f.kind())
	}
	return f.text(), nil
}

// checkOptionalString is for category/type: absent is fine, present must
// be a string.
func (v jval) checkOptionalString(name string) error {
	if f := v.get(name); f.ok() && f.kind() != jString {
		return fmt.Errorf("%s is a %s, not a string", name, f.kind())
	}
	return nil
}

// uintField reads an unsigned 32-bit integer (RapidJSON IsUint).
func (v jval) uintField(name string) (uint32, error) {
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
func (v jval) intField(name string) (int32, error) {
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

func (v jval) uint32() (uint32, bool) {
	if v.kind() != jNumber {
		return 0, false
	}
	return uint32Text(v.text())
}

// uint32Text reads the text of a JSON number as QVL reads an unsigned
// 32-bit member: digits only (-0 is 0), no fraction or exponent, at most
// 2^32-1.
func uint32Text(s []byte) (uint32, bool) {
	if string(s) == "-0" {
		return 0, true
	}
	if !allDigits(s) || len(s) > 10 {
		return 0, false
	}
	var n uint64
	for _, c := range s {
		n = n*10 + uint64(c-'0')
	}
	return uint32(n), n <= 0xFFFFFFFF
}

func (v jval) int32() (int32, bool) {
	if v.kind() != jNumber {
		return 0, false
	}
	text := v.text()
	s := text
	if len(s) > 0 && s[0] == '-' {
		s = s[1:]
	}
	if !allDigits(s) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(text), 10, 32)
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

func (v jval) describe() string {
	switch v.kind() {
	case jNumber:
		return string(v.text())
	case jString:
		return strconv.Quote(string(v.text()))
	}
	return "a " + v.kind().String()
}

// hexField reads a string of exactly hexLen hex digits (either case).
func (v jval) hexField(name string, hexLen int) ([]byte, error) {
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
func (v jval) dateField(name string) (time.Time, error) {
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
	if len(s) != len("YYYY-MM-DDThh:mm:ssZ") || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[19] != 'Z' {
		return time.Time{}, false
	}
	num := func(i, n int) (int, bool) {
		v := 0
		for _, c := range s[i : i+n] {
			if c < '0' || c > '9' {
				return 0, false
			}
			v = v*10 + int(c-'0')
		}
		return v, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 2)
	day, ok3 := num(8, 2)
	hour, ok4 := num(11, 2)
	minute, ok5 := num(14, 2)
	sec, ok6 := num(17, 2)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false // no 30 February, hour 24 or second 60
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC), true
}

// daysIn is the number of days of month in year (proleptic Gregorian
// calendar, as package time).
func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// stringArray reads an optional array of strings (advisoryIDs). present
// reports whether the member exists.
func (v jval) stringArray(name string) (out []string, present bool, err error) {
	f := v.get(name)
	if !f.ok() {
		return nil, false, nil
	}
	if f.kind() != jArray {
		return nil, true, fmt.Errorf("%s is a %s, not an array", name, f.kind())
	}
	total := 0
	for i, e := range f.elems() {
		if e.kind() != jString {
			return nil, true, fmt.Errorf("%s[%d] is a %s, not a string", name, i, e.kind())
		}
		total += len(e.text())
	}
	// One allocation holds the text of all the strings.
	var all strings.Builder
	all.Grow(total)
	for _, e := range f.elems() {
		all.Write(e.text())
	}
	text := all.String()
	out = make([]string, 0, f.len())
	for _, e := range f.elems() {
		n := len(e.text())
		out = append(out, text[:n])
		text = text[n:]
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
