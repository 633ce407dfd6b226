package policy

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/avowhq/avow/errs"
)

// maxClaims bounds the incoming claim set during evaluation (rules that
// add claims cannot make it grow without limit).
const maxClaims = 10000

// maxWork bounds the steps of one evaluation — claim comparisons, and the
// nodes, elements and comparisons of JmesPath queries — so that no policy
// can make an evaluation run for long (a rule is evaluated once, but set
// comparisons over bound identifiers multiply).
const maxWork = 4_000_000

// maxBytes bounds what one evaluation makes: the strings functions create
// (AppendString, JmesPath results), the JSON text they parse, the values
// sets and JmesPath results hold, and the claims rules add (which end up in
// the token). Comparisons alone cannot bound memory: a rule that doubles a
// string makes 2^n bytes in n rules. Real policies stay far below it — the
// largest evidence claim is runtime data under 1 MiB, and a JSON claim is
// parsed once per evaluation however often JmesPath reads it.
const maxBytes = 8 << 20

// Bytes charged per value held in a set or an added claim, beside the
// bytes of its strings.
const (
	valueBytes = 48
	claimBytes = 64
)

// maxTraceMatches bounds the claims a trace records per condition (the
// rest are counted): a condition can match every one of maxClaims claims.
const maxTraceMatches = 16

// EvalOptions controls an evaluation.
type EvalOptions struct {
	// Trace records every rule, every condition and the claims each
	// condition matched in Result.Trace.
	Trace bool
}

// Result is the outcome of evaluating a policy against a claim set.
type Result struct {
	// Permitted is true when a permit() fired and no deny() fired.
	Permitted bool `json:"permitted"`
	// Reason says which rule permitted, or which rule and which condition
	// failed first (or which deny() fired), in words an administrator
	// understands.
	Reason string `json:"reason"`
	// Issued holds the claims issued by issue(...) keyed by claim type,
	// shaped as the token's x-ms-policy object: one value, or an array when
	// a type was issued several times. Nil when nothing was issued.
	Issued map[string]any `json:"issued"`
	// Properties holds the properties set by issueproperty(...) in
	// configurationrules and issuancerules (the last value of a type wins).
	Properties map[string]any `json:"properties"`
	// IssuedClaims lists the issued claims in the order they were issued.
	IssuedClaims []Claim `json:"-"`
	// Warnings are the policy's lint findings. Shared; do not modify.
	Warnings []Warning `json:"warnings"`
	// Trace is recorded when EvalOptions.Trace is set.
	Trace []TraceRule `json:"trace,omitempty"`
}

// TraceRule records the evaluation of one rule.
type TraceRule struct {
	Section    string           `json:"section"`
	Index      int              `json:"index"` // 1-based within the section
	Line       int              `json:"line"`
	Text       string           `json:"text"`
	Evaluated  bool             `json:"evaluated"`
	Fired      bool             `json:"fired"`
	Action     string           `json:"action"`
	Note       string           `json:"note,omitempty"`
	Conditions []TraceCondition `json:"conditions,omitempty"`
	// Added lists the claims the action added, issued or set as properties.
	Added []Claim `json:"added,omitempty"`
}

// TraceCondition records the evaluation of one condition of a rule.
type TraceCondition struct {
	Text      string  `json:"text"`
	Line      int     `json:"line"`
	Column    int     `json:"column"`
	Evaluated bool    `json:"evaluated"`
	Satisfied bool    `json:"satisfied"`
	Matched   []Claim `json:"matched,omitempty"`
	// MoreMatched counts the matched claims beyond the first
	// maxTraceMatches, which Matched leaves out.
	MoreMatched int    `json:"more_matched,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

type iclaim struct {
	typ    string
	issuer string
	v      value
}

type evalState struct {
	pol       *Policy
	in        []Claim  // the caller's claims, read in place
	added     []iclaim // claims added by rules (indexes after len(in))
	idx       []int32
	bstart    []int32
	bend      []int32
	bound     []bool
	rhs       []value
	issued    []iclaim
	props     []iclaim
	permitted bool
	denied    bool
	permitBy  *rule
	denyBy    *rule
	trace     []TraceRule
	tracing   bool
	work      int
	bytes     int            // made so far, against maxBytes
	converted map[int]value  // values of incoming JSON claims, converted once
	parsed    map[string]any // JmesPath's JSON arguments, parsed once
}

var statePool = sync.Pool{New: func() any { return new(evalState) }}

func (st *evalState) reset() {
	clear(st.added)
	clear(st.issued)
	clear(st.props)
	clear(st.rhs)
	st.in = nil
	st.added, st.issued, st.props, st.idx = st.added[:0], st.issued[:0], st.props[:0], st.idx[:0]
	st.permitted, st.denied, st.permitBy, st.denyBy = false, false, nil, nil
	st.trace, st.tracing, st.work, st.bytes = nil, false, 0, 0
	st.converted, st.parsed = nil, nil
}

// Evaluate runs the policy against the incoming claims: configurationrules,
// then authorizationrules, then (only when permitted) issuancerules. Deny
// wins over permit; without a permit the result is not permitted. A claim
// whose Issuer is empty is taken as issued by AttestationService.
//
// The error is non-nil when the claims are invalid (ErrBadClaims) or a rule
// fails at run time (ErrEval, as a *SyntaxError naming the position); the
// Result is then not permitted and its Reason names the failure.
func (p *Policy) Evaluate(claims []Claim, opts EvalOptions) (*Result, error) {
	st := statePool.Get().(*evalState)
	defer func() {
		st.reset()
		st.pol = nil
		statePool.Put(st)
	}()
	st.pol = p
	if err := st.load(claims); err != nil {
		return &Result{Reason: err.Error(), Warnings: p.warnings}, err
	}
	st.tracing = opts.Trace
	err := st.run()
	if err == nil && !st.permitted && !opts.Trace {
		// Not permitted: run again with tracing to explain why. The
		// evaluation is deterministic, so the outcome is the same.
		st.reset()
		if err := st.load(claims); err != nil {
			return &Result{Reason: err.Error(), Warnings: p.warnings}, err
		}
		st.tracing = true
		err = st.run()
	}
	res := &Result{Permitted: st.permitted && err == nil, Warnings: p.warnings}
	if err != nil {
		res.Reason = "evaluation failed: " + errMessage(err)
		res.Permitted = false
	} else if st.permitted {
		res.Reason = st.permitBy.permit
	} else {
		res.Reason = st.reason()
	}
	if opts.Trace {
		res.Trace = st.trace
	}
	if res.Permitted && len(st.issued) > 0 {
		res.Issued = make(map[string]any, len(st.issued))
		res.IssuedClaims = make([]Claim, len(st.issued))
		for i := range st.issued {
			c := &st.issued[i]
			res.IssuedClaims[i] = c.claim()
			v := c.v.toAny()
			if prev, ok := res.Issued[c.typ]; ok {
				// Issued values are scalars, so an array is the accumulated list.
				if arr, ok := prev.([]any); ok {
					res.Issued[c.typ] = append(arr, v)
				} else {
					res.Issued[c.typ] = []any{prev, v}
				}
			} else {
				res.Issued[c.typ] = v
			}
		}
	}
	if len(st.props) > 0 && err == nil {
		res.Properties = make(map[string]any, len(st.props))
		for i := range st.props {
			res.Properties[st.props[i].typ] = st.props[i].v.toAny()
		}
	}
	return res, err
}

func errMessage(err error) string {
	if se, ok := err.(*SyntaxError); ok {
		return se.Located()
	}
	return err.Error()
}

// ConfigurationProperties evaluates the configurationrules section alone,
// against an empty claim set, and returns the properties it sets (for
// example x-ms-sgx-tcbidentifier, which the service needs before it
// verifies evidence). It returns nil when there is no such section.
func (p *Policy) ConfigurationProperties() (map[string]any, error) {
	if p.sections[Configuration] == nil {
		return nil, nil
	}
	st := statePool.Get().(*evalState)
	defer func() {
		st.reset()
		st.pol = nil
		statePool.Put(st)
	}()
	st.pol = p
	for _, r := range p.sections[Configuration].rules {
		if _, err := st.evalRule(r); err != nil {
			return nil, err
		}
	}
	out := make(map[string]any, len(st.props))
	for i := range st.props {
		out[st.props[i].typ] = st.props[i].v.toAny()
	}
	return out, nil
}

// load checks the incoming claims; they are read in place, values are
// converted when a condition looks at them.
func (st *evalState) load(claims []Claim) error {
	for i := range claims {
		c := &claims[i]
		if c.ValueType == "" {
			continue
		}
		v := valueFromAny(c.Value)
		if c.ValueType != v.k.String() && v.k != kNone {
			if _, ok := coerce(v, c.ValueType); !ok {
				return ErrBadClaims.Wrapf("claim %q: value %s is not a %s", c.Type, v.format(), c.ValueType)
			}
		}
	}
	st.in = claims
	return nil
}

// count returns the number of claims in the incoming set.
func (st *evalState) count() int { return len(st.in) + len(st.added) }

// inValue returns the value of incoming claim i.
func (st *evalState) inValue(i int) value {
	c := &st.in[i]
	var v value
	if scalar(c.Value) {
		v = valueFromAny(c.Value)
	} else {
		v = st.jsonClaim(i)
	}
	if c.ValueType != "" && c.ValueType != v.k.String() {
		if cv, ok := coerce(v, c.ValueType); ok {
			v = cv
		}
	}
	return v
}

// jsonClaim converts an incoming claim whose value is JSON (an object or an
// array: x-ms-runtime, x-ms-sgx-collateral) to its JSON text once per
// evaluation; conditions may look at it many times.
func (st *evalState) jsonClaim(i int) value {
	if v, ok := st.converted[i]; ok {
		return v
	}
	v := valueFromAny(st.in[i].Value)
	st.bytes += len(v.s)
	if st.converted == nil {
		st.converted = make(map[int]value)
	}
	st.converted[i] = v
	return v
}

// at returns claim i of the incoming set (kNone value: an empty claim, which
// no condition matches).
func (st *evalState) at(i int) iclaim {
	if i >= len(st.in) {
		return st.added[i-len(st.in)]
	}
	c := &st.in[i]
	issuer := c.Issuer
	if issuer == "" {
		issuer = IssuerAttestationService
	}
	return iclaim{typ: c.Type, issuer: issuer, v: st.inValue(i)}
}

func (st *evalState) run() error {
	pol := st.pol
	for sec := Configuration; sec <= Issuance; sec++ {
		s := pol.sections[sec]
		if s == nil {
			continue
		}
		for _, r := range s.rules {
			if (sec == Authorization && st.denied) || (sec == Issuance && (!st.permitted || st.denied)) {
				if st.tracing {
					note := "not evaluated: a deny() already fired"
					if sec == Issuance && !st.denied {
						note = "not evaluated: issuancerules run only when the policy permits"
					}
					st.trace = append(st.trace, st.traceRule(r, false, note))
				}
				continue
			}
			if _, err := st.evalRule(r); err != nil {
				return err
			}
		}
		if sec == Authorization && st.denied {
			st.permitted = false
		}
	}
	return nil
}

func (st *evalState) traceRule(r *rule, evaluated bool, note string) TraceRule {
	return TraceRule{
		Section: sectionNames[r.sec], Index: r.index, Line: r.line, Text: compact(st.pol.text[r.start:r.end]),
		Evaluated: evaluated, Action: r.act.text, Note: note,
	}
}

// compact collapses runs of white space (and drops comments) for display.
func compact(s string) string {
	var b strings.Builder
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '/' && i+1 < len(s) && s[i+1] == '/' {
			for i < len(s) && s[i] != '\n' {
				i++
			}
			space = true
			continue
		}
		if c == '"' {
			// copy a string literal as it is
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j+1, len(s))
			b.WriteString(s[i:j])
			i = j - 1
			continue
		}
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(c)
	}
	return b.String()
}

func (st *evalState) fail(off int, msg string) error {
	return st.failWith(ErrEval, off, msg)
}

// failLimit reports an evaluation that reached maxWork, maxBytes or
// maxClaims.
func (st *evalState) failLimit(off int, msg string) error {
	return st.failWith(ErrEvalLimit, off, msg)
}

// charge adds n bytes to what the evaluation made and reports whether it is
// still within maxBytes.
func (st *evalState) charge(n int) bool {
	st.bytes += n
	return st.bytes <= maxBytes
}

func (st *evalState) failWith(sentinel *errs.Error, off int, msg string) error {
	text := st.pol.text
	line, ls := 1, 0
	for i := 0; i < off && i < len(text); i++ {
		if text[i] == '\n' {
			line++
			ls = i + 1
		}
	}
	col := utf8.RuneCountInString(text[ls:min(off, len(text))]) + 1
	return &SyntaxError{Code: sentinel.Code, Message: msg, Line: line, Column: col, Snippet: snippet(text, ls, col), sentinel: sentinel}
}

var bytesLimitMessage = fmt.Sprintf("it made more than %d MiB of values (strings, sets, parsed JSON, added claims)", maxBytes>>20)

var workLimitMessage = fmt.Sprintf("it took more than %d steps (claims compared with sets of claims, or JmesPath work)", maxWork)

func (st *evalState) evalRule(r *rule) (bool, error) {
	n := len(r.binds)
	if cap(st.bstart) < n {
		st.bstart = make([]int32, n)
		st.bend = make([]int32, n)
		st.bound = make([]bool, n)
	}
	st.bstart, st.bend, st.bound = st.bstart[:n], st.bend[:n], st.bound[:n]
	for i := range st.bound {
		st.bound[i] = false
	}
	st.idx = st.idx[:0]
	var tr *TraceRule
	if st.tracing {
		t := st.traceRule(r, true, "")
		t.Conditions = make([]TraceCondition, len(r.conds))
		st.trace = append(st.trace, t)
		tr = &st.trace[len(st.trace)-1]
	}
	fired := true
	for ci, c := range r.conds {
		if tr != nil {
			tc := &tr.Conditions[ci]
			tc.Text, tc.Line, tc.Column = compact(st.pol.text[c.start:c.end]), c.line, c.col
			if !st.depsBound(c) {
				tc.Reason = "not evaluated: it uses an identifier whose condition matched no claim"
				fired = false
				continue
			}
			ok, err := st.evalCond(c, tc)
			if err == nil && st.work > maxWork {
				err = st.failLimit(c.start, workLimitMessage)
			}
			if err != nil {
				return false, err
			}
			tc.Evaluated, tc.Satisfied = true, ok
			if !ok {
				fired = false
			}
			continue
		}
		ok, err := st.evalCond(c, nil)
		if err == nil && st.work > maxWork {
			err = st.failLimit(c.start, workLimitMessage)
		}
		if err != nil {
			return false, err
		}
		if !ok {
			return false, nil
		}
	}
	if !fired {
		return false, nil
	}
	if tr != nil {
		tr.Fired = true
	}
	return true, st.act(r, tr)
}

// depsBound reports whether every identifier a condition refers to is bound.
func (st *evalState) depsBound(c *cond) bool {
	if !c.dynamic {
		return true
	}
	for _, pr := range c.props {
		if !st.exprBound(pr.rhs) {
			return false
		}
	}
	return true
}

func (st *evalState) exprBound(e *expr) bool {
	switch e.kind {
	case eRef:
		return st.bound[e.slot]
	case eCall:
		for _, a := range e.args {
			if !st.exprBound(a) {
				return false
			}
		}
	}
	return true
}

func (st *evalState) evalCond(c *cond, tc *TraceCondition) (bool, error) {
	if c.dynamic {
		if cap(st.rhs) < len(c.props) {
			st.rhs = make([]value, len(c.props))
		}
		st.rhs = st.rhs[:len(c.props)]
		for i := range c.props {
			if c.props[i].rhs.kind != eLit {
				v, err := st.eval(c.props[i].rhs)
				if err != nil {
					return false, err
				}
				st.rhs[i] = v
			}
		}
	}
	n := st.count()
	if tc != nil {
		st.work += n * st.rhsSize(c)
		if st.work > maxWork {
			return false, nil
		}
		start := len(st.idx)
		for i := 0; i < n; i++ {
			if st.match(c, i) {
				st.idx = append(st.idx, int32(i))
				if len(tc.Matched) == maxTraceMatches {
					tc.MoreMatched++
					continue
				}
				cl := st.at(i)
				tc.Matched = append(tc.Matched, cl.claim())
			}
		}
		found := len(st.idx) > start
		if c.slot >= 0 {
			st.bstart[c.slot], st.bend[c.slot], st.bound[c.slot] = int32(start), int32(len(st.idx)), found
		} else {
			st.idx = st.idx[:start]
		}
		ok := found != c.negate
		if !ok {
			tc.Reason = st.explain(c)
		}
		return ok, nil
	}
	if c.slot < 0 {
		found := st.next(c, 0) >= 0
		return found != c.negate, nil
	}
	start := len(st.idx)
	for i := st.next(c, 0); i >= 0 && st.work <= maxWork; i = st.next(c, i+1) {
		st.idx = append(st.idx, int32(i))
	}
	st.bstart[c.slot], st.bend[c.slot] = int32(start), int32(len(st.idx))
	st.bound[c.slot] = len(st.idx) > start
	return len(st.idx) > start, nil
}

// next returns the index of the first claim at or after from that satisfies
// every property test of c, or -1. When c names a literal claim type, the
// incoming claims are first filtered on it without further work.
func (st *evalState) next(c *cond, from int) int {
	cost := 1
	if c.dynamic {
		// Set operands make each comparison cost up to the set's size.
		cost = st.rhsSize(c)
	}
	in := st.in
	i := from
	for ; i < len(in); i++ {
		if c.hasType && in[i].Type != c.typeLit {
			continue
		}
		if st.match(c, i) {
			st.work += (i - from + 1) * cost
			return i
		}
	}
	for i = max(from, len(in)); i < st.count(); i++ {
		if st.match(c, i) {
			st.work += (i - from + 1) * cost
			return i
		}
	}
	st.work += (st.count() - from) * cost
	return -1
}

func (st *evalState) rhsSize(c *cond) int {
	n := 1
	for i := range c.props {
		if c.props[i].rhs.kind != eLit && st.rhs[i].k == kSet {
			n += len(st.rhs[i].set)
		}
	}
	return n
}

// match reports whether claim i satisfies every property test of c. Values
// of incoming claims are converted only when a value test needs them.
func (st *evalState) match(c *cond, i int) bool {
	var typ, issuer string
	var v value
	haveV := false
	if i < len(st.in) {
		cl := &st.in[i]
		if cl.Value == nil {
			return false
		}
		typ, issuer = cl.Type, cl.Issuer
		if issuer == "" {
			issuer = IssuerAttestationService
		}
	} else {
		a := &st.added[i-len(st.in)]
		typ, issuer, v, haveV = a.typ, a.issuer, a.v, true
	}
	for _, pi := range c.order {
		pr := &c.props[pi]
		rhs := &pr.rhs.lit
		if pr.rhs.kind != eLit {
			rhs = &st.rhs[pi]
		}
		var ok bool
		switch pr.f {
		case fType:
			ok = compareString(typ, pr.o, rhs)
		case fIssuer:
			ok = compareString(issuer, pr.o, rhs)
		default:
			if !haveV {
				v, haveV = st.inValue(i), true
				if v.k == kNone {
					return false
				}
			}
			if pr.f == fValue {
				ok = compareValue(&v, pr.o, rhs)
			} else {
				ok = compareString(v.k.String(), pr.o, rhs)
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func compareString(s string, o op, rhs *value) bool {
	if rhs.k == kString {
		switch o {
		case opEq:
			return s == rhs.s
		case opNe:
			return s != rhs.s
		}
	}
	return compare(value{k: kString, s: s}, o, *rhs)
}

func compareValue(l *value, o op, rhs *value) bool {
	if l.k == rhs.k {
		switch l.k {
		case kInt, kBool:
			switch o {
			case opEq:
				return l.i == rhs.i
			case opNe:
				return l.i != rhs.i
			}
			if l.k == kInt {
				switch o {
				case opLt:
					return l.i < rhs.i
				case opLe:
					return l.i <= rhs.i
				case opGt:
					return l.i > rhs.i
				case opGe:
					return l.i >= rhs.i
				}
			}
			return false
		case kString:
			switch o {
			case opEq:
				return l.s == rhs.s
			case opNe:
				return l.s != rhs.s
			}
			return false
		}
	}
	return compare(*l, o, *rhs)
}

// eval computes an expression in the current rule's bindings.
func (st *evalState) eval(e *expr) (value, error) {
	switch e.kind {
	case eLit:
		return e.lit, nil
	case eRef:
		ms := st.idx[st.bstart[e.slot]:st.bend[e.slot]]
		if len(ms) == 1 {
			cl := st.at(int(ms[0]))
			return cl.get(e.f), nil
		}
		if !st.charge(len(ms) * valueBytes) {
			return value{}, st.failLimit(e.pos, bytesLimitMessage)
		}
		set := make([]value, 0, len(ms))
		var seen map[string]bool
		if e.f != fValue {
			seen = make(map[string]bool)
		}
		for _, m := range ms {
			cl := st.at(int(m))
			v := cl.get(e.f)
			if seen != nil {
				if seen[v.s] {
					continue
				}
				seen[v.s] = true
			}
			set = append(set, v)
		}
		if len(set) == 1 {
			return set[0], nil
		}
		return value{k: kSet, set: set}, nil
	}
	args := make([]value, len(e.args))
	for i, a := range e.args {
		v, err := st.eval(a)
		if err != nil {
			return value{}, err
		}
		args[i] = v
	}
	v, err := st.call(e, args)
	if err != nil {
		if ee, ok := err.(*evalError); ok {
			if ee.limit {
				return value{}, st.failLimit(ee.pos, ee.msg)
			}
			return value{}, st.fail(ee.pos, ee.msg)
		}
		return value{}, err
	}
	return v, nil
}

func (c *iclaim) get(f field) value {
	switch f {
	case fType:
		return stringValue(c.typ)
	case fIssuer:
		return stringValue(c.issuer)
	case fValueType:
		return stringValue(c.v.k.String())
	}
	return c.v
}

func (st *evalState) act(r *rule, tr *TraceRule) error {
	a := &r.act
	switch a.kind {
	case aPermit:
		if !st.permitted {
			st.permitted, st.permitBy = true, r
		}
		return nil
	case aDeny:
		if !st.denied {
			st.denied, st.denyBy = true, r
		}
		return nil
	}
	if a.claimSlot >= 0 {
		for _, m := range st.idx[st.bstart[a.claimSlot]:st.bend[a.claimSlot]] {
			c := st.at(int(m))
			if err := st.emit(r, c.typ, c.v, tr); err != nil {
				return err
			}
		}
		return nil
	}
	t, err := st.eval(a.typ)
	if err != nil {
		return err
	}
	if t.k != kString || t.s == "" {
		return st.fail(a.typ.pos, "the claim type must be a non-empty String, but it is "+t.format())
	}
	v, err := st.eval(a.val)
	if err != nil {
		return err
	}
	if v.k == kSet {
		for _, m := range v.set {
			if err := st.emitTyped(r, t.s, m, tr); err != nil {
				return err
			}
		}
		return nil
	}
	return st.emitTyped(r, t.s, v, tr)
}

func (st *evalState) emitTyped(r *rule, typ string, v value, tr *TraceRule) error {
	if r.act.valueType != "" {
		cv, ok := coerce(v, r.act.valueType)
		if !ok {
			return st.fail(r.act.val.pos, fmt.Sprintf("%s cannot be converted to valueType %s", v.format(), r.act.valueType))
		}
		v = cv
	}
	return st.emit(r, typ, v, tr)
}

func (st *evalState) emit(r *rule, typ string, v value, tr *TraceRule) error {
	if v.k == kNone {
		return nil // adding an empty claim is a no-op
	}
	if st.count() >= maxClaims {
		return st.failLimit(r.act.pos, fmt.Sprintf("the claim set grew beyond %d claims", maxClaims))
	}
	if !st.charge(claimBytes + len(typ) + v.size()) {
		return st.failLimit(r.act.pos, bytesLimitMessage)
	}
	c := iclaim{typ: typ, issuer: IssuerAttestationPolicy, v: v}
	st.added = append(st.added, c)
	switch {
	case r.act.kind == aIssue && !r.act.asAdd:
		st.issued = append(st.issued, c)
	case r.act.kind == aIssueProperty:
		st.props = append(st.props, c)
	}
	if tr != nil {
		tr.Added = append(tr.Added, c.claim())
	}
	return nil
}

// explain says, for an administrator, why condition c does not hold.
func (st *evalState) explain(c *cond) string {
	text := compact(st.pol.text[c.start:c.end])
	if c.negate {
		for i := 0; i < st.count(); i++ {
			if st.match(c, i) {
				cl := st.at(i)
				return fmt.Sprintf("%s is %s, which the rule's condition %s excludes", cl.typ, cl.v.format(), text)
			}
		}
		return text + " matches a claim"
	}
	if !c.hasType {
		return "no claim satisfies " + text
	}
	var cands []int
	for i := 0; i < st.count(); i++ {
		if cl := st.at(i); cl.typ == c.typeLit && cl.v.k != kNone {
			cands = append(cands, i)
		}
	}
	if len(cands) == 0 {
		return "no " + c.typeLit + " claim is present"
	}
	// The first property test the first candidate fails, in source order.
	first := st.at(cands[0])
	cl := &first
	msg := ""
	for pi := range c.props {
		pr := &c.props[pi]
		rhs := &pr.rhs.lit
		if pr.rhs.kind != eLit {
			rhs = &st.rhs[pi]
		}
		var ok bool
		switch pr.f {
		case fType:
			ok = compareString(cl.typ, pr.o, rhs)
		case fValue:
			ok = compareValue(&cl.v, pr.o, rhs)
		case fIssuer:
			ok = compareString(cl.issuer, pr.o, rhs)
		default:
			ok = compareString(cl.v.k.String(), pr.o, rhs)
		}
		if ok {
			continue
		}
		req := pr.o.String() + " " + rhs.format()
		if rhs.k == kSet {
			req = pr.o.String() + " one of " + rhs.format()
			if pr.o == opNe {
				req = "a value other than " + rhs.format()
			}
		}
		switch pr.f {
		case fValue:
			if cl.v.k != rhs.k && rhs.k != kSet {
				msg = fmt.Sprintf("%s is %s (%s), the rule requires %s (%s)", cl.typ, cl.v.format(), cl.v.k.article(), req, rhs.k.article())
			} else {
				msg = fmt.Sprintf("%s is %s, the rule requires %s", cl.typ, cl.v.format(), req)
			}
		case fIssuer:
			msg = fmt.Sprintf("%s is issued by %s, the rule requires issuer %s", cl.typ, cl.issuer, req)
		case fValueType:
			msg = fmt.Sprintf("%s is %s, the rule requires valueType %s", cl.typ, cl.v.k.article(), req)
		default:
			msg = fmt.Sprintf("the %s claim does not satisfy type %s", cl.typ, req)
		}
		break
	}
	if msg == "" {
		msg = "no claim satisfies " + text
	}
	if len(cands) > 1 {
		return fmt.Sprintf("none of the %d %s claims satisfies %s; the first: %s", len(cands), c.typeLit, text, msg)
	}
	return msg
}

// reason explains a refusal from the recorded trace.
func (st *evalState) reason() string {
	if st.denyBy != nil {
		r := st.denyBy
		if len(r.conds) == 0 {
			return "denied by " + r.label + ": deny() without conditions always fires"
		}
		var held []string
		for i := range st.trace {
			t := &st.trace[i]
			if t.Section != sectionNames[r.sec] || t.Index != r.index {
				continue
			}
			for _, c := range t.Conditions {
				s := c.Text + " holds"
				if len(c.Matched) > 0 {
					m := c.Matched[0]
					s = fmt.Sprintf("%s is %s", m.Type, valueFromAny(m.Value).format())
				}
				if !slices.Contains(held, s) {
					held = append(held, s)
				}
			}
		}
		return "denied by " + r.label + ": its conditions hold (" + strings.Join(held, ", ") + ")"
	}
	if !st.pol.hasPermit {
		return st.pol.noPermit
	}
	var parts []string
	for i := range st.trace {
		t := &st.trace[i]
		if t.Section != sectionNames[Authorization] || !t.Evaluated || t.Fired || !strings.HasPrefix(t.Action, "permit") {
			continue
		}
		why := ""
		for _, c := range t.Conditions {
			if c.Evaluated && !c.Satisfied {
				why = c.Reason
				break
			}
		}
		if why == "" {
			for _, c := range t.Conditions {
				if !c.Evaluated {
					why = c.Text + " " + c.Reason
					break
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s rule %d (line %d): %s", t.Section, t.Index, t.Line, why))
	}
	switch len(parts) {
	case 0:
		return "not permitted: no permit() rule fired"
	case 1:
		return "not permitted: " + parts[0]
	}
	if len(parts) > 5 {
		parts = append(parts[:5], fmt.Sprintf("and %d more", len(parts)-5))
	}
	return "not permitted: no permit() rule holds; " + strings.Join(parts, "; ")
}
