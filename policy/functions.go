package policy

import (
	"encoding/json"
	"errors"
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
	pos   int
	msg   string
	limit bool // the evaluation reached one of its limits (ErrEvalLimit)
}

func (e *evalError) Error() string { return e.msg }

func (st *evalState) call(e *expr, args []value) (value, error) {
	fail := func(format string, a ...any) (value, error) {
		return value{}, &evalError{pos: e.pos, msg: e.fn.name + ": " + fmt.Sprintf(format, a...)}
	}
	over := func(msg string) (value, error) {
		return value{}, &evalError{pos: e.pos, msg: e.fn.name + ": " + msg, limit: true}
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
		data, err := st.parsedJSON(args[0].s)
		if err != nil {
			if st.bytes > maxBytes {
				return over(bytesLimitMessage)
			}
			return fail("the first argument is not JSON: %v", err)
		}
		run := jrun{steps: maxWork - st.work, bytes: maxBytes - st.bytes}
		text, err := searchJmes(q, data, &run)
		st.work, st.bytes = maxWork-run.steps, maxBytes-run.bytes
		var le *jmesLimitError
		switch {
		case errors.As(err, &le) && le.what == "work":
			return over(workLimitMessage)
		case errors.As(err, &le):
			return over(bytesLimitMessage)
		case err != nil:
			return fail("%v", err)
		}
		return stringValue(text), nil
	case fnJsonToClaimValue:
		if err := want(0, kString); err != nil {
			return value{}, err
		}
		if !st.charge(len(args[0].s)) {
			return over(bytesLimitMessage)
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
			if !st.charge(len(t) * valueBytes) {
				return over(bytesLimitMessage)
			}
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
			return over(workLimitMessage)
		}
		return boolValue(isSubset(args[0], args[1])), nil
	case fnAppendString:
		if err := want(0, kString); err != nil {
			return value{}, err
		}
		if err := want(1, kString); err != nil {
			return value{}, err
		}
		if !st.charge(len(args[0].s) + len(args[1].s)) {
			return over(bytesLimitMessage)
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
		st.work += len(ms)
		for _, m := range ms {
			if !scalarEqual(m, args[1]) {
				return boolValue(false), nil
			}
		}
		return boolValue(true), nil
	}
	return fail("not implemented")
}

// parsedJSON parses a JmesPath JSON argument once per evaluation: policies
// query the same claim (runtime data, an event log) in many rules. A text
// parsed for the first time counts against maxBytes.
func (st *evalState) parsedJSON(text string) (any, error) {
	if v, ok := st.parsed[text]; ok {
		return v, nil
	}
	if !st.charge(len(text)) {
		return nil, errors.New("over the byte limit")
	}
	v, err := parseJSON(text)
	if err != nil {
		return nil, err
	}
	if st.parsed == nil {
		st.parsed = make(map[string]any)
	}
	st.parsed[text] = v
	return v, nil
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
