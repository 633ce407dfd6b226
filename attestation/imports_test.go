package attestation_test

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportDirection keeps the arrows of docs/architecture.md: package
// attestation imports nothing of avow but errs; the service and the HTTP
// layer import no attestation type and no claim derivation (they reach the
// types through the registry only); no type imports the service.
func TestImportDirection(t *testing.T) {
	const mod = "github.com/avowhq/avow/"
	typePkgs := []string{mod + "attestation/sgx", mod + "attestation/tdx", mod + "attestation/dcapquote", mod + "attestation/builtin", mod + "claims",
		mod + "attestation/sevsnp", mod + "snp"}
	rules := []struct {
		dir    string
		refuse func(imp string) bool
		why    string
	}{
		{".", func(imp string) bool { return strings.HasPrefix(imp, mod) && imp != mod+"errs" }, "package attestation imports only errs of avow"},
		{"../service", func(imp string) bool { return hasAny(imp, typePkgs) }, "the service reaches types through the registry"},
		{"../api", func(imp string) bool { return hasAny(imp, typePkgs) }, "the HTTP layer reaches types through the service"},
		{"sgx", func(imp string) bool { return imp == mod+"service" || imp == mod+"api" }, "types do not import the service"},
		{"tdx", func(imp string) bool { return imp == mod+"service" || imp == mod+"api" }, "types do not import the service"},
		{"dcapquote", func(imp string) bool { return imp == mod+"service" || imp == mod+"api" }, "types do not import the service"},
		{"sevsnp", func(imp string) bool { return imp == mod+"service" || imp == mod+"api" }, "types do not import the service"},
		{"../snp", func(imp string) bool { return imp == mod+"service" || imp == mod+"api" || imp == mod+"store" }, "the SNP verifier knows neither the service nor the store"},
	}
	for _, r := range rules {
		files, err := filepath.Glob(filepath.Join(r.dir, "*.go"))
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no Go files (%v)", r.dir, err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue // tests may wire anything together
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			af, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, is := range af.Imports {
				imp, _ := strconv.Unquote(is.Path.Value)
				if r.refuse(imp) {
					t.Errorf("%s imports %s: %s", f, imp, r.why)
				}
			}
		}
	}
}

func hasAny(imp string, pkgs []string) bool {
	for _, p := range pkgs {
		if imp == p {
			return true
		}
	}
	return false
}
