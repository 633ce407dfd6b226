// Package imports holds one test: the import rules between avow's packages
// (docs/architecture.md), checked on the source so a new import that breaks
// a layer fails go test rather than a review.
package imports

import (
	"go/build"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/avowhq/avow/"

// forbidden maps a package (or a prefix ending in "/") to the module
// packages it must not import, with the reason.
var forbidden = []struct {
	pkg, imports, why string
}{
	{"api", "client", "the server speaks the wire format (package wire), never through its own client"},
	{"service", "api", "the service knows nothing of HTTP"},
	{"service", "client", "the service never calls itself over the network"},
	{"store/", "service", "the store holds data, the service decides"},
	{"store", "service", "the store holds data, the service decides"},
	{"client", "api", "the client depends on the wire format, not on the server"},
	{"client", "service", "the client depends on the wire format, not on the server"},
	{"client", "store", "the client depends on the wire format, not on the server"},
	{"oidc", "service", "OpenID verification is a part the service uses, not the other way round"},
	{"", "cmd/", "commands are leaves"},
}

// stdOnly are packages that import nothing of the module.
var stdOnly = []string{"wire", "errs", "console"}

func TestImportRules(t *testing.T) {
	root := moduleRoot(t)
	pkgs := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
			return filepath.SkipDir
		}
		p, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files, or only ignored ones
		}
		rel, _ := filepath.Rel(root, path)
		pkgs[filepath.ToSlash(rel)] = p.Imports // not test imports: tests may wire layers together
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages under %s", len(pkgs), root)
	}
	matches := func(pattern, pkg string) bool {
		if strings.HasSuffix(pattern, "/") {
			return strings.HasPrefix(pkg, pattern)
		}
		return pattern == "" || pkg == pattern
	}
	for pkg, imports := range pkgs {
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			target := strings.TrimPrefix(imp, module)
			for _, r := range forbidden {
				if matches(r.pkg, pkg) && matches(r.imports, target) && !strings.HasPrefix(pkg, "cmd/") {
					t.Errorf("%s imports %s: %s", pkg, target, r.why)
				}
			}
			for _, s := range stdOnly {
				if pkg == s {
					t.Errorf("%s imports %s: it may import only the standard library", pkg, target)
				}
			}
		}
	}
}

func moduleRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test")
		}
		dir = parent
	}
}
