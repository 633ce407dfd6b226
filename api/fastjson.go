package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// decodeAttestBody is json.Unmarshal(raw, body) with a fast path for the
// shape clients send: one object whose members are ASCII strings without
// escapes, null, or the runtimeData / initTimeData objects of such
// strings. The quote is a few KiB of base64, and encoding/json reads it
// twice (validation, then decoding) with per-byte checks; the fast path
// reads it once. Anything else (escapes, numbers, non-ASCII text,
// duplicate members, nested values elsewhere, malformed JSON) takes
// encoding/json, so the results and errors are encoding/json's.
func decodeAttestBody(raw []byte, body *attestBody) error {
	var fast attestBody
	if parseAttestFast(raw, &fast) {
		*body = fast
		return nil
	}
	return json.Unmarshal(raw, body)
}

type fastScanner struct {
	b []byte
	i int
}

func (s *fastScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *fastScanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string of printable ASCII without escapes.
func (s *fastScanner) str() (string, bool) {
	if s.peek() != '"' {
		return "", false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return string(s.b[start:j]), true
		}
		if c == '\\' || c < 0x20 || c >= 0x80 {
			return "", false
		}
	}
	return "", false
}

func (s *fastScanner) null() bool {
	if strings.HasPrefix(string(s.b[s.i:min(len(s.b), s.i+4)]), "null") {
		s.i += 4
		return true
	}
	return false
}

// members is object with the keys in lower case (the API's property names
// are case-insensitive); a key that comes twice, in any case, fails the
// read so that encoding/json decides.
func (s *fastScanner) members(member func(lowerKey string) bool) bool {
	var seen []string // a handful of members: a slice, not a map
	return s.object(func(key string) bool {
		k := strings.ToLower(key)
		if slices.Contains(seen, k) {
			return false
		}
		seen = append(seen, k)
		return member(k)
	})
}

// object reads {"k": v, ...} calling member for each key; member reads the
// value and reports whether it could.
func (s *fastScanner) object(member func(key string) bool) bool {
	s.ws()
	if s.peek() != '{' {
		return false
	}
	s.i++
	s.ws()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.ws()
		key, ok := s.str()
		if !ok {
			return false
		}
		s.ws()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.ws()
		if !member(key) {
			return false
		}
		s.ws()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

// optString reads a string or null into *dst (nil for null).
func (s *fastScanner) optString(dst **string) bool {
	if s.null() {
		*dst = nil
		return true
	}
	v, ok := s.str()
	if !ok {
		return false
	}
	*dst = &v
	return true
}

func (s *fastScanner) data(dst **dataJSON) bool {
	if s.null() {
		*dst = nil
		return true
	}
	d := &dataJSON{}
	ok := s.members(func(k string) bool {
		switch k {
		case "data":
			return s.optString(&d.Data)
		case "datatype":
			if s.null() {
				return true
			}
			v, ok := s.str()
			d.DataType = v
			return ok
		}
		var ignored *string
		return s.optString(&ignored)
	})
	*dst = d
	return ok
}

func parseAttestFast(raw []byte, body *attestBody) bool {
	s := &fastScanner{b: raw}
	ok := s.members(func(k string) bool {
		switch k {
		case "quote":
			return s.optString(&body.Quote)
		case "report":
			return s.optString(&body.Report)
		case "draftpolicyforattestation":
			return s.optString(&body.DraftPolicy)
		case "nonce":
			return s.optString(&body.Nonce)
		case "enclavehelddata":
			return s.optString(&body.EnclaveHeldData)
		case "runtimedata":
			return s.data(&body.RuntimeData)
		case "inittimedata":
			return s.data(&body.InitTimeData)
		}
		var ignored *string
		return s.optString(&ignored)
	})
	if !ok {
		return false
	}
	s.ws()
	return s.i == len(s.b)
}

// writeToken writes MAA's {"token": "..."} answer. A JWS is base64url and
// dots, which JSON needs no escaping for; anything else goes through
// encoding/json.
func writeToken(w http.ResponseWriter, tok string) {
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if !('A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			writeJSON(w, http.StatusOK, map[string]string{"token": tok})
			return
		}
	}
	buf := make([]byte, 0, len(tok)+13)
	buf = append(buf, `{"token":"`...)
	buf = append(buf, tok...)
	buf = append(buf, "\"}\n"...)
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	// With its length known the answer is not chunked (net/http chunks
	// bodies over 2 kB written without one).
	h.Set("Content-Length", strconv.Itoa(len(buf)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}

// urlSafe turns the standard base64 alphabet into the URL alphabet
// without allocating when there is nothing to change.
func urlSafe(s string) string {
	if !strings.ContainsAny(s, "+/") {
		return s
	}
	return strings.NewReplacer("+", "-", "/", "_").Replace(s)
}
