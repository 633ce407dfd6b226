package policy

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF     tokKind = iota
	tIdent           // letters, digits, _ ; also keywords
	tString          // "..." (value unescaped in tok.text)
	tInt             // decimal integer (text holds digits, with a leading - if negative)
	tVersion         // 1.0 style number
	tSemi            // ;
	tLBrace          // {
	tRBrace          // }
	tLBrack          // [
	tRBrack          // ]
	tLParen          // (
	tRParen          // )
	tComma           // ,
	tColon           // :
	tDot             // .
	tAssign          // =
	tArrow           // =>
	tAnd             // &&
	tOr              // ||
	tNot             // !
	tOp              // == != < <= > >=
)

var tokNames = [...]string{
	tEOF: "end of policy", tIdent: "word", tString: "string", tInt: "integer", tVersion: "number",
	tSemi: "\";\"", tLBrace: "\"{\"", tRBrace: "\"}\"", tLBrack: "\"[\"", tRBrack: "\"]\"",
	tLParen: "\"(\"", tRParen: "\")\"", tComma: "\",\"", tColon: "\":\"", tDot: "\".\"",
	tAssign: "\"=\"", tArrow: "\"=>\"", tAnd: "\"&&\"", tOr: "\"||\"", tNot: "\"!\"", tOp: "operator",
}

type token struct {
	kind tokKind
	text string // identifier text, unescaped string, number text, operator text
	pos  int    // byte offset of the first character
	end  int    // byte offset after the last character
}

// describe names a token for an error message.
func (t token) describe() string {
	switch t.kind {
	case tIdent:
		return strconv.Quote(t.text)
	case tString:
		return "string " + strconv.Quote(t.text)
	case tInt, tVersion:
		return t.text
	case tOp:
		return `"` + t.text + `"`
	}
	return tokNames[t.kind]
}

// lexer turns the policy text into tokens. Positions are byte offsets; the
// parser converts them to line and column for errors.
type lexer struct {
	src string
	pos int
	p   *parser
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

func (lx *lexer) next() (token, *SyntaxError) {
	src := lx.src
	// skip whitespace and comments
	for lx.pos < len(src) {
		c := src[lx.pos]
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' {
			lx.pos++
			continue
		}
		if c == '/' && lx.pos+1 < len(src) && src[lx.pos+1] == '/' {
			nl := strings.IndexByte(src[lx.pos:], '\n')
			if nl < 0 {
				lx.pos = len(src)
			} else {
				lx.pos += nl + 1
			}
			continue
		}
		if c == '/' && lx.pos+1 < len(src) && src[lx.pos+1] == '*' {
			return token{}, lx.p.errAt(ErrSyntax, lx.pos, "block comments /* ... */ are not part of the grammar; use // comments, which run to the end of the line")
		}
		if c == 0xEF && strings.HasPrefix(src[lx.pos:], "\uFEFF") && lx.pos == 0 {
			lx.pos += 3 // byte order mark
			continue
		}
		if c == 0xC2 && strings.HasPrefix(src[lx.pos:], "\u00A0") {
			lx.pos += 2 // no-break space, as pasted from web pages
			continue
		}
		break
	}
	start := lx.pos
	if lx.pos >= len(src) {
		return token{kind: tEOF, pos: start, end: start}, nil
	}
	c := src[lx.pos]
	one := func(k tokKind) (token, *SyntaxError) {
		lx.pos++
		return token{kind: k, text: src[start:lx.pos], pos: start, end: lx.pos}, nil
	}
	two := func(k tokKind) (token, *SyntaxError) {
		lx.pos += 2
		return token{kind: k, text: src[start:lx.pos], pos: start, end: lx.pos}, nil
	}
	peek := byte(0)
	if lx.pos+1 < len(src) {
		peek = src[lx.pos+1]
	}
	switch {
	case isIdentStart(c) || c == '$':
		lx.pos++
		for lx.pos < len(src) && isIdentChar(src[lx.pos]) {
			lx.pos++
		}
		if c == '$' {
			return token{}, lx.p.errAt(ErrBadCharacter, start, "\"$\" may only appear inside a quoted claim type, as in type==\"$is-debuggable\"")
		}
		return token{kind: tIdent, text: src[start:lx.pos], pos: start, end: lx.pos}, nil
	case c >= '0' && c <= '9':
		return lx.number(start, false)
	case c == '-' && peek >= '0' && peek <= '9':
		lx.pos++
		return lx.number(start, true)
	case c == '"':
		return lx.str(start)
	case c == ';':
		return one(tSemi)
	case c == '{':
		return one(tLBrace)
	case c == '}':
		return one(tRBrace)
	case c == '[':
		return one(tLBrack)
	case c == ']':
		return one(tRBrack)
	case c == '(':
		return one(tLParen)
	case c == ')':
		return one(tRParen)
	case c == ',':
		return one(tComma)
	case c == ':':
		return one(tColon)
	case c == '.':
		return one(tDot)
	case c == '=':
		if peek == '=' {
			return two(tOp)
		}
		if peek == '>' {
			return two(tArrow)
		}
		return one(tAssign)
	case c == '!':
		if peek == '=' {
			return two(tOp)
		}
		return one(tNot)
	case c == '<' || c == '>':
		if peek == '=' {
			return two(tOp)
		}
		return one(tOp)
	case c == '&':
		if peek == '&' {
			return two(tAnd)
		}
		return token{}, lx.p.errAt(ErrSyntax, start, "a single \"&\" is not an operator; conditions are joined with \"&&\"")
	case c == '|':
		if peek == '|' {
			return two(tOr)
		}
		return token{}, lx.p.errAt(ErrSyntax, start, "\"|\" is not an operator of the policy grammar")
	case c == '\'':
		return token{}, lx.p.errAt(ErrBadCharacter, start, "strings are written in double quotes \"...\"; single quotes are only used inside JmesPath queries")
	}
	r, size := utf8.DecodeRuneInString(src[lx.pos:])
	switch r {
	case '\u201C', '\u201D', '\u201E', '\u2033':
		return token{}, lx.p.errAt(ErrBadCharacter, start, "typographic quote "+string(r)+" (as pasted from a document); write a plain double quote \"")
	case '\u2018', '\u2019':
		return token{}, lx.p.errAt(ErrBadCharacter, start, "typographic quote "+string(r)+" (as pasted from a document); strings use plain double quotes \"")
	case '\u2013', '\u2014':
		return token{}, lx.p.errAt(ErrBadCharacter, start, "typographic dash "+string(r)+" (as pasted from a document); write a plain -")
	case utf8.RuneError:
		if size <= 1 {
			return token{}, lx.p.errAt(ErrBadCharacter, start, "the policy is not valid UTF-8 text")
		}
	}
	if r < 0x20 || r == 0x7f {
		return token{}, lx.p.errAt(ErrBadCharacter, start, "control character "+strconv.QuoteRune(r)+" is not allowed outside strings")
	}
	return token{}, lx.p.errAt(ErrBadCharacter, start, "unexpected character "+strconv.QuoteRune(r))
}

func (lx *lexer) number(start int, neg bool) (token, *SyntaxError) {
	src := lx.src
	if src[lx.pos] == '0' && lx.pos+1 < len(src) && (src[lx.pos+1] == 'x' || src[lx.pos+1] == 'X') {
		return token{}, lx.p.errAt(ErrBadNumber, start, "hexadecimal numbers are not supported; write the value in decimal")
	}
	for lx.pos < len(src) && src[lx.pos] >= '0' && src[lx.pos] <= '9' {
		lx.pos++
	}
	kind := tInt
	if lx.pos+1 < len(src) && src[lx.pos] == '.' && src[lx.pos+1] >= '0' && src[lx.pos+1] <= '9' {
		lx.pos++
		for lx.pos < len(src) && src[lx.pos] >= '0' && src[lx.pos] <= '9' {
			lx.pos++
		}
		kind = tVersion
		if neg {
			return token{}, lx.p.errAt(ErrBadNumber, start, "fractions are not supported; claim values are integers")
		}
	}
	if lx.pos < len(src) && isIdentStart(src[lx.pos]) {
		return token{}, lx.p.errAt(ErrBadNumber, start, "a number runs into letters; identifiers start with a letter and numbers are decimal")
	}
	return token{kind: kind, text: src[start:lx.pos], pos: start, end: lx.pos}, nil
}

// str lexes a double-quoted string. Escapes: \" and \\ only.
func (lx *lexer) str(start int) (token, *SyntaxError) {
	src := lx.src
	lx.pos++ // opening quote
	var b strings.Builder
	plain := lx.pos
	escaped := false
	for {
		if lx.pos >= len(src) {
			return token{}, lx.p.errAt(ErrUnterminatedString, start, "this string is never closed; add the closing \"")
		}
		c := src[lx.pos]
		switch c {
		case '"':
			text := src[plain:lx.pos]
			if escaped {
				b.WriteString(text)
				text = b.String()
			}
			lx.pos++
			return token{kind: tString, text: text, pos: start, end: lx.pos}, nil
		case '\n', '\r':
			return token{}, lx.p.errAt(ErrUnterminatedString, start, "this string is not closed before the end of the line; add the closing \" (a string cannot span lines)")
		case '\\':
			if !escaped {
				escaped = true
			}
			b.WriteString(src[plain:lx.pos])
			if lx.pos+1 >= len(src) {
				return token{}, lx.p.errAt(ErrUnterminatedString, start, "this string is never closed; add the closing \"")
			}
			n := src[lx.pos+1]
			if n != '"' && n != '\\' {
				r, _ := utf8.DecodeRuneInString(src[lx.pos+1:])
				return token{}, lx.p.errAt(ErrBadEscape, lx.pos, "unsupported escape \\"+string(r)+" in a string; only \\\" and \\\\ are escapes (write \\\\ for a backslash)")
			}
			b.WriteByte(n)
			lx.pos += 2
			plain = lx.pos
		default:
			if c >= 0x80 {
				r, size := utf8.DecodeRuneInString(src[lx.pos:])
				if r == utf8.RuneError && size <= 1 {
					return token{}, lx.p.errAt(ErrBadCharacter, lx.pos, "the policy is not valid UTF-8 text")
				}
				if r == '\u201D' || r == '\u201C' {
					// A string opened with " and "closed" with a typographic quote.
					if rest := src[lx.pos+size:]; len(rest) == 0 || strings.IndexByte("\r\n;,)]} \t", rest[0]) >= 0 {
						return token{}, lx.p.errAt(ErrBadCharacter, lx.pos, "typographic quote "+string(r)+" where the string should end (as pasted from a document); write a plain double quote \"")
					}
				}
				lx.pos += size
				continue
			}
			lx.pos++
		}
	}
}
