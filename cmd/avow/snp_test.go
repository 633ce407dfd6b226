package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

type snpExpected struct {
	Kind           string         `json:"kind"`
	Product        string         `json:"product"`
	Signer         string         `json:"signer"`
	At             string         `json:"at"`
	Result         string         `json:"result"`
	AlsoAcceptable []string       `json:"also_acceptable"`
	Claims         map[string]any `json:"claims"`
}

func snpVectorSets(t *testing.T) []string {
	sets, _ := filepath.Glob(filepath.Join(vectors.Dir(t, "snp"), "S*"))
	if len(sets) == 0 {
		t.Fatal("no SNP vector sets")
	}
	sort.Strings(sets)
	return sets
}

func readSNPExpected(t *testing.T, dir string) snpExpected {
	var e snpExpected
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// snpVerifyArgs are the `avow snp verify` arguments of a vector set.
func snpVerifyArgs(dir, kind, at string) []string {
	main := map[string]string{"snp-report": "report.bin", "azure-snp-hcl": "hcl-report.bin", "maa-sevsnpvm-request": "request.json"}[kind]
	args := []string{"snp", "verify", filepath.Join(dir, main), "--at", at}
	for _, c := range []string{"vcek.der", "vlek.der"} {
		if _, err := os.Stat(filepath.Join(dir, c)); err == nil {
			args = append(args, "--certs", filepath.Join(dir, c))
		}
	}
	return args
}

// TestSNPVerifyVectors runs `avow snp verify` on every SNP vector set.
func TestSNPVerifyVectors(t *testing.T) {
	for _, dir := range snpVectorSets(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			e := readSNPExpected(t, dir)
			code, out := runCLI(t, snpVerifyArgs(dir, e.Kind, e.At)...)
			var got snpVerifyOutput
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			wantCode := 0
			if e.Result != "ok" {
				wantCode = 1
			}
			if code != wantCode || (got.Result != e.Result && !slices.Contains(e.AlsoAcceptable, got.Result)) {
				t.Fatalf("exit %d result %s (%s), want %d %s", code, got.Result, got.Message, wantCode, e.Result)
			}
			if e.Result != "ok" {
				return
			}
			if got.Product != e.Product || got.Signer != e.Signer {
				t.Errorf("product/signer %s/%s, want %s/%s", got.Product, got.Signer, e.Product, e.Signer)
			}
			for k, want := range e.Claims {
				if !reflect.DeepEqual(got.Claims[k], want) {
					t.Errorf("claim %s = %v, want %v", k, got.Claims[k], want)
				}
			}
		})
	}
}

// `avow snp request --hcl` builds a SevSnpVm body that verifies as the HCL
// report does, with the runtime JSON as x-ms-runtime.
func TestSNPRequestFromHCL(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t, "snp"), "S03-milan-azure-snp-vtpm-trustee-v1")
	code, body := runCLI(t, "snp", "request", "--hcl", filepath.Join(dir, "hcl-report.bin"), "--certs", filepath.Join(dir, "vcek.der"), "--nonce", "n-1")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	path := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, "snp", "verify", path, "--at", "2025-06-01T00:00:00Z")
	var got snpVerifyOutput
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 0 || got.Result != "ok" {
		t.Fatalf("exit %d: %s", code, out)
	}
	rt, ok := got.Claims["x-ms-runtime"].(map[string]any)
	if !ok || rt["keys"] == nil {
		t.Errorf("x-ms-runtime = %v", got.Claims["x-ms-runtime"])
	}
	code, out = runCLI(t, "snp", "show", path)
	if code != 0 || !strings.Contains(out, `"nonce": "n-1"`) || !strings.Contains(out, "SEV-VCEK") {
		t.Errorf("show: exit %d\n%s", code, out)
	}
}

func TestSNPVerifyUsage(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t, "snp"), "S01-milan-vcek-gsg")
	for _, args := range [][]string{
		{"snp", "verify"},
		{"snp", "verify", filepath.Join(dir, "report.bin"), "--at", "yesterday"},
		{"snp", "verify", filepath.Join(dir, "nope.bin")},
		{"snp", "verify", filepath.Join(dir, "report.bin"), "--output", "xml"},
		{"snp", "request", "--certs", filepath.Join(dir, "vcek.der")},
	} {
		if code, _ := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	// A bare report without its VCEK and without --kds is refused (1), not a usage error.
	code, out := runCLI(t, "snp", "verify", filepath.Join(dir, "report.bin"), "--at", "2023-01-01T00:00:00Z")
	if code != 1 || !strings.Contains(out, "vcek_unavailable") {
		t.Errorf("exit %d: %s", code, out)
	}
}
