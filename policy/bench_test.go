package policy

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// sgxClaims is the claim set of an SGX attestation as the service builds it
// (the x-ms-sgx-* claims, their legacy aliases and the collateral hashes).
func sgxClaims() []Claim {
	return ClaimsFromMap(map[string]any{
		"x-ms-attestation-type":  "sgx",
		"x-ms-sgx-is-debuggable": false,
		"x-ms-sgx-product-id":    4639,
		"x-ms-sgx-svn":           2,
		"x-ms-sgx-mrsigner":      "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5",
		"x-ms-sgx-mrenclave":     "4b0f6b1c2f64a6d9d2a4e4e0c0e3f4b0a6e2c8d3b1f9e7a5c3d1b2a4f6e8c0d2",
		"x-ms-sgx-report-data":   "28542e44fe7e73f6610f6b31ae7576925f09ccdbb4c5646583ecc1561337a8ff0000000000000000000000000000000000000000000000000000000000000000",
		"x-ms-sgx-ehd":           "CiAgICAgICAgewogICAgICAgICAgICAiandrIiA6IHsKICAgICAgICAgICAgICAgICJrdHkiOiJFQyIs",
		"x-ms-sgx-config-id":     "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
		"x-ms-sgx-config-svn":    0,
		"x-ms-sgx-collateral": map[string]any{
			"qeidcertshash": "a0", "qeidcrlhash": "a1", "qeidhash": "a2", "quotehash": "a3",
			"tcbinfocertshash": "a4", "tcbinfocrlhash": "a5", "tcbinfohash": "a6",
		},
		"is-debuggable": false, "product-id": 4639, "svn": 2, "tee": "sgx",
		"sgx-mrsigner":  "e31c9e505f37a58de09335075fc8591254313eb20bb1a27e5443cc450b6e33e5",
		"sgx-mrenclave": "4b0f6b1c2f64a6d9d2a4e4e0c0e3f4b0a6e2c8d3b1f9e7a5c3d1b2a4f6e8c0d2",
		"x-ms-ver":      "1.0",
	})
}

func mustParseFile(tb testing.TB, path string) *Policy {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := Parse(string(b))
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkEvaluateRecommended evaluates the compiled recommended
// (condensed) Always Encrypted policy against an SGX claim set. Target:
// at most 2 µs and 10 allocations per evaluation.
func BenchmarkEvaluateRecommended(b *testing.B) {
	claims := sgxClaims()
	run := func(b *testing.B, p *Policy, want bool) {
		b.ReportAllocs()
		for b.Loop() {
			res, err := p.Evaluate(claims, EvalOptions{})
			if err != nil || res.Permitted != want {
				b.Fatalf("unexpected result %+v %v", res, err)
			}
		}
	}
	b.Run("recommended", func(b *testing.B) {
		run(b, mustParseFile(b, "testdata/policies/recommended_condensed.txt"), true)
	})
	b.Run("baseline_permit_all", func(b *testing.B) {
		p, err := Parse("version=1.0; authorizationrules { => permit(); };")
		if err != nil {
			b.Fatal(err)
		}
		run(b, p, true)
	})
	b.Run("default_sgx_policy", func(b *testing.B) {
		run(b, mustParseFile(b, "testdata/policies/docs/sgx_default_v1_1.txt"), true)
	})
	b.Run("recommended_refused_with_reason", func(b *testing.B) {
		p := mustParseFile(b, "testdata/policies/recommended_condensed.txt")
		bad := append([]Claim(nil), claims...)
		for i := range bad {
			if bad[i].Type == "x-ms-sgx-svn" {
				bad[i].Value = 1
			}
		}
		b.ReportAllocs()
		for b.Loop() {
			res, _ := p.Evaluate(bad, EvalOptions{})
			if res.Permitted {
				b.Fatal("permitted")
			}
		}
	})
}

func BenchmarkParseRecommended(b *testing.B) {
	text, err := os.ReadFile("testdata/policies/recommended_condensed.txt")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(string(text)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseManyUnknownClaims is the worst case of the unknown-claim
// lint: a policy of thousands of conditions, each on another misspelled
// claim type near known ones (an anonymous draft policy can be this).
func BenchmarkParseManyUnknownClaims(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("version=1.0; authorizationrules {\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&sb, "[type==\"x-ms-sgx-is-debuggabl%d\"] => permit();\n[type==\"is-debuggabl%d\"] => permit();\n", i, i)
	}
	sb.WriteString("};")
	text := sb.String()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		if _, err := Parse(text); err != nil {
			b.Fatal(err)
		}
	}
}
