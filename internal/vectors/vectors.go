// Package vectors locates the shared real test vectors (../shared/vectors
// beside the checkout) for tests. Tests skip, with a message naming the
// folder, when it is absent; they never pass silently.
package vectors

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Dir returns the path of ../shared/vectors/<sub> relative to the module
// root, or skips the test when it does not exist.
func Dir(tb testing.TB, sub string) string {
	tb.Helper()
	root, err := moduleRoot()
	if err != nil {
		tb.Fatalf("cannot find the module root: %v", err)
	}
	dir := filepath.Join(root, "..", "shared", "vectors", sub)
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("shared test vectors not found at %s (they live beside the checkout in ../shared/vectors); skipping", dir)
	}
	return dir
}

// DCAPSets returns the paths of every S* folder of ../shared/vectors/dcap.
func DCAPSets(tb testing.TB) []string {
	tb.Helper()
	dir := Dir(tb, "dcap")
	matches, err := filepath.Glob(filepath.Join(dir, "S*"))
	if err != nil || len(matches) == 0 {
		tb.Fatalf("no S* sets in %s", dir)
	}
	sort.Strings(matches)
	return matches
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
