package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/vectors"
)

// The test-vector table: policy/testdata/vectors_*.json. Each case names a
// policy (inline, a file under testdata, or a file of the shared MAA
// vectors), the incoming claims and the expected outcome or the exact error.
// The same table drives these tests, the examples of docs/policy.md and the
// CLI golden tests.

type vectorFile struct {
	Description string       `json:"description"`
	Cases       []vectorCase `json:"cases"`
}

type vectorCase struct {
	Name   string `json:"name"`
	Doc    string `json:"doc,omitempty"`    // set: the case is an example in docs/policy.md
	Source string `json:"source,omitempty"` // where the policy comes from

	Policy     lines  `json:"policy,omitempty"`      // inline text: a string or a list of lines
	PolicyFile string `json:"policy_file,omitempty"` // relative to policy/testdata
	Vector     string `json:"vector,omitempty"`      // relative to ../shared/vectors/maa: policy .txt or document .jws

	Claims       json.RawMessage `json:"claims,omitempty"`        // object or list
	ClaimSet     string          `json:"claim_set,omitempty"`     // name in claimsets.json
	ClaimsVector string          `json:"claims_vector,omitempty"` // "file.json#key/key" in the shared vectors

	Expected *expectation   `json:"expected,omitempty"`
	Error    *expectedError `json:"error,omitempty"`
	Document *expectedDoc   `json:"document,omitempty"`
}

// lines is a text written in JSON as one string or as a list of lines.
type lines string

func (l *lines) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = lines(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*l = lines(strings.Join(list, "\n"))
	return nil
}

type expectation struct {
	Permitted      bool           `json:"permitted"`
	Issued         map[string]any `json:"issued,omitempty"`
	Properties     map[string]any `json:"properties,omitempty"`
	ReasonContains []string       `json:"reason_contains,omitempty"`
	Warnings       []string       `json:"warnings,omitempty"`
	EvalError      *expectedError `json:"eval_error,omitempty"`
}

type expectedError struct {
	Code            string `json:"code"`
	Line            int    `json:"line,omitempty"`
	Column          int    `json:"column,omitempty"`
	MessageContains string `json:"message_contains,omitempty"`
}

type expectedDoc struct {
	Signed     bool   `json:"signed"`
	Algorithm  string `json:"algorithm"`
	PolicyHash string `json:"policy_hash,omitempty"`
	TokenHash  string `json:"token_hash,omitempty"`
}

type loadedCase struct {
	vectorCase
	file   string
	text   string
	doc    *Document
	claims []Claim
	docErr error
}

func loadClaimSets(t testing.TB) map[string]json.RawMessage {
	t.Helper()
	b, err := os.ReadFile("testdata/claimsets.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		ClaimSets map[string]json.RawMessage `json:"claim_sets"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("claimsets.json: %v", err)
	}
	return f.ClaimSets
}

func loadVectorCases(t testing.TB) []*loadedCase {
	t.Helper()
	sets := loadClaimSets(t)
	files, err := filepath.Glob("testdata/vectors_*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/vectors_*.json: %v", err)
	}
	sort.Strings(files)
	maa := vectors.Dir(t, "maa")
	var out []*loadedCase
	names := map[string]bool{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		var vf vectorFile
		if err := dec.Decode(&vf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range vf.Cases {
			if names[c.Name] {
				t.Fatalf("%s: duplicate case name %q", f, c.Name)
			}
			names[c.Name] = true
			lc := &loadedCase{vectorCase: c, file: f}
			if (c.Expected == nil) == (c.Error == nil) {
				t.Fatalf("%s: case %q needs exactly one of expected and error", f, c.Name)
			}
			switch {
			case c.Policy != "":
				lc.text = string(c.Policy)
			case c.PolicyFile != "":
				b, err := os.ReadFile(filepath.Join("testdata", c.PolicyFile))
				if err != nil {
					t.Fatalf("case %q: %v", c.Name, err)
				}
				lc.text = string(b)
			case c.Vector != "":
				b, err := os.ReadFile(filepath.Join(maa, c.Vector))
				if err != nil {
					t.Fatalf("case %q: %v", c.Name, err)
				}
				lc.text = string(b)
			default:
				t.Fatalf("case %q has no policy", c.Name)
			}
			if strings.HasSuffix(c.Vector, ".jws") {
				d, err := ParseDocument(strings.TrimSpace(lc.text))
				if err != nil {
					lc.docErr = err
				} else {
					lc.doc = d
					lc.text = d.Text
				}
			}
			var claims []Claim
			if c.ClaimsVector != "" {
				claims = append(claims, claimsFromVector(t, maa, c.ClaimsVector)...)
			}
			if c.ClaimSet != "" {
				raw, ok := sets[c.ClaimSet]
				if !ok {
					t.Fatalf("case %q: unknown claim set %q", c.Name, c.ClaimSet)
				}
				cs, err := ParseClaims(raw)
				if err != nil {
					t.Fatalf("case %q: %v", c.Name, err)
				}
				claims = mergeClaims(claims, cs)
			}
			if len(c.Claims) > 0 {
				cs, err := ParseClaims(c.Claims)
				if err != nil {
					t.Fatalf("case %q: %v", c.Name, err)
				}
				claims = mergeClaims(claims, cs)
			}
			lc.claims = claims
			out = append(out, lc)
		}
	}
	return out
}

// mergeClaims returns base with the claims of over replacing claims of the
// same type (over may also add types).
func mergeClaims(base, over []Claim) []Claim {
	types := map[string]bool{}
	for _, c := range over {
		types[c.Type] = true
	}
	var out []Claim
	for _, c := range base {
		if !types[c.Type] {
			out = append(out, c)
		}
	}
	return append(out, over...)
}

func claimsFromVector(t testing.TB, dir, ref string) []Claim {
	t.Helper()
	file, path, _ := strings.Cut(ref, "#")
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	for _, k := range strings.Split(path, "/") {
		if k == "" {
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s is not an object", ref, k)
		}
		v = m[k]
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s does not name a claims object", ref)
	}
	return ClaimsFromMap(m)
}

// normJSON makes values comparable: JSON round trip with numbers as float64.
func normJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func warningCodes(ws []Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Code)
	}
	return out
}

func checkSyntaxError(t *testing.T, err error, want *expectedError) {
	t.Helper()
	if err == nil {
		t.Fatalf("want error %s, got none", want.Code)
	}
	if got := errs.Code(err); got != want.Code {
		t.Fatalf("code = %s, want %s (%v)", got, want.Code, err)
	}
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error is %T, want *SyntaxError", err)
	}
	if want.Line != 0 && (se.Line != want.Line || se.Column != want.Column) {
		t.Errorf("position = %d:%d, want %d:%d\n%s\n%s", se.Line, se.Column, want.Line, want.Column, se.Message, se.Snippet)
	}
	if want.MessageContains != "" && !strings.Contains(se.Message, want.MessageContains) {
		t.Errorf("message %q does not contain %q", se.Message, want.MessageContains)
	}
	if !errors.Is(err, sentinelByCode(want.Code)) {
		t.Errorf("errors.Is(err, sentinel %s) = false", want.Code)
	}
	if !strings.Contains(se.Snippet, "^") {
		t.Errorf("snippet has no caret: %q", se.Snippet)
	}
}

func sentinelByCode(code string) error {
	for _, s := range []*errs.Error{ErrSyntax, ErrSingleEquals, ErrMissingSemicolon, ErrUnknownKeyword, ErrSectionOrder,
		ErrDuplicateSection, ErrMissingSection, ErrMissingVersion, ErrUnsupportedVersion, ErrVersionFeature,
		ErrUnknownFunction, ErrFunctionArity, ErrTypeError, ErrUnknownIdentifier, ErrDuplicateIdentifier, ErrActionSection,
		ErrUnterminatedString, ErrBadEscape, ErrBadCharacter, ErrBadNumber, ErrJmesPathSyntax, ErrTooLarge, ErrEval} {
		if s.Code == code {
			return s
		}
	}
	return errs.New(code, "unknown")
}

func TestPolicyVectors(t *testing.T) {
	cases := loadVectorCases(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.docErr != nil {
				if c.Error == nil || errs.Code(c.docErr) != c.Error.Code {
					t.Fatalf("document: %v", c.docErr)
				}
				return
			}
			if c.Document != nil {
				if c.doc == nil {
					t.Fatal("document expectations on a case without a .jws vector")
				}
				if c.doc.Signed != c.Document.Signed || c.doc.Algorithm != c.Document.Algorithm {
					t.Errorf("document signed=%v alg=%q, want %v %q", c.doc.Signed, c.doc.Algorithm, c.Document.Signed, c.Document.Algorithm)
				}
				if c.Document.PolicyHash != "" && c.doc.PolicyHash() != c.Document.PolicyHash {
					t.Errorf("policy hash %s, want %s", c.doc.PolicyHash(), c.Document.PolicyHash)
				}
				if c.Document.TokenHash != "" && c.doc.TokenHash() != c.Document.TokenHash {
					t.Errorf("token hash %s, want %s", c.doc.TokenHash(), c.Document.TokenHash)
				}
			}
			pol, err := Parse(c.text)
			if c.Error != nil {
				checkSyntaxError(t, err, c.Error)
				return
			}
			if err != nil {
				var se *SyntaxError
				if errors.As(err, &se) {
					t.Fatalf("Parse: %v\n%s", err, se.Snippet)
				}
				t.Fatalf("Parse: %v", err)
			}
			exp := c.Expected
			if got := warningCodes(pol.Warnings()); !reflect.DeepEqual(got, exp.Warnings) {
				t.Errorf("warnings = %v, want %v\n%v", got, exp.Warnings, pol.Warnings())
			}
			res, err := pol.Evaluate(c.claims, EvalOptions{})
			if exp.EvalError != nil {
				checkSyntaxError(t, err, exp.EvalError)
				if res == nil || res.Permitted {
					t.Errorf("a failed evaluation must not permit")
				}
				return
			}
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			checkResult(t, res, exp)

			// The trace does not change the outcome.
			tres, err := pol.Evaluate(c.claims, EvalOptions{Trace: true})
			if err != nil || tres.Permitted != res.Permitted || tres.Reason != res.Reason || !reflect.DeepEqual(normJSON(tres.Issued), normJSON(res.Issued)) {
				t.Errorf("traced evaluation differs: %+v, %v", tres, err)
			}
			if len(tres.Trace) != pol.RuleCount(Configuration)+pol.RuleCount(Authorization)+pol.RuleCount(Issuance) {
				t.Errorf("trace has %d rules, the policy %d", len(tres.Trace), len(pol.allRules))
			}
			// The canonical form is a policy with the same meaning.
			if pol.Condensed() {
				cp, err := Parse(pol.Canonical())
				if err != nil {
					t.Fatalf("canonical form does not parse: %v\n%s", err, pol.Canonical())
				}
				if cp.Condensed() {
					t.Error("canonical form is condensed")
				}
				cres, err := cp.Evaluate(c.claims, EvalOptions{})
				if err != nil || cres.Permitted != res.Permitted || !reflect.DeepEqual(normJSON(cres.Issued), normJSON(res.Issued)) {
					t.Errorf("canonical form evaluates differently: %+v %v", cres, err)
				}
			}
		})
	}
}

func checkResult(t *testing.T, res *Result, exp *expectation) {
	t.Helper()
	if res.Permitted != exp.Permitted {
		t.Errorf("permitted = %v, want %v (reason: %s)", res.Permitted, exp.Permitted, res.Reason)
	}
	for _, s := range exp.ReasonContains {
		if !strings.Contains(res.Reason, s) {
			t.Errorf("reason %q does not contain %q", res.Reason, s)
		}
	}
	if exp.Issued != nil {
		if got, want := normJSON(res.Issued), normJSON(exp.Issued); !reflect.DeepEqual(got, want) && !(len(exp.Issued) == 0 && len(res.Issued) == 0) {
			t.Errorf("issued = %s, want %s", mustJSON(res.Issued), mustJSON(exp.Issued))
		}
	}
	if exp.Properties != nil {
		if got, want := normJSON(res.Properties), normJSON(exp.Properties); !reflect.DeepEqual(got, want) && !(len(exp.Properties) == 0 && len(res.Properties) == 0) {
			t.Errorf("properties = %s, want %s", mustJSON(res.Properties), mustJSON(exp.Properties))
		}
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPolicyVectorsCoverMAA checks that every policy and policy document of
// the shared MAA vectors is a case of the table.
func TestPolicyVectorsCoverMAA(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	used := map[string]bool{}
	for _, c := range loadVectorCases(t) {
		if c.Vector != "" {
			used[filepath.ToSlash(c.Vector)] = true
		}
	}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		isPolicy := strings.HasSuffix(rel, ".txt") && strings.Contains(rel, "polic")
		isDoc := strings.HasSuffix(rel, ".jws") && strings.Contains(rel, "polic")
		if (isPolicy || isDoc) && !used[rel] {
			t.Errorf("%s is not a case of policy/testdata/vectors_*.json", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
