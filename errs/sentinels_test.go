package errs

import (
	"go/ast"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sharedCodes are the codes more than one package's exported sentinels
// carry on purpose, with the reason: errors.Is matches them across the
// packages, which is what each of these wants.
var sharedCodes = map[string]string{
	"unauthorized":          "oidc's failures are the service's unauthenticated caller (401)",
	"forbidden":             "oidc's missing role is the service's forbidden caller (403)",
	"not_found":             "a missing store item that reaches a client is the API's missing resource (404), the same answer",
	"runtime_data_mismatch": "attestation's is the binding failure of any type; claims' is the DCAP types' instance of it",
}

// dcapClassCodes are the result classes of testdata/vectors/dcap/README.md:
// quote and pcs find them while parsing, dcap while verifying, and a caller
// asks errors.Is(err, dcap.ErrX) whichever layer found it.
var dcapClassCodes = []string{"unsupported_quote_format", "unsupported_certification_data", "tcb_not_supported",
	"tcb_info_invalid", "qe_identity_invalid", "pck_chain_invalid", "collateral_invalid", "collateral_expired"}

// TestSentinelCodesUnique: an exported sentinel (a package-level Err… var
// made by errs.New) has a code no other package's exported sentinel has,
// unless sharedCodes or the DCAP classes say why — otherwise errors.Is
// cannot tell the two apart.
func TestSentinelCodesUnique(t *testing.T) {
	byCode := map[string][]string{}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = moduleFiles(t, fset, func(path string, f *ast.File) error {
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !name.IsExported() || i >= len(vs.Values) {
						continue
					}
					if code, ok := newCode(vs.Values[i]); ok {
						byCode[code] = append(byCode[code], rel+"."+name.Name)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(byCode) < 50 {
		t.Fatalf("found only %d sentinel codes under %s", len(byCode), root)
	}
	classes := map[string]bool{}
	for _, c := range dcapClassCodes {
		classes[c] = true
	}
	for code, where := range byCode {
		pkgs := map[string]bool{}
		for _, w := range where {
			pkgs[w[:strings.LastIndex(w, ".")]] = true
		}
		if len(pkgs) < 2 || sharedCodes[code] != "" || classes[code] {
			continue
		}
		sort.Strings(where)
		t.Errorf("code %q is the code of %s: give each its own code, or say in sharedCodes why they share one", code, strings.Join(where, ", "))
	}
}

// newCode returns the code of an errs.New(...) call, possibly followed by
// .WithStatus(...).
func newCode(e ast.Expr) (string, bool) {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return "", false
	}
	if sel.Sel.Name == "WithStatus" {
		return newCode(sel.X)
	}
	if id, ok := sel.X.(*ast.Ident); !ok || id.Name != "errs" || sel.Sel.Name != "New" || len(call.Args) != 2 {
		return "", false
	}
	return stringLit(call.Args[0])
}

// TestInternalIsAlways500: the code "internal" is made by Internal, which
// answers 500; an errs.New("internal", …) would be answered as a client's
// error (400).
func TestInternalIsAlways500(t *testing.T) {
	defs, _ := moduleCodes(t)
	for _, d := range defs {
		if d.code == "internal" {
			t.Errorf("%s: errs.New(\"internal\", %q): use errs.Internal", d.pos, d.message)
		}
	}
	if HTTPStatus(Internal("x").Wrapf("y")) != 500 {
		t.Error("Internal is not 500")
	}
}
