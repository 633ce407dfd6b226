package main

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/policy"
)

// runPolicyCLI runs `avow policy ...` in-process.
func runPolicyCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return runAvow(t, append([]string{"policy"}, args...)...)
}

func TestPolicyCLIGolden(t *testing.T) {
	const d = "testdata/policy/"
	for _, tc := range []struct {
		golden string
		args   []string
		code   int
	}{
		{"check_condensed.golden", []string{"check", d + "recommended_condensed.txt"}, 0},
		{"check_single_equals.golden", []string{"check", d + "author_sign_policy.txt"}, 1},
		{"check_single_equals_json.golden", []string{"check", d + "author_sign_policy.txt", "--output", "json"}, 1},
		{"check_misspelled_claim.golden", []string{"check", d + "misspelled_claim.txt"}, 0},
		{"check_default_json.golden", []string{"check", "-o", "json", d + "sgx_default_v1_1.txt"}, 0},
		{"eval_permitted_json.golden", []string{"eval", d + "recommended_condensed.txt", "--claims", d + "claims_recommended.json", "--output", "json"}, 0},
		{"eval_svn1.golden", []string{"eval", d + "recommended_condensed.txt", "--claims", d + "claims_svn1.json"}, 1},
		{"eval_svn1_trace.golden", []string{"eval", d + "recommended_condensed.txt", "--claims", d + "claims_svn1.json", "--trace"}, 1},
		{"eval_svn1_trace_json.golden", []string{"eval", d + "recommended_condensed.txt", "--claims", d + "claims_svn1.json", "--trace", "--output", "json"}, 1},
		{"eval_list_claims.golden", []string{"eval", d + "recommended_condensed.txt", "--claims", d + "claims_list.json", "-o", "json"}, 0},
		{"eval_default_policy.golden", []string{"eval", d + "sgx_default_v1_1.txt", "--claims", d + "claims_recommended.json"}, 0},
		{"eval_invalid_policy_json.golden", []string{"eval", d + "author_sign_policy.txt", "--claims", d + "claims_recommended.json", "--output", "json"}, 2},
		{"eval_invalid_policy.golden", []string{"eval", d + "author_sign_policy.txt", "--claims", d + "claims_recommended.json"}, 2},
		{"eval_runtime_error_json.golden", []string{"eval", d + "runtime_error.txt", "--claims", d + "claims_recommended.json", "--output", "json"}, 1},
		{"hash_text.golden", []string{"hash", d + "sgx_default_v1_1.txt"}, 0},
		{"hash_text_json.golden", []string{"hash", d + "sgx_default_v1_1.txt", "--output", "json"}, 0},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			code, out, errOut := runPolicyCLI(t, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tc.code, out, errOut)
			}
			if errOut != "" {
				t.Errorf("stderr: %s", errOut)
			}
			comparePolicyGolden(t, filepath.Join(d, tc.golden), out)
		})
	}
}

func comparePolicyGolden(t *testing.T, path, got string) {
	t.Helper()
	if updateGolden() {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestPolicyCLIUsage(t *testing.T) {
	const d = "testdata/policy/"
	for _, tc := range []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"eval_without_claims", []string{"eval", d + "recommended_condensed.txt"}, 2, "--claims is required"},
		{"bad_output", []string{"check", d + "recommended_condensed.txt", "--output", "yaml"}, 2, "--output must be text or json"},
		{"missing_file", []string{"check", d + "nope.txt"}, 2, "nope.txt"},
		{"bad_claims", []string{"eval", d + "recommended_condensed.txt", "--claims", d + "recommended_condensed.txt"}, 2, "not JSON"},
		{"no_args", []string{"check"}, 2, "accepts 1 arg"},
		{"sign_without_key", []string{"sign", d + "recommended_condensed.txt"}, 2, "--key and --cert are required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runPolicyCLI(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.err) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errOut, tc.code, tc.err)
			}
		})
	}
}

// TestPolicyCLISignDocuments signs with the SDK test keys, then checks,
// evaluates and hashes the signed document.
func TestPolicyCLISignDocuments(t *testing.T) {
	keys := filepath.Join(vectors.Dir(t, "maa"), "sdk-cpp", "test-keys")
	for _, tc := range []struct{ key, alg, want string }{
		{"rsa_private.pem", "", "RS256"},
		{"rsa_private.pem", "PS256", "PS256"},
		{"ecdsa_p256_private.pem", "", "ES256"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			key, err := readPrivateKey(filepath.Join(keys, tc.key))
			if err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "avow test signer"},
				NotBefore: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), NotAfter: time.Date(2044, 1, 1, 0, 0, 0, 0, time.UTC)}
			der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			certFile := filepath.Join(dir, "cert.pem")
			if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "policy.jws")
			args := []string{"sign", "testdata/policy/sgx_default_v1_1.txt", "--key", filepath.Join(keys, tc.key), "--cert", certFile, "--out", out}
			if tc.alg != "" {
				args = append(args, "--alg", tc.alg)
			}
			if code, o, e := runPolicyCLI(t, args...); code != 0 {
				t.Fatalf("sign: exit %d %s %s", code, o, e)
			}
			code, o, e := runPolicyCLI(t, "check", out)
			if code != 0 || !strings.Contains(o, "signed ("+tc.want+") by CN=avow test signer") || !strings.Contains(o, ": valid (version 1.1") {
				t.Errorf("check: exit %d\n%s%s", code, o, e)
			}
			code, o, _ = runPolicyCLI(t, "eval", out, "--claims", "testdata/policy/claims_recommended.json", "-o", "json")
			var res struct {
				Permitted bool           `json:"permitted"`
				Issued    map[string]any `json:"issued"`
			}
			if code != 0 || json.Unmarshal([]byte(o), &res) != nil || !res.Permitted || res.Issued["svn"] != float64(2) {
				t.Errorf("eval: exit %d\n%s", code, o)
			}
			jws, _ := os.ReadFile(out)
			code, o, _ = runPolicyCLI(t, "hash", out, "-o", "json")
			var h map[string]string
			text, _ := os.ReadFile("testdata/policy/sgx_default_v1_1.txt")
			if code != 0 || json.Unmarshal([]byte(o), &h) != nil || h["x-ms-policy-hash"] != policy.PolicyHash(string(text)) ||
				h["x-ms-policy-token-hash"] != policy.PolicyTokenHash(strings.TrimSpace(string(jws))) {
				t.Errorf("hash: exit %d\n%s", code, o)
			}
		})
	}
	// An invalid policy is not signed.
	code, o, e := runPolicyCLI(t, "sign", "testdata/policy/author_sign_policy.txt", "--key", filepath.Join(keys, "rsa_private.pem"), "--cert", filepath.Join(keys, "rsa_public.pem"))
	if code != 1 || o != "" || !strings.Contains(e, "policy_single_equals") {
		t.Errorf("sign invalid: exit %d %q %q", code, o, e)
	}
}

// TestPolicyCLIDocuments runs the policy documents of the shared vectors
// through check, eval and hash.
func TestPolicyCLIDocuments(t *testing.T) {
	dir := vectors.Dir(t, "maa")
	signed := filepath.Join(dir, "transcribed/azure-docs/policy_signed.jws")
	code, out, _ := runPolicyCLI(t, "check", signed, "-o", "json")
	if code != 0 || !strings.Contains(out, `"document": "policy document, signed (RSA256) by CN=AttestationCertificate0"`) {
		t.Errorf("check signed: %d\n%s", code, out)
	}
	code, out, _ = runPolicyCLI(t, "hash", filepath.Join(dir, "transcribed/sdk-js-recording/set_policy_sgx_request.jws"))
	if code != 0 || !strings.Contains(out, "x-ms-policy-token-hash: c6sEJQItV50OeP9IrP_bzywAMOVvj5uDPbklA_bwdYQ") || !strings.Contains(out, "z0FRjKS0ssQTNur1V6BV8WIrh9M3fzgTo0EfHRvapWU") {
		t.Errorf("hash: %d\n%s", code, out)
	}
	code, out, _ = runPolicyCLI(t, "hash", filepath.Join(dir, "transcribed/sdk-net-recording/default_sgx_policy_shared_2020.txt"))
	if code != 0 || !strings.Contains(out, "egjnANIzEpS2WgpE4Nk-QEwM69XRCgTs42_G0qLlbnk") || !strings.Contains(out, "200e2717392bfb187b89c7c498b8e5ebcd6ad136dc0cdb5b897fdb13e344ca40") {
		t.Errorf("hash: %d\n%s", code, out)
	}
	code, out, _ = runPolicyCLI(t, "check", filepath.Join(dir, "transcribed/azure-docs/add_policy_signer_request.jws"))
	if code != 1 || !strings.Contains(out, "(policy_document_payload)") {
		t.Errorf("not a policy document: %d\n%s", code, out)
	}
}

// TestPolicyCLIVectors drives `avow policy eval` with the test-vector table
// of the policy package: every case with its own claims must give the same
// outcome, exit code and error position through the CLI.
func TestPolicyCLIVectors(t *testing.T) {
	root := filepath.Join("..", "..", "policy", "testdata")
	files, err := filepath.Glob(filepath.Join(root, "vectors_*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no vector files in %s", root)
	}
	sort.Strings(files)
	setsRaw, err := os.ReadFile(filepath.Join(root, "claimsets.json"))
	if err != nil {
		t.Fatal(err)
	}
	var sets struct {
		ClaimSets map[string]map[string]any `json:"claim_sets"`
	}
	if err := json.Unmarshal(setsRaw, &sets); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var vf struct {
			Cases []struct {
				Name       string          `json:"name"`
				Policy     json.RawMessage `json:"policy"`
				PolicyFile string          `json:"policy_file"`
				Claims     json.RawMessage `json:"claims"`
				ClaimSet   string          `json:"claim_set"`
				Expected   *struct {
					Permitted      bool     `json:"permitted"`
					ReasonContains []string `json:"reason_contains"`
					EvalError      *struct {
						Code string `json:"code"`
					} `json:"eval_error"`
				} `json:"expected"`
				Error *struct {
					Code   string `json:"code"`
					Line   int    `json:"line"`
					Column int    `json:"column"`
				} `json:"error"`
			} `json:"cases"`
		}
		if err := json.Unmarshal(raw, &vf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, c := range vf.Cases {
			var text string
			switch {
			case len(c.Policy) > 0:
				var s string
				if json.Unmarshal(c.Policy, &s) != nil {
					var lines []string
					if err := json.Unmarshal(c.Policy, &lines); err != nil {
						t.Fatalf("%s: %v", c.Name, err)
					}
					s = strings.Join(lines, "\n")
				}
				text = s
			case c.PolicyFile != "":
				b, err := os.ReadFile(filepath.Join(root, c.PolicyFile))
				if err != nil {
					t.Fatal(err)
				}
				text = string(b)
			default:
				continue // policies of the shared vectors: covered by the policy package
			}
			claims := map[string]any{}
			var list []any
			if c.ClaimSet != "" {
				for k, v := range sets.ClaimSets[c.ClaimSet] {
					claims[k] = v
				}
			}
			if len(c.Claims) > 0 {
				if c.Claims[0] == '[' {
					if err := json.Unmarshal(c.Claims, &list); err != nil {
						t.Fatal(err)
					}
				} else {
					var over map[string]any
					if err := json.Unmarshal(c.Claims, &over); err != nil {
						t.Fatal(err)
					}
					for k, v := range over {
						claims[k] = v
					}
				}
			}
			var claimsJSON []byte
			if list != nil {
				claimsJSON, _ = json.Marshal(list)
			} else {
				claimsJSON, _ = json.Marshal(claims)
			}
			t.Run(c.Name, func(t *testing.T) {
				dir := t.TempDir()
				pf, cf := filepath.Join(dir, "policy.txt"), filepath.Join(dir, "claims.json")
				if err := os.WriteFile(pf, []byte(text), 0o600); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(cf, claimsJSON, 0o600); err != nil {
					t.Fatal(err)
				}
				code, out, errOut := runPolicyCLI(t, "eval", pf, "--claims", cf, "--output", "json")
				var res struct {
					Permitted bool   `json:"permitted"`
					Reason    string `json:"reason"`
					Error     *struct {
						Code   string `json:"code"`
						Line   int    `json:"line"`
						Column int    `json:"column"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(out), &res); err != nil {
					t.Fatalf("output is not JSON: %v\n%s%s", err, out, errOut)
				}
				if c.Error != nil {
					if code != 2 || res.Error == nil || res.Error.Code != c.Error.Code || res.Error.Line != c.Error.Line || res.Error.Column != c.Error.Column {
						t.Errorf("exit %d, error %+v; want 2 and %+v", code, res.Error, c.Error)
					}
					return
				}
				want := 1
				if c.Expected.Permitted {
					want = 0
				}
				if code != want || res.Permitted != c.Expected.Permitted {
					t.Errorf("exit %d permitted %v, want %d %v: %s", code, res.Permitted, want, c.Expected.Permitted, res.Reason)
				}
				for _, s := range c.Expected.ReasonContains {
					if !strings.Contains(res.Reason, s) {
						t.Errorf("reason %q lacks %q", res.Reason, s)
					}
				}
				if (c.Expected.EvalError != nil) != (res.Error != nil) || (res.Error != nil && res.Error.Code != c.Expected.EvalError.Code) {
					t.Errorf("error %+v, want %+v", res.Error, c.Expected.EvalError)
				}
			})
			ran++
		}
	}
	if ran < 50 {
		t.Errorf("only %d vector cases ran through the CLI", ran)
	}
}
