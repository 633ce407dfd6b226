package errs

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// codeDef is an errs.New call with literal arguments, found in the module's
// source: every error code avow defines.
type codeDef struct {
	code, message, pos string
}

// moduleFiles parses every non-test Go file of the module (errs' parent
// folder; hidden folders, testdata and node_modules left out) and calls fn
// with each.
func moduleFiles(t *testing.T, fset *token.FileSet, fn func(path string, f *ast.File) error) error {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		return fn(path, f)
	})
}

// moduleCodes parses every non-test Go file of the module (errs' parent
// folder) and returns the errs.New calls whose code and message are string
// literals, and the positions of those that are not.
func moduleCodes(t *testing.T) (defs []codeDef, other []string) {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = moduleFiles(t, fset, func(path string, f *ast.File) error {
		errsName := ""
		for _, imp := range f.Imports {
			if imp.Path.Value == `"github.com/avowhq/avow/errs"` {
				errsName = "errs"
				if imp.Name != nil {
					errsName = imp.Name.Name
				}
			}
		}
		if f.Name.Name == "errs" {
			return nil // New's own definition and documentation
		}
		if errsName == "" {
			return nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok || sel.Sel.Name != "New" {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); !ok || id.Name != errsName {
				return true
			}
			pos := fset.Position(call.Pos())
			rel, _ := filepath.Rel(root, pos.Filename)
			where := fmt.Sprintf("%s:%d", rel, pos.Line)
			if len(call.Args) != 2 {
				other = append(other, where)
				return true
			}
			code, ok1 := stringLit(call.Args[0])
			msg, ok2 := stringLit(call.Args[1])
			if !ok1 || !ok2 {
				other = append(other, where)
				return true
			}
			defs = append(defs, codeDef{code, msg, where})
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return defs, other
}

func stringLit(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// codePattern: avow's codes are snake_case; ARM's are PascalCase (api/arm.go).
var codePattern = regexp.MustCompile(`^([a-z][a-z0-9]*(_[a-z0-9]+)*|[A-Z][A-Za-z0-9]+)$`)

// TestEveryCodeSaidOnce builds, for every code the module defines, the
// chains that used to repeat themselves, and checks that the rendered text
// (the CLI's line, Error, and the API body's message) says the code once,
// its sentence once and every other part once.
func TestEveryCodeSaidOnce(t *testing.T) {
	defs, other := moduleCodes(t)
	if len(defs) < 150 {
		t.Fatalf("found %d errs.New calls with literal arguments; the scan is broken", len(defs))
	}
	if len(other) > 0 {
		t.Logf("errs.New calls without literal arguments (not checked): %s", strings.Join(other, ", "))
	}
	sort.Slice(defs, func(i, j int) bool { return defs[i].pos < defs[j].pos })
	var otherCode = New("wrapper_failed", "the wrapper failed")
	for _, d := range defs {
		if !codePattern.MatchString(d.code) {
			t.Errorf("%s: code %q is not snake_case", d.pos, d.code)
		}
		if d.message == "" || strings.TrimSpace(d.message) != d.message {
			t.Errorf("%s: %s: message %q is empty or padded", d.pos, d.code, d.message)
		}
		e := New(d.code, d.message)
		detail := Detail(e.Wrapf("detail 42"))
		chains := map[string]error{
			"sentinel":            e,
			"wrapped":             e.Wrapf("detail %d", 42),
			"same code twice":     e.Wrap(e.Wrapf("detail %d", 42)),
			"path twice":          fmt.Errorf("%s: %w", "README.md", e.Wrapf("%s: %w", "README.md", e.Wrapf("%s: %w", "README.md", errors.New("detail 42")))),
			"path, code, path":    e.Wrapf("README.md: %w", fmt.Errorf("README.md: %w", e.Wrapf("detail 42"))),
			"stringified early":   e.Wrapf("%v", e.Wrapf("detail 42")),
			"another stringified": e.Wrapf("%v", otherCode.Wrapf("detail 42")),
			"detail as string":    e.Wrapf("%s", Detail(e.Wrapf("detail 42"))),
			"under another code":  otherCode.Wrap(e.Wrap(e.Wrapf("detail 42"))),
			"over another code":   e.Wrap(otherCode.Wrapf("detail 42")),
			"joined":              e.Wrap(errors.Join(e.Wrapf("detail 42"), errors.New("more"))),
			"wrapped in fmt":      fmt.Errorf("opening x: %w", e.Wrap(e.Wrapf("detail 42"))),
			"sentence only cause": e.Wrap(errors.New(d.message)),
			"file named twice":    fmt.Errorf("README.md: %w", e.Wrap(&fs.PathError{Op: "open", Path: "README.md", Err: fs.ErrNotExist})),
		}
		for name, err := range chains {
			var top *Error
			errors.As(err, &top)
			texts := map[string]string{
				"Text":     Text(err),
				"API body": Detail(top), // api.writeError renders from the typed error
			}
			if err == error(top) {
				texts["Error"] = err.Error() // a fmt wrapper's own text is fmt's
			}
			for kind, text := range texts {
				if err := saidOnce(text, top.Code, d.message); err != nil {
					t.Errorf("%s: %s, %s: %s: %v\n\t%q", d.pos, d.code, name, kind, err, text)
				}
			}
		}
		if restatesCode(d.message, d.code) {
			if strings.Contains(detail, d.message) {
				t.Errorf("%s: %s: the sentence %q, which restates the code, is shown: %q", d.pos, d.code, d.message, detail)
			}
		} else if !strings.HasPrefix(detail, d.message+": ") {
			t.Errorf("%s: %s: Detail %q does not start with the sentence", d.pos, d.code, detail)
		}
	}
}

// saidOnce checks that a rendered error repeats nothing: no ": "-separated
// part twice, the code at most once (and only as the first part), the
// sentence at most once, no "README.md" twice.
func saidOnce(text, code, sentence string) error {
	parts := strings.Split(text, ": ")
	seen := map[string]bool{}
	for i, p := range parts {
		if seen[p] {
			return fmt.Errorf("%q is said twice", p)
		}
		seen[p] = true
		if (p == code || isCode(p)) && i > 0 {
			return fmt.Errorf("the code %q is in the middle", p)
		}
	}
	for _, s := range []string{sentence, "README.md", "detail 42"} {
		if n := strings.Count(text, s); n > 1 {
			return fmt.Errorf("%q is said %d times", s, n)
		}
	}
	if n := strings.Count(text, code); n > 1 && !strings.Contains(sentence, code) {
		return fmt.Errorf("the code %q is said %d times", code, n)
	}
	if words := strings.ReplaceAll(code, "_", " "); strings.Contains(code, "_") && strings.Count(strings.ToLower(text), words) > 1 {
		return fmt.Errorf("the code's words %q are said twice", words)
	}
	return nil
}
