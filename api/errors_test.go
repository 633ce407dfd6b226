package api

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestErrorSaidOnce: a quote the parser refuses is refused by the verifier
// with the same code; the body says the code once, the sentence once and
// the detail once (it used to say "the quote format is not supported:
// unsupported_quote_format: the quote format is not supported: ...").
func TestErrorSaidOnce(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tc := range []struct {
		quote      []byte
		code, want string
	}{
		{append([]byte("# avow\n"), make([]byte, 1100)...), // README.md sent as a quote
			"unsupported_quote_format", "the quote format is not supported: quote version 8227 is not supported (3, 4 or 5)"},
		{[]byte("# avow"), "unsupported_quote_format", "the quote format is not supported: quote is 6 bytes, the minimum is "},
	} {
		r := e.do(t, "POST", attestPath, "", strings.NewReader(e.attestBody(tc.quote)), "Content-Type", "application/json")
		var b errBody
		if err := json.Unmarshal(r.body, &b); err != nil || r.status != 400 {
			t.Fatalf("%d %s", r.status, r.body)
		}
		if b.Error.Code != tc.code || !strings.HasPrefix(b.Error.Message, tc.want) {
			t.Errorf("body %s\nwant code %s, message %q", r.body, tc.code, tc.want)
		}
		seen := map[string]bool{}
		for _, part := range strings.Split(b.Error.Message, ": ") {
			if seen[part] || part == b.Error.Code {
				t.Errorf("%q is said twice: %s", part, r.body)
			}
			seen[part] = true
		}
	}
}
