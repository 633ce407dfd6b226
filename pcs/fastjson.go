package pcs

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// A direct reader for signed documents in the form Intel serves them:
// compact JSON (no whitespace outside strings) whose member names, and the
// string values that are kept, have no escapes. ParseTCBInfo and
// ParseQEIdentity try it first. It decodes straight into the result, with
// no tape, and reads every byte once (a value it does not need is checked
// with encoding/json's grammar and skipped).
//
// It decides nothing on its own: on any input it does not handle, and on any
// rule the document breaks, it reports !ok and the caller takes the general
// path (parseSignedJSON and the tape accessors), which accepts or rejects
// the text and words the error. So it must accept only documents the general
// path accepts, with the same result; the differential tests and fuzz
// targets (differential_test.go) check exactly that.

// fastMaxDepth bounds the nesting the direct reader skips; deeper text is
// left to the general path (which allows encoding/json's 10000).
const fastMaxDepth = 64

type fdec struct {
	data []byte
	pos  int
}

// lit consumes the byte c.
func (d *fdec) lit(c byte) bool {
	if d.pos < len(d.data) && d.data[d.pos] == c {
		d.pos++
		return true
	}
	return false
}

// str reads a string without escapes and returns its content.
func (d *fdec) str() ([]byte, bool) {
	data, i := d.data, d.pos
	if i >= len(data) || data[i] != '"' {
		return nil, false
	}
	i++
	start := i
	// Eight bytes at a time: the first quote, backslash or control
	// character is the lowest flagged byte (the flags above it may be
	// false positives, never the lowest).
	for {
		if len(data)-i < 8 {
			for i < len(data) && jsonPlain[data[i]] {
				i++
			}
			break
		}
		x := binary.LittleEndian.Uint64(data[i:])
		if m := hasZeroByte(x^(lsb*'"')) | hasZeroByte(x^(lsb*'\\')) | hasLessByte(x, 0x20); m != 0 {
			i += bits.TrailingZeros64(m) >> 3
			break
		}
		i += 8
	}
	if i >= len(data) || data[i] != '"' { // an escape, a control character or the end
		return nil, false
	}
	d.pos = i + 1
	return data[start:i], true
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZeroByte is non-zero when a byte of x is zero.
func hasZeroByte(x uint64) uint64 { return (x - lsb) & ^x & msb }

// hasLessByte is non-zero when a byte of x is below n (n ≤ 128).
func hasLessByte(x uint64, n uint64) uint64 { return (x - lsb*n) & ^x & msb }

// key reads a member name (without escapes) and the colon after it.
// rootMembers reads raw as one JSON object and nothing else, recording in
// at the position of the value of each member that index numbers (index
// returns -1 for the others; a member seen again is skipped). read may
// read the value of a member it knows itself, at the recorded position,
// and reports whether it did and whether the value was good; the other
// values are skipped.
func rootMembers(raw []byte, at []int, index func(key []byte) int, read func(d *fdec, m int) (done, ok bool)) bool {
	d := fdec{data: raw}
	empty, ok := d.open('{', '}')
	if !ok {
		return false
	}
	for more := !empty; more; {
		k, ok := d.key()
		if !ok {
			return false
		}
		done := false
		if m := index(k); m >= 0 && at[m] == 0 {
			at[m] = d.pos
			if done, ok = read(&d, m); !ok {
				return false
			}
		}
		if !done && !d.skip(1) {
			return false
		}
		if more, ok = d.more('}'); !ok {
			return false
		}
	}
	return d.pos == len(raw)
}

func (d *fdec) key() ([]byte, bool) {
	k, ok := d.str()
	return k, ok && d.lit(':')
}

// more consumes the separator after an element of an object or array: a
// comma (more elements follow) or the closing byte.
func (d *fdec) more(closer byte) (more, ok bool) {
	if d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ',':
			d.pos++
			return true, true
		case closer:
			d.pos++
			return false, true
		}
	}
	return false, false
}

// open consumes the opening byte of an object or array and reports whether
// it is empty (its closing byte is consumed too).
func (d *fdec) open(opener, closer byte) (empty, ok bool) {
	if !d.lit(opener) {
		return false, false
	}
	return d.lit(closer), true
}

// number reads a number token.
func (d *fdec) number() ([]byte, bool) {
	end := scanJSONNumber(d.data, d.pos)
	if end < 0 {
		return nil, false
	}
	s := d.data[d.pos:end]
	d.pos = end
	return s, true
}

// uint32 reads an unsigned 32-bit integer as jval.uint32 does.
func (d *fdec) uint32() (uint32, bool) {
	data, i := d.data, d.pos
	if i < len(data) && data[i]-'0' < 10 {
		// An integer token: "0" or a non-zero digit and more digits, not
		// followed by a fraction or an exponent.
		n := uint64(data[i] - '0')
		j := i + 1
		if n != 0 {
			for j < len(data) && data[j]-'0' < 10 {
				n = n*10 + uint64(data[j]-'0')
				j++
			}
		}
		if j-i > 10 {
			return 0, false
		}
		if j < len(data) {
			if c := data[j]; c == '.' || c|0x20 == 'e' || c-'0' < 10 {
				return 0, false
			}
		}
		d.pos = j
		return uint32(n), n <= math.MaxUint32
	}
	s, ok := d.number()
	if !ok {
		return 0, false
	}
	return uint32Text(s)
}

// int32 reads a signed 32-bit integer as jval.int32 does.
func (d *fdec) int32() (int32, bool) {
	text, ok := d.number()
	if !ok {
		return 0, false
	}
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

// hexInto reads a string of exactly 2*len(dst) hex digits into dst.
func (d *fdec) hexInto(dst []byte) bool {
	s, ok := d.str()
	if !ok || len(s) != 2*len(dst) {
		return false
	}
	_, err := hex.Decode(dst, s)
	return err == nil
}

// hexBytes reads a string of exactly 2*n hex digits.
func (d *fdec) hexBytes(n int) ([]byte, bool) {
	b := make([]byte, n)
	return b, d.hexInto(b)
}

// date reads a date string (parseDate).
func (d *fdec) date() (time.Time, bool) {
	s, ok := d.str()
	if !ok {
		return time.Time{}, false
	}
	return parseDate(s)
}

// anyString checks and skips a string, escapes allowed.
func (d *fdec) anyString() bool {
	if _, ok := d.str(); ok {
		return true
	}
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return false
	}
	end, _ := scanJSONString(d.data, d.pos+1)
	if end < 0 {
		return false
	}
	d.pos = end + 1
	return true
}

// skip checks and skips one compact value.
func (d *fdec) skip(depth int) bool {
	data := d.data
	if d.pos >= len(data) || depth > fastMaxDepth {
		return false
	}
	switch data[d.pos] {
	case '"':
		return d.anyString()
	case '{':
		empty, _ := d.open('{', '}')
		for more := !empty; more; {
			if !d.anyString() || !d.lit(':') || !d.skip(depth+1) {
				return false
			}
			var ok bool
			if more, ok = d.more('}'); !ok {
				return false
			}
		}
		return true
	case '[':
		empty, _ := d.open('[', ']')
		for more := !empty; more; {
			if !d.skip(depth + 1) {
				return false
			}
			var ok bool
			if more, ok = d.more(']'); !ok {
				return false
			}
		}
		return true
	case 't':
		return d.word("true")
	case 'f':
		return d.word("false")
	case 'n':
		return d.word("null")
	}
	_, ok := d.number()
	return ok
}

func (d *fdec) word(w string) bool {
	if len(d.data)-d.pos >= len(w) && string(d.data[d.pos:d.pos+len(w)]) == w {
		d.pos += len(w)
		return true
	}
	return false
}

// stringArray reads an array of strings without escapes (advisoryIDs) into
// one allocation for the text, as jval.stringArray returns them.
func (d *fdec) stringArray() ([]string, bool) {
	empty, ok := d.open('[', ']')
	if !ok {
		return nil, false
	}
	var spanBuf [32][2]int // where the strings are
	spans := spanBuf[:0]
	total := 0
	for more := !empty; more; {
		start := d.pos + 1
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		spans = append(spans, [2]int{start, start + len(s)})
		total += len(s)
		if more, ok = d.more(']'); !ok {
			return nil, false
		}
	}
	out := make([]string, 0, len(spans))
	if len(spans) == 0 {
		return out, true
	}
	var all strings.Builder
	all.Grow(total)
	for _, sp := range spans {
		all.Write(d.data[sp[0]:sp[1]])
	}
	text := all.String()
	for _, sp := range spans {
		n := sp[1] - sp[0]
		out = append(out, text[:n])
		text = text[n:]
	}
	return out, true
}
