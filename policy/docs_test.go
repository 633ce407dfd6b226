package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite generated files")
	}
}

func updateGenerated() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

const (
	docsFile   = "../docs/policy.md"
	docsBegin  = "<!-- BEGIN generated examples: go test ./policy -run PolicyDocsExamples -update -->"
	docsEnd    = "<!-- END generated examples -->"
	docsMaxLen = 30 // lines of policy shown inline
)

// TestPolicyDocsExamples renders the cases of the vector table that carry a
// "doc" sentence into the Examples section of docs/policy.md, with the
// outcome computed now: the documentation shows what the code does.
func TestPolicyDocsExamples(t *testing.T) {
	var b bytes.Buffer
	cases := loadVectorCases(t)
	order := map[string]int{"vectors_language.json": 0, "vectors_maa.json": 1, "vectors_docs.json": 2, "vectors_errors.json": 3}
	sort.SliceStable(cases, func(i, j int) bool {
		return order[filepath.Base(cases[i].file)] < order[filepath.Base(cases[j].file)]
	})
	for _, c := range cases {
		if c.Doc == "" {
			continue
		}
		fmt.Fprintf(&b, "#### %s\n\n%s\n\n", c.Name, c.Doc)
		switch {
		case c.Vector != "":
			fmt.Fprintf(&b, "Policy: `testdata/vectors/maa/%s`", c.Vector)
			if c.doc != nil {
				signed := "unsigned"
				if c.doc.Signed {
					signed = "signed, " + c.doc.Algorithm
				}
				fmt.Fprintf(&b, " (policy document, %s)", signed)
			}
			b.WriteString("\n\n")
			if c.doc != nil && c.text != "" && strings.Count(c.text, ";") < 20 {
				fmt.Fprintf(&b, "```\n%s\n```\n\n", strings.TrimRight(c.text, "\n"))
			}
		case c.PolicyFile != "" && strings.Count(c.text, "\n") > docsMaxLen:
			fmt.Fprintf(&b, "Policy: [`policy/testdata/%s`](../policy/testdata/%s)\n\n", c.PolicyFile, c.PolicyFile)
		default:
			if c.PolicyFile != "" {
				fmt.Fprintf(&b, "Policy (`policy/testdata/%s`):\n\n", c.PolicyFile)
			}
			fmt.Fprintf(&b, "```\n%s\n```\n\n", strings.TrimRight(c.text, "\n"))
		}
		if c.Error == nil {
			var parts []string
			if c.ClaimsVector != "" {
				parts = append(parts, fmt.Sprintf("the claims of `testdata/vectors/maa/%s`", c.ClaimsVector))
			}
			if c.ClaimSet != "" {
				parts = append(parts, fmt.Sprintf("claim set `%s` of [claimsets.json](../policy/testdata/claimsets.json)", c.ClaimSet))
			}
			if len(c.Claims) > 0 {
				var v any
				_ = json.Unmarshal(c.Claims, &v)
				cj, _ := json.Marshal(v)
				parts = append(parts, fmt.Sprintf("`%s`", cj))
			}
			if len(parts) == 0 {
				parts = append(parts, "none")
			}
			fmt.Fprintf(&b, "Claims: %s\n\n", strings.Join(parts, " with "))
		}
		b.WriteString("Result:\n\n```\n")
		pol, err := Parse(c.text)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("%s: %v", c.Name, err)
			}
			fmt.Fprintf(&b, "error %s at line %d, column %d: %s\n", se.Code, se.Line, se.Column, se.Message)
			for _, l := range strings.Split(se.Snippet, "\n") {
				fmt.Fprintf(&b, "    %s\n", l)
			}
		} else {
			res, err := pol.Evaluate(c.claims, EvalOptions{})
			permitted := "no"
			if res.Permitted {
				permitted = "yes"
			}
			fmt.Fprintf(&b, "permitted: %s\nreason: %s\n", permitted, res.Reason)
			if err != nil {
				fmt.Fprintf(&b, "error: %s\n", errMessage(err))
			}
			if len(res.Issued) > 0 {
				fmt.Fprintf(&b, "issued (x-ms-policy): %s\n", mustJSON(res.Issued))
			}
			if len(res.Properties) > 0 {
				fmt.Fprintf(&b, "properties: %s\n", mustJSON(res.Properties))
			}
			for _, w := range res.Warnings {
				msg, _, _ := strings.Cut(w.Message, "\n")
				fmt.Fprintf(&b, "warning %s at line %d, column %d: %s\n", w.Code, w.Line, w.Column, msg)
			}
		}
		b.WriteString("```\n\n")
	}
	generated := strings.TrimRight(b.String(), "\n") + "\n"
	doc, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok1 := strings.Cut(string(doc), docsBegin)
	_, after, ok2 := strings.Cut(rest, docsEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q", docsFile, docsBegin, docsEnd)
	}
	want := before + docsBegin + "\n\n" + generated + "\n" + docsEnd + after
	if updateGenerated() {
		if err := os.WriteFile(filepath.Clean(docsFile), []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != string(doc) {
		t.Errorf("the examples of %s are out of date; run: go test ./policy -run PolicyDocsExamples -update", docsFile)
	}
}
