package policy

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
)

func TestPolicySyntaxErrorIsTyped(t *testing.T) {
	_, err := Parse("version=1.0;\nauthorizationrules {\n  [type=\"a\"] => permit();\n};")
	if !errors.Is(err, ErrSingleEquals) {
		t.Fatalf("errors.Is(ErrSingleEquals) false: %v", err)
	}
	if errors.Is(err, ErrSyntax) {
		t.Error("matches another code")
	}
	if errs.Code(err) != "policy_single_equals" {
		t.Errorf("errs.Code = %s", errs.Code(err))
	}
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Column != 8 {
		t.Fatalf("%#v", err)
	}
	if se.Snippet != "  [type=\"a\"] => permit();\n       ^" {
		t.Errorf("snippet %q", se.Snippet)
	}
	if !strings.HasPrefix(err.Error(), "line 3, column 8: ") {
		t.Errorf("Error() = %q", err.Error())
	}
	var ee *errs.Error
	if !errors.As(err, &ee) || ee.Code != "policy_single_equals" {
		t.Errorf("errors.As(*errs.Error) %v", ee)
	}
}

func TestPolicySnippetKeepsTabsAndCountsCharacters(t *testing.T) {
	_, err := Parse("version=1.0;\nauthorizationrules {\n\t[type==\"é\", value=1] => permit();\n};")
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatal(err)
	}
	if se.Line != 3 || se.Column != 19 {
		t.Errorf("position %d:%d", se.Line, se.Column)
	}
	if want := "\t[type==\"é\", value=1] => permit();\n\t                 ^"; se.Snippet != want {
		t.Errorf("snippet %q, want %q", se.Snippet, want)
	}
}

func TestPolicyCanonicalForm(t *testing.T) {
	text := "version=1.0;authorizationrules{=>permit();};"
	p, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	if p.Canonical() != text || p.Condensed() || p.Version() != "1.0" || p.Text() != text {
		t.Errorf("canonical of a sectioned policy: %q", p.Canonical())
	}
	p, err = Parse("version= 1.0;\n  [ type==\"a\", value==1 ] => permit();\n")
	if err != nil {
		t.Fatal(err)
	}
	want := "version= 1.0;\nauthorizationrules\n{\n  [ type==\"a\", value==1 ] => permit();\n};\n"
	if p.Canonical() != want {
		t.Errorf("canonical %q, want %q", p.Canonical(), want)
	}
	if w := p.Warnings(); len(w) != 1 || !strings.Contains(w[0].Message, want[:len(want)-1]) || w[0].Line != 2 || w[0].Column != 3 {
		t.Errorf("warning %v", w)
	}
}

func TestPolicyConfigurationProperties(t *testing.T) {
	p, err := Parse(`version=1.1; configurationrules { => issueproperty(type="x-ms-sgx-tcbidentifier", value="13"); => issueproperty(type="required_pcr_mask", value=15); }; authorizationrules { => permit(); };`)
	if err != nil {
		t.Fatal(err)
	}
	props, err := p.ConfigurationProperties()
	if err != nil || props["x-ms-sgx-tcbidentifier"] != "13" || props["required_pcr_mask"] != int64(15) {
		t.Errorf("%v %v", props, err)
	}
	p, _ = Parse(`version=1.0; authorizationrules { => permit(); };`)
	if props, err := p.ConfigurationProperties(); props != nil || err != nil {
		t.Errorf("%v %v", props, err)
	}
}

func TestPolicyClaimsInput(t *testing.T) {
	cs, err := ParseClaims([]byte(`{"b": 1, "a": {"x": [1, 2]}, "big": 9007199254740993, "f": 1.5}`))
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Type != "a" || cs[0].Value != `{"x":[1,2]}` || cs[0].Issuer != IssuerAttestationService {
		t.Errorf("object claim %+v", cs[0])
	}
	p, _ := Parse(`version=1.0; authorizationrules { [type=="big", value==9007199254740993] && [type=="f", value=="1.5"] => permit(); };`)
	if res, err := p.Evaluate(cs, EvalOptions{}); err != nil || !res.Permitted {
		t.Errorf("exact big integer / fraction as string: %+v %v", res, err)
	}
	cs, err = ParseClaims([]byte(`[{"type": "a", "value": "5", "valueType": "Integer"}, {"type": "b", "value": true, "issuer": "CustomClaim"}]`))
	if err != nil || cs[0].ValueType != "Integer" || cs[1].Issuer != "CustomClaim" || cs[0].Issuer != IssuerAttestationService {
		t.Fatalf("%+v %v", cs, err)
	}
	for _, bad := range []string{`3`, `[1]`, `[{"value": 1}]`, `[{"type": "a"}]`, `[{"type": "a", "value": 1, "extra": 1}]`,
		`[{"type": "a", "value": "x", "valueType": "Integer"}]`, `[{"type": "a", "value": 1, "valueType": "Float"}]`, `{"a": 1} {}`, `nope`} {
		if _, err := ParseClaims([]byte(bad)); !errors.Is(err, ErrBadClaims) {
			t.Errorf("%s: %v", bad, err)
		}
	}
	p, _ = Parse(`version=1.0; authorizationrules { => permit(); };`)
	if _, err := p.Evaluate([]Claim{{Type: "a", Value: "x", ValueType: "Integer"}}, EvalOptions{}); !errors.Is(err, ErrBadClaims) {
		t.Errorf("bad valueType: %v", err)
	}
	// Go values of every integer type, nil values (ignored), JSON text for others.
	p, _ = Parse(`version=1.0; authorizationrules { [type=="i8", value==-8] && [type=="u64", value==64] && [type=="m", value=="{\"k\":1}"] && [type=="f", value==2] => permit(); [type=="nil"] => deny(); };`)
	res, err := p.Evaluate([]Claim{{Type: "i8", Value: int8(-8)}, {Type: "u64", Value: uint64(64)}, {Type: "m", Value: map[string]int{"k": 1}}, {Type: "f", Value: float32(2)}, {Type: "nil"}}, EvalOptions{})
	if err != nil || !res.Permitted {
		t.Errorf("%+v %v", res, err)
	}
}

func TestPolicyTrace(t *testing.T) {
	p := mustParseFile(t, "testdata/policies/recommended_condensed.txt")
	claims := sgxClaims()
	for i := range claims {
		if claims[i].Type == "x-ms-sgx-svn" {
			claims[i].Value = 1
		}
	}
	res, err := p.Evaluate(claims, EvalOptions{Trace: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Trace) != 1 {
		t.Fatalf("trace %+v", res.Trace)
	}
	r := res.Trace[0]
	if r.Section != "authorizationrules" || r.Index != 1 || r.Line != 2 || r.Fired || !r.Evaluated || r.Action != "permit()" || len(r.Conditions) != 4 {
		t.Fatalf("rule %+v", r)
	}
	sat := []bool{true, true, false, true}
	for i, c := range r.Conditions {
		if !c.Evaluated || c.Satisfied != sat[i] {
			t.Errorf("condition %d %+v", i, c)
		}
	}
	if c := r.Conditions[0]; len(c.Matched) != 1 || c.Matched[0].Type != "x-ms-sgx-is-debuggable" || c.Matched[0].Value != false || c.Text != `[ type=="x-ms-sgx-is-debuggable", value==false ]` || c.Line != 2 || c.Column != 8 {
		t.Errorf("condition 1 %+v", c)
	}
	if c := r.Conditions[2]; c.Reason != "x-ms-sgx-svn is 1, the rule requires >= 2" || len(c.Matched) != 0 {
		t.Errorf("condition 3 %+v", c)
	}
	// Rules after a deny and issuance rules of a refused policy are listed
	// as not evaluated.
	p, _ = Parse("version=1.0; authorizationrules { => deny(); => permit(); }; issuancerules { => issue(type=\"a\", value=1); };")
	res, _ = p.Evaluate(nil, EvalOptions{Trace: true})
	if len(res.Trace) != 3 || !res.Trace[0].Fired || res.Trace[1].Evaluated || res.Trace[2].Evaluated || !strings.Contains(res.Trace[1].Note, "deny") {
		t.Errorf("trace %+v", res.Trace)
	}
	// Added claims are recorded.
	p, _ = Parse("version=1.0; authorizationrules { => permit(); }; issuancerules { => issue(type=\"a\", value=1); };")
	res, _ = p.Evaluate(nil, EvalOptions{Trace: true})
	if len(res.Trace) != 2 || len(res.Trace[1].Added) != 1 || res.Trace[1].Added[0].Issuer != IssuerAttestationPolicy || res.IssuedClaims[0].ValueType != "Integer" {
		t.Errorf("trace %+v", res.Trace)
	}
}

func TestPolicyConcurrentEvaluation(t *testing.T) {
	p := mustParseFile(t, "testdata/policies/docs/sgx_default_v1_1.txt")
	good := sgxClaims()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				claims := good
				if (g+i)%3 == 0 {
					claims = nil
				}
				res, err := p.Evaluate(claims, EvalOptions{Trace: i%5 == 0})
				if err != nil || !res.Permitted {
					t.Errorf("%+v %v", res, err)
					return
				}
				if claims != nil && res.Issued["svn"] != int64(2) {
					t.Errorf("issued %v", res.Issued)
					return
				}
				if claims == nil && len(res.Issued) != 0 {
					t.Errorf("state leaked between evaluations: %v", res.Issued)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestPolicyLimits(t *testing.T) {
	// A rule that doubles a claim set cannot grow it without bound.
	var b strings.Builder
	b.WriteString("version=1.0; authorizationrules { => permit(); }; issuancerules {\n")
	for i := 0; i < 20; i++ {
		b.WriteString("c:[type==\"a\"] => add(type=\"a\", value=c.value);\n")
	}
	b.WriteString("};")
	p, err := Parse(b.String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Evaluate([]Claim{{Type: "a", Value: 1}}, EvalOptions{}); !errors.Is(err, ErrEvalLimit) {
		t.Errorf("claim growth: %v", err)
	}
	deep := "version=1.2; authorizationrules { => permit(); }; issuancerules { => issue(type=\"a\", value=" + strings.Repeat("NegateBool(", 40) + "true" + strings.Repeat(")", 40) + "); };"
	if _, err := Parse(deep); !errors.Is(err, ErrTooLarge) {
		t.Errorf("deep nesting: %v", err)
	}
	if _, err := Parse("version=1.0;" + strings.Repeat(" ", maxPolicySize)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("size: %v", err)
	}
	if _, err := Parse("version=1.0; authorizationrules { => permit(); }; \xff"); !errors.Is(err, ErrBadCharacter) {
		t.Errorf("invalid UTF-8: %v", err)
	}
}

func TestPolicyWarningString(t *testing.T) {
	w := Warning{Code: "c", Message: "m", Line: 2, Column: 3}
	if w.String() != "2:3: m (c)" || (Warning{Code: "c", Message: "m"}).String() != "m (c)" {
		t.Error(w.String())
	}
}

func ExampleParse() {
	p, err := Parse(`version= 1.0;
authorizationrules
{
    [ type=="x-ms-sgx-is-debuggable", value==false ]
        && [ type=="x-ms-sgx-svn", value>= 2 ]
    => permit();
};
issuancerules
{
    c:[type=="x-ms-sgx-svn"] => issue(type="svn", value=c.value);
};`)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, _ := p.Evaluate(ClaimsFromMap(map[string]any{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-svn": 1}), EvalOptions{})
	fmt.Println(res.Permitted, res.Reason)
	res, _ = p.Evaluate(ClaimsFromMap(map[string]any{"x-ms-sgx-is-debuggable": false, "x-ms-sgx-svn": 3}), EvalOptions{})
	fmt.Println(res.Permitted, res.Reason, res.Issued)
	// Output:
	// false not permitted: authorizationrules rule 1 (line 4): x-ms-sgx-svn is 1, the rule requires >= 2
	// true permitted by authorizationrules rule 1 (line 4) map[svn:3]
}

func TestPolicyTraceTextKeepsStrings(t *testing.T) {
	p, err := Parse("version=1.0; authorizationrules { => permit(); }; issuancerules {\n  => issue(type=\"u\",   value=\"http://x \\\"//\\\" y\"); // comment\n};")
	if err != nil {
		t.Fatal(err)
	}
	res, _ := p.Evaluate(nil, EvalOptions{Trace: true})
	if got, want := res.Trace[1].Text, `=> issue(type="u", value="http://x \"//\" y");`; got != want {
		t.Errorf("trace text %q, want %q", got, want)
	}
}

func TestPolicyClaimsKeepJSONOrder(t *testing.T) {
	cs, err := ParseClaims([]byte(`{"j": {"b": 1, "a": [3, {"z": 0, "y": 1}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Value != `{"b":1,"a":[3,{"z":0,"y":1}]}` {
		t.Errorf("value %v", cs[0].Value)
	}
	p, _ := Parse(`version=1.2; authorizationrules { => permit(); }; issuancerules { c:[type=="j"] => issue(type="k", value=JmesPath(c.value, "keys(@)")); };`)
	res, err := p.Evaluate(cs, EvalOptions{})
	if err != nil || res.Issued["k"] != `["b","a"]` {
		t.Errorf("%v %v", res.Issued, err)
	}
}

func TestPolicyLargeBindingWithinBudget(t *testing.T) {
	claims := make([]Claim, 5000)
	for i := range claims {
		claims[i] = Claim{Type: "a", Value: i}
	}
	p, _ := Parse(`version=1.0; authorizationrules { c:[type=="a", value>=0] => permit(); }; issuancerules { c:[type=="a"] => issue(claim=c); };`)
	res, err := p.Evaluate(claims, EvalOptions{})
	if err != nil || !res.Permitted || len(res.Issued["a"].([]any)) != 5000 {
		t.Fatalf("%v", err)
	}
}

func TestLintUnknownClaim(t *testing.T) {
	for _, c := range []struct {
		name, text string
		want       []string // messages, in order; each "line:col: text"
	}{
		{"misspelled", "version=1.0;\nauthorizationrules {\n  [type==\"x-ms-sgx-is-debugable\", value==false] => permit();\n};",
			[]string{"3:10: no attestation type gives a policy the claim x-ms-sgx-is-debugable, so this condition never matches; did you mean x-ms-sgx-is-debuggable?"}},
		{"case", "version=1.0; authorizationrules { [type==\"X-MS-SGX-MRSIGNER\"] => permit(); };",
			[]string{"1:42: no attestation type gives a policy the claim X-MS-SGX-MRSIGNER, so this condition never matches; did you mean x-ms-sgx-mrsigner?"}},
		{"legacy", "version=1.0; authorizationrules { c:[type==\"$is-debugable\"] => permit(); }; issuancerules { c:[type==\"is-debugable\"] => issue(claim=c); };",
			[]string{"1:44: no attestation type gives a policy the claim $is-debugable, so this condition never matches; did you mean $is-debuggable?",
				"1:102: no attestation type gives a policy the claim is-debugable, so this condition never matches; did you mean is-debuggable?"}},
		{"tdx", "version=1.0; authorizationrules { [type==\"tdx_mrtd_\"] && [type==\"attester_tcb_stat\"] && [type==\"x-avow-simulate\"] => permit(); };",
			[]string{"1:42: no attestation type gives a policy the claim tdx_mrtd_, so this condition never matches; did you mean tdx_mrtd?",
				"1:65: no attestation type gives a policy the claim attester_tcb_stat, so this condition never matches; did you mean attester_tcb_status?",
				"1:96: no attestation type gives a policy the claim x-avow-simulate, so this condition never matches; did you mean x-avow-simulated?"}},
		{"no suggestion", "version=1.0; authorizationrules { [type==\"x-ms-something-else\"] => permit(); };",
			[]string{"1:42: no attestation type gives a policy the claim x-ms-something-else, so this condition never matches"}},
		{"known", "version=1.0; authorizationrules { [type==\"x-ms-sgx-is-debuggable\"] && [type==\"$is-debuggable\"] && [type==\"tdx_mrtd\"] && [type==\"x-avow-simulated\"] && [type==\"is-debuggable\"] => permit(); };", nil},
		{"other namespaces", "version=1.0; authorizationrules { [type==\"x-ms-tpm-request-key\"] && [type==\"secureBootEnabled\"] && [type==\"my-claim\"] => permit(); };", nil},
		{"issued by the policy", "version=1.1; configurationrules { => issueproperty(type=\"x-ms-sgx-tcbidentifier\", value=\"10\"); }; authorizationrules { => add(type=\"x-ms-checked\", value=true); [type==\"x-ms-checked\"] && [type==\"x-ms-sgx-tcbidentifier\"] => permit(); }; issuancerules { [type==\"x-ms-issued\"] => issue(type=\"x-ms-issued2\", value=1); => issue(type=\"x-ms-issued\", value=1); };", nil},
		{"computed type", "version=1.2; authorizationrules { c:[type==\"x-ms-sgx-svn\"] => add(type=AppendString(\"x-ms-\", \"a\"), value=1); [type==\"x-ms-a\"] => permit(); };", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			p, err := Parse(c.text)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range p.Warnings() {
				if w.Code == WarnUnknownClaim {
					got = append(got, fmt.Sprintf("%d:%d: %s", w.Line, w.Column, w.Message))
				}
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("warnings\n got %q\nwant %q", got, c.want)
			}
		})
	}
}

// TestKnownClaimKindsRegistered: the claims whose types the linter knows
// are registered claims (claims.Known) or claims of MAA types avow does
// not implement — never a name the unknown-claim lint would flag.
func TestKnownClaimKindsRegistered(t *testing.T) {
	for name := range knownClaims {
		if claims.InNamespace(name) {
			t.Errorf("%s has a known type but is not in claims/registry.go", name)
		}
	}
	for name := range hexClaims {
		if !claims.Known(name) {
			t.Errorf("hex claim %s is not in claims/registry.go", name)
		}
	}
}

// TestLintUnknownClaimBounded: a policy naming thousands of distinct
// misspelled claims gets warnings for the first maxLintedClaimTypes only.
func TestLintUnknownClaimBounded(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("version=1.0; authorizationrules {\n")
	for i := 0; i < 1000; i++ {
		fmt.Fprintf(&sb, "[type==\"x-ms-sgx-svn%d\"] => permit();\n", i)
	}
	sb.WriteString("[type==\"x-ms-sgx-svn0\"] => permit();\n};")
	p, err := Parse(sb.String())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, w := range p.Warnings() {
		if w.Code == WarnUnknownClaim {
			n++
		}
	}
	if n != maxLintedClaimTypes+1 { // the repeated first name warns again
		t.Errorf("%d unknown-claim warnings, want %d", n, maxLintedClaimTypes+1)
	}
}
