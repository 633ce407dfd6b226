package snp

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

// The embedded roots are byte-identical to the shared vectors' and match
// the SHA-256 their provenance names.
func TestRootsMatchVectors(t *testing.T) {
	shared := filepath.Join(vectors.Dir(t, "snp"), "roots")
	var prov struct {
		Files map[string]struct {
			SHA256 string `json:"sha256"`
		} `json:"files"`
	}
	b, err := rootFiles.ReadFile("roots/provenance.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &prov); err != nil {
		t.Fatal(err)
	}
	for _, pair := range rootBundles {
		for _, name := range pair {
			ours, err := rootFiles.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := os.ReadFile(filepath.Join(shared, filepath.Base(name)))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Errorf("%s differs from the shared vectors' copy", name)
			}
			sum := sha256.Sum256(ours)
			if want := prov.Files[filepath.Base(name)].SHA256; hex.EncodeToString(sum[:]) != want {
				t.Errorf("%s: SHA-256 %x, provenance says %s", name, sum, want)
			}
		}
	}
}

func TestAMDRoots(t *testing.T) {
	for _, p := range Products {
		rs := AMDRoots().For(p)
		if len(rs) != 1 {
			t.Fatalf("%s: %d roots", p, len(rs))
		}
		r := rs[0]
		if r.Ark.Subject.CommonName != "ARK-"+p || r.Ask.Subject.CommonName != "SEV-"+p || r.Asvk.Subject.CommonName != "SEV-VLEK-"+p {
			t.Errorf("%s: ARK %q ASK %q ASVK %q", p, r.Ark.Subject.CommonName, r.Ask.Subject.CommonName, r.Asvk.Subject.CommonName)
		}
		for _, ica := range []*x509.Certificate{r.Ask, r.Asvk} {
			if err := ica.CheckSignatureFrom(r.Ark); err != nil {
				t.Errorf("%s: %s not signed by the ARK: %v", p, ica.Subject.CommonName, err)
			}
		}
	}
}
