package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

type fnID uint8

const (
	fnJmesPath fnID = iota
	fnJsonToClaimValue
	fnIsSubsetOf
	fnAppendString
	fnNegateBool
	fnContainsOnlyValue
)

// function describes a policy-language function (version 1.2).
type function struct {
	id     fnID
	name   string
	args   []kind // kNone: any type
	result kind   // kNone: known only at run time
	sig    string
}

var functions = []*function{
	{fnJmesPath, "JmesPath", []kind{kString, kString}, kString, "JSON text, query"},
	{fnJsonToClaimValue, "JsonToClaimValue", []kind{kString}, kNone, "JSON text"},
	{fnIsSubsetOf, "IsSubsetOf", []kind{kNone, kNone}, kBool, "set, set"},
	{fnAppendString, "AppendString", []kind{kString, kString}, kString, "string, string"},
	{fnNegateBool, "NegateBool", []kind{kBool}, kBool, "boolean"},
	{fnContainsOnlyValue, "ContainsOnlyValue", []kind{kNone, kNone}, kBool, "set, value"},
}

func functionByName(s string) (*function, bool) {
	for _, f := range functions {
		if strings.EqualFold(f.name, s) {
			return f, true
		}
	}
	return nil, false
}

type evalError struct {
	pos int
	msg string
}

func (e *evalError) Error() string { return e.msg }

func (st *evalState) call(e *expr, args []value) (value, error) {
	fail := func(format string, a ...any) (value, error) {
		return value{}, &evalError{pos: e.pos, msg: e.fn.name + ": " + fmt.Sprintf(format, a...)}
	}
	want := func(i int, k kind) error {
		if args[i].k != k {
			_, err := fail("argument %d must be %s, but it is %s (%s)", i+1, k.article(), args[i].k.article(), args[i].format())
			return err
		}
		return nil
	}
	switch e.fn.id {
	case fnJmesPath:
		if err := want(0, kString); err != nil {
			return value{}, err
		}
		if err := want(1, kString); err != nil {
			return value{}, err
		}
		if args[0].s == "" {
			return fail("the JSON argument is empty")
		}
		q := e.query
		if q == nil {
			var err error
			if q, err = compileJmes(args[1].s); err != nil {
				return fail("the query %q is not valid: %v", args[1].s, err)
			}
		}
		data, err := parseJSON(args[0].s)
		if err != nil {
			return fail("the first argument is not JSON: %v", err)
		}
		r, err := searchJmes(q, data)
		if err != nil {
			return fail("%v", err)
		}
		return stringValue(jsonText(r)), nil
	case fnJsonToClaimValue:
		if err := want(0, kString); err != nil {
			return value{}, err
		}
		dec := json.NewDecoder(strings.NewReader(args[0].s))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil || dec.More() {
			return fail("the argument is not JSON: %s", args[0].format())
		}
		switch t := x.(type) {
		case map[string]any:
			return fail("JSON objects cannot be claim values")
		case []any:
			set := make([]value, 0, len(t))
			for _, m := range t {
				switch m.(type) {
				case map[string]any, []any:
					return fail("only arrays of numbers, booleans, strings and nulls can be claim values")
				case nil:
					continue
				}
				v, err := jsonScalar(m)
				if err != nil {
					return fail("%v", err)
				}
				set = append(set, v)
			}
			if len(set) == 0 {
				return value{}, nil
			}
			return value{k: kSet, set: set}, nil
		}
		v, err := jsonScalar(x)
		if err != nil {
			return fail("%v", err)
		}
		return v, nil
	case fnIsSubsetOf:
		st.work += len(args[0].members()) * len(args[1].members())
		if st.work > maxWork {
			return fail("the sets are too large to compare")
		}
		return boolValue(isSubset(args[0], args[1])), nil
	case fnAppendString:
		if err := want(0, kString); err != nil {
			return value{}, err
		}
		if err := want(1, kString); err != nil {
			return value{}, err
		}
		return stringValue(args[0].s + args[1].s), nil
	case fnNegateBool:
		if err := want(0, kBool); err != nil {
			return value{}, err
		}
		return boolValue(args[0].i == 0), nil
	case fnContainsOnlyValue:
		if args[1].k == kSet {
			return fail("the second argument must be a single value")
		}
		ms := args[0].members()
		if len(ms) == 0 {
			return boolValue(false), nil
		}
		for _, m := range ms {
			if !scalarEqual(m, args[1]) {
				return boolValue(false), nil
			}
		}
		return boolValue(true), nil
	}
	return fail("not implemented")
}

// jsonScalar converts a decoded JSON scalar (UseNumber) to a claim value.
func jsonScalar(x any) (value, error) {
	switch t := x.(type) {
	case nil:
		return value{}, nil
	case bool:
		return boolValue(t), nil
	case string:
		return stringValue(t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return intValue(i), nil
		}
		f, err := t.Float64()
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<63 {
			return intValue(int64(f)), nil
		}
		return value{}, fmt.Errorf("the number %s is not an integer; claim values cannot be fractions", t)
	}
	return value{}, fmt.Errorf("unsupported JSON value")
}
