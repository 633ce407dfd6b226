package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/sgxsim"
)

func mustRunSim(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runAvow(t, args...)
	if code != 0 {
		t.Fatalf("avow %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// TestSimDemoFlow is the documented flow: root, collateral and quote from
// one platform directory, then `avow quote verify` with the simulated root.
func TestSimDemoFlow(t *testing.T) {
	simDir, work := t.TempDir(), t.TempDir()
	path := func(name string) string { return filepath.Join(work, name) }
	at := "2025-07-01T00:00:00Z"
	mustRunSim(t, "sim", "--sim-dir", simDir, "root", "--out", path("root.pem"))
	for _, tee := range []string{"sgx", "tdx"} {
		mustRunSim(t, "sim", "--sim-dir", simDir, "collateral", "--tee", tee, "--at", at, "--out", path(tee+".json"))
	}
	cases := []struct {
		name   string
		args   []string
		tee    string
		result string
		status string
	}{
		{"sgx", nil, "sgx", "ok", "UpToDate"},
		{"sgx-v4", []string{"--quote-version", "4"}, "sgx", "ok", "UpToDate"},
		{"sgx-v5", []string{"--quote-version", "5"}, "sgx", "ok", "UpToDate"},
		{"tdx", []string{"--tee", "tdx"}, "tdx", "ok", "UpToDate"},
		{"tdx-v5", []string{"--tee", "tdx", "--quote-version", "5"}, "tdx", "ok", "UpToDate"},
		{"outofdate", []string{"--tcb", "outofdate"}, "sgx", "ok", "OutOfDate"},
		{"swhardening", []string{"--tcb", "SWHardening"}, "sgx", "ok", "SWHardeningNeeded"},
		{"unsupported", []string{"--tcb", "unsupported"}, "sgx", "tcb_not_supported", ""},
		{"module", []string{"--tee", "tdx", "--tee-tcb-svn", "03010300000000000000000000000000"}, "tdx", "ok", "OutOfDate"},
		{"qe", []string{"--qe-svn", "6"}, "sgx", "ok", "OutOfDate"},
		{"defect", []string{"--defect", "bad-quote-signature"}, "sgx", "invalid_quote_signature", ""},
		{"tdx-defect", []string{"--tee", "tdx", "--defect", "tdx-module-mismatch"}, "tdx", "tdx_module_mismatch", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := path(c.name + ".bin")
			mustRunSim(t, append([]string{"sim", "--sim-dir", simDir, "quote", "--out", q}, c.args...)...)
			code, out, _ := runAvow(t, "quote", "verify", q, "--collateral", path(c.tee+".json"), "--root", path("root.pem"), "--at", at)
			var res struct {
				Result    string `json:"result"`
				TCBStatus string `json:"tcb_status"`
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatalf("quote verify output: %v\n%s", err, out)
			}
			if res.Result != c.result || res.TCBStatus != c.status || (code == 0) != (c.result == "ok") {
				t.Errorf("quote verify: exit %d, %s %s; want %s %s", code, res.Result, res.TCBStatus, c.result, c.status)
			}
		})
	}
	// A collateral-side defect, made by a later command, applies to the
	// quotes made earlier.
	mustRunSim(t, "sim", "--sim-dir", simDir, "collateral", "--at", at, "--defect", "revoked-pck", "--out", path("revoked.json"))
	code, out, _ := runAvow(t, "quote", "verify", path("sgx.bin"), "--collateral", path("revoked.json"), "--root", path("root.pem"), "--at", at)
	if code != 1 || !strings.Contains(out, `"pck_revoked"`) {
		t.Errorf("revoked PCK: exit %d\n%s", code, out)
	}
}

func TestSimQuoteFields(t *testing.T) {
	simDir, work := t.TempDir(), t.TempDir()
	q := filepath.Join(work, "q.bin")
	_, _, errOut := runAvow(t, "sim", "--sim-dir", simDir, "quote", "--out", q,
		"--mrenclave", strings.Repeat("11", 32), "--mrsigner", "0x"+strings.Repeat("22", 32), "--product-id", "3", "--svn", "4",
		"--debug", "--report-data", "cafe")
	if !strings.Contains(errOut, "wrote sgx quote v3") {
		t.Errorf("stderr: %q", errOut)
	}
	raw, err := os.ReadFile(q)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := quote.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	e := parsed.Enclave
	if e.MREnclave != [32]byte(bytes.Repeat([]byte{0x11}, 32)) || e.MRSigner != [32]byte(bytes.Repeat([]byte{0x22}, 32)) ||
		e.ISVProdID != 3 || e.ISVSVN != 4 || !e.Debug() || e.ReportData[0] != 0xca || e.ReportData[1] != 0xfe || e.ReportData[2] != 0 {
		t.Errorf("enclave report %+v", e)
	}

	mustRunSim(t, "sim", "--sim-dir", simDir, "quote", "--out", q, "--tee", "tdx", "--quote-version", "5",
		"--mrtd", strings.Repeat("33", 48), "--rtmr2", strings.Repeat("44", 48), "--td-attributes", "0100001000000000",
		"--xfam", "e700000000000000", "--tee-tcb-svn2", "06010300000000000000000000000000", "--mrowner", strings.Repeat("55", 48))
	raw, _ = os.ReadFile(q)
	if parsed, err = quote.Parse(raw); err != nil {
		t.Fatal(err)
	}
	td := parsed.TD
	if parsed.BodyType != quote.BodyTDX15 || td.MRTD[0] != 0x33 || td.RTMR[2][47] != 0x44 || td.RTMR[1][0] != 0 ||
		td.TDAttributes != [8]byte{1, 0, 0, 0x10} || td.XFAM != [8]byte{0xe7} || td.TEETCBSVN2[0] != 6 || td.MROwner[0] != 0x55 || !td.Debug() {
		t.Errorf("TD report %+v", td)
	}

	// --out - writes the quote itself to standard output.
	out := mustRunSim(t, "sim", "--sim-dir", simDir, "quote", "--out", "-")
	if _, err := quote.Parse([]byte(out)); err != nil {
		t.Errorf("quote on stdout: %v", err)
	}
}

func TestSimRootAndCollateral(t *testing.T) {
	simDir, work := t.TempDir(), t.TempDir()
	out := mustRunSim(t, "sim", "--sim-dir", simDir, "root", "--out", "-")
	block, _ := pem.Decode([]byte(out))
	if block == nil {
		t.Fatalf("root: no PEM: %q", out)
	}
	root, err := x509.ParseCertificate(block.Bytes)
	if err != nil || root.Subject.CommonName != sgxsim.RootCN {
		t.Fatalf("root: %v %v", root, err)
	}
	// The same platform on the next run.
	p, err := sgxsim.Open(simDir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(p.Root().Raw, root.Raw) {
		t.Errorf("root differs from the platform directory's")
	}
	col := filepath.Join(work, "c.json")
	mustRunSim(t, "sim", "--sim-dir", simDir, "collateral", "--tee", "tdx", "--at", "2030-01-02T03:04:05Z", "--validity", "48h", "--out", col)
	b, _ := os.ReadFile(col)
	c, err := pcs.ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	var ti struct {
		ID         string `json:"id"`
		IssueDate  string `json:"issueDate"`
		NextUpdate string `json:"nextUpdate"`
	}
	if err := json.Unmarshal(c.TCBInfo, &ti); err != nil || ti.ID != "TDX" || ti.IssueDate != "2030-01-02T03:04:05Z" || ti.NextUpdate != "2030-01-04T03:04:05Z" {
		t.Errorf("TCB info %+v %v", ti, err)
	}
}

func TestSimDirDefaults(t *testing.T) {
	env := t.TempDir()
	t.Setenv("AVOW_SIM_DIR", env)
	mustRunSim(t, "sim", "root", "--out", "-")
	if _, err := os.Stat(filepath.Join(env, "platform.json")); err != nil {
		t.Errorf("$AVOW_SIM_DIR not used: %v", err)
	}
	t.Setenv("AVOW_SIM_DIR", "")
	cwd := t.TempDir()
	t.Chdir(cwd)
	mustRunSim(t, "sim", "root", "--out", "-")
	if _, err := os.Stat(filepath.Join(cwd, "avow-sim", "platform.json")); err != nil {
		t.Errorf("./avow-sim not used: %v", err)
	}
}

func TestSimUsageErrors(t *testing.T) {
	simDir := t.TempDir()
	out := filepath.Join(t.TempDir(), "x")
	for name, args := range map[string][]string{
		"bad hex":             {"quote", "--out", out, "--mrenclave", "zz"},
		"short mrenclave":     {"quote", "--out", out, "--mrenclave", "11"},
		"long report data":    {"quote", "--out", out, "--report-data", strings.Repeat("00", 65)},
		"bad tee":             {"quote", "--out", out, "--tee", "sev"},
		"bad version":         {"quote", "--out", out, "--quote-version", "2"},
		"tdx v3":              {"quote", "--out", out, "--tee", "tdx", "--quote-version", "3"},
		"bad preset":          {"quote", "--out", out, "--tcb", "great"},
		"bad defect":          {"quote", "--out", out, "--defect", "nope"},
		"tdx defect for sgx":  {"quote", "--out", out, "--defect", "tdx-module-mismatch"},
		"bad product id":      {"quote", "--out", out, "--product-id", "70000"},
		"svn2 on v4":          {"quote", "--out", out, "--tee", "tdx", "--tee-tcb-svn2", strings.Repeat("00", 16)},
		"missing out":         {"quote"},
		"unknown flag":        {"quote", "--out", out, "--frobnicate"},
		"bad at":              {"collateral", "--out", out, "--at", "yesterday"},
		"bad validity":        {"collateral", "--out", out, "--validity", "-1h"},
		"bad collateral tee":  {"collateral", "--out", out, "--tee", "sev"},
		"bad collateral flag": {"collateral", "--out", out, "--defect", "nope"},
		"root without out":    {"root"},
	} {
		code, _, errOut := runAvow(t, append([]string{"sim", "--sim-dir", simDir}, args...)...)
		if code != 2 || errOut == "" {
			t.Errorf("%s: exit %d, stderr %q", name, code, errOut)
		}
	}
	// A directory that is not a platform is refused.
	foreign := t.TempDir()
	os.WriteFile(filepath.Join(foreign, "notes.txt"), []byte("x"), 0o644)
	if code, _, errOut := runAvow(t, "sim", "--sim-dir", foreign, "root", "--out", "-"); code != 2 || !strings.Contains(errOut, "not a simulated platform") {
		t.Errorf("foreign dir: exit %d, %q", code, errOut)
	}
}

// TestSimListsGolden pins `avow sim defects` and `avow sim presets`.
func TestSimListsGolden(t *testing.T) {
	for _, name := range []string{"defects", "presets"} {
		out := mustRunSim(t, "sim", name)
		golden := filepath.Join("testdata", "sim", name+".golden")
		if updateGolden() {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run with -update)", err)
		}
		if out != string(want) {
			t.Errorf("avow sim %s differs from %s (run with -update after checking the change):\n%s", name, golden, out)
		}
	}
}
