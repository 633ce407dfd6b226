package policy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/avowhq/avow/internal/vectors"
)

// FuzzParse parses arbitrary text. Seeds: every policy of the vector table
// and of the shared MAA vectors. Invariants: no panic; errors are
// *SyntaxError with a code and a position inside the text; a valid policy
// evaluates without panicking, its canonical form parses, and evaluation is
// deterministic.
func FuzzParse(f *testing.F) {
	for _, c := range loadVectorCases(f) {
		if c.text != "" {
			f.Add(c.text)
		}
	}
	dir := vectors.Dir(f, "maa")
	files, _ := filepath.Glob(filepath.Join(dir, "*", "*.txt"))
	more, _ := filepath.Glob(filepath.Join(dir, "*", "*", "*.txt"))
	for _, file := range append(files, more...) {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b))
		}
	}
	claims := append(sgxClaims(), Claim{Type: "events", Value: `{"Events":[{"PcrIndex":7,"EventTypeString":"EV_EFI_VARIABLE_DRIVER_CONFIG"}]}`},
		Claim{Type: "a", Value: 1}, Claim{Type: "a", Value: "x"}, Claim{Type: "b", Value: true, Issuer: IssuerCustomClaim})
	f.Fuzz(func(t *testing.T, text string) {
		p, err := Parse(text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v", err, err)
			}
			if se.Code == "" || se.Line < 1 || se.Column < 1 || se.Line > strings.Count(text, "\n")+1 || !strings.Contains(se.Snippet, "^") {
				t.Fatalf("bad error %#v", se)
			}
			if !utf8.ValidString(se.Message) {
				t.Fatalf("message not UTF-8: %q", se.Message)
			}
			return
		}
		r1, err1 := p.Evaluate(claims, EvalOptions{})
		r2, err2 := p.Evaluate(claims, EvalOptions{Trace: true})
		if (err1 == nil) != (err2 == nil) || r1.Permitted != r2.Permitted || r1.Reason != r2.Reason {
			t.Fatalf("evaluation not deterministic: %+v %v / %+v %v", r1, err1, r2, err2)
		}
		if p.Condensed() {
			if _, err := Parse(p.Canonical()); err != nil {
				t.Fatalf("canonical form does not parse: %v\n%s", err, p.Canonical())
			}
		}
	})
}

// FuzzJmesPath compiles and runs arbitrary queries.
func FuzzJmesPath(f *testing.F) {
	for _, q := range []string{"a.b", "foo[?bar > `1`].baz | [0]", "[*].x[]", "length(@) == `1` && @[0]", "{a: b, c: [d, e]}", "sort_by(p, &age)[-1:]"} {
		f.Add(q)
	}
	data, _ := parseJSON(`{"a": {"b": [1, {"c": "x"}]}, "foo": [{"bar": 2, "baz": "y"}], "p": [{"age": 3}, {"age": 1}]}`)
	f.Fuzz(func(t *testing.T, q string) {
		n, err := compileJmes(q)
		if err != nil {
			return
		}
		// The fuzzer finds exponential queries; the budget must stop them.
		_, _ = searchJmes(n, data, &jrun{steps: maxWork, bytes: maxBytes})
	})
}
