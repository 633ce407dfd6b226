package policy

// A JMESPath implementation (https://jmespath.org/specification.html) for the
// JmesPath function of policy version 1.2, plus MAA's equals_ignore_case
// extension used by its TPM sample policies. JSON objects keep the order of
// their members, so projections over objects are deterministic.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// jobj is a JSON object with ordered members.
type jobj struct {
	keys []string
	vals map[string]any
}

func (o *jobj) get(k string) (any, bool) {
	v, ok := o.vals[k]
	return v, ok
}

func (o *jobj) set(k string, v any) {
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

func newObj(n int) *jobj { return &jobj{keys: make([]string, 0, n), vals: make(map[string]any, n)} }

// parseJSON decodes JSON text into nil, bool, float64, string, []any and
// *jobj values.
func parseJSON(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	v, err := decodeJSON(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err == nil {
		return nil, fmt.Errorf("trailing data after the JSON value")
	}
	return v, nil
}

const maxJSONDepth = 256

func decodeJSON(dec *json.Decoder, depth int) (any, error) {
	if depth > maxJSONDepth {
		return nil, fmt.Errorf("JSON is nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := newObj(4)
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.set(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return o, nil
		case '[':
			arr := []any{}
			for dec.More() {
				v, err := decodeJSON(dec, depth+1)
				if err != nil {
					return nil, err
				}
				arr = append(arr, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return arr, nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s out of range", t)
		}
		return f, nil
	}
	return tok, nil // string, bool, nil
}

// encodeJSON writes v as compact JSON. With a run, every value written
// costs a step and the text counts against the run's bytes, so that a value
// that shares its parts ([@,@] nested n deep) cannot expand into text of
// 2^n copies.
func encodeJSON(b *bytes.Buffer, v any, r *jrun) {
	if r != nil {
		r.tick(1)
	}
	switch t := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if t {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case float64:
		b.WriteString(formatNumber(t))
	case string:
		s, _ := json.Marshal(t)
		b.Write(s)
	case []any:
		b.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				b.WriteByte(',')
			}
			encodeJSON(b, e, r)
		}
		b.WriteByte(']')
	case *jobj:
		b.WriteByte('{')
		for i, k := range t.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			s, _ := json.Marshal(k)
			b.Write(s)
			b.WriteByte(':')
			encodeJSON(b, t.vals[k], r)
		}
		b.WriteByte('}')
	default:
		s, _ := json.Marshal(t)
		b.Write(s)
	}
	if r != nil && b.Len() > r.bytes {
		panic(&jmesLimitError{"bytes"})
	}
}

func formatNumber(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return strconv.FormatInt(int64(f), 10)
	}
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "null"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// jsonText is v as compact JSON text, without limits (v is bounded by its
// source).
func jsonText(v any) string {
	var b bytes.Buffer
	encodeJSON(&b, v, nil)
	return b.String()
}

// ---- lexer ----

type jtokKind uint8

const (
	jEOF jtokKind = iota
	jIdent
	jQuoted
	jNumber
	jRaw
	jLiteral
	jDot
	jStar
	jLBracket
	jRBracket
	jFilter
	jFlatten
	jLBrace
	jRBrace
	jLParen
	jRParen
	jComma
	jColon
	jPipe
	jOr
	jAnd
	jNot
	jExpref
	jCurrent
	jEq
	jNe
	jLt
	jLe
	jGt
	jGe
)

var jbp = [...]int{
	jPipe: 1, jOr: 2, jAnd: 3, jEq: 5, jNe: 5, jLt: 5, jLe: 5, jGt: 5, jGe: 5,
	jFlatten: 9, jStar: 20, jFilter: 21, jDot: 40, jNot: 45, jLBrace: 50, jLBracket: 55, jLParen: 60,
}

type jtok struct {
	kind jtokKind
	text string
	val  any // literal value, number
	pos  int
}

type jmesError struct {
	pos int
	msg string
}

func (e *jmesError) Error() string {
	return fmt.Sprintf("%s (at character %d of the query)", e.msg, e.pos+1)
}

func jlex(q string) ([]jtok, error) {
	var out []jtok
	i := 0
	for i < len(q) {
		c := q[i]
		start := i
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
			continue
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			for i < len(q) && (q[i] == '_' || q[i] >= 'a' && q[i] <= 'z' || q[i] >= 'A' && q[i] <= 'Z' || q[i] >= '0' && q[i] <= '9') {
				i++
			}
			out = append(out, jtok{kind: jIdent, text: q[start:i], pos: start})
			continue
		case c == '-' || c >= '0' && c <= '9':
			i++
			for i < len(q) && q[i] >= '0' && q[i] <= '9' {
				i++
			}
			n, err := strconv.Atoi(q[start:i])
			if err != nil {
				return nil, &jmesError{start, "invalid number " + strconv.Quote(q[start:i])}
			}
			out = append(out, jtok{kind: jNumber, val: n, pos: start})
			continue
		case c == '"':
			i++
			for i < len(q) && q[i] != '"' {
				if q[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(q) {
				return nil, &jmesError{start, "unterminated quoted identifier"}
			}
			i++
			var s string
			if err := json.Unmarshal([]byte(q[start:i]), &s); err != nil {
				return nil, &jmesError{start, "invalid quoted identifier " + q[start:i]}
			}
			out = append(out, jtok{kind: jQuoted, text: s, pos: start})
			continue
		case c == '\'':
			i++
			var b strings.Builder
			for i < len(q) && q[i] != '\'' {
				if q[i] == '\\' && i+1 < len(q) && (q[i+1] == '\'' || q[i+1] == '\\') {
					b.WriteByte(q[i+1])
					i += 2
					continue
				}
				b.WriteByte(q[i])
				i++
			}
			if i >= len(q) {
				return nil, &jmesError{start, "unterminated raw string '...'"}
			}
			i++
			out = append(out, jtok{kind: jRaw, text: b.String(), pos: start})
			continue
		case c == '`':
			i++
			var b strings.Builder
			for i < len(q) && q[i] != '`' {
				if q[i] == '\\' && i+1 < len(q) && q[i+1] == '`' {
					b.WriteByte('`')
					i += 2
					continue
				}
				b.WriteByte(q[i])
				i++
			}
			if i >= len(q) {
				return nil, &jmesError{start, "unterminated literal `...`"}
			}
			i++
			lit := strings.TrimSpace(b.String())
			v, err := parseJSON(lit)
			if err != nil {
				// JMESPath's legacy form: `foo` is the string "foo".
				if lit == "" {
					return nil, &jmesError{start, "empty literal ``"}
				}
				v = lit
			}
			out = append(out, jtok{kind: jLiteral, val: v, pos: start})
			continue
		}
		two := ""
		if i+1 < len(q) {
			two = q[i : i+2]
		}
		kind := jEOF
		n := 1
		switch two {
		case "[?":
			kind, n = jFilter, 2
		case "[]":
			kind, n = jFlatten, 2
		case "||":
			kind, n = jOr, 2
		case "&&":
			kind, n = jAnd, 2
		case "==":
			kind, n = jEq, 2
		case "!=":
			kind, n = jNe, 2
		case "<=":
			kind, n = jLe, 2
		case ">=":
			kind, n = jGe, 2
		}
		if kind == jEOF {
			switch c {
			case '.':
				kind = jDot
			case '*':
				kind = jStar
			case '[':
				kind = jLBracket
			case ']':
				kind = jRBracket
			case '{':
				kind = jLBrace
			case '}':
				kind = jRBrace
			case '(':
				kind = jLParen
			case ')':
				kind = jRParen
			case ',':
				kind = jComma
			case ':':
				kind = jColon
			case '|':
				kind = jPipe
			case '&':
				kind = jExpref
			case '!':
				kind = jNot
			case '@':
				kind = jCurrent
			case '<':
				kind = jLt
			case '>':
				kind = jGt
			case '=':
				return nil, &jmesError{start, "a single \"=\" is not a JMESPath operator; compare with =="}
			default:
				r, _ := utf8.DecodeRuneInString(q[i:])
				return nil, &jmesError{start, "unexpected character " + strconv.QuoteRune(r)}
			}
		}
		out = append(out, jtok{kind: kind, text: q[i : i+n], pos: start})
		i += n
	}
	out = append(out, jtok{kind: jEOF, pos: len(q)})
	return out, nil
}

// ---- parser ----

type jnodeKind uint8

const (
	nField jnodeKind = iota
	nIndex
	nSlice
	nCurrent
	nLiteral
	nSub        // apply b to the result of a
	nProjection // for each element of a (an array), apply b
	nValueProj  // for each value of a (an object), apply b
	nFlatten
	nFilterProj // for each element of a satisfying c, apply b
	nPipe
	nOr
	nAnd
	nNot
	nCompare
	nMultiList
	nMultiHash
	nFunc
	nExpref
)

type jmesNode struct {
	kind     jnodeKind
	name     string // field name, function name, comparator
	idx      int
	slice    [3]*int
	lit      any
	a, b, c  *jmesNode
	children []*jmesNode
	keys     []string
	cmp      jtokKind
	fn       *jmesFunc
	pos      int // offset of a field name in the query
}

type jparser struct {
	toks  []jtok
	i     int
	depth int
}

func compileJmes(q string) (*jmesNode, error) {
	if strings.TrimSpace(q) == "" {
		return nil, &jmesError{0, "the query is empty"}
	}
	toks, err := jlex(q)
	if err != nil {
		return nil, err
	}
	p := &jparser{toks: toks}
	var node *jmesNode
	func() {
		defer func() {
			if r := recover(); r != nil {
				je, ok := r.(*jmesError)
				if !ok {
					panic(r)
				}
				err = je
			}
		}()
		node = p.expr(0)
		if p.cur().kind != jEOF {
			p.fail("unexpected " + p.describe(p.cur()))
		}
	}()
	if err != nil {
		return nil, err
	}
	return node, nil
}

func (p *jparser) cur() jtok  { return p.toks[p.i] }
func (p *jparser) next() jtok { t := p.toks[p.i]; p.i++; return t }
func (p *jparser) peek(n int) jtok {
	if p.i+n < len(p.toks) {
		return p.toks[p.i+n]
	}
	return p.toks[len(p.toks)-1]
}

func (p *jparser) fail(msg string) { panic(&jmesError{p.cur().pos, msg}) }

func (p *jparser) describe(t jtok) string {
	if t.kind == jEOF {
		return "end of query"
	}
	if t.text != "" {
		return strconv.Quote(t.text)
	}
	return "token"
}

func (p *jparser) expect(k jtokKind, what string) {
	if p.cur().kind != k {
		p.fail("expected " + what + ", found " + p.describe(p.cur()))
	}
	p.i++
}

func (p *jparser) expr(rbp int) *jmesNode {
	p.depth++
	if p.depth > 128 {
		p.fail("the query is nested too deeply")
	}
	defer func() { p.depth-- }()
	left := p.nud(p.next())
	for rbp < jbp[p.cur().kind] {
		left = p.led(p.next(), left)
	}
	return left
}

func (p *jparser) nud(t jtok) *jmesNode {
	switch t.kind {
	case jLiteral:
		return &jmesNode{kind: nLiteral, lit: t.val}
	case jRaw:
		return &jmesNode{kind: nLiteral, lit: t.text}
	case jIdent:
		return &jmesNode{kind: nField, name: t.text, pos: t.pos}
	case jQuoted:
		if p.cur().kind == jLParen {
			p.fail("a quoted identifier cannot be a function name")
		}
		return &jmesNode{kind: nField, name: t.text}
	case jStar:
		return &jmesNode{kind: nValueProj, a: &jmesNode{kind: nCurrent}, b: p.projectionRHS(jbp[jStar])}
	case jFilter:
		return p.filter(&jmesNode{kind: nCurrent})
	case jLBrace:
		return p.multiHash()
	case jLParen:
		n := p.expr(0)
		p.expect(jRParen, "\")\"")
		return n
	case jFlatten:
		return &jmesNode{kind: nProjection, a: &jmesNode{kind: nFlatten, a: &jmesNode{kind: nCurrent}}, b: p.projectionRHS(jbp[jFlatten])}
	case jLBracket:
		k := p.cur().kind
		if k == jNumber || k == jColon {
			return p.indexOrSlice(&jmesNode{kind: nCurrent})
		}
		if k == jStar && p.peek(1).kind == jRBracket {
			p.i += 2
			return &jmesNode{kind: nProjection, a: &jmesNode{kind: nCurrent}, b: p.projectionRHS(jbp[jStar])}
		}
		return p.multiList()
	case jCurrent:
		return &jmesNode{kind: nCurrent}
	case jExpref:
		return &jmesNode{kind: nExpref, a: p.expr(jbp[jExpref])}
	case jNot:
		return &jmesNode{kind: nNot, a: p.expr(jbp[jNot])}
	case jEOF:
		p.i--
		p.fail("the query ends too early")
	}
	p.i--
	p.fail("unexpected " + p.describe(t))
	return nil
}

func (p *jparser) led(t jtok, left *jmesNode) *jmesNode {
	switch t.kind {
	case jDot:
		if p.cur().kind == jStar {
			p.i++
			return &jmesNode{kind: nValueProj, a: left, b: p.projectionRHS(jbp[jStar])}
		}
		return &jmesNode{kind: nSub, a: left, b: p.dotRHS(jbp[jDot])}
	case jPipe:
		return &jmesNode{kind: nPipe, a: left, b: p.expr(jbp[jPipe])}
	case jOr:
		return &jmesNode{kind: nOr, a: left, b: p.expr(jbp[jOr])}
	case jAnd:
		return &jmesNode{kind: nAnd, a: left, b: p.expr(jbp[jAnd])}
	case jLParen:
		if left.kind != nField {
			p.i--
			p.fail("only a function name can be called")
		}
		var args []*jmesNode
		for p.cur().kind != jRParen {
			args = append(args, p.expr(0))
			if p.cur().kind == jComma {
				p.i++
				if p.cur().kind == jRParen {
					p.fail("expected an argument after \",\"")
				}
			} else if p.cur().kind != jRParen {
				p.fail("expected \",\" or \")\" in the arguments of " + left.name)
			}
		}
		p.i++
		fn, ok := jmesFuncs[left.name]
		if !ok {
			names := make([]string, 0, len(jmesFuncs))
			for n := range jmesFuncs {
				names = append(names, n)
			}
			sort.Strings(names)
			panic(&jmesError{left.pos, "unknown function " + left.name + "()" + suggest(left.name, names)})
		}
		if len(args) < fn.min || (fn.max >= 0 && len(args) > fn.max) {
			panic(&jmesError{left.pos, fmt.Sprintf("%s() takes %s arguments, not %d", left.name, fn.arity(), len(args))})
		}
		return &jmesNode{kind: nFunc, name: left.name, children: args, fn: fn}
	case jFilter:
		return p.filter(left)
	case jFlatten:
		return &jmesNode{kind: nProjection, a: &jmesNode{kind: nFlatten, a: left}, b: p.projectionRHS(jbp[jFlatten])}
	case jEq, jNe, jLt, jLe, jGt, jGe:
		return &jmesNode{kind: nCompare, cmp: t.kind, a: left, b: p.expr(jbp[t.kind])}
	case jLBracket:
		k := p.cur().kind
		if k == jNumber || k == jColon {
			return p.indexOrSlice(left)
		}
		if k == jStar && p.peek(1).kind == jRBracket {
			p.i += 2
			return &jmesNode{kind: nProjection, a: left, b: p.projectionRHS(jbp[jStar])}
		}
		p.fail("expected an index, a slice or \"*\" inside [...]")
	}
	p.i--
	p.fail("unexpected " + p.describe(t))
	return nil
}

func (p *jparser) filter(left *jmesNode) *jmesNode {
	cond := p.expr(0)
	p.expect(jRBracket, "\"]\" to close the filter [?...]")
	return &jmesNode{kind: nFilterProj, a: left, b: p.projectionRHS(jbp[jFilter]), c: cond}
}

func (p *jparser) indexOrSlice(left *jmesNode) *jmesNode {
	var parts [3]*int
	n := 0
	for p.cur().kind != jRBracket {
		switch p.cur().kind {
		case jColon:
			n++
			if n > 2 {
				p.fail("a slice has at most three parts [start:stop:step]")
			}
			p.i++
		case jNumber:
			v := p.cur().val.(int)
			parts[n] = &v
			p.i++
		default:
			p.fail("expected a number or \":\" in [...]")
		}
	}
	p.i++
	if n == 0 {
		return &jmesNode{kind: nSub, a: left, b: &jmesNode{kind: nIndex, idx: *parts[0]}}
	}
	if parts[2] != nil && *parts[2] == 0 {
		p.fail("a slice step cannot be 0")
	}
	return &jmesNode{kind: nProjection, a: &jmesNode{kind: nSub, a: left, b: &jmesNode{kind: nSlice, slice: parts}}, b: p.projectionRHS(jbp[jStar])}
}

func (p *jparser) projectionRHS(bp int) *jmesNode {
	t := p.cur()
	switch {
	case jbp[t.kind] < 10:
		return &jmesNode{kind: nCurrent}
	case t.kind == jLBracket || t.kind == jFilter:
		return p.expr(bp)
	case t.kind == jDot:
		p.i++
		return p.dotRHS(bp)
	}
	p.fail("unexpected " + p.describe(t) + " after a projection")
	return nil
}

func (p *jparser) dotRHS(bp int) *jmesNode {
	switch p.cur().kind {
	case jIdent, jQuoted, jStar:
		return p.expr(bp)
	case jLBracket:
		p.i++
		return p.multiList()
	case jLBrace:
		p.i++
		return p.multiHash()
	}
	p.fail("expected a field name, \"*\", \"[\" or \"{\" after \".\"")
	return nil
}

func (p *jparser) multiList() *jmesNode {
	n := &jmesNode{kind: nMultiList}
	for {
		n.children = append(n.children, p.expr(0))
		if p.cur().kind == jRBracket {
			p.i++
			return n
		}
		p.expect(jComma, "\",\" or \"]\"")
	}
}

func (p *jparser) multiHash() *jmesNode {
	n := &jmesNode{kind: nMultiHash}
	for {
		k := p.cur()
		if k.kind != jIdent && k.kind != jQuoted {
			p.fail("expected a key name in {...}")
		}
		p.i++
		p.expect(jColon, "\":\" after the key "+k.text)
		n.keys = append(n.keys, k.text)
		n.children = append(n.children, p.expr(0))
		if p.cur().kind == jRBrace {
			p.i++
			return n
		}
		p.expect(jComma, "\",\" or \"}\"")
	}
}

// ---- evaluation ----

type jmesRuntimeError struct{ msg string }

func (e *jmesRuntimeError) Error() string { return e.msg }

func jfail(format string, args ...any) { panic(&jmesRuntimeError{fmt.Sprintf(format, args...)}) }

// jrun is one JmesPath evaluation and what it may still spend: steps
// (nodes evaluated, elements produced, values compared, values written as
// text) and bytes (strings and array slots made, text written). A query can
// describe a result exponential in its length — [@,@] | [@,@] | … shares
// its parts until something walks or prints them — so every walk and every
// allocation is paid for, and the evaluation stops with a *jmesLimitError
// when either runs out.
type jrun struct {
	steps, bytes int
}

// jmesLimitError reports an evaluation that ran out of steps or bytes.
type jmesLimitError struct{ what string }

func (e *jmesLimitError) Error() string {
	return "the JmesPath query exceeds the evaluation's " + e.what + " limit"
}

// slotBytes is what one element of an array or member of an object costs.
const slotBytes = 16

func (r *jrun) tick(n int) {
	r.steps -= n
	if r.steps < 0 {
		panic(&jmesLimitError{"work"})
	}
}

func (r *jrun) alloc(n int) {
	r.bytes -= n
	if r.bytes < 0 {
		panic(&jmesLimitError{"bytes"})
	}
}

// elems pays for n new array elements or object members.
func (r *jrun) elems(n int) {
	r.tick(n)
	r.alloc(n * slotBytes)
}

// text encodes v as JSON within the run's budget and pays for the text.
func (r *jrun) text(v any) string {
	var b bytes.Buffer
	encodeJSON(&b, v, r)
	r.alloc(b.Len())
	return b.String()
}

// searchJmes evaluates a compiled query against decoded JSON and returns
// the result as JSON text. Runtime errors are *jmesRuntimeError, exhausted
// budgets *jmesLimitError.
func searchJmes(n *jmesNode, data any, r *jrun) (text string, err error) {
	defer func() {
		if p := recover(); p != nil {
			switch e := p.(type) {
			case *jmesRuntimeError:
				err = e
			case *jmesLimitError:
				err = e
			default:
				panic(p)
			}
		}
	}()
	return r.text(r.eval(n, data)), nil
}

func truthy(v any) bool {
	switch t := v.(type) {
	case nil:
		return false
	case bool:
		return t
	case string:
		return t != ""
	case []any:
		return len(t) > 0
	case *jobj:
		return len(t.keys) > 0
	}
	return true
}

func (r *jrun) equal(a, b any) bool {
	r.tick(1)
	switch x := a.(type) {
	case nil:
		return b == nil
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case float64:
		y, ok := b.(float64)
		return ok && x == y
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !r.equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case *jobj:
		y, ok := b.(*jobj)
		if !ok || len(x.keys) != len(y.keys) {
			return false
		}
		for _, k := range x.keys {
			yv, ok := y.vals[k]
			if !ok || !r.equal(x.vals[k], yv) {
				return false
			}
		}
		return true
	}
	return false
}

func (r *jrun) eval(n *jmesNode, v any) any {
	r.tick(1)
	switch n.kind {
	case nField:
		if o, ok := v.(*jobj); ok {
			x, _ := o.get(n.name)
			return x
		}
		return nil
	case nIndex:
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		i := n.idx
		if i < 0 {
			i += len(arr)
		}
		if i < 0 || i >= len(arr) {
			return nil
		}
		return arr[i]
	case nSlice:
		arr, ok := v.([]any)
		if !ok {
			return nil
		}
		return jslice(r, arr, n.slice)
	case nCurrent:
		return v
	case nLiteral:
		return n.lit
	case nSub:
		l := r.eval(n.a, v)
		if l == nil {
			return nil
		}
		return r.eval(n.b, l)
	case nProjection:
		arr, ok := r.eval(n.a, v).([]any)
		if !ok {
			return nil
		}
		r.elems(len(arr))
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			if x := r.eval(n.b, e); x != nil {
				out = append(out, x)
			}
		}
		return out
	case nValueProj:
		o, ok := r.eval(n.a, v).(*jobj)
		if !ok {
			return nil
		}
		r.elems(len(o.keys))
		out := make([]any, 0, len(o.keys))
		for _, k := range o.keys {
			if x := r.eval(n.b, o.vals[k]); x != nil {
				out = append(out, x)
			}
		}
		return out
	case nFlatten:
		arr, ok := r.eval(n.a, v).([]any)
		if !ok {
			return nil
		}
		n := 0
		for _, e := range arr {
			if sub, ok := e.([]any); ok {
				n += len(sub)
			} else {
				n++
			}
		}
		r.elems(n)
		out := make([]any, 0, n)
		for _, e := range arr {
			if sub, ok := e.([]any); ok {
				out = append(out, sub...)
			} else {
				out = append(out, e)
			}
		}
		return out
	case nFilterProj:
		arr, ok := r.eval(n.a, v).([]any)
		if !ok {
			return nil
		}
		r.elems(len(arr))
		out := make([]any, 0, len(arr))
		for _, e := range arr {
			if truthy(r.eval(n.c, e)) {
				if x := r.eval(n.b, e); x != nil {
					out = append(out, x)
				}
			}
		}
		return out
	case nPipe:
		return r.eval(n.b, r.eval(n.a, v))
	case nOr:
		l := r.eval(n.a, v)
		if truthy(l) {
			return l
		}
		return r.eval(n.b, v)
	case nAnd:
		l := r.eval(n.a, v)
		if !truthy(l) {
			return l
		}
		return r.eval(n.b, v)
	case nNot:
		return !truthy(r.eval(n.a, v))
	case nCompare:
		l, rv := r.eval(n.a, v), r.eval(n.b, v)
		switch n.cmp {
		case jEq:
			return r.equal(l, rv)
		case jNe:
			return !r.equal(l, rv)
		}
		lf, ok1 := l.(float64)
		rf, ok2 := rv.(float64)
		if !ok1 || !ok2 {
			return nil
		}
		switch n.cmp {
		case jLt:
			return lf < rf
		case jLe:
			return lf <= rf
		case jGt:
			return lf > rf
		}
		return lf >= rf
	case nMultiList:
		if v == nil {
			return nil
		}
		r.elems(len(n.children))
		out := make([]any, len(n.children))
		for i, c := range n.children {
			out[i] = r.eval(c, v)
		}
		return out
	case nMultiHash:
		if v == nil {
			return nil
		}
		r.elems(len(n.keys))
		o := newObj(len(n.keys))
		for i, c := range n.children {
			o.set(n.keys[i], r.eval(c, v))
		}
		return o
	case nExpref:
		return n
	case nFunc:
		args := make([]any, len(n.children))
		for i, c := range n.children {
			if c.kind == nExpref {
				args[i] = c.a
			} else {
				args[i] = r.eval(c, v)
			}
		}
		return n.fn.call(r, n.name, args)
	}
	return nil
}

func jslice(r *jrun, arr []any, parts [3]*int) any {
	step := 1
	if parts[2] != nil {
		step = *parts[2]
	}
	n := len(arr)
	norm := func(p *int, def int) int {
		if p == nil {
			return def
		}
		i := *p
		if i < 0 {
			i += n
			if i < 0 {
				if step < 0 {
					return -1
				}
				return 0
			}
		} else if i >= n {
			if step < 0 {
				return n - 1
			}
			return n
		}
		return i
	}
	var start, stop int
	if step > 0 {
		start, stop = norm(parts[0], 0), norm(parts[1], n)
	} else {
		start, stop = norm(parts[0], n-1), norm(parts[1], -1)
	}
	out := []any{}
	if step > 0 {
		for i := start; i < stop; i += step {
			r.elems(1)
			out = append(out, arr[i])
		}
	} else {
		for i := start; i > stop; i += step {
			r.elems(1)
			out = append(out, arr[i])
		}
	}
	return out
}

// ---- functions ----

type jmesFunc struct {
	min, max int // max < 0: variadic
	call     func(r *jrun, name string, args []any) any
}

func (f *jmesFunc) arity() string {
	switch {
	case f.max < 0:
		return fmt.Sprintf("at least %d", f.min)
	case f.min == f.max:
		return strconv.Itoa(f.min)
	}
	return fmt.Sprintf("%d to %d", f.min, f.max)
}

func jtype(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case float64:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case *jobj:
		return "object"
	case *jmesNode:
		return "expref"
	}
	return "unknown"
}

func argNum(name string, v any) float64 {
	f, ok := v.(float64)
	if !ok {
		jfail("%s() expects a number, got %s", name, jtype(v))
	}
	return f
}

func argStr(name string, v any) string {
	s, ok := v.(string)
	if !ok {
		jfail("%s() expects a string, got %s", name, jtype(v))
	}
	return s
}

func argArr(name string, v any) []any {
	a, ok := v.([]any)
	if !ok {
		jfail("%s() expects an array, got %s", name, jtype(v))
	}
	return a
}

func argObj(name string, v any) *jobj {
	o, ok := v.(*jobj)
	if !ok {
		jfail("%s() expects an object, got %s", name, jtype(v))
	}
	return o
}

func argExpref(name string, v any) *jmesNode {
	n, ok := v.(*jmesNode)
	if !ok {
		jfail("%s() expects an expression &expr, got %s", name, jtype(v))
	}
	return n
}

// sortKeys returns the elements' keys (all numbers or all strings).
func sortable(name string, vals []any) {
	if len(vals) == 0 {
		return
	}
	switch vals[0].(type) {
	case float64:
		for _, v := range vals {
			if _, ok := v.(float64); !ok {
				jfail("%s() needs all numbers or all strings", name)
			}
		}
	case string:
		for _, v := range vals {
			if _, ok := v.(string); !ok {
				jfail("%s() needs all numbers or all strings", name)
			}
		}
	default:
		jfail("%s() needs numbers or strings, got %s", name, jtype(vals[0]))
	}
}

func jless(a, b any) bool {
	if x, ok := a.(float64); ok {
		return x < b.(float64)
	}
	return a.(string) < b.(string)
}

var jmesFuncs map[string]*jmesFunc

// The functions pay for what they make (r.elems for array elements and
// object members, r.alloc for string bytes) and for what they walk
// (r.tick); r.eval and r.equal pay for themselves.
func init() {
	jmesFuncs = map[string]*jmesFunc{
		"abs": {1, 1, func(r *jrun, n string, a []any) any { return math.Abs(argNum(n, a[0])) }},
		"avg": {1, 1, func(r *jrun, n string, a []any) any {
			arr := argArr(n, a[0])
			if len(arr) == 0 {
				return nil
			}
			r.tick(len(arr))
			s := 0.0
			for _, e := range arr {
				s += argNum(n, e)
			}
			return s / float64(len(arr))
		}},
		"ceil": {1, 1, func(r *jrun, n string, a []any) any { return math.Ceil(argNum(n, a[0])) }},
		"contains": {2, 2, func(r *jrun, n string, a []any) any {
			switch s := a[0].(type) {
			case string:
				sub, ok := a[1].(string)
				r.tick(len(s) / 64)
				return ok && strings.Contains(s, sub)
			case []any:
				for _, e := range s {
					if r.equal(e, a[1]) {
						return true
					}
				}
				return false
			}
			jfail("contains() expects a string or an array, got %s", jtype(a[0]))
			return nil
		}},
		"ends_with": {2, 2, func(r *jrun, n string, a []any) any { return strings.HasSuffix(argStr(n, a[0]), argStr(n, a[1])) }},
		"equals_ignore_case": {2, 2, func(r *jrun, n string, a []any) any {
			return strings.EqualFold(argStr(n, a[0]), argStr(n, a[1]))
		}},
		"floor": {1, 1, func(r *jrun, n string, a []any) any { return math.Floor(argNum(n, a[0])) }},
		"join": {2, 2, func(r *jrun, n string, a []any) any {
			sep := argStr(n, a[0])
			arr := argArr(n, a[1])
			r.tick(len(arr))
			size := 0
			parts := make([]string, len(arr))
			for i, e := range arr {
				parts[i] = argStr(n, e)
				size += len(parts[i]) + len(sep)
			}
			r.alloc(size)
			return strings.Join(parts, sep)
		}},
		"keys": {1, 1, func(r *jrun, n string, a []any) any {
			o := argObj(n, a[0])
			r.elems(len(o.keys))
			out := make([]any, len(o.keys))
			for i, k := range o.keys {
				out[i] = k
			}
			return out
		}},
		"length": {1, 1, func(r *jrun, n string, a []any) any {
			switch t := a[0].(type) {
			case string:
				return float64(utf8.RuneCountInString(t))
			case []any:
				return float64(len(t))
			case *jobj:
				return float64(len(t.keys))
			}
			jfail("length() expects a string, an array or an object, got %s", jtype(a[0]))
			return nil
		}},
		"map": {2, 2, func(r *jrun, n string, a []any) any {
			e := argExpref(n, a[0])
			arr := argArr(n, a[1])
			r.elems(len(arr))
			out := make([]any, len(arr))
			for i, x := range arr {
				out[i] = r.eval(e, x)
			}
			return out
		}},
		"max": {1, 1, func(r *jrun, n string, a []any) any { return jextreme(r, n, argArr(n, a[0]), nil, false) }},
		"max_by": {2, 2, func(r *jrun, n string, a []any) any {
			return jextreme(r, n, argArr(n, a[0]), argExpref(n, a[1]), false)
		}},
		"merge": {1, -1, func(r *jrun, n string, a []any) any {
			o := newObj(4)
			for _, x := range a {
				src := argObj(n, x)
				r.elems(len(src.keys))
				for _, k := range src.keys {
					o.set(k, src.vals[k])
				}
			}
			return o
		}},
		"min": {1, 1, func(r *jrun, n string, a []any) any { return jextreme(r, n, argArr(n, a[0]), nil, true) }},
		"min_by": {2, 2, func(r *jrun, n string, a []any) any {
			return jextreme(r, n, argArr(n, a[0]), argExpref(n, a[1]), true)
		}},
		"not_null": {1, -1, func(r *jrun, n string, a []any) any {
			for _, x := range a {
				if x != nil {
					return x
				}
			}
			return nil
		}},
		"reverse": {1, 1, func(r *jrun, n string, a []any) any {
			switch t := a[0].(type) {
			case string:
				r.alloc(len(t))
				rs := []rune(t)
				for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
					rs[i], rs[j] = rs[j], rs[i]
				}
				return string(rs)
			case []any:
				r.elems(len(t))
				out := make([]any, len(t))
				for i, x := range t {
					out[len(t)-1-i] = x
				}
				return out
			}
			jfail("reverse() expects a string or an array, got %s", jtype(a[0]))
			return nil
		}},
		"sort": {1, 1, func(r *jrun, n string, a []any) any {
			in := argArr(n, a[0])
			r.elems(len(in))
			r.tick(len(in) * bits.Len(uint(len(in))))
			arr := append([]any(nil), in...)
			sortable(n, arr)
			sort.SliceStable(arr, func(i, j int) bool { return jless(arr[i], arr[j]) })
			return arr
		}},
		"sort_by": {2, 2, func(r *jrun, n string, a []any) any {
			in := argArr(n, a[0])
			r.elems(3 * len(in)) // the copy, the keys, the order
			r.tick(len(in) * bits.Len(uint(len(in))))
			arr := append([]any(nil), in...)
			e := argExpref(n, a[1])
			keys := make([]any, len(arr))
			for i, x := range arr {
				keys[i] = r.eval(e, x)
			}
			sortable(n, keys)
			idx := make([]int, len(arr))
			for i := range idx {
				idx[i] = i
			}
			sort.SliceStable(idx, func(i, j int) bool { return jless(keys[idx[i]], keys[idx[j]]) })
			out := make([]any, len(arr))
			for i, k := range idx {
				out[i] = arr[k]
			}
			return out
		}},
		"starts_with": {2, 2, func(r *jrun, n string, a []any) any { return strings.HasPrefix(argStr(n, a[0]), argStr(n, a[1])) }},
		"sum": {1, 1, func(r *jrun, n string, a []any) any {
			arr := argArr(n, a[0])
			r.tick(len(arr))
			s := 0.0
			for _, e := range arr {
				s += argNum(n, e)
			}
			return s
		}},
		"to_array": {1, 1, func(r *jrun, n string, a []any) any {
			if arr, ok := a[0].([]any); ok {
				return arr
			}
			r.elems(1)
			return []any{a[0]}
		}},
		"to_number": {1, 1, func(r *jrun, n string, a []any) any {
			switch t := a[0].(type) {
			case float64:
				return t
			case string:
				f, err := strconv.ParseFloat(t, 64)
				if err != nil {
					return nil
				}
				return f
			}
			return nil
		}},
		"to_string": {1, 1, func(r *jrun, n string, a []any) any {
			if s, ok := a[0].(string); ok {
				return s
			}
			return r.text(a[0])
		}},
		"type": {1, 1, func(r *jrun, n string, a []any) any { return jtype(a[0]) }},
		"values": {1, 1, func(r *jrun, n string, a []any) any {
			o := argObj(n, a[0])
			r.elems(len(o.keys))
			out := make([]any, len(o.keys))
			for i, k := range o.keys {
				out[i] = o.vals[k]
			}
			return out
		}},
	}
}

func jextreme(r *jrun, name string, arr []any, by *jmesNode, wantMin bool) any {
	if len(arr) == 0 {
		return nil
	}
	r.tick(len(arr))
	keys := arr
	if by != nil {
		r.elems(len(arr))
		keys = make([]any, len(arr))
		for i, x := range arr {
			keys[i] = r.eval(by, x)
		}
	}
	sortable(name, keys)
	best := 0
	for i := 1; i < len(keys); i++ {
		if wantMin && jless(keys[i], keys[best]) || !wantMin && jless(keys[best], keys[i]) {
			best = i
		}
	}
	return arr[best]
}
