package pcs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/avowhq/avow/internal/vectors"
)

// vset is one S* folder of ../shared/vectors/dcap.
type vset struct {
	name     string
	dir      string
	bundle   []byte
	c        *Collateral
	quote    []byte
	kind     string // sgx-v3, tdx-v4, tdx-v5
	expected map[string]any
}

func loadSets(t testing.TB) []vset {
	t.Helper()
	var out []vset
	for _, dir := range vectors.DCAPSets(t) {
		out = append(out, loadSet(t, dir))
	}
	return out
}

func loadSet(t testing.TB, dir string) vset {
	t.Helper()
	s := vset{name: filepath.Base(dir), dir: dir}
	var err error
	if s.bundle, err = os.ReadFile(filepath.Join(dir, "collateral.json")); err != nil {
		t.Fatal(err)
	}
	if s.c, err = ParseBundle(s.bundle); err != nil {
		t.Fatalf("%s: ParseBundle: %v", s.name, err)
	}
	if s.quote, err = os.ReadFile(filepath.Join(dir, "quote.bin")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &s.expected); err != nil {
		t.Fatal(err)
	}
	s.kind, _ = s.expected["kind"].(string)
	return s
}

func (s vset) setID() string { return s.name[:3] }

// quoteChain returns the PCK certificate chain carried in the quote's
// certification data, or nil when the quote carries none (S21, type 1).
// PEM chains are found by their BEGIN line; a v4 quote with a DER chain
// (S22) is walked structurally.
func quoteChain(t testing.TB, q []byte) []*x509.Certificate {
	t.Helper()
	if i := bytes.Index(q, pemCertBegin); i >= 0 {
		end := bytes.LastIndex(q, []byte("-----END CERTIFICATE-----"))
		certs, err := ParseCertificates(q[i : end+len("-----END CERTIFICATE-----")])
		if err != nil {
			t.Fatalf("PEM chain in quote: %v", err)
		}
		return certs
	}
	if binary.LittleEndian.Uint16(q) != 4 || binary.LittleEndian.Uint32(q[4:]) != 0x81 {
		return nil
	}
	// v4 TDX: body 48..632, sig data len at 632, quote sig, att key, outer
	// cert type/size at 764/766, QE report 770, QE sig 1154, auth size 1218.
	auth := int(binary.LittleEndian.Uint16(q[1218:]))
	off := 1220 + auth
	typ := binary.LittleEndian.Uint16(q[off:])
	size := int(binary.LittleEndian.Uint32(q[off+2:]))
	if typ != 5 {
		return nil
	}
	certs, err := ParseCertificates(q[off+6 : off+6+size])
	if err != nil {
		t.Fatalf("DER chain in quote: %v", err)
	}
	return certs
}

// pckCert returns the set's PCK certificate: from the quote, or from
// pck_cert.pem when the quote does not carry it.
func pckCert(t testing.TB, s vset) *x509.Certificate {
	t.Helper()
	certs := quoteChain(t, s.quote)
	if certs == nil {
		pemData, err := os.ReadFile(filepath.Join(s.dir, "pck_cert.pem"))
		if err != nil {
			t.Fatalf("%s: no chain in quote and no pck_cert.pem: %v", s.name, err)
		}
		if certs, err = ParseCertificates(pemData); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range certs {
		for _, e := range c.Extensions {
			if e.Id.Equal(OIDSGXExtensions) {
				return c
			}
		}
	}
	t.Fatalf("%s: no certificate with SGX extensions", s.name)
	return nil
}

// sharedDCAP returns the module's copy of the DCAP vectors, or "" when it
// cannot be found (fuzz seed loaders, which have no test to fail).
func sharedDCAP() string {
	d, err := vectors.Path("dcap")
	if err != nil {
		return ""
	}
	return d
}

// seedBundles returns the collateral of every set for fuzz seeding (none
// when the vectors are absent).
func seedBundles() []*Collateral {
	d := sharedDCAP()
	if d == "" {
		return nil
	}
	dirs, _ := filepath.Glob(filepath.Join(d, "S*"))
	sort.Strings(dirs)
	var out []*Collateral
	for _, dir := range dirs {
		b, err := os.ReadFile(filepath.Join(dir, "collateral.json"))
		if err != nil {
			continue
		}
		if c, err := ParseBundle(b); err == nil {
			out = append(out, c)
		}
	}
	return out
}

// mutateJSON decodes doc, applies f to the generic value and re-encodes it
// (member order is not kept; parse-rule tests do not need it).
func mutateJSON(t testing.TB, doc []byte, f func(m map[string]any)) []byte {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	f(m)
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Small accessors for mutations.
func obj(v any) map[string]any { return v.(map[string]any) }
func arr(v any) []any          { return v.([]any) }
func level(m map[string]any, i int) map[string]any {
	return obj(arr(m["tcbLevels"])[i])
}
func tcbOf(m map[string]any, i int) map[string]any { return obj(level(m, i)["tcb"]) }

// verifiesWith reports whether sig (r‖s) over msg verifies with the key of
// the first certificate of chain (the TCB signing certificate).
func verifiesWith(t testing.TB, chain, msg, sig []byte) bool {
	t.Helper()
	certs, err := ParseCertificates(chain)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := certs[0].PublicKey.(*ecdsa.PublicKey)
	if !ok || len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(msg)
	return ecdsa.Verify(pub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}
