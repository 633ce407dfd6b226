package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

// runCLI runs avow in-process and returns its exit code and standard output.
func runCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, out, errOut := runAvow(t, args...)
	if errOut != "" {
		t.Logf("stderr: %s", errOut)
	}
	return code, out
}

// TestQuoteVerifyVectors runs `avow quote verify` on every DCAP vector set
// and compares its JSON with expected.json.
func TestQuoteVerifyVectors(t *testing.T) {
	for _, dir := range vectors.DCAPSets(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			var exp struct {
				At                string   `json:"at"`
				Root              string   `json:"root"`
				Result            string   `json:"result"`
				TCBStatus         *string  `json:"tcb_status"`
				AdvisoryIDs       []string `json:"advisory_ids"`
				CollateralExpired bool     `json:"collateral_expired"`
				Kind              string   `json:"kind"`
				MREnclave         string   `json:"mrenclave"`
				MRTD              string   `json:"mrtd"`
			}
			raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(raw, &exp); err != nil {
				t.Fatal(err)
			}
			args := []string{"quote", "verify", filepath.Join(dir, "quote.bin"),
				"--collateral", filepath.Join(dir, "collateral.json"), "--at", exp.At}
			if exp.Root == "intel-test" {
				args = append(args, "--root", filepath.Join(dir, "root.pem"))
			}
			code, out := runCLI(t, args...)
			var got verifyOutput
			if err := json.Unmarshal([]byte(out), &got); err != nil {
				t.Fatalf("output is not JSON: %v\n%s", err, out)
			}
			wantCode := 0
			if exp.Result != "ok" {
				wantCode = 1
			}
			if code != wantCode || got.Result != exp.Result {
				t.Fatalf("exit %d result %q, want exit %d result %q\n%s", code, got.Result, wantCode, exp.Result, out)
			}
			if got.CollateralExpired != exp.CollateralExpired || got.TEE != exp.Kind[:3] {
				t.Errorf("collateral_expired %v tee %s, want %v %s", got.CollateralExpired, got.TEE, exp.CollateralExpired, exp.Kind[:3])
			}
			if exp.Result != "ok" {
				return
			}
			if got.TCBStatus != *exp.TCBStatus || !slices.Equal(got.AdvisoryIDs, append([]string{}, exp.AdvisoryIDs...)) {
				t.Errorf("tcb %s %v, want %s %v", got.TCBStatus, got.AdvisoryIDs, *exp.TCBStatus, exp.AdvisoryIDs)
			}
			if exp.MREnclave != "" && got.Claims["x-ms-sgx-mrenclave"] != exp.MREnclave {
				t.Errorf("mrenclave claim %v, want %s", got.Claims["x-ms-sgx-mrenclave"], exp.MREnclave)
			}
			if exp.MRTD != "" && got.Claims["tdx_mrtd"] != exp.MRTD {
				t.Errorf("tdx_mrtd claim %v, want %s", got.Claims["tdx_mrtd"], exp.MRTD)
			}
		})
	}
}

func TestQuoteVerifyUsageErrors(t *testing.T) {
	dir := vectors.Dir(t, "dcap")
	set := filepath.Join(dir, "S01-sgx-v3-phala")
	cases := [][]string{
		{"quote", "verify", filepath.Join(set, "quote.bin"), "--at", "2025-07-01T00:00:00Z"},                                                          // no collateral
		{"quote", "verify", filepath.Join(set, "quote.bin"), "--collateral", filepath.Join(set, "collateral.json"), "--at", "yesterday"},              // bad time
		{"quote", "verify", filepath.Join(set, "missing.bin"), "--collateral", filepath.Join(set, "collateral.json"), "--at", "2025-07-01T00:00:00Z"}, // no file
		{"quote", "verify", filepath.Join(set, "quote.bin"), "--collateral", filepath.Join(set, "quote.bin"), "--at", "2025-07-01T00:00:00Z"},         // not collateral
	}
	for _, args := range cases {
		if code, out := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
}
