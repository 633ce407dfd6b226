package pcs

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// Differential tests of the direct readers against their oracles —
// encoding/asn1 (PCK extension), pem.Decode (PEM blocks) and encoding/json
// (validity and compact form) —
// over the vectors, the fuzz corpora (testdata and, when present, the local
// fuzz cache) and deterministic mutations of both. Results must be deeply
// equal and errors must have the same text.

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

// diffPCKExtensionValue compares the direct DER reader with encoding/asn1.
func diffPCKExtensionValue(t *testing.T, der []byte) {
	t.Helper()
	got, n, err := parsePCKExtensionValue(der)
	want, wn, werr := parsePCKExtensionValueASN1(der)
	if sameError(t, "parsePCKExtensionValue", der, err, werr, nil) && (n != wn || !reflect.DeepEqual(got, want)) {
		t.Errorf("parsePCKExtensionValue(%x):\n got %d %+v\nwant %d %+v", der, n, got, wn, want)
	}
}

// diffPCKExtensions compares the readers on a certificate's SGX extension.
func diffPCKExtensions(t *testing.T, cert *x509.Certificate) {
	t.Helper()
	if cert == nil {
		return
	}
	for _, ext := range cert.Extensions {
		if ext.Id.Equal(OIDSGXExtensions) {
			diffPCKExtensionValue(t, ext.Value)
		}
	}
}

// diffCertificates checks the direct PEM decoder against pem.Decode at the
// start of every block of data.
func diffCertificates(t *testing.T, data []byte) {
	t.Helper()
	rest := bytes.TrimRight(data, "\x00")
	for {
		rest = bytes.TrimLeft(rest, " \t\r\n")
		text, der, after, ok := decodePEMCertificate(rest)
		if !ok {
			return
		}
		block, stdAfter := pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" || len(block.Headers) != 0 ||
			!bytes.Equal(der, block.Bytes) || !bytes.Equal(after, stdAfter) || !bytes.Equal(text, rest[:len(rest)-len(stdAfter)]) {
			t.Errorf("decodePEMCertificate(%q) differs from pem.Decode", trunc(rest))
			return
		}
		rest = after
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
	return append(seeds, jsonCorpus(t)...)
}

func jsonCorpus(t testing.TB) [][]byte {
	var seeds [][]byte
	seeds = append(seeds, fuzzCorpus(t, "FuzzParseTCBInfo")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzParseQEIdentity")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzDiffJSON")...)
	return seeds
}

// perSeed spreads a budget of mutations over the seeds: the first nFull
// (the vectors) get full each, the rest (fuzz corpora, which grow as the
// fuzzers run) share rest.
func perSeed(i, nFull, nSeeds, full, rest int) int {
	if i < nFull || nSeeds <= nFull {
		return full
	}
	return min(full, max(1, rest/(nSeeds-nFull)))
}

func mutationCount(short, long int) int {
	if testing.Short() {
		return short
	}
	return long
}

func TestDifferentialPCKExtensions(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var seeds [][]byte
	seeds = append(seeds, seedPCKExtensionValues(t)...)
	seeds = append(seeds, defaultSpec(t, false).encode(t), defaultSpec(t, true).encode(t))
	seeds = append(seeds, fuzzCorpus(t, "FuzzParsePCKExtensionValue")...)
	seeds = append(seeds, fuzzCorpus(t, "FuzzDiffPCKExtensionValue")...)
	n := mutationCount(50, 2000)
	nFull := len(seeds) - len(fuzzCorpus(t, "FuzzParsePCKExtensionValue")) - len(fuzzCorpus(t, "FuzzDiffPCKExtensionValue"))
	for i, s := range seeds {
		diffPCKExtensionValue(t, s)
		for _, m := range mutate(s, derSnippets, perSeed(i, nFull, len(seeds), n, 10*n), rng) {
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
	nFull := 4 * len(seedBundles())
	for i, s := range seeds {
		diffCertificates(t, s)
		for _, m := range mutate(s, pemSnippets, perSeed(i, nFull, len(seeds), n, 10*n), rng) {
			diffCertificates(t, m)
		}
	}
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

// diffJSON checks the JSON readers against encoding/json: the same inputs
// are valid, and the compact form is json.Compact's (the bytes QVL signs).
func diffJSON(t *testing.T, data []byte) {
	t.Helper()
	valid := json.Valid(data)
	if _, err := parseJSON(data); (err == nil) != valid {
		t.Errorf("parseJSON(%q): error %v, encoding/json says valid=%v", trunc(data), err, valid)
	}
	root, signed, err := parseSignedJSON(data)
	if (err == nil) != valid {
		t.Errorf("parseSignedJSON(%q): error %v, encoding/json says valid=%v", trunc(data), err, valid)
		return
	}
	if err != nil {
		return
	}
	defer root.release()
	var want bytes.Buffer
	if err := json.Compact(&want, data); err != nil || !bytes.Equal(signed, want.Bytes()) {
		t.Errorf("parseSignedJSON(%q): compact form %q, json.Compact %q (%v)", trunc(data), trunc(signed), trunc(want.Bytes()), err)
	}
	if len(data) > 0 && len(signed) > 0 && &signed[0] == &data[0] {
		t.Errorf("parseSignedJSON(%q): compact form shares the input's memory", trunc(data))
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
	n := mutationCount(20, 200)
	nFull := 2 * len(seedBundles())
	for i, s := range seeds {
		if len(s) > 8000 {
			diffJSON(t, s) // the deep arrays: no mutations, they are slow
			continue
		}
		diffJSON(t, s)
		for _, m := range mutate(s, jsonSnippets, perSeed(i, nFull, len(seeds), n, 20*n), rng) {
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
