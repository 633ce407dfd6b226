package pcs

import (
	"bytes"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t testing.TB, dir, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func tcbBody(c *Collateral) []byte {
	return []byte(`{"tcbInfo":` + string(c.TCBInfo) + `,"signature":"` + hex.EncodeToString(c.TCBInfoSignature) + `"}`)
}

func qeBody(c *Collateral) []byte {
	return []byte(`{"enclaveIdentity":` + string(c.QEIdentity) + `,"signature":"` + hex.EncodeToString(c.QEIdentitySignature) + `"}`)
}

// urlEncode percent-encodes like PCS header values (space %20, newline %0A,
// + %2B, / %2F, = %3D).
func urlEncode(b []byte) []byte {
	return []byte(strings.ReplaceAll(url.QueryEscape(string(b)), "+", "%20"))
}

func equalCollateral(t *testing.T, got, want *Collateral) {
	t.Helper()
	check := func(name string, g, w []byte) {
		if !bytes.Equal(g, w) {
			t.Errorf("%s differs (%d vs %d bytes)", name, len(g), len(w))
		}
	}
	check("pck_crl_issuer_chain", got.PCKCRLIssuerChain, want.PCKCRLIssuerChain)
	check("root_ca_crl", got.RootCACRL, want.RootCACRL)
	check("pck_crl", got.PCKCRL, want.PCKCRL)
	check("tcb_info_issuer_chain", got.TCBInfoIssuerChain, want.TCBInfoIssuerChain)
	check("tcb_info", got.TCBInfo, want.TCBInfo)
	check("tcb_info_signature", got.TCBInfoSignature, want.TCBInfoSignature)
	check("qe_identity_issuer_chain", got.QEIdentityIssuerChain, want.QEIdentityIssuerChain)
	check("qe_identity", got.QEIdentity, want.QEIdentity)
	check("qe_identity_signature", got.QEIdentitySignature, want.QEIdentitySignature)
}

// Every bundle, written out as PCS-like files in two different forms, loads
// back to the same collateral.
func TestLoadDirFromBundles(t *testing.T) {
	for _, s := range loadSets(t) {
		t.Run(s.name+"/der-pem", func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "tcbinfo.json", tcbBody(s.c))
			writeFile(t, dir, "qeidentity.json", qeBody(s.c))
			writeFile(t, dir, "rootca.crl", s.c.RootCACRL)
			writeFile(t, dir, "pckcrl.der", s.c.PCKCRL)
			writeFile(t, dir, "tcb-chain.pem", s.c.TCBInfoIssuerChain)
			if !bytes.Equal(s.c.QEIdentityIssuerChain, s.c.TCBInfoIssuerChain) {
				writeFile(t, dir, "qe-chain.pem", s.c.QEIdentityIssuerChain)
			}
			writeFile(t, dir, "pck-chain.pem", s.c.PCKCRLIssuerChain)
			got, err := Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			equalCollateral(t, got, s.c)
		})
		t.Run(s.name+"/hex-urlencoded", func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "tcb", append(tcbBody(s.c), '\n'))
			writeFile(t, dir, "qe", append(qeBody(s.c), 0)) // C string
			writeFile(t, dir, "rootcacrl", []byte(hex.EncodeToString(s.c.RootCACRL)))
			writeFile(t, dir, "pckcrl", append([]byte(strings.ToUpper(hex.EncodeToString(s.c.PCKCRL))), '\n'))
			writeFile(t, dir, "tcb.issuer-chain", urlEncode(s.c.TCBInfoIssuerChain))
			writeFile(t, dir, "qe.issuer-chain", urlEncode(s.c.QEIdentityIssuerChain))
			writeFile(t, dir, "pckcrl.issuer-chain", urlEncode(s.c.PCKCRLIssuerChain))
			got, err := LoadDir(dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			equalCollateral(t, got, s.c)
		})
		t.Run(s.name+"/pem-crls-reordered-chains", func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, dir, "a", tcbBody(s.c))
			writeFile(t, dir, "b", qeBody(s.c))
			writeFile(t, dir, "c", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: s.c.RootCACRL}))
			writeFile(t, dir, "d", pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: s.c.PCKCRL}))
			writeFile(t, dir, "e", reversePEM(t, s.c.TCBInfoIssuerChain)) // root first
			writeFile(t, dir, "f", reversePEM(t, s.c.PCKCRLIssuerChain))
			if !bytes.Equal(s.c.QEIdentityIssuerChain, s.c.TCBInfoIssuerChain) {
				t.Skip("different TCB signing chains need stem pairing")
			}
			got, err := LoadDir(dir, LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			equalCollateral(t, got, s.c)
		})
		t.Run(s.name+"/bundle-file", func(t *testing.T) {
			got, err := Load(filepath.Join(s.dir, "collateral.json"))
			if err != nil {
				t.Fatal(err)
			}
			equalCollateral(t, got, s.c)
		})
	}
}

func reversePEM(t testing.TB, chain []byte) []byte {
	blocks, err := splitPEMCertificates(chain)
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for i := len(blocks) - 1; i >= 0; i-- {
		out = append(out, blocks[i].text...)
	}
	return out
}

// linkRaw copies files of ../shared/vectors/dcap/raw into a new directory
// (the raw folders also hold quotes and other non-collateral files).
func linkRaw(t *testing.T, files ...string) string {
	t.Helper()
	root := filepath.Join(dcapVectors(t), "raw")
	dir := t.TempDir()
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, filepath.Base(f), data)
	}
	return dir
}

func setByID(t *testing.T, id string) vset {
	for _, s := range loadSets(t) {
		if s.setID() == id {
			return s
		}
	}
	t.Skipf("%s not present", id)
	return vset{}
}

// The raw files as published (PCS response bodies, DER and PEM CRLs,
// certificate files) load to the collateral of the bundles built from them.
func TestLoadDirRawFiles(t *testing.T) {
	cases := []struct {
		set   string
		files []string
	}{
		{"S17", []string{
			"google-go-tdx-guest/sample_tcbInfo_response", "google-go-tdx-guest/sample_qeIdentity_response",
			"google-go-tdx-guest/tcbinfo_issuer_chain.pem", "google-go-tdx-guest/qeidentity_issuer_chain.pem",
			"google-go-tdx-guest/pckcrl_issuer_chain.pem", "google-go-tdx-guest/rootcrl.der", "google-go-tdx-guest/pckcrl",
			"google-go-tdx-guest/trusted_root.pem",
		}},
		{"S18", []string{
			"google-go-tdx-guest/sample_tcbinfo_response_v5", "google-go-tdx-guest/sample_qeIdentity_response",
			"google-go-tdx-guest/tcbinfo_issuer_chain.pem", "google-go-tdx-guest/qeidentity_issuer_chain.pem",
			"google-go-tdx-guest/pckcrl_issuer_chain.pem", "google-go-tdx-guest/rootcrl.der", "google-go-tdx-guest/pckcrl",
		}},
		// Single DER certificates; chains are completed with root_ca.der.
		{"S08", []string{
			"automata-dcap-attestation/evm-0625-tdx-v4/tcbinfov3_00806f050000.json", "automata-dcap-attestation/evm-0625-tdx-v4/qe_td.json",
			"automata-dcap-attestation/evm-0625-tdx-v4/tdxtcbeval.json", "automata-dcap-attestation/evm-0625-tdx-v4/platform_crl_from_test_constant.der",
			"automata-dcap-attestation/evm-common/pck_platform_ca.der", "automata-dcap-attestation/evm-common/root_ca.der",
			"automata-dcap-attestation/evm-common/root_ca_crl.der", "automata-dcap-attestation/evm-common/tcb_signing.der",
		}},
		// Intel's sample data: QVE identity and PCK certificate are skipped.
		{"S21", []string{
			"intel-qvl-sampledata/sgx/tcbInfo.json", "intel-qvl-sampledata/sgx/qeIdentity.json", "intel-qvl-sampledata/sgx/qveIdentity.json",
			"intel-qvl-sampledata/sgx/tcbSignChain.pem", "intel-qvl-sampledata/sgx/pckSignChain.pem", "intel-qvl-sampledata/sgx/pckCert.pem",
			"intel-qvl-sampledata/sgx/rootCaCrl.der", "intel-qvl-sampledata/sgx/intermediateCaCrl.der",
			"intel-qvl-sampledata/sgx/trustedRootCaCert.pem",
		}},
		// Chain files are root first; LoadDir orders them leaf first.
		{"S22", []string{
			"intel-qvl-sampledata/tdx/tcbInfo.json", "intel-qvl-sampledata/tdx/qeIdentity.json",
			"intel-qvl-sampledata/tdx/tcbSignChain.pem", "intel-qvl-sampledata/tdx/pckSignChain.pem", "intel-qvl-sampledata/tdx/pckCert.pem",
			"intel-qvl-sampledata/tdx/rootCaCrl.der", "intel-qvl-sampledata/tdx/intermediateCaCrl.der",
		}},
	}
	for _, c := range cases {
		t.Run(c.set, func(t *testing.T) {
			s := setByID(t, c.set)
			got, err := LoadDir(linkRaw(t, c.files...), LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			equalCollateral(t, got, s.c)
		})
	}
	// The QVL sample folder holds each CRL twice, as DER and as PEM (from
	// different commits, same content): one member, no ambiguity.
	t.Run("S21 with both CRL files", func(t *testing.T) {
		s := setByID(t, "S21")
		dir := linkRaw(t, "intel-qvl-sampledata/sgx/tcbInfo.json", "intel-qvl-sampledata/sgx/qeIdentity.json",
			"intel-qvl-sampledata/sgx/tcbSignChain.pem", "intel-qvl-sampledata/sgx/pckSignChain.pem",
			"intel-qvl-sampledata/sgx/rootCaCrl.der", "intel-qvl-sampledata/sgx/intermediateCaCrl.der",
			"intel-qvl-sampledata/sgx/rootCaCrl.pem", "intel-qvl-sampledata/sgx/intermediateCaCrl.pem")
		got, err := LoadDir(dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		equalCollateral(t, got, s.c)
	})
}

func TestLoadDirSelection(t *testing.T) {
	sgx, tdx := setByID(t, "S01"), setByID(t, "S02")
	both := func(t *testing.T) string {
		dir := t.TempDir()
		writeFile(t, dir, "sgx-tcb.json", tcbBody(sgx.c))
		writeFile(t, dir, "sgx-qe.json", qeBody(sgx.c))
		writeFile(t, dir, "tdx-tcb.json", tcbBody(tdx.c))
		writeFile(t, dir, "tdx-qe.json", qeBody(tdx.c))
		writeFile(t, dir, "root.crl", sgx.c.RootCACRL)
		writeFile(t, dir, "pck.crl", sgx.c.PCKCRL)
		writeFile(t, dir, "tcb.pem", sgx.c.TCBInfoIssuerChain)
		writeFile(t, dir, "pck.pem", sgx.c.PCKCRLIssuerChain)
		return dir
	}
	t.Run("ambiguous without TEE", func(t *testing.T) {
		_, err := LoadDir(both(t), LoadOptions{})
		if !errors.Is(err, ErrCollateralFormat) || !strings.Contains(err.Error(), "several TCB info documents") || !strings.Contains(err.Error(), "several QE identity documents") {
			t.Fatalf("got %v", err)
		}
		if !strings.Contains(err.Error(), "sgx-tcb.json (SGX)") || !strings.Contains(err.Error(), "tdx-qe.json (TD_QE)") {
			t.Errorf("error does not name the files: %v", err)
		}
	})
	for _, tee := range []string{"SGX", "tdx"} {
		t.Run("TEE "+tee, func(t *testing.T) {
			got, err := LoadDir(both(t), LoadOptions{TEE: tee})
			if err != nil {
				t.Fatal(err)
			}
			want := sgx.c
			if tee == "tdx" {
				want = tdx.c
			}
			if !bytes.Equal(got.TCBInfo, want.TCBInfo) || !bytes.Equal(got.QEIdentity, want.QEIdentity) {
				t.Error("wrong documents selected")
			}
		})
	}
	t.Run("TEE selects nothing", func(t *testing.T) {
		dir := t.TempDir()
		for name, data := range map[string][]byte{"t": tcbBody(sgx.c), "q": qeBody(sgx.c), "r": sgx.c.RootCACRL, "p": sgx.c.PCKCRL, "c1": sgx.c.TCBInfoIssuerChain, "c2": sgx.c.PCKCRLIssuerChain} {
			writeFile(t, dir, name, data)
		}
		_, err := LoadDir(dir, LoadOptions{TEE: "TDX"})
		if err == nil || !strings.Contains(err.Error(), "missing tcb_info, qe_identity") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("bad options", func(t *testing.T) {
		if _, err := LoadDir(t.TempDir(), LoadOptions{TEE: "SEV"}); !errors.Is(err, ErrCollateralFormat) {
			t.Error(err)
		}
		if _, err := LoadDir(t.TempDir(), LoadOptions{PCKCA: "root"}); !errors.Is(err, ErrCollateralFormat) {
			t.Error(err)
		}
	})
	t.Run("processor and platform CRLs", func(t *testing.T) {
		// S01 uses the Processor CA, S02 the Platform CA.
		dir := both(t)
		writeFile(t, dir, "pck2.crl", tdx.c.PCKCRL)
		writeFile(t, dir, "pck2.pem", tdx.c.PCKCRLIssuerChain)
		_, err := LoadDir(dir, LoadOptions{TEE: "TDX"})
		if err == nil || !strings.Contains(err.Error(), "several PCK CRLs") || !strings.Contains(err.Error(), "several PCK CRL issuer chains") {
			t.Fatalf("got %v", err)
		}
		got, err := LoadDir(dir, LoadOptions{TEE: "TDX", PCKCA: "Platform"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.PCKCRL, tdx.c.PCKCRL) || !bytes.Equal(got.PCKCRLIssuerChain, tdx.c.PCKCRLIssuerChain) {
			t.Error("platform CA not selected")
		}
		got, err = LoadDir(dir, LoadOptions{TEE: "SGX", PCKCA: "processor"})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.PCKCRL, sgx.c.PCKCRL) || !bytes.Equal(got.PCKCRLIssuerChain, sgx.c.PCKCRLIssuerChain) {
			t.Error("processor CA not selected")
		}
	})
}

func TestLoadDirErrors(t *testing.T) {
	s := setByID(t, "S02")
	full := func(t *testing.T) string {
		dir := t.TempDir()
		writeFile(t, dir, "tcb.json", tcbBody(s.c))
		writeFile(t, dir, "qe.json", qeBody(s.c))
		writeFile(t, dir, "root.crl", s.c.RootCACRL)
		writeFile(t, dir, "pck.crl", s.c.PCKCRL)
		writeFile(t, dir, "tcb.pem", s.c.TCBInfoIssuerChain)
		writeFile(t, dir, "pck.pem", s.c.PCKCRLIssuerChain)
		return dir
	}
	expectErr := func(t *testing.T, dir string, parts ...string) {
		t.Helper()
		_, err := LoadDir(dir, LoadOptions{})
		if !errors.Is(err, ErrCollateralFormat) {
			t.Fatalf("got %v, want ErrCollateralFormat", err)
		}
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Errorf("error %q does not mention %q", err, p)
			}
		}
	}
	if _, err := LoadDir(full(t), LoadOptions{}); err != nil {
		t.Fatalf("baseline: %v", err)
	}
	t.Run("unknown file", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "README.md", []byte("# notes\n"))
		expectErr(t, dir, "README.md", "not a recognised collateral file")
	})
	t.Run("quote file", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "quote.bin", s.quote)
		expectErr(t, dir, "quote.bin")
	})
	t.Run("hex quote", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "quote.hex", []byte(hex.EncodeToString(s.quote)))
		expectErr(t, dir, "quote.hex")
	})
	t.Run("empty file", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "empty", nil)
		expectErr(t, dir, "empty: file is empty")
	})
	t.Run("unknown JSON", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "x.json", []byte(`{"hello":1}`))
		expectErr(t, dir, "x.json")
	})
	t.Run("bundle inside", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "collateral.json", s.bundle)
		expectErr(t, dir, "collateral.json", "collateral bundle")
	})
	t.Run("bad signature", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "tcb.json", bytes.Replace(tcbBody(s.c), []byte(`"signature":"`), []byte(`"signature":"zz`), 1))
		expectErr(t, dir, "tcb.json", "signature")
	})
	t.Run("TCB info of unknown kind", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "tcb.json", bytes.Replace(tcbBody(s.c), []byte(`"id":"TDX"`), []byte(`"id":"SEV"`), 1))
		expectErr(t, dir, "tcb.json", `id "SEV"`)
	})
	t.Run("missing members", func(t *testing.T) {
		dir := full(t)
		os.Remove(filepath.Join(dir, "root.crl"))
		os.Remove(filepath.Join(dir, "tcb.pem"))
		expectErr(t, dir, "missing root_ca_crl, tcb_info_issuer_chain, qe_identity_issuer_chain")
	})
	t.Run("two different TCB infos", func(t *testing.T) {
		dir := full(t)
		other := setByID(t, "S04")
		writeFile(t, dir, "tcb2.json", tcbBody(other.c))
		expectErr(t, dir, "several TCB info documents", "tcb.json (TDX)", "tcb2.json (TDX)")
	})
	t.Run("same document twice is fine", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, "tcb-copy", append(tcbBody(s.c), "\n\n"...))
		writeFile(t, dir, "pck-copy.crl", []byte(hex.EncodeToString(s.c.PCKCRL)))
		writeFile(t, dir, "tcb-copy.issuer-chain", urlEncode(s.c.TCBInfoIssuerChain))
		if _, err := LoadDir(dir, LoadOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("hidden files and subdirectories are ignored", func(t *testing.T) {
		dir := full(t)
		writeFile(t, dir, ".DS_Store", []byte{0, 1, 2})
		if err := os.Mkdir(filepath.Join(dir, "old"), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, "old"), "junk", []byte("junk"))
		if _, err := LoadDir(dir, LoadOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("chain without its root", func(t *testing.T) {
		dir := full(t)
		blocks, _ := splitPEMCertificates(s.c.TCBInfoIssuerChain)
		writeFile(t, dir, "tcb.pem", blocks[0].text)
		// pck.pem holds the root, so the TCB chain is completed from it.
		got, err := LoadDir(dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.TCBInfoIssuerChain, s.c.TCBInfoIssuerChain) {
			t.Errorf("completed chain differs")
		}
		// Without any root in the directory it is an error.
		pckBlocks, _ := splitPEMCertificates(s.c.PCKCRLIssuerChain)
		writeFile(t, dir, "pck.pem", pckBlocks[0].text)
		expectErr(t, dir, "does not end with a root certificate")
	})
	t.Run("unrelated certificates in one file", func(t *testing.T) {
		dir := full(t)
		tcbBlocks, _ := splitPEMCertificates(s.c.TCBInfoIssuerChain)
		pckBlocks, _ := splitPEMCertificates(s.c.PCKCRLIssuerChain)
		writeFile(t, dir, "mixed.pem", append(append([]byte(nil), tcbBlocks[0].text...), pckBlocks[0].text...))
		expectErr(t, dir, "mixed.pem", "do not form one chain")
	})
	t.Run("PCK certificate skipped", func(t *testing.T) {
		dir := full(t)
		pck := pckCert(t, s)
		writeFile(t, dir, "pck-cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pck.Raw}))
		writeFile(t, dir, "qve.json", bytes.Replace(qeBody(s.c), []byte(`"id":"TD_QE"`), []byte(`"id":"QVE"`), 1))
		if _, err := LoadDir(dir, LoadOptions{}); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("paired TCB signing chains", func(t *testing.T) {
		// Two different TCB signing chains (here: the real one and the same
		// certificates in another PEM layout) need pairing by file stem.
		dir := full(t)
		os.Remove(filepath.Join(dir, "tcb.pem"))
		alt := bytes.ReplaceAll(s.c.TCBInfoIssuerChain, []byte("\n"), []byte("\r\n"))
		writeFile(t, dir, "tcb.issuer-chain", s.c.TCBInfoIssuerChain)
		writeFile(t, dir, "qe.issuer-chain", alt)
		got, err := LoadDir(dir, LoadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.TCBInfoIssuerChain, s.c.TCBInfoIssuerChain) || !bytes.Equal(got.QEIdentityIssuerChain, alt) {
			t.Error("chains not paired by stem")
		}
		os.Rename(filepath.Join(dir, "qe.issuer-chain"), filepath.Join(dir, "other.issuer-chain"))
		expectErr(t, dir, "several TCB signing chains", "qe_identity_issuer_chain")
	})
	t.Run("not a directory or file", func(t *testing.T) {
		if _, err := Load(filepath.Join(t.TempDir(), "nope")); !errors.Is(err, ErrCollateralFormat) {
			t.Error(err)
		}
		p := filepath.Join(t.TempDir(), "bundle.json")
		writeFile(t, filepath.Dir(p), "bundle.json", []byte(`{"pck_crl":"00"}`))
		if _, err := Load(p); !errors.Is(err, ErrCollateralFormat) || !strings.Contains(err.Error(), "bundle.json") {
			t.Error(err)
		}
	})
}

// A bundle is one JSON object: whitespace may follow it, anything else is
// refused rather than ignored.
func TestParseBundleTrailingData(t *testing.T) {
	s := loadSets(t)[0]
	if _, err := ParseBundle(append(append([]byte{}, s.bundle...), " \r\n\t"...)); err != nil {
		t.Errorf("trailing whitespace: %v", err)
	}
	for _, tail := range []string{`{}`, "\nx", ` {"pck_crl":"00"}`} {
		_, err := ParseBundle(append(append([]byte{}, s.bundle...), tail...))
		if !errors.Is(err, ErrCollateralFormat) || !strings.Contains(err.Error(), "data after its JSON object") {
			t.Errorf("tail %q: %v", tail, err)
		}
	}
}
