package quote

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// Decode turns user input into raw quote bytes. The input may be the raw
// binary quote, the raw OpenEnclave report, or hex or base64 text of
// either. Text is recognised when every byte is printable ASCII or
// whitespace (a binary quote starts with a NUL byte in its version field,
// an OpenEnclave report in its version u32); whitespace anywhere in it,
// such as line wrapping, is ignored, and a "0x" prefix is allowed for hex.
// Hex is tried first (all hex digits, even length), then base64 with the
// standard or the URL alphabet, padded or not.
//
// When the decoded bytes start with an OpenEnclave envelope (u32 version 1)
// the envelope is checked and stripped, and openEnclave is true. The quote
// itself is not parsed: pass quoteBytes to Parse. Raw binary input is
// returned without copying.
func Decode(input []byte) (quoteBytes []byte, openEnclave bool, err error) {
	b := input
	if isText(input) {
		b, err = decodeText(input)
		if err != nil {
			return nil, false, err
		}
	}
	if isOpenEnclave(b) {
		q, err := stripOpenEnclave(b)
		if err != nil {
			return nil, false, err
		}
		return q, true, nil
	}
	return b, false, nil
}

// isText reports whether b is non-empty and consists of printable ASCII
// and whitespace only.
func isText(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if (c < 0x20 || c > 0x7e) && c != '\t' && c != '\n' && c != '\r' && c != '\v' && c != '\f' {
			return false
		}
	}
	return true
}

func decodeText(input []byte) ([]byte, error) {
	s := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			return -1
		}
		return r
	}, string(input))
	if s == "" {
		return nil, ErrUnsupportedFormat.Wrapf("input is empty")
	}
	h := s
	if len(h) > 2 && (h[:2] == "0x" || h[:2] == "0X") {
		h = h[2:]
	}
	if len(h)%2 == 0 && isHex(h) {
		return hex.DecodeString(h)
	}
	if b, ok := decodeBase64(s); ok {
		return b, nil
	}
	return nil, ErrUnsupportedFormat.Wrapf("input is text but neither hex nor base64 (%d characters)", len(s))
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

// decodeBase64 accepts the standard and the URL alphabet (not mixed),
// padded or not.
func decodeBase64(s string) ([]byte, bool) {
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		if strings.ContainsAny(s, "+/") {
			return nil, false
		}
		enc = base64.RawURLEncoding
	}
	// Padding is optional; strip it (at most two '=' at the end).
	t := strings.TrimRight(s, "=")
	if len(s)-len(t) > 2 || (len(s) != len(t) && len(s)%4 != 0) {
		return nil, false
	}
	b, err := enc.Strict().DecodeString(t)
	if err != nil {
		return nil, false
	}
	return b, true
}
