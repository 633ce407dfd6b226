package pcs

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Differential tests: the parsers against the frozen copies in
// legacy_test.go, over the vectors, the fuzz corpora (testdata and, when
// present, the local fuzz cache) and deterministic mutations of both. The
// results must be deeply equal and the errors must have the same text and
// wrap the same sentinel.

// sameError checks that got and want are both nil or both errors with the
// same text, both wrapping sentinel.
func sameError(t *testing.T, what string, in []byte, got, want, sentinel error) bool {
	t.Helper()
	if (got == nil) != (want == nil) {
		t.Errorf("%s(%q):\n got error %v\nwant error %v", what, trunc(in), got, want)
		return false
	}
	if got == nil {
		return true
	}
	if got.Error() != want.Error() || errors.Is(got, sentinel) != errors.Is(want, sentinel) {
		t.Errorf("%s(%q):\n got error %v\nwant error %v", what, trunc(in), got, want)
		return false
	}
	return true
}

func trunc(b []byte) []byte {
	if len(b) > 300 {
		return append(append([]byte(nil), b[:300]...), "…"...)
	}
	return b
}

func diffTCBInfo(t *testing.T, raw []byte) {
	t.Helper()
	got, err := ParseTCBInfo(raw, sig64)
	want, werr := oldParseTCBInfo(raw, sig64)
	if sameError(t, "ParseTCBInfo", raw, err, werr, ErrTCBInfoFormat) && !reflect.DeepEqual(got, want) {
		t.Errorf("ParseTCBInfo(%q):\n got %+v\nwant %+v", trunc(raw), got, want)
	}
}

func diffQEIdentity(t *testing.T, raw []byte) {
	t.Helper()
	got, err := ParseQEIdentity(raw, sig64)
	want, werr := oldParseQEIdentity(raw, sig64)
	if sameError(t, "ParseQEIdentity", raw, err, werr, ErrQEIdentityFormat) && !reflect.DeepEqual(got, want) {
		t.Errorf("ParseQEIdentity(%q):\n got %+v\nwant %+v", trunc(raw), got, want)
	}
}

func diffPCKExtensionValue(t *testing.T, der []byte) {
	t.Helper()
	got, err := ParsePCKExtensionValue(der)
	want, werr := oldParsePCKExtensionValue(der)
	if sameError(t, "ParsePCKExtensionValue", der, err, werr, ErrPCKExtensions) && !reflect.DeepEqual(got, want) {
		t.Errorf("ParsePCKExtensionValue(%x):\n got %+v\nwant %+v", der, got, want)
	}
}

func diffPCKExtensions(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	got, err := ParsePCKExtensions(cert)
	want, werr := oldParsePCKExtensions(cert)
	if sameError(t, "ParsePCKExtensions", nil, err, werr, ErrPCKExtensions) && !reflect.DeepEqual(got, want) {
		t.Errorf("ParsePCKExtensions:\n got %+v\nwant %+v", got, want)
	}
}

func diffCertificates(t *testing.T, data []byte) {
	t.Helper()
	got, err := ParseCertificates(data)
	want, werr := oldParseCertificates(data)
	if sameError(t, "ParseCertificates", data, err, werr, ErrCertificateFormat) {
		if len(got) != len(want) {
			t.Errorf("ParseCertificates(%q): %d certificates, want %d", trunc(data), len(got), len(want))
			return
		}
		for i := range got {
			if !bytes.Equal(got[i].Raw, want[i].Raw) {
				t.Errorf("ParseCertificates(%q): certificate %d differs", trunc(data), i)
			}
		}
	}
	blocks, err := splitPEMCertificates(data)
	oldBlocks, werr := oldSplitPEMCertificates(data)
	if sameError(t, "splitPEMCertificates", data, err, werr, nil) {
		if len(blocks) != len(oldBlocks) {
			t.Errorf("splitPEMCertificates(%q): %d blocks, want %d", trunc(data), len(blocks), len(oldBlocks))
			return
		}
		for i := range blocks {
			if !bytes.Equal(blocks[i].text, oldBlocks[i].text) || !bytes.Equal(blocks[i].der, oldBlocks[i].der) {
				t.Errorf("splitPEMCertificates(%q): block %d differs", trunc(data), i)
			}
		}
	}
}

// fuzzCorpus returns the inputs of fuzz target name from testdata/fuzz and
// from the local fuzz cache (GOCACHE/fuzz), when present.
func fuzzCorpus(t testing.TB, name string) [][]byte {
	dirs := []string{filepath.Join("testdata", "fuzz", name)}
	cache := os.Getenv("GOCACHE")
	if cache == "" {
		if d, err := os.UserCacheDir(); err == nil {
			cache = filepath.Join(d, "go-build")
		}
	}
	if cache != "" {
		dirs = append(dirs, filepath.Join(cache, "fuzz", "github.com", "avowhq", "avow", "pcs", name))
	}
	var out [][]byte
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		for _, f := range files {
			if b, ok := readCorpusFile(f); ok {
				out = append(out, b)
			}
		}
	}
	return out
}

// readCorpusFile reads a "go test fuzz v1" file holding one []byte.
func readCorpusFile(path string) ([]byte, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	if !sc.Scan() || sc.Text() != "go test fuzz v1" || !sc.Scan() {
		return nil, false
	}
	line := sc.Text()
	if !strings.HasPrefix(line, "[]byte(") || !strings.HasSuffix(line, ")") {
		return nil, false
	}
	s, err := strconv.Unquote(line[len("[]byte(") : len(line)-1])
	if err != nil {
		return nil, false
	}
	return []byte(s), true
}

// mutate returns n deterministic mutations of seed: byte replacements,
// insertions of snippets, deletions, duplications and truncations.
func mutate(seed []byte, snippets []string, n int, rng *rand.Rand) [][]byte {
	out := make([][]byte, 0, n)
	for range n {
		b := append([]byte(nil), seed...)
		for k := 1 + rng.IntN(3); k > 0; k-- {
			if len(b) == 0 {
				b = append(b, snippets[rng.IntN(len(snippets))]...)
				continue
			}
			i := rng.IntN(len(b))
			switch rng.IntN(7) {
			case 0: // replace a byte
				s := snippets[rng.IntN(len(snippets))]
				if len(s) > 0 {
					b[i] = s[0]
				}
			case 1: // flip a bit
				b[i] ^= 1 << rng.IntN(8)
			case 2, 3: // insert a snippet
				s := snippets[rng.IntN(len(snippets))]
				b = append(b[:i], append([]byte(s), b[i:]...)...)
			case 4: // delete a span
				j := i + 1 + rng.IntN(min(8, len(b)-i))
				b = append(b[:i], b[j:]...)
			case 5: // duplicate a span
				j := i + 1 + rng.IntN(min(64, len(b)-i))
				b = append(b[:j], append(append([]byte(nil), b[i:j]...), b[j:]...)...)
			case 6: // truncate
				b = b[:i]
			}
		}
		out = append(out, b)
	}
	return out
}

var jsonSnippets = []string{
	`"`, `\`, `\"`, `\\`, `\/`, `\u`, `\u00e9`, `\u0041`, `\ud800`, `\uDC00`, `\x`, `\n`, "\\\n",
	`{`, `}`, `[`, `]`, `,`, `:`, `""`, `{}`, `[]`, `[1]`, `{"a":1}`, `"x":1,`, `,"version":3`,
	`1`, `0`, `-`, `-0`, `01`, `1.`, `1.5`, `.5`, `1e`, `1e+`, `1e5`, `1E-2`, `+1`, `-1`, `4294967295`, `4294967296`,
	`true`, `tru`, `false`, `null`, `nul`, `t`, `n`,
	" ", "\t", "\n", "\r", "\x00", "\x1f", "\x7f", "\xff", "\xe2\x80\xa8", "é",
	`"svn":300`, `{"svn":1}`, `"category":1`, `"tcbStatus":"Revoked"`, `"advisoryIDs":[1]`, `"advisoryIDs":["a"]`,
	`"tcbDate":"2024-02-30T00:00:00Z"`, `"fmspc":"00906ED50000"`, `"id":"TDX"`, `"id":"SGX"`,
}

var pemSnippets = []string{
	"\n", "\r\n", " ", "\t", "\x00", "-", "-----", "=", "==", "A", "/", "+", "*", "\xff",
	"-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n", "-----BEGIN ", "-----END ",
	"-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----", "-----BEGIN X509 CRL-----\n",
	"Proc-Type: 4,ENCRYPTED\n", "Key: value\n\n", "\n\n", "CERTIFICATE", "MIIB",
}

var derSnippets = []string{
	"\x00", "\x01", "\x02", "\x04", "\x06", "\x0a", "\x30", "\x31", "\x80", "\x81", "\x82", "\x7f", "\xff",
	"\x02\x01\x00", "\x02\x02\x00\xff", "\x02\x01\xff", "\x02\x00", "\x01\x01\x00", "\x01\x01\xff", "\x01\x01\x01",
	"\x0a\x01\x01", "\x0a\x02\x00\x01", "\x04\x00", "\x30\x00", "\x30\x80", "\x1f\x81\x01",
	"\x06\x0a\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01\x01", "\x06\x0b\x2a\x86\x48\x86\xf8\x4d\x01\x0d\x01\x02\x01",
}

// jsonSeeds are the TCB info and QE identity documents of the vectors plus
// the fuzz corpora of both targets.
func jsonSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	for _, c := range seedBundles() {
		seeds = append(seeds, c.TCBInfo, c.QEIdentity)
	}
	seeds = append(seeds, fuzzCorpus(t, "FuzzParseTCBInfo")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzParseQEIdentity")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzDiffTCBInfo")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzDiffJSON")...)
	return seeds
}

func mutationCount(short, long int) int {
	if testing.Short() {
		return short
	}
	return long
}

func TestDifferentialTCBInfoQEIdentity(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	seeds := jsonSeeds(t)
	// Shape mutations through the generic JSON round trip (pretty-printed
	// and re-ordered documents) as well.
	for _, c := range seedBundles() {
		seeds = append(seeds, mutateJSON(t, c.TCBInfo, func(map[string]any) {}))
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, c.TCBInfo, "", "  "); err == nil {
			seeds = append(seeds, pretty.Bytes())
		}
	}
	n := mutationCount(20, 300)
	for _, s := range seeds {
		diffTCBInfo(t, s)
		diffQEIdentity(t, s)
		for _, m := range mutate(s, jsonSnippets, n, rng) {
			diffTCBInfo(t, m)
			diffQEIdentity(t, m)
		}
	}
}

func TestDifferentialPCKExtensions(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var seeds [][]byte
	seeds = append(seeds, seedPCKExtensionValues(t)...)
	seeds = append(seeds, defaultSpec(t, false).encode(t), defaultSpec(t, true).encode(t))
	seeds = append(seeds, fuzzCorpus(t, "FuzzParsePCKExtensionValue")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzDiffPCKExtensionValue")...)
	n := mutationCount(50, 2000)
	for _, s := range seeds {
		diffPCKExtensionValue(t, s)
		for _, m := range mutate(s, derSnippets, n, rng) {
			diffPCKExtensionValue(t, m)
		}
	}
	for _, s := range loadSets(t) {
		diffPCKExtensions(t, pckCert(t, s))
	}
	diffPCKExtensions(t, nil)
	diffPCKExtensions(t, &x509.Certificate{})
}

func TestDifferentialCertificates(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var seeds [][]byte
	for _, c := range seedBundles() {
		seeds = append(seeds, c.PCKCRLIssuerChain, c.TCBInfoIssuerChain,
			append(append([]byte(nil), c.TCBInfoIssuerChain...), 0, 0),
			bytes.ReplaceAll(c.TCBInfoIssuerChain, []byte("\n"), []byte("\r\n")))
	}
	seeds = append(seeds, fuzzCorpus(t, "FuzzParseCertificates")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzDiffCertificates")...)
	n := mutationCount(30, 600)
	for _, s := range seeds {
		diffCertificates(t, s)
		for _, m := range mutate(s, pemSnippets, n, rng) {
			diffCertificates(t, m)
		}
	}
}

func FuzzDiffTCBInfo(f *testing.F) {
	for _, s := range jsonSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		diffTCBInfo(t, raw)
		diffQEIdentity(t, raw)
	})
}

func FuzzDiffPCKExtensionValue(f *testing.F) {
	for _, v := range seedPCKExtensionValues(f) {
		f.Add(v)
	}
	f.Add(defaultSpec(f, false).encode(f))
	f.Add(defaultSpec(f, true).encode(f))
	f.Fuzz(func(t *testing.T, der []byte) {
		diffPCKExtensionValue(t, der)
	})
}

func FuzzDiffCertificates(f *testing.F) {
	for _, c := range seedBundles() {
		f.Add(c.PCKCRLIssuerChain)
		f.Add(c.TCBInfoIssuerChain)
	}
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		diffCertificates(t, data)
	})
}

// dumpJSON and dumpOldJSON print a parsed tree in one canonical form.
func dumpJSON(v jval) string {
	var b strings.Builder
	var walk func(v jval)
	walk = func(v jval) {
		switch v.kind() {
		case jObject:
			b.WriteString("{")
			d := v.d
			j := v.i + 1
			for end := d.toks[v.i].end; j < end; j = d.next(j + 1) {
				b.WriteString(strconv.Quote(string(jval{d, j}.text())) + ":")
				walk(jval{d, j + 1})
				b.WriteString(",")
			}
			b.WriteString("}" + strconv.Itoa(v.len()))
		case jArray:
			b.WriteString("[")
			for _, e := range v.elems() {
				walk(e)
				b.WriteString(",")
			}
			b.WriteString("]" + strconv.Itoa(v.len()))
		case jBool:
			b.WriteString(strconv.FormatBool(v.boolean()))
		case jNull:
			b.WriteString("null")
		case jNumber:
			b.WriteString("#" + string(v.text()))
		case jString:
			b.WriteString(strconv.Quote(string(v.text())))
		}
	}
	walk(v)
	return b.String()
}

func dumpOldJSON(v *oldJval) string {
	var b strings.Builder
	var walk func(v *oldJval)
	walk = func(v *oldJval) {
		switch v.kind {
		case oldJObject:
			b.WriteString("{")
			for i, k := range v.keys {
				b.WriteString(strconv.Quote(string(k)) + ":")
				walk(v.vals[i])
				b.WriteString(",")
			}
			b.WriteString("}" + strconv.Itoa(len(v.vals)))
		case oldJArray:
			b.WriteString("[")
			for _, e := range v.vals {
				walk(e)
				b.WriteString(",")
			}
			b.WriteString("]" + strconv.Itoa(len(v.vals)))
		case oldJBool:
			b.WriteString(strconv.FormatBool(v.b))
		case oldJNull:
			b.WriteString("null")
		case oldJNumber:
			b.WriteString("#" + string(v.s))
		case oldJString:
			b.WriteString(strconv.Quote(string(v.s)))
		}
	}
	walk(v)
	return b.String()
}

// diffJSON compares the JSON readers: parseJSON (validation, error text,
// tree) and parseSignedJSON (compact form, error text, tree).
func diffJSON(t *testing.T, data []byte) {
	t.Helper()
	got, err := parseJSON(data)
	want, werr := oldParseJSON(data)
	if sameError(t, "parseJSON", data, err, werr, nil) && err == nil {
		if g, w := dumpJSON(got), dumpOldJSON(want); g != w {
			t.Errorf("parseJSON(%q):\n got %s\nwant %s", trunc(data), g, w)
		}
	}
	root, signed, err := parseSignedJSON(data)
	wantSigned, werr := oldCompactJSON(data)
	if sameError(t, "parseSignedJSON", data, err, werr, nil) && err == nil {
		if !bytes.Equal(signed, wantSigned) {
			t.Errorf("parseSignedJSON(%q): compact form %q, want %q", trunc(data), trunc(signed), trunc(wantSigned))
		}
		if len(data) > 0 && len(signed) > 0 && &signed[0] == &data[0] {
			t.Errorf("parseSignedJSON(%q): compact form shares the input's memory", trunc(data))
		}
		oldRoot, err := oldParseValidJSON(wantSigned)
		if err != nil {
			t.Fatalf("oldParseValidJSON(%q): %v", trunc(wantSigned), err)
		}
		if g, w := dumpJSON(root), dumpOldJSON(oldRoot); g != w {
			t.Errorf("parseSignedJSON(%q):\n got %s\nwant %s", trunc(data), g, w)
		}
		root.release()
	}
}

func TestDifferentialJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	seeds := jsonSeeds(t)
	for _, s := range []string{``, ` `, `{}`, ` {} `, `[]`, `[ ]`, `{ }`, `1`, `-0`, `"a"`, `"\u00e9\ud800"`, `{"a":1,"a":2}`,
		`{"\u0061":1}`, `[1,2,[3,{"x":[]}]]`, "\"\xff\"", "\"\x7f\"", "\"\x1f\"", `[1,]`, `{"a":}`, `{,}`, `nul`, `true false`} {
		seeds = append(seeds, []byte(s))
	}
	seeds = append(seeds, bytes.Repeat([]byte("["), maxJSONDepth), bytes.Repeat([]byte("["), maxJSONDepth+1))
	deep := append(bytes.Repeat([]byte("["), maxJSONDepth), bytes.Repeat([]byte("]"), maxJSONDepth)...)
	seeds = append(seeds, deep, append(append([]byte("["), deep...), ']'))
	n := mutationCount(20, 300)
	for _, s := range seeds {
		diffJSON(t, s)
		for _, m := range mutate(s, jsonSnippets, n, rng) {
			diffJSON(t, m)
		}
	}
}

func FuzzDiffJSON(f *testing.F) {
	for _, s := range jsonSeeds(f) {
		f.Add(s)
	}
	f.Add([]byte(`[1,{"a":"\u00e9"},true,null]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		diffJSON(t, data)
	})
}
