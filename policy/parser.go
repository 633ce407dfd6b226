package policy

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
)

// Limits that keep parsing and evaluation bounded on hostile input.
const (
	maxPolicySize = 1 << 20 // bytes of policy text
	maxDepth      = 32      // nesting of function calls
	maxRules      = 10000
	maxBindings   = 64 // identifiers per rule
)

type bail struct{}

type parser struct {
	src   string
	lx    lexer
	tok   token
	buf   []token
	lines []int // byte offset of each line start
	pol   *Policy
	err   *SyntaxError
	depth int

	// per rule
	binds []string

	// for lintClaimTypes: the literal claim types conditions test, and
	// the claim types the policy itself adds, issues or sets as
	// properties (anyType when one of them is computed).
	condTypes   []typeRef
	policyTypes map[string]bool
	anyType     bool
}

type typeRef struct {
	name string
	pos  int
}

// Parse compiles a policy text. The returned *Policy is immutable and safe
// for concurrent use. A syntax or type error is a *SyntaxError carrying a
// stable code, the line and column, and the line with a caret.
func Parse(text string) (pol *Policy, err error) {
	p := &parser{src: text}
	p.lx = lexer{src: text, p: p}
	p.lines = append(p.lines, 0)
	for i := 0; i < len(text); i++ {
		if text[i] == '\n' {
			p.lines = append(p.lines, i+1)
		}
	}
	p.pol = &Policy{text: text}
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(bail); !ok {
				panic(r)
			}
			pol, err = nil, p.err
		}
	}()
	if len(text) > maxPolicySize {
		p.fail(ErrTooLarge, 0, fmt.Sprintf("the policy is %d bytes; the limit is %d", len(text), maxPolicySize))
	}
	if !utf8.ValidString(text) {
		for i := 0; i < len(text); {
			r, n := utf8.DecodeRuneInString(text[i:])
			if r == utf8.RuneError && n <= 1 {
				p.fail(ErrBadCharacter, i, "the policy is not valid UTF-8 text")
			}
			i += n
		}
	}
	p.advance()
	p.parsePolicy()
	p.lintClaimTypes()
	p.pol.finish()
	return p.pol, nil
}

// position converts a byte offset to a 1-based line and column (in runes).
func (p *parser) position(off int) (line, col, lineStart int) {
	i := sort.Search(len(p.lines), func(i int) bool { return p.lines[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	lineStart = p.lines[i]
	if off > len(p.src) {
		off = len(p.src)
	}
	return i + 1, utf8.RuneCountInString(p.src[lineStart:off]) + 1, lineStart
}

func (p *parser) errAt(sentinel *errs.Error, off int, msg string) *SyntaxError {
	line, col, ls := p.position(off)
	return &SyntaxError{Code: sentinel.Code, Message: msg, Line: line, Column: col, Snippet: snippet(p.src, ls, col), sentinel: sentinel}
}

func (p *parser) fail(sentinel *errs.Error, off int, msg string) {
	p.err = p.errAt(sentinel, off, msg)
	panic(bail{})
}

func (p *parser) warn(code string, off int, msg string) {
	line, col, _ := p.position(off)
	p.pol.warnings = append(p.pol.warnings, Warning{Code: code, Message: msg, Line: line, Column: col})
}

func (p *parser) lex() token {
	t, err := p.lx.next()
	if err != nil {
		p.err = err
		panic(bail{})
	}
	return t
}

func (p *parser) advance() {
	if len(p.buf) > 0 {
		p.tok = p.buf[0]
		p.buf = p.buf[1:]
		return
	}
	p.tok = p.lex()
}

// peek returns the token after the current one.
func (p *parser) peek() token {
	if len(p.buf) == 0 {
		p.buf = append(p.buf, p.lex())
	}
	return p.buf[0]
}

// keyword reports whether the current token is the keyword word, matched
// without regard to case; a match in another case is accepted with a
// warning, because MAA documents only the lower-case (or camel-case) form.
func (p *parser) keyword(t token, word string) bool {
	if t.kind != tIdent || !strings.EqualFold(t.text, word) {
		return false
	}
	if t.text != word {
		p.warn(WarnKeywordCase, t.pos, fmt.Sprintf("%q is written %q in MAA's grammar; avow accepts it, but other tools may not", t.text, word))
	}
	return true
}

func (p *parser) expect(k tokKind, what string) token {
	if p.tok.kind != k {
		if k == tSemi {
			p.fail(ErrMissingSemicolon, p.prevEnd(), "expected \";\" "+what+", found "+p.tok.describe())
		}
		p.fail(ErrSyntax, p.tok.pos, "expected "+tokNames[k]+" "+what+", found "+p.tok.describe())
	}
	t := p.tok
	p.advance()
	return t
}

// prevEnd returns the offset just after the last non-space character before
// the current token, where a missing ";" belongs.
func (p *parser) prevEnd() int {
	i := p.tok.pos
	for i > 0 {
		c := p.src[i-1]
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			break
		}
		i--
	}
	// Skip back over a trailing // comment on that line is not needed: the
	// comment text itself ends the line.
	return i
}

func (p *parser) parsePolicy() {
	t := p.tok
	if t.kind == tEOF {
		p.fail(ErrMissingVersion, 0, "the policy is empty; it must start with version=1.0; (or 1.1, 1.2) followed by its sections")
	}
	if !p.keyword(t, "version") {
		if t.kind == tIdent {
			if _, ok := sectionByName(t.text); ok {
				p.fail(ErrMissingVersion, t.pos, "the policy must start with version=1.0; (or 1.1, 1.2) before its first section")
			}
		}
		p.fail(ErrMissingVersion, t.pos, "the policy must start with version=1.0; (or 1.1, 1.2), found "+t.describe())
	}
	p.advance()
	switch p.tok.kind {
	case tAssign:
		p.advance()
	case tOp:
		p.fail(ErrSyntax, p.tok.pos, "the version is set with a single =, as in version=1.0;")
	default:
		p.fail(ErrSyntax, p.tok.pos, "expected \"=\" after version, as in version=1.0;")
	}
	vt := p.tok
	switch vt.kind {
	case tVersion:
	case tInt:
		p.fail(ErrUnsupportedVersion, vt.pos, "write the version with its minor number: version="+vt.text+".0;")
	case tString:
		p.fail(ErrSyntax, vt.pos, "the version is a number, not a string: version="+vt.text+";")
	default:
		p.fail(ErrSyntax, vt.pos, "expected a version number such as 1.0, found "+vt.describe())
	}
	switch vt.text {
	case "1.0":
		p.pol.minor = 0
	case "1.1":
		p.pol.minor = 1
	case "1.2":
		p.pol.minor = 2
	default:
		p.fail(ErrUnsupportedVersion, vt.pos, "version "+vt.text+" is not supported; the versions are 1.0, 1.1 and 1.2")
	}
	p.pol.version = vt.text
	p.advance()
	versionEnd := p.tok.pos
	p.expect(tSemi, "after the version")

	for p.tok.kind != tEOF {
		t := p.tok
		if t.kind == tIdent && p.peek().kind != tColon {
			if sec, ok := sectionByName(t.text); ok {
				p.parseSection(sec)
				continue
			}
			if p.peek().kind == tLBrace || p.peek().kind == tEOF || p.peek().kind == tSemi {
				p.fail(ErrUnknownKeyword, t.pos, fmt.Sprintf("unknown section %q%s; the sections are configurationrules, authorizationrules and issuancerules", t.text, suggest(t.text, sectionNames[:])))
			}
			if a, ok := actionByName(t.text); ok && p.peek().kind == tLParen {
				p.fail(ErrSyntax, t.pos, fmt.Sprintf("the action %s(...) must follow \"=>\" inside a section, as in authorizationrules { => %s(); };", actionNames[a], actionNames[a]))
			}
			p.fail(ErrUnknownKeyword, t.pos, fmt.Sprintf("unknown keyword %q%s; expected a section: configurationrules, authorizationrules or issuancerules", t.text, suggest(t.text, sectionNames[:])))
		}
		if t.kind == tLBrack || t.kind == tNot || t.kind == tArrow || (t.kind == tIdent && p.peek().kind == tColon) {
			if len(p.pol.sectionOrder) > 0 {
				p.fail(ErrSyntax, t.pos, "a rule outside a section; put it inside authorizationrules { ... }; or issuancerules { ... };")
			}
			p.parseCondensed(versionEnd)
			continue
		}
		p.fail(ErrSyntax, t.pos, "expected a section such as authorizationrules { ... }; found "+t.describe())
	}
	if p.pol.sections[Authorization] == nil {
		p.fail(ErrMissingSection, len(p.src), "the policy has no authorizationrules section, so it can never permit; add authorizationrules { => permit(); }; or your conditions")
	}
}

// parseCondensed parses rules written directly after the version statement
// (the form in which the policy recommended for Always Encrypted is
// published) as the body of authorizationrules.
func (p *parser) parseCondensed(versionEnd int) {
	start := p.tok.pos
	sec := &section{kind: Authorization, pos: start}
	p.pol.sections[Authorization] = sec
	p.pol.sectionOrder = append(p.pol.sectionOrder, Authorization)
	p.pol.condensed = true
	for p.tok.kind != tEOF {
		if p.tok.kind == tIdent && p.peek().kind != tColon {
			if _, ok := sectionByName(p.tok.text); ok {
				break
			}
		}
		p.parseRule(sec)
	}
	end := p.tok.pos
	body := strings.TrimRight(p.src[versionEnd+1:end], " \t\r\n")
	head := p.src[:versionEnd+1]
	canon := head + "\nauthorizationrules\n{" + body + "\n};"
	if rest := p.src[end:]; strings.TrimSpace(rest) != "" {
		canon += "\n" + rest
	} else {
		canon += "\n"
	}
	p.pol.canonical = canon
	line, col, _ := p.position(start)
	p.pol.warnings = append(p.pol.warnings, Warning{
		Code:   WarnCondensedForm,
		Line:   line,
		Column: col,
		Message: "rules written without a section are read as the body of authorizationrules; " +
			"MAA's grammar defines a policy as sections, so write the canonical form:\n" + strings.TrimRight(canon, "\n"),
	})
}

func sectionByName(s string) (Section, bool) {
	for i, n := range sectionNames {
		if strings.EqualFold(s, n) {
			return Section(i), true
		}
	}
	return 0, false
}

func actionByName(s string) (actionKind, bool) {
	for i, n := range actionNames {
		if strings.EqualFold(s, n) {
			return actionKind(i), true
		}
	}
	return 0, false
}

func (p *parser) parseSection(sec Section) {
	t := p.tok
	p.keyword(t, sectionNames[sec])
	if sec == Configuration && p.pol.minor < 1 {
		p.fail(ErrVersionFeature, t.pos, "configurationrules requires version=1.1 or later; this policy is version "+p.pol.version)
	}
	if p.pol.sections[sec] != nil {
		p.fail(ErrDuplicateSection, t.pos, sectionNames[sec]+" appears twice; a policy has each section at most once")
	}
	for _, prev := range p.pol.sectionOrder {
		if prev > sec {
			p.fail(ErrSectionOrder, t.pos, fmt.Sprintf("%s must come before %s; the order is configurationrules, authorizationrules, issuancerules", sectionNames[sec], sectionNames[prev]))
		}
	}
	p.advance()
	s := &section{kind: sec, pos: t.pos}
	p.pol.sections[sec] = s
	p.pol.sectionOrder = append(p.pol.sectionOrder, sec)
	if p.tok.kind != tLBrace {
		p.fail(ErrSyntax, p.tok.pos, "expected \"{\" after "+sectionNames[sec]+", found "+p.tok.describe())
	}
	p.advance()
	for p.tok.kind != tRBrace {
		if p.tok.kind == tEOF {
			p.fail(ErrSyntax, t.pos, sectionNames[sec]+" is not closed; add \"};\" after its last rule")
		}
		if p.tok.kind == tIdent && p.peek().kind == tLBrace {
			if _, ok := sectionByName(p.tok.text); ok {
				p.fail(ErrSyntax, p.tok.pos, sectionNames[sec]+" is not closed before the next section; add \"};\" after its last rule")
			}
		}
		p.parseRule(s)
	}
	p.advance()
	p.expect(tSemi, "after the closing \"}\" of "+sectionNames[sec])
}

func (p *parser) parseRule(s *section) {
	if len(p.pol.allRules) >= maxRules {
		p.fail(ErrTooLarge, p.tok.pos, fmt.Sprintf("the policy has more than %d rules", maxRules))
	}
	start := p.tok.pos
	line, _, _ := p.position(start)
	r := &rule{sec: s.kind, index: len(s.rules) + 1, line: line, start: start}
	p.binds = p.binds[:0]
	if p.tok.kind != tArrow {
		for {
			r.conds = append(r.conds, p.parseCond())
			if p.tok.kind == tAnd {
				p.advance()
				continue
			}
			if p.tok.kind == tArrow {
				break
			}
			switch p.tok.kind {
			case tOr:
				p.fail(ErrSyntax, p.tok.pos, "\"||\" is not part of the grammar; conditions are joined with \"&&\" only (write one rule per alternative)")
			case tLBrack, tNot:
				p.fail(ErrSyntax, p.tok.pos, "expected \"&&\" between conditions")
			case tIdent:
				if p.peek().kind == tColon {
					p.fail(ErrSyntax, p.tok.pos, "expected \"&&\" between conditions")
				}
			case tAssign:
				if p.peek().kind == tOp && p.peek().text == ">" {
					p.fail(ErrSyntax, p.tok.pos, "write \"=>\" without a space between = and >")
				}
			}
			p.fail(ErrSyntax, p.tok.pos, "expected \"&&\" or \"=>\" after a condition, found "+p.tok.describe())
		}
	}
	p.advance() // =>
	r.act = p.parseAction(s.kind)
	r.end = p.tok.end
	if p.tok.kind != tSemi {
		p.fail(ErrMissingSemicolon, p.prevEnd(), "expected \";\" after the action "+r.act.text+", found "+p.tok.describe())
	}
	p.advance()
	r.binds = append([]string(nil), p.binds...)
	if len(r.binds) > p.pol.maxSlots {
		p.pol.maxSlots = len(r.binds)
	}
	r.label = fmt.Sprintf("%s rule %d (line %d)", sectionNames[s.kind], r.index, r.line)
	r.permit = "permitted by " + r.label
	s.rules = append(s.rules, r)
	p.pol.allRules = append(p.pol.allRules, r)
}

func (p *parser) bindingSlot(name string) int {
	for i, b := range p.binds {
		if b == name {
			return i
		}
	}
	return -1
}

func (p *parser) parseCond() *cond {
	c := &cond{slot: -1, start: p.tok.pos}
	c.line, c.col, _ = p.position(c.start)
	if p.tok.kind == tNot {
		if p.pol.minor < 2 {
			p.fail(ErrVersionFeature, p.tok.pos, "the ! (claim absent) operator requires version=1.2; this policy is version "+p.pol.version)
		}
		c.negate = true
		p.advance()
	}
	var bindName string
	if p.tok.kind == tIdent {
		t := p.tok
		if p.peek().kind != tColon {
			if p.peek().kind == tLBrack {
				p.fail(ErrSyntax, p.peek().pos, "expected \":\" between the identifier "+t.text+" and \"[\", as in "+t.text+":[type==\"...\"]")
			}
			p.fail(ErrSyntax, t.pos, "expected a condition \"[...]\", found "+t.describe())
		}
		if c.negate {
			p.fail(ErrSyntax, t.pos, "a ! condition matches no claim, so it cannot bind the identifier "+t.text)
		}
		bindName = t.text
		if p.bindingSlot(bindName) >= 0 {
			p.fail(ErrDuplicateIdentifier, t.pos, "the identifier "+bindName+" is already bound in this rule; use another name")
		}
		if len(p.binds) >= maxBindings {
			p.fail(ErrTooLarge, t.pos, "too many identifiers in one rule")
		}
		p.advance()
		p.advance() // :
	}
	if p.tok.kind != tLBrack {
		p.fail(ErrSyntax, p.tok.pos, "expected \"[\" to start a condition, found "+p.tok.describe())
	}
	open := p.tok.pos
	p.advance()
	if p.tok.kind == tRBrack {
		p.fail(ErrSyntax, p.tok.pos, "an empty condition [] tests nothing; name at least one property, as in [type==\"...\"]")
	}
	for {
		c.props = append(c.props, p.parseProp(c))
		if p.tok.kind == tComma {
			p.advance()
			continue
		}
		if p.tok.kind == tRBrack {
			break
		}
		if p.tok.kind == tAnd {
			p.fail(ErrSyntax, p.tok.pos, "properties inside [...] are separated by \",\"; \"&&\" joins whole conditions, as in [type==\"a\"] && [type==\"b\"]")
		}
		if p.tok.kind == tEOF || p.tok.kind == tArrow || p.tok.kind == tSemi {
			p.fail(ErrSyntax, open, "this condition is not closed; add \"]\"")
		}
		p.fail(ErrSyntax, p.tok.pos, "expected \",\" or \"]\" in a condition, found "+p.tok.describe())
	}
	c.end = p.tok.end
	p.advance()
	if bindName != "" {
		c.slot = len(p.binds)
		p.binds = append(p.binds, bindName)
	}
	// evaluation order: a literal type== test first, it rejects most claims
	for i, pr := range c.props {
		if pr.f == fType && pr.o == opEq && pr.rhs.kind == eLit {
			c.order = append(c.order, i)
			if !c.hasType {
				c.typeLit, c.hasType = pr.rhs.lit.s, true
			}
		}
		if pr.rhs.kind != eLit {
			c.dynamic = true
		}
	}
	for i, pr := range c.props {
		if !(pr.f == fType && pr.o == opEq && pr.rhs.kind == eLit) {
			c.order = append(c.order, i)
		}
	}
	for _, pr := range c.props {
		if pr.f == fType && pr.o == opEq && pr.rhs.kind == eLit && pr.rhs.lit.k == kString {
			p.condTypes = append(p.condTypes, typeRef{pr.rhs.lit.s, pr.rhs.pos})
		}
	}
	p.lintCond(c)
	return c
}

func fieldByName(s string) (field, bool) {
	for i, n := range fieldNames {
		if strings.EqualFold(s, n) {
			return field(i), true
		}
	}
	return 0, false
}

func (p *parser) parseProp(c *cond) prop {
	t := p.tok
	if t.kind != tIdent {
		if t.kind == tString {
			p.fail(ErrSyntax, t.pos, "a condition tests a claim property: write type=="+strconv.Quote(t.text)+" rather than a bare string")
		}
		p.fail(ErrSyntax, t.pos, "expected a claim property (type, value, issuer or valueType), found "+t.describe())
	}
	f, ok := fieldByName(t.text)
	if !ok {
		p.fail(ErrUnknownKeyword, t.pos, fmt.Sprintf("%q is not a claim property%s; a condition tests type, value, issuer or valueType", t.text, suggest(t.text, fieldNames[:])))
	}
	p.keyword(t, fieldNames[f])
	p.advance()
	var o op
	switch p.tok.kind {
	case tOp:
		o = parseOp(p.tok.text)
	case tAssign:
		rhs := ""
		if nt := p.peek(); nt.kind != tEOF {
			rhs = p.src[nt.pos:nt.end]
		}
		p.fail(ErrSingleEquals, p.tok.pos, fmt.Sprintf("a single \"=\" in a condition does not compare; write %s==%s (two equals signs)", fieldNames[f], rhs))
	case tArrow:
		p.fail(ErrSyntax, p.tok.pos, "\"=>\" is not a comparison; did you mean \">=\"?")
	default:
		p.fail(ErrSyntax, p.tok.pos, "expected a comparison (==, !=, <, <=, >, >=) after "+fieldNames[f]+", found "+p.tok.describe())
	}
	opPos := p.tok.pos
	p.advance()
	rhs := p.parseExpr()
	pr := prop{f: f, o: o, rhs: rhs, pos: t.pos}
	// type rules
	if o >= opLt {
		if f != fValue {
			p.fail(ErrTypeError, opPos, fmt.Sprintf("%s is a String; strings are compared with == and != only", fieldNames[f]))
		}
		if rhs.static != kNone && rhs.static != kInt {
			p.fail(ErrTypeError, opPos, fmt.Sprintf("%s compares Integers, but %s is %s; Strings and Booleans are compared with == and != only", o, p.src[rhs.pos:rhs.end], rhs.static.article()))
		}
	}
	if f != fValue && rhs.static != kNone && rhs.static != kString {
		p.fail(ErrTypeError, rhs.pos, fmt.Sprintf("%s is a String, but %s is %s; write %s==\"...\"", fieldNames[f], p.src[rhs.pos:rhs.end], rhs.static.article(), fieldNames[f]))
	}
	if f == fValueType && rhs.kind == eLit {
		switch rhs.lit.s {
		case "String", "Integer", "Boolean":
		default:
			p.fail(ErrTypeError, rhs.pos, fmt.Sprintf("valueType is one of \"String\", \"Integer\" or \"Boolean\", not %q", rhs.lit.s))
		}
	}
	return pr
}

func (p *parser) parseExpr() *expr {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		p.fail(ErrTooLarge, p.tok.pos, "function calls are nested too deeply")
	}
	t := p.tok
	switch t.kind {
	case tString:
		p.advance()
		return &expr{kind: eLit, lit: stringValue(t.text), static: kString, pos: t.pos, end: t.end}
	case tInt:
		i, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			p.fail(ErrBadNumber, t.pos, t.text+" is out of range; integers are 64-bit")
		}
		p.advance()
		return &expr{kind: eLit, lit: intValue(i), static: kInt, pos: t.pos, end: t.end}
	case tVersion:
		p.fail(ErrBadNumber, t.pos, t.text+" is a fraction; claim values are integers, strings or booleans")
	case tIdent:
		if strings.EqualFold(t.text, "true") || strings.EqualFold(t.text, "false") {
			if nt := p.peek(); nt.kind != tDot && nt.kind != tLParen {
				p.keyword(t, strings.ToLower(t.text))
				p.advance()
				return &expr{kind: eLit, lit: boolValue(strings.EqualFold(t.text, "true")), static: kBool, pos: t.pos, end: t.end}
			}
		}
		switch p.peek().kind {
		case tLParen:
			return p.parseCall()
		case tDot:
			slot := p.bindingSlot(t.text)
			if slot < 0 {
				msg := fmt.Sprintf("%s is not bound in this rule; bind it first with %s:[...] in an earlier condition of the same rule", t.text, t.text)
				if s := suggest(t.text, p.binds); s != "" {
					msg = fmt.Sprintf("%s is not bound in this rule%s", t.text, s)
				}
				p.fail(ErrUnknownIdentifier, t.pos, msg)
			}
			p.advance()
			p.advance() // .
			ft := p.tok
			if ft.kind != tIdent {
				p.fail(ErrSyntax, ft.pos, "expected type, value, issuer or valueType after "+t.text+".")
			}
			f, ok := fieldByName(ft.text)
			if !ok {
				p.fail(ErrUnknownKeyword, ft.pos, fmt.Sprintf("%q is not a claim property%s; use %s.type, %s.value, %s.issuer or %s.valueType", ft.text, suggest(ft.text, fieldNames[:]), t.text, t.text, t.text, t.text))
			}
			p.keyword(ft, fieldNames[f])
			p.advance()
			st := kNone
			if f != fValue {
				st = kString
			}
			return &expr{kind: eRef, slot: slot, f: f, name: t.text, static: st, pos: t.pos, end: ft.end}
		}
		if _, ok := functionByName(t.text); ok {
			p.fail(ErrSyntax, p.peek().pos, "expected \"(\" after the function name "+t.text)
		}
		p.fail(ErrSyntax, t.pos, fmt.Sprintf("unquoted word %q; strings are written in double quotes, as in \"%s\"", t.text, t.text))
	case tOp, tAssign:
		if ph := placeholder(p.src[t.pos:]); ph != "" {
			p.fail(ErrSyntax, t.pos, "the template placeholder "+ph+" must be replaced with a value")
		}
		if t.text == "=" || t.text == "==" {
			p.fail(ErrSyntax, t.pos, "\""+t.text+"\" appears twice; write a single comparison such as value==1")
		}
	}
	p.fail(ErrSyntax, t.pos, "expected a value (a \"string\", an integer, true, false, c.value or a function call), found "+t.describe())
	return nil
}

func (p *parser) parseCall() *expr {
	t := p.tok
	fn, ok := functionByName(t.text)
	if !ok {
		names := make([]string, len(functions))
		for i, f := range functions {
			names[i] = f.name
		}
		p.fail(ErrUnknownFunction, t.pos, fmt.Sprintf("unknown function %s%s; the functions are %s", t.text, suggest(t.text, names), strings.Join(names, ", ")))
	}
	if t.text != fn.name {
		p.warn(WarnKeywordCase, t.pos, fmt.Sprintf("the function %q is written %q in MAA's grammar; avow accepts it, but other tools may not", t.text, fn.name))
	}
	if p.pol.minor < 2 {
		p.fail(ErrVersionFeature, t.pos, fmt.Sprintf("the function %s requires version=1.2; this policy is version %s", fn.name, p.pol.version))
	}
	p.advance()
	p.advance() // (
	e := &expr{kind: eCall, fn: fn, name: fn.name, static: fn.result, pos: t.pos}
	if p.tok.kind != tRParen {
		for {
			e.args = append(e.args, p.parseExpr())
			if p.tok.kind == tComma {
				p.advance()
				continue
			}
			break
		}
	}
	if p.tok.kind != tRParen {
		p.fail(ErrSyntax, p.tok.pos, "expected \",\" or \")\" in the arguments of "+fn.name+", found "+p.tok.describe())
	}
	e.end = p.tok.end
	p.advance()
	if len(e.args) != len(fn.args) {
		plural := "s"
		if len(fn.args) == 1 {
			plural = ""
		}
		p.fail(ErrFunctionArity, t.pos, fmt.Sprintf("%s takes %d argument%s (%s), not %d", fn.name, len(fn.args), plural, fn.sig, len(e.args)))
	}
	for i, a := range e.args {
		want := fn.args[i]
		if want != kNone && a.static != kNone && a.static != want {
			p.fail(ErrTypeError, a.pos, fmt.Sprintf("argument %d of %s must be %s, but %s is %s", i+1, fn.name, want.article(), p.src[a.pos:a.end], a.static.article()))
		}
	}
	if fn.id == fnJmesPath && e.args[1].kind == eLit {
		q, err := compileJmes(e.args[1].lit.s)
		if err != nil {
			off := e.args[1].pos + 1
			if je, ok := err.(*jmesError); ok {
				off += rawOffset(p.src[e.args[1].pos+1:e.args[1].end-1], je.pos)
			}
			p.fail(ErrJmesPathSyntax, off, "the JmesPath query is not valid: "+err.Error())
		}
		e.query = q
	}
	return e
}

// rawOffset maps an offset in an unescaped string back to its source text.
func rawOffset(raw string, n int) int {
	i := 0
	for n > 0 && i < len(raw) {
		if raw[i] == '\\' && i+1 < len(raw) {
			i += 2
		} else {
			i++
		}
		n--
	}
	return i
}

func (p *parser) parseAction(sec Section) action {
	t := p.tok
	if t.kind != tIdent {
		p.fail(ErrSyntax, t.pos, "expected an action after \"=>\": permit(), deny(), add(...), issue(...) or issueproperty(...); found "+t.describe())
	}
	k, ok := actionByName(t.text)
	if !ok {
		p.fail(ErrUnknownKeyword, t.pos, fmt.Sprintf("unknown action %q%s; the actions are permit(), deny(), add(...), issue(...) and issueproperty(...)", t.text, suggest(t.text, actionNames[:])))
	}
	p.keyword(t, actionNames[k])
	a := action{kind: k, claimSlot: -1, pos: t.pos}
	switch {
	case (k == aPermit || k == aDeny) && sec != Authorization:
		p.fail(ErrActionSection, t.pos, actionNames[k]+"() is only allowed in authorizationrules")
	case k == aAdd && sec == Configuration:
		p.fail(ErrActionSection, t.pos, "add(...) is not allowed in configurationrules, which only set properties with issueproperty(...)")
	case k == aIssue && sec == Configuration:
		p.fail(ErrActionSection, t.pos, "issue(...) is not allowed in configurationrules, which only set properties with issueproperty(...)")
	case k == aIssue && sec == Authorization:
		a.asAdd = true
		p.warn(WarnIssueInAuthz, t.pos, "issue(...) in authorizationrules cannot put a claim in the token (MAA: \"no claims can be issued from this section\"); avow treats it as add(...). Move it to issuancerules to issue the claim")
	case k == aIssueProperty && sec == Authorization:
		p.fail(ErrActionSection, t.pos, "issueproperty(...) is only allowed in configurationrules and issuancerules")
	}
	p.advance()
	if p.tok.kind != tLParen {
		p.fail(ErrSyntax, p.tok.pos, "expected \"(\" after "+actionNames[k])
	}
	p.advance()
	if k == aPermit || k == aDeny {
		if p.tok.kind != tRParen {
			p.fail(ErrSyntax, p.tok.pos, actionNames[k]+"() takes no arguments")
		}
		a.text = actionNames[k] + "()"
		p.advance()
		return a
	}
	argStart := p.tok.pos
	if p.keywordPeekAssign("claim") {
		p.advance()
		p.advance() // =
		id := p.tok
		if id.kind != tIdent {
			p.fail(ErrSyntax, id.pos, "expected an identifier after claim=, as in issue(claim=c)")
		}
		a.claimSlot = p.bindingSlot(id.text)
		if a.claimSlot < 0 {
			p.fail(ErrUnknownIdentifier, id.pos, fmt.Sprintf("%s is not bound in this rule; bind it with %s:[...] in a condition of the same rule", id.text, id.text))
		}
		p.advance()
	} else {
		seen := map[string]bool{}
		for {
			nt := p.tok
			if nt.kind != tIdent || (p.peek().kind != tAssign && p.peek().kind != tOp) {
				p.fail(ErrSyntax, nt.pos, fmt.Sprintf("expected type=... or claim=...: the arguments are named, as in %s(type=\"name\", value=c.value)", actionNames[k]))
			}
			name := ""
			for _, n := range []string{"type", "value", "valueType"} {
				if strings.EqualFold(nt.text, n) {
					name = n
				}
			}
			if name == "" {
				p.fail(ErrUnknownKeyword, nt.pos, fmt.Sprintf("%q is not an argument of %s%s; the arguments are type, value and valueType (or claim)", nt.text, actionNames[k], suggest(nt.text, []string{"type", "value", "valueType", "claim"})))
			}
			p.keyword(nt, name)
			if seen[name] {
				p.fail(ErrSyntax, nt.pos, name+" is given twice")
			}
			seen[name] = true
			p.advance()
			if p.tok.kind == tOp {
				p.fail(ErrSyntax, p.tok.pos, "an action sets its arguments with a single \"=\", as in "+name+"=..., while conditions compare with \"==\"")
			}
			p.advance() // =
			e := p.parseExpr()
			switch name {
			case "type":
				if e.static != kNone && e.static != kString {
					p.fail(ErrTypeError, e.pos, "the claim type must be a String, as in type=\"name\"")
				}
				a.typ = e
			case "value":
				a.val = e
			case "valueType":
				if e.kind != eLit || e.static != kString || (e.lit.s != "String" && e.lit.s != "Integer" && e.lit.s != "Boolean") {
					p.fail(ErrTypeError, e.pos, "valueType is one of \"String\", \"Integer\" or \"Boolean\"")
				}
				a.valueType = e.lit.s
			}
			if p.tok.kind == tComma {
				p.advance()
				continue
			}
			break
		}
		if a.typ == nil {
			p.fail(ErrSyntax, argStart, actionNames[k]+"(...) needs type=\"...\"")
		}
		if a.val == nil {
			p.fail(ErrSyntax, argStart, actionNames[k]+"(...) needs value=...")
		}
		if a.valueType != "" && a.val.kind == eLit {
			if _, ok := coerce(a.val.lit, a.valueType); !ok {
				p.fail(ErrTypeError, a.val.pos, fmt.Sprintf("%s cannot be converted to valueType %s", p.src[a.val.pos:a.val.end], a.valueType))
			}
		}
	}
	if p.tok.kind != tRParen {
		p.fail(ErrSyntax, p.tok.pos, "expected \",\" or \")\" in "+actionNames[k]+"(...), found "+p.tok.describe())
	}
	a.text = p.src[t.pos:p.tok.end]
	p.advance()
	if a.typ != nil && (k == aAdd || k == aIssue || k == aIssueProperty) {
		if a.typ.kind == eLit {
			if p.policyTypes == nil {
				p.policyTypes = map[string]bool{}
			}
			p.policyTypes[a.typ.lit.s] = true
		} else {
			p.anyType = true
		}
	}
	p.lintAction(sec, &a)
	return a
}

// keywordPeekAssign reports whether the current token is word followed by "=".
func (p *parser) keywordPeekAssign(word string) bool {
	if p.tok.kind != tIdent || !strings.EqualFold(p.tok.text, word) {
		return false
	}
	nt := p.peek()
	if nt.kind != tAssign {
		return false
	}
	p.keyword(p.tok, word)
	return true
}

// suggest returns ` (did you mean "x"?)` for the candidate closest to s.
func suggest(s string, candidates []string) string {
	best, bestD := "", 3
	ls := strings.ToLower(s)
	for _, c := range candidates {
		d := claims.EditDistance(ls, strings.ToLower(c))
		if d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// placeholder returns "<name>" when s starts with a documentation template
// placeholder such as <product-id>.
func placeholder(s string) string {
	if !strings.HasPrefix(s, "<") {
		return ""
	}
	for i := 1; i < len(s) && i < 64; i++ {
		c := s[i]
		if c == '>' && i > 1 {
			return s[:i+1]
		}
		if !(isIdentChar(c) || c == '-' || c == ' ') {
			return ""
		}
	}
	return ""
}
