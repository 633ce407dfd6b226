package policy

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"
)

// evalCost evaluates p against claims and returns the error and the bytes
// the evaluation allocated.
func evalCost(t *testing.T, p *Policy, claims []Claim, opts EvalOptions) (*Result, error, uint64) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := p.Evaluate(claims, opts)
	runtime.ReadMemStats(&after)
	return res, err, after.TotalAlloc - before.TotalAlloc
}

func mustParse(t *testing.T, text string) *Policy {
	t.Helper()
	p, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The attack of issue 13: each rule doubles a string, so n rules make
// 64·2^n bytes while the comparisons stay few. 20 rules would make 64 MiB
// (24 took a server to 2.26 GB, 27 killed it; 23 makes 512 MiB); the evaluation must stop at
// its byte limit with a typed error, having allocated about that limit.
func TestPolicyLimitAppendStringDoubling(t *testing.T) {
	for _, rules := range []int{20, 23} {
		var b strings.Builder
		b.WriteString("version=1.2; authorizationrules { => permit(); }; issuancerules {\n")
		b.WriteString(`=> add(type="a0", value="` + strings.Repeat("x", 64) + `");` + "\n")
		for i := 0; i < rules; i++ {
			fmt.Fprintf(&b, "c:[type==\"a%d\"] => add(type=\"a%d\", value=AppendString(c.value, c.value));\n", i, i+1)
		}
		b.WriteString("};")
		p := mustParse(t, b.String())
		start := time.Now()
		_, err, alloc := evalCost(t, p, nil, EvalOptions{})
		if !errors.Is(err, ErrEvalLimit) {
			t.Fatalf("%d rules: %v, want %s", rules, err, ErrEvalLimit.Code)
		}
		if alloc > 4*maxBytes {
			t.Errorf("%d rules: allocated %d MiB, the limit is %d MiB", rules, alloc>>20, maxBytes>>20)
		}
		t.Logf("%d rules: refused after %v, %d MiB allocated: %v", rules, time.Since(start), alloc>>20, err)
	}
}

// JmesPath results can share their parts: 20 stages of [@,@] describe 2^20
// copies of the input in 20 small arrays; walking or printing them must be
// paid for.
func TestPolicyLimitJmesPathExpansion(t *testing.T) {
	stages := strings.TrimSuffix(strings.Repeat("[@,@] | ", 30), " | ")
	for _, q := range []string{
		stages,                             // printed as the result
		stages + " | length(to_string(@))", // printed inside the query
		stages + " | [][][][][][][][][][][][][][][][][][][][][][][][][][][][][] | length(@)", // flattened
		stages + " | @ == @", // compared with itself
	} {
		p := mustParse(t, `version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type="j", value=JmesPath("\"0123456789abcdef\"", "`+strings.ReplaceAll(q, `"`, `\"`)+`")); };`)
		_, err, alloc := evalCost(t, p, nil, EvalOptions{})
		if !errors.Is(err, ErrEvalLimit) {
			t.Errorf("%.40s…: %v, want %s", q[len(stages):], err, ErrEvalLimit.Code)
		}
		if alloc > 4*maxBytes {
			t.Errorf("%.40s…: allocated %d MiB", q[len(stages):], alloc>>20)
		}
	}
}

// A claim of the evidence (runtime data near the body limit) issued by
// hundreds of rules would make a token of hundreds of MiB.
func TestPolicyLimitIssuedClaims(t *testing.T) {
	big := strings.Repeat("r", 700<<10)
	var b strings.Builder
	b.WriteString("version=1.0; authorizationrules { => permit(); }; issuancerules {\n")
	for i := 0; i < 400; i++ {
		fmt.Fprintf(&b, "c:[type==\"runtime\"] => issue(type=\"r%d\", value=c.value);\n", i)
	}
	b.WriteString("};")
	_, err, _ := evalCost(t, mustParse(t, b.String()), []Claim{{Type: "runtime", Value: big}}, EvalOptions{})
	if !errors.Is(err, ErrEvalLimit) {
		t.Fatalf("%v, want %s", err, ErrEvalLimit.Code)
	}
}

// A policy that is not permitted is evaluated again with a trace; a trace
// must not record every claim every condition matched.
func TestPolicyLimitTraceMatches(t *testing.T) {
	claims := make([]Claim, 5000)
	for i := range claims {
		claims[i] = Claim{Type: "a", Value: i}
	}
	var b strings.Builder
	b.WriteString("version=1.0; authorizationrules {\n")
	for i := 0; i < 300; i++ {
		b.WriteString("[type==\"a\"] && [type==\"missing\"] => permit();\n")
	}
	b.WriteString("};")
	res, err, alloc := evalCost(t, mustParse(t, b.String()), claims, EvalOptions{})
	if err != nil || res.Permitted {
		t.Fatalf("%v %v", res, err)
	}
	if alloc > 64<<20 {
		t.Errorf("the explaining trace allocated %d MiB", alloc>>20)
	}
	res, err = mustParse(t, b.String()).Evaluate(claims, EvalOptions{Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Trace[0].Conditions[0]
	if len(c.Matched) != maxTraceMatches || c.MoreMatched != 5000-maxTraceMatches {
		t.Errorf("trace kept %d matches and counted %d more", len(c.Matched), c.MoreMatched)
	}
}

// Messages quote claim values; a long value is cut.
func TestPolicyLimitMessageQuotesLongValuesShort(t *testing.T) {
	big := strings.Repeat("v", 1<<20)
	res, err := mustParse(t, `version=1.0; authorizationrules { [type=="r", value=="x"] => permit(); };`).Evaluate([]Claim{{Type: "r", Value: big}}, EvalOptions{})
	if err != nil || res.Permitted {
		t.Fatal(err)
	}
	if len(res.Reason) > 512 || !strings.Contains(res.Reason, "(1048576 bytes)") {
		t.Errorf("reason of %d bytes: %.300s", len(res.Reason), res.Reason)
	}
}

// Real policies stay far from the limits: many JmesPath queries over one
// large JSON claim parse it once.
func TestPolicyLimitRealisticJSONQueries(t *testing.T) {
	var doc strings.Builder
	doc.WriteString(`{"keys":[`)
	for i := 0; i < 20000; i++ {
		if i > 0 {
			doc.WriteByte(',')
		}
		fmt.Fprintf(&doc, `{"kid":"k%d","use":"enc","n":"%040d"}`, i, i)
	}
	doc.WriteString(`],"ver":3}`) // about 1 MiB, the attest body limit
	var b strings.Builder
	b.WriteString("version=1.2; authorizationrules { c:[type==\"x-ms-runtime\"] => permit(); }; issuancerules {\n")
	for i := 0; i < 50; i++ {
		fmt.Fprintf(&b, "c:[type==\"x-ms-runtime\"] => issue(type=\"q%d\", value=JmesPath(c.value, \"keys[%d].kid\"));\n", i, i)
	}
	b.WriteString("};")
	claims := ClaimsFromMap(map[string]any{"x-ms-runtime": jsonClaimValue(t, doc.String())})
	res, err := mustParse(t, b.String()).Evaluate(claims, EvalOptions{})
	if err != nil || !res.Permitted || res.Issued["q49"] != `"k49"` {
		t.Fatalf("%v %v", err, res.Issued["q49"])
	}
}

func jsonClaimValue(t *testing.T, s string) any {
	t.Helper()
	cs, err := ParseClaims([]byte(`{"v":` + s + `}`))
	if err != nil {
		t.Fatal(err)
	}
	return cs[0].Value
}
