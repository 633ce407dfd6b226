package console

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/avowhq/avow/alwaysencrypted/aesim"
	"github.com/avowhq/avow/policy"
)

// TestAssetsEscapeByConstruction: the console never turns data into
// markup. Every element is built by h() with textContent; a change that
// reaches for innerHTML and friends, eval or inline handlers fails here.
func TestAssetsEscapeByConstruction(t *testing.T) {
	banned := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(['"]on|javascript:`)
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, _ := assets.ReadFile(path)
		if m := banned.Find(b); m != nil {
			t.Errorf("%s uses %s", path, m)
		}
		if strings.HasSuffix(path, ".html") && (regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).Match(b) || strings.Contains(string(b), "style=")) {
			t.Errorf("%s has an inline script or style", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestTemplates: the shipped templates compile, and the Always Encrypted
// ones are the texts avow uses elsewhere.
func TestTemplates(t *testing.T) {
	for _, tm := range Templates([]Type{{Name: "SgxEnclave", DefaultPolicy: "version=1.0; authorizationrules { => permit(); };"}}) {
		if _, err := policy.Parse(tm.Text); err != nil {
			t.Errorf("%s: %v", tm.Name, err)
		}
	}
	if AlwaysEncryptedFull != aesim.RecommendedPolicy {
		t.Error("AlwaysEncryptedFull differs from aesim.RecommendedPolicy")
	}
	condensed, err := os.ReadFile("../policy/testdata/policies/recommended_condensed.txt")
	if err != nil {
		t.Fatal(err)
	}
	if string(condensed) != AlwaysEncryptedCondensed {
		t.Error("AlwaysEncryptedCondensed differs from policy/testdata/policies/recommended_condensed.txt")
	}
}

func TestCSPWithOIDC(t *testing.T) {
	h := New(Config{OIDC: &OIDC{Issuer: "https://login.example.com/tenant/v2.0", ClientID: "c"}})
	if !strings.Contains(h.csp, "connect-src 'self' https://login.example.com;") || !strings.Contains(h.csp, "default-src 'none'") {
		t.Errorf("CSP with OIDC: %s", h.csp)
	}
	if New(Config{}).csp != CSP {
		t.Error("CSP without OIDC")
	}
}
