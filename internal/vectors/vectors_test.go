package vectors

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
)

// TestCopiesMatchShared checks that every copied folder of testdata/vectors
// holds exactly the files of ../shared/vectors, byte for byte: no file
// missing, none extra, none changed.
func TestCopiesMatchShared(t *testing.T) {
	shared := Shared()
	if shared == "" {
		t.Skip("../shared/vectors is not beside this checkout; the module's own copies are used as they are")
	}
	for _, sub := range Copied {
		t.Run(sub, func(t *testing.T) {
			want := files(t, filepath.Join(shared, sub))
			got := files(t, Dir(t, sub))
			for name := range want {
				if _, ok := got[name]; !ok {
					t.Errorf("%s/%s is in ../shared/vectors but not in testdata/vectors (copy it)", sub, name)
				}
			}
			for name := range got {
				if _, ok := want[name]; !ok {
					t.Errorf("%s/%s is in testdata/vectors but not in ../shared/vectors (remove it)", sub, name)
				}
			}
			names := make([]string, 0, len(want))
			for name := range want {
				names = append(names, name)
			}
			sort.Strings(names)
			for _, name := range names {
				g, ok := got[name]
				if ok && !bytes.Equal(g, want[name]) {
					t.Errorf("%s/%s differs from ../shared/vectors (%d bytes here, %d there)", sub, name, len(g), len(want[name]))
				}
			}
		})
	}
}

// TestCopiesCarryProvenance checks that each copied folder keeps the file
// that says where its files come from and under which licence (README.md,
// or MANIFEST.md for maa), and that testdata/vectors says what it is.
func TestCopiesCarryProvenance(t *testing.T) {
	for _, sub := range Copied {
		dir := Dir(t, sub)
		_, errReadme := os.Stat(filepath.Join(dir, "README.md"))
		_, errManifest := os.Stat(filepath.Join(dir, "MANIFEST.md"))
		if errReadme != nil && errManifest != nil {
			t.Errorf("testdata/vectors/%s has neither README.md nor MANIFEST.md with its provenance", sub)
		}
	}
	root, err := Path(".")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "README.md")); err != nil {
		t.Errorf("testdata/vectors has no README.md: %v", err)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !slices.Contains(Copied, e.Name()) {
			t.Errorf("testdata/vectors/%s exists but is not in Copied: add it there so the drift check covers it", e.Name())
		}
	}
}

func files(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		t.Fatalf("reading %s: %v", root, err)
	}
	return out
}
