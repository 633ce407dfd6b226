package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// kind is the type of a claim value in the policy language.
type kind uint8

const (
	kNone   kind = iota // empty value (JsonToClaimValue of null); unknown static type at compile time
	kBool               // Boolean
	kInt                // Integer
	kString             // String
	kSet                // a set of values (several claims, or a JSON array)
)

func (k kind) String() string {
	switch k {
	case kBool:
		return "Boolean"
	case kInt:
		return "Integer"
	case kString:
		return "String"
	case kSet:
		return "Set"
	}
	return "Empty"
}

func (k kind) article() string {
	switch k {
	case kInt:
		return "an Integer"
	case kNone:
		return "an empty value"
	}
	return "a " + k.String()
}

// value is a typed claim value. Booleans are stored in i (0 or 1).
type value struct {
	k   kind
	i   int64
	s   string
	set []value
}

func boolValue(b bool) value {
	if b {
		return value{k: kBool, i: 1}
	}
	return value{k: kBool}
}
func intValue(i int64) value     { return value{k: kInt, i: i} }
func stringValue(s string) value { return value{k: kString, s: s} }

// members returns the values of v as a list: the members of a set, one
// value, or none for the empty value.
func (v value) members() []value {
	switch v.k {
	case kSet:
		return v.set
	case kNone:
		return nil
	}
	return []value{v}
}

// scalarEqual compares two non-set values.
func scalarEqual(a, b value) bool {
	if a.k != b.k {
		return false
	}
	switch a.k {
	case kString:
		return a.s == b.s
	case kNone:
		return true
	}
	return a.i == b.i
}

// equal compares values; sets compare as sets (same members, any order).
func equal(a, b value) bool {
	if a.k != kSet && b.k != kSet {
		return scalarEqual(a, b)
	}
	return isSubset(a, b) && isSubset(b, a)
}

func isSubset(a, b value) bool {
	bm := b.members()
outer:
	for _, x := range a.members() {
		for _, y := range bm {
			if scalarEqual(x, y) {
				continue outer
			}
		}
		return false
	}
	return true
}

type op uint8

const (
	opEq op = iota
	opNe
	opLt
	opLe
	opGt
	opGe
)

var opText = [...]string{"==", "!=", "<", "<=", ">", ">="}

func (o op) String() string { return opText[o] }

func parseOp(s string) op {
	for i, t := range opText {
		if t == s {
			return op(i)
		}
	}
	return opEq
}

// compare applies op to a claim property value (lhs, never a set) and an
// operand. Against a set operand, == and the ordering operators hold when
// they hold for at least one member, != when it holds for every member (it is
// the negation of ==). Values of different types are never equal; the
// ordering operators only hold between integers.
func compare(lhs value, o op, rhs value) bool {
	if rhs.k == kSet {
		if o == opNe {
			for _, m := range rhs.set {
				if !compare(lhs, opNe, m) {
					return false
				}
			}
			return true
		}
		for _, m := range rhs.set {
			if compare(lhs, o, m) {
				return true
			}
		}
		return false
	}
	switch o {
	case opEq:
		return scalarEqual(lhs, rhs)
	case opNe:
		return !scalarEqual(lhs, rhs)
	}
	if lhs.k != kInt || rhs.k != kInt {
		return false
	}
	switch o {
	case opLt:
		return lhs.i < rhs.i
	case opLe:
		return lhs.i <= rhs.i
	case opGt:
		return lhs.i > rhs.i
	default:
		return lhs.i >= rhs.i
	}
}

// toAny converts a value to the Go value used in claims and JSON output:
// bool, int64, string, []any for sets, nil for empty.
func (v value) toAny() any {
	switch v.k {
	case kBool:
		return v.i != 0
	case kInt:
		return v.i
	case kString:
		return v.s
	case kSet:
		out := make([]any, len(v.set))
		for i, m := range v.set {
			out[i] = m.toAny()
		}
		return out
	}
	return nil
}

// size is what a value costs in an evaluation's byte budget.
func (v value) size() int {
	switch v.k {
	case kString:
		return valueBytes + len(v.s)
	case kSet:
		n := valueBytes
		for _, m := range v.set {
			n += m.size()
		}
		return n
	}
	return valueBytes
}

// scalar reports whether a claim value converts to a claim value without
// being encoded as JSON text.
func scalar(x any) bool {
	switch x.(type) {
	case string, bool, int, int64, float64, json.Number, nil,
		int8, int16, int32, uint8, uint16, uint32, uint, uint64, float32:
		return true
	}
	return false
}

// maxFormatted is the longest string a message quotes in full; longer
// strings (runtime data, JSON text) are cut, so that a refusal message
// stays a sentence whatever the evidence holds.
const maxFormatted = 256

// format renders a value for messages: strings quoted, others as literals.
func (v value) format() string {
	switch v.k {
	case kBool:
		if v.i != 0 {
			return "true"
		}
		return "false"
	case kInt:
		return strconv.FormatInt(v.i, 10)
	case kString:
		if len(v.s) > maxFormatted {
			cut := v.s[:maxFormatted-32]
			for !utf8.ValidString(cut) {
				cut = cut[:len(cut)-1]
			}
			return strconv.Quote(cut) + fmt.Sprintf("… (%d bytes)", len(v.s))
		}
		return strconv.Quote(v.s)
	case kSet:
		parts := make([]string, 0, len(v.set))
		for i, m := range v.set {
			if i == 8 {
				parts = append(parts, "...")
				break
			}
			parts = append(parts, m.format())
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return "(empty)"
}

// valueFromAny converts a Go value (as found in Claim.Value or decoded JSON)
// to a claim value. Integral floats and json.Number integers become
// Integers; other numbers, objects and arrays become their JSON text (the
// policy language represents JSON as String claims).
func valueFromAny(x any) value {
	switch t := x.(type) {
	case string:
		return value{k: kString, s: t}
	case bool:
		return boolValue(t)
	case int:
		return value{k: kInt, i: int64(t)}
	case int64:
		return value{k: kInt, i: t}
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<63 {
			return value{k: kInt, i: int64(t)}
		}
		return value{k: kString, s: strconv.FormatFloat(t, 'g', -1, 64)}
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return value{k: kInt, i: i}
		}
		if f, err := t.Float64(); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return value{k: kInt, i: int64(f)}
		}
		return value{k: kString, s: t.String()}
	case int8:
		return value{k: kInt, i: int64(t)}
	case int16:
		return value{k: kInt, i: int64(t)}
	case int32:
		return value{k: kInt, i: int64(t)}
	case uint8:
		return value{k: kInt, i: int64(t)}
	case uint16:
		return value{k: kInt, i: int64(t)}
	case uint32:
		return value{k: kInt, i: int64(t)}
	case uint:
		if uint64(t) <= math.MaxInt64 {
			return value{k: kInt, i: int64(t)}
		}
		return value{k: kString, s: strconv.FormatUint(uint64(t), 10)}
	case uint64:
		if t <= math.MaxInt64 {
			return value{k: kInt, i: int64(t)}
		}
		return value{k: kString, s: strconv.FormatUint(t, 10)}
	case float32:
		return valueFromAny(float64(t))
	case nil:
		return value{}
	}
	b, err := json.Marshal(x)
	if err != nil {
		return value{k: kString, s: ""}
	}
	return value{k: kString, s: string(b)}
}

// coerce converts v to the named valueType ("String", "Integer", "Boolean").
func coerce(v value, valueType string) (value, bool) {
	switch valueType {
	case "", v.k.String():
		return v, true
	case "String":
		switch v.k {
		case kInt:
			return stringValue(strconv.FormatInt(v.i, 10)), true
		case kBool:
			return stringValue(v.format()), true
		}
	case "Integer":
		if v.k == kString {
			if i, err := strconv.ParseInt(strings.TrimSpace(v.s), 10, 64); err == nil {
				return intValue(i), true
			}
		}
	case "Boolean":
		if v.k == kString {
			switch strings.ToLower(strings.TrimSpace(v.s)) {
			case "true":
				return boolValue(true), true
			case "false":
				return boolValue(false), true
			}
		}
	}
	return v, false
}
