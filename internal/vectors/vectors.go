// Package vectors locates the real test vectors for tests. They live in the
// module's testdata/vectors as byte-identical copies of ../shared/vectors
// (the project's shared folder of real data with provenance), so that a
// clone tests itself; TestCopiesMatchShared keeps the two from drifting
// wherever ../shared/vectors exists.
package vectors

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Copied are the folders of ../shared/vectors that the module carries in
// testdata/vectors.
var Copied = []string{"dcap", "maa", "maa-rest-examples", "nvgpu", "snp"}

// Dir returns testdata/vectors/<sub> of the module. A missing folder fails
// the test: the vectors ship with the module, so their absence is a broken
// checkout, never a reason to skip.
func Dir(tb testing.TB, sub string) string {
	tb.Helper()
	dir, err := Path(sub)
	if err != nil {
		tb.Fatalf("test vectors %q: %v", sub, err)
	}
	return dir
}

// Path returns testdata/vectors/<sub> of the module, or an error when it is
// not there. For callers without a testing.TB (fuzz seed loaders).
func Path(sub string) (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "testdata", "vectors", sub)
	if _, err := os.Stat(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Shared returns ../shared/vectors beside the checkout, or "" when the
// checkout has no such neighbour (a plain clone).
func Shared() string {
	root, err := moduleRoot()
	if err != nil {
		return ""
	}
	dir := filepath.Join(root, "..", "shared", "vectors")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// DCAPSets returns the paths of every S* folder of the DCAP vectors.
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
