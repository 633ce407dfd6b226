package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestErrorSaidOnce: the CLI's error line is "avow: CODE: sentence:
// detail", each said once, however often the error names the same file or
// wraps the same code.
func TestErrorSaidOnce(t *testing.T) {
	dir := t.TempDir()
	readme := filepath.Join(dir, "README.md")
	if err := os.WriteFile(readme, []byte("# avow\n\navow is a self-hosted attestation service.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	notCollateral := "the collateral could not be read: bundle is not a JSON object of strings: invalid character '#' looking for beginning of value"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"collateral", "import", readme},
			"avow: collateral_invalid: " + readme + ": " + notCollateral},
		{[]string{"quote", "verify", readme, "--collateral", readme, "--at", "2025-07-01T00:00:00Z"},
			"avow: collateral_invalid: " + readme + ": " + notCollateral},
		{[]string{"provider", "list", "--server", "foo"},
			`avow: invalid_argument: server address "foo" is not an http(s) URL such as https://localhost:8443`},
	} {
		code, _, errOut := runAvow(t, tc.args...)
		if code != 2 || strings.TrimSpace(errOut) != tc.want {
			t.Errorf("avow %s: exit %d\n got %q\nwant %q", strings.Join(tc.args, " "), code, errOut, tc.want)
		}
		checkSaidOnce(t, errOut)
	}
}

// checkSaidOnce fails when a ": "-separated part of an error line repeats.
func checkSaidOnce(t *testing.T, line string) {
	t.Helper()
	seen := map[string]bool{}
	for _, part := range strings.Split(strings.TrimSpace(line), ": ") {
		if seen[part] {
			t.Errorf("%q is said twice: %s", part, line)
		}
		seen[part] = true
	}
}
