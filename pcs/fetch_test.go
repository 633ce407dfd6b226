package pcs_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/internal/pcsfake"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
)

func vectorCollateral(t *testing.T, set string) *pcs.Collateral {
	t.Helper()
	c, err := pcs.Load(filepath.Join(vectors.Dir(t, "dcap"), set, "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sameCollateral(t *testing.T, got, want *pcs.Collateral) {
	t.Helper()
	for _, m := range []struct {
		name      string
		got, want []byte
	}{
		{"pck_crl_issuer_chain", got.PCKCRLIssuerChain, want.PCKCRLIssuerChain},
		{"root_ca_crl", got.RootCACRL, want.RootCACRL},
		{"pck_crl", got.PCKCRL, want.PCKCRL},
		{"tcb_info_issuer_chain", got.TCBInfoIssuerChain, want.TCBInfoIssuerChain},
		{"tcb_info", got.TCBInfo, want.TCBInfo},
		{"tcb_info_signature", got.TCBInfoSignature, want.TCBInfoSignature},
		{"qe_identity_issuer_chain", got.QEIdentityIssuerChain, want.QEIdentityIssuerChain},
		{"qe_identity", got.QEIdentity, want.QEIdentity},
		{"qe_identity_signature", got.QEIdentitySignature, want.QEIdentitySignature},
	} {
		if !bytes.Equal(m.got, m.want) {
			t.Errorf("%s differs (%d bytes, want %d)", m.name, len(m.got), len(m.want))
		}
	}
}

// TestFetchPCSAndPCCS fetches the real collateral of an SGX and a TDX set
// from a PCS-like and a PCCS-like server and gets it back byte for byte.
func TestFetchPCSAndPCCS(t *testing.T) {
	sgx, tdx := vectorCollateral(t, "S01-sgx-v3-phala"), vectorCollateral(t, "S02-tdx-v4-phala")
	for _, kind := range []string{pcs.KindPCS, pcs.KindPCCS} {
		t.Run(kind, func(t *testing.T) {
			srv := pcsfake.New(kind)
			for _, c := range []*pcs.Collateral{sgx, tdx} {
				if err := srv.Add(c); err != nil {
					t.Fatal(err)
				}
			}
			base := srv.Start(t)
			if kind == pcs.KindPCS {
				// The key goes to Intel's host over https only; the
				// server's client takes every request to the fake.
				srv.APIKey = "secret-key"
				base = pcs.DefaultPCSURL
			}
			src, err := pcs.ParseSource(kind+":"+base+"/sgx/certification/v4/", pcs.SourceOptions{APIKey: "secret-key", Client: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(src.Name(), "secret") || !strings.HasPrefix(src.Name(), kind+" ") {
				t.Errorf("name %q", src.Name())
			}
			ctx := context.Background()
			for _, want := range []*pcs.Collateral{sgx, tdx} {
				id, err := pcs.Identify(want)
				if err != nil {
					t.Fatal(err)
				}
				got, err := src.Fetch(ctx, pcs.FetchRequest{TEE: id.TEE, FMSPC: strings.ToUpper(id.FMSPC), PCKCA: id.PCKCA})
				if err != nil {
					t.Fatalf("%s: %v", id.Key(), err)
				}
				sameCollateral(t, got, want)
			}
			if hits := srv.Hits(); kind == pcs.KindPCS && hits["/IntelSGXRootCA.der"] == 0 {
				t.Errorf("PCS: the root CA CRL was not fetched from its distribution point: %v", hits)
			} else if kind == pcs.KindPCCS && hits["/sgx/certification/v4/rootcacrl"] == 0 {
				t.Errorf("PCCS: rootcacrl was not used: %v", hits)
			}

			_, err = src.Fetch(ctx, pcs.FetchRequest{TEE: "sgx", FMSPC: "00112233aabb"})
			if !errors.Is(err, pcs.ErrNotAtSource) {
				t.Errorf("unknown FMSPC: %v", err)
			}
			srv.Fail(503)
			_, err = src.Fetch(ctx, pcs.FetchRequest{TEE: "sgx", FMSPC: "00906ed50000"})
			if !errors.Is(err, pcs.ErrFetch) || !strings.Contains(err.Error(), "503") {
				t.Errorf("503: %v", err)
			}
			srv.Fail(0)
			srv.Stall(time.Minute)
			tctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
			start := time.Now()
			_, err = src.Fetch(tctx, pcs.FetchRequest{TEE: "sgx", FMSPC: "00906ed50000"})
			cancel()
			if !errors.Is(err, pcs.ErrFetch) || time.Since(start) > 10*time.Second {
				t.Errorf("stalled: %v after %s", err, time.Since(start))
			}
			srv.Stall(0)
		})
	}
}

func TestFetchWrongAPIKey(t *testing.T) {
	srv := pcsfake.New(pcs.KindPCS)
	if err := srv.Add(vectorCollateral(t, "S01-sgx-v3-phala")); err != nil {
		t.Fatal(err)
	}
	srv.Start(t)
	srv.APIKey = "right"
	src, err := pcs.ParseSource("pcs", pcs.SourceOptions{APIKey: "wrong", Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Fetch(context.Background(), pcs.FetchRequest{TEE: "sgx", FMSPC: "00906ed50000"})
	if !errors.Is(err, pcs.ErrFetch) || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong key: %v", err)
	}
}

func TestParseSource(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		spec, kind, base, version string
	}{
		{"pcs", pcs.KindPCS, pcs.DefaultPCSURL, "v4"},
		{"https://api.trustedservices.intel.com/sgx/certification/v3/", pcs.KindPCS, pcs.DefaultPCSURL, "v3"},
		{"https://pccs.example:8081/sgx/certification/v4/", pcs.KindPCCS, "https://pccs.example:8081", "v4"},
		{"https://pccs.example:8081", pcs.KindPCCS, "https://pccs.example:8081", "v4"},
		{"pcs:https://pcs-mirror.example/prefix/", pcs.KindPCS, "https://pcs-mirror.example/prefix", "v4"},
		{"pccs:http://10.0.0.1:8081/tdx/certification/v4", pcs.KindPCCS, "http://10.0.0.1:8081", "v4"},
	} {
		src, err := pcs.ParseSource(c.spec, pcs.SourceOptions{})
		if err != nil {
			t.Errorf("%s: %v", c.spec, err)
			continue
		}
		f, ok := src.(*pcs.Fetcher)
		if !ok || f.Kind != c.kind || f.BaseURL != c.base || f.Version != c.version {
			t.Errorf("%s: %+v", c.spec, src)
		}
	}
	for _, spec := range []string{dir, "dir:" + dir, "file:" + dir} {
		if src, err := pcs.ParseSource(spec, pcs.SourceOptions{}); err != nil {
			t.Errorf("%s: %v", spec, err)
		} else if d, ok := src.(*pcs.DirSource); !ok || d.Path != dir {
			t.Errorf("%s: %+v", spec, src)
		}
	}
	for _, bad := range []string{"", filepath.Join(dir, "missing"), "pcs:ftp://x", "https://pccs.example/sgx/certification/v2/", "https://x/?a=b"} {
		if _, err := pcs.ParseSource(bad, pcs.SourceOptions{}); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestIssuerChainEncoding(t *testing.T) {
	c := vectorCollateral(t, "S02-tdx-v4-phala")
	enc := pcs.EncodeIssuerChain(c.TCBInfoIssuerChain)
	if strings.ContainsAny(enc, " \n+") {
		t.Errorf("encoded chain has raw characters: %.80s", enc)
	}
	dec, err := pcs.DecodeIssuerChain(enc)
	if err != nil || !bytes.Equal(dec, c.TCBInfoIssuerChain) {
		t.Errorf("round trip: %v", err)
	}
	if _, err := pcs.DecodeIssuerChain("not a chain"); err == nil {
		t.Error("garbage decoded")
	}
}

// platformCollaterals builds a platform collateral file as Intel's PCS
// client tool writes it: TCB infos as re-serialised JSON objects (with
// spaces), identities as response strings, URL-encoded chains, hex CRLs.
func platformCollaterals(t *testing.T, sgx, tdx *pcs.Collateral) []byte {
	t.Helper()
	spaced := func(member string, raw, sig []byte) json.RawMessage {
		body := `{"` + member + `":` + string(raw) + `,"signature":"` + hex.EncodeToString(sig) + `"}`
		var buf bytes.Buffer
		if err := json.Indent(&buf, []byte(body), "", " "); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	sgxID, _ := pcs.Identify(sgx)
	tdxID, _ := pcs.Identify(tdx)
	file := map[string]any{
		"platforms": []any{},
		"collaterals": map[string]any{
			"version":   4,
			"pck_certs": []any{},
			"tcbinfos": []any{
				map[string]any{"fmspc": strings.ToUpper(sgxID.FMSPC), "sgx_tcbinfo": spaced("tcbInfo", sgx.TCBInfo, sgx.TCBInfoSignature)},
				map[string]any{"fmspc": strings.ToUpper(tdxID.FMSPC), "tdx_tcbinfo": spaced("tcbInfo", tdx.TCBInfo, tdx.TCBInfoSignature)},
			},
			"pckcacrl": map[string]string{
				sgxID.PCKCA + "Crl": hex.EncodeToString(sgx.PCKCRL),
				tdxID.PCKCA + "Crl": hex.EncodeToString(tdx.PCKCRL),
			},
			"qeidentity":   `{"enclaveIdentity":` + string(sgx.QEIdentity) + `,"signature":"` + hex.EncodeToString(sgx.QEIdentitySignature) + `"}`,
			"tdqeidentity": spaced("enclaveIdentity", tdx.QEIdentity, tdx.QEIdentitySignature),
			"qveidentity":  "",
			"certificates": map[string]any{
				"SGX-PCK-Certificate-Issuer-Chain": map[string]string{
					sgxID.PCKCA: pcs.EncodeIssuerChain(sgx.PCKCRLIssuerChain),
					tdxID.PCKCA: pcs.EncodeIssuerChain(tdx.PCKCRLIssuerChain),
				},
				"TCB-Info-Issuer-Chain":             pcs.EncodeIssuerChain(tdx.TCBInfoIssuerChain),
				"SGX-Enclave-Identity-Issuer-Chain": pcs.EncodeIssuerChain(tdx.QEIdentityIssuerChain),
			},
			"rootcacrl": hex.EncodeToString(tdx.RootCACRL),
		},
	}
	data, err := json.MarshalIndent(file, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParsePlatformCollaterals(t *testing.T) {
	sgx, tdx := vectorCollateral(t, "S01-sgx-v3-phala"), vectorCollateral(t, "S02-tdx-v4-phala")
	cols, err := pcs.ParsePlatformCollaterals(platformCollaterals(t, sgx, tdx))
	if err != nil {
		t.Fatal(err)
	}
	if len(cols) != 2 {
		t.Fatalf("%d sets, want 2", len(cols))
	}
	for i, want := range []*pcs.Collateral{sgx, tdx} {
		got := cols[i]
		// The chains and root CRL come from the file's shared members: those
		// of the TDX set (the same Intel certificates and CRL issuer).
		if !bytes.Equal(got.TCBInfo, want.TCBInfo) || !bytes.Equal(got.TCBInfoSignature, want.TCBInfoSignature) ||
			!bytes.Equal(got.QEIdentity, want.QEIdentity) || !bytes.Equal(got.PCKCRL, want.PCKCRL) ||
			!bytes.Equal(got.PCKCRLIssuerChain, want.PCKCRLIssuerChain) {
			t.Errorf("set %d differs from the original", i)
		}
	}
	if _, err := pcs.ParsePlatformCollaterals([]byte(`{"collaterals":{}}`)); !errors.Is(err, pcs.ErrCollateralFormat) {
		t.Errorf("empty: %v", err)
	}
}

// TestLoadAllAndDirSource: a folder of bundles and a platform collateral
// file, loaded together and served by a DirSource.
func TestLoadAllAndDirSource(t *testing.T) {
	sgx, tdx := vectorCollateral(t, "S01-sgx-v3-phala"), vectorCollateral(t, "S02-tdx-v4-phala")
	dir := t.TempDir()
	b, err := sgx.MarshalBundle()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("sgx-00a067110000-0000.json", b)
	write("manifest.json", []byte(`{"format":"avow collateral bundles"}`))
	write("README.txt", []byte("notes"))
	cols, err := pcs.LoadAll(dir)
	if err != nil || len(cols) != 1 {
		t.Fatalf("LoadAll: %d sets, %v", len(cols), err)
	}
	write("platform_collaterals.json", platformCollaterals(t, sgx, tdx))
	if cols, err = pcs.LoadAll(dir); err != nil || len(cols) != 3 {
		t.Fatalf("LoadAll: %d sets, %v", len(cols), err)
	}
	src, err := pcs.NewDirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	tdxID, _ := pcs.Identify(tdx)
	got, err := src.Fetch(context.Background(), pcs.FetchRequest{TEE: "tdx", FMSPC: tdxID.FMSPC, PCKCA: tdxID.PCKCA})
	if err != nil || !bytes.Equal(got.TCBInfo, tdx.TCBInfo) {
		t.Errorf("fetch TDX: %v", err)
	}
	if _, err := src.Fetch(context.Background(), pcs.FetchRequest{TEE: "tdx", FMSPC: "00112233aabb"}); !errors.Is(err, pcs.ErrNotAtSource) {
		t.Errorf("unknown FMSPC: %v", err)
	}
	// A single bundle file is a source too.
	one, err := pcs.ParseSource(filepath.Join(dir, "sgx-00a067110000-0000.json"), pcs.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := one.Fetch(context.Background(), pcs.FetchRequest{TEE: "sgx", FMSPC: "00A067110000"}); err != nil {
		t.Errorf("bundle file source: %v", err)
	}
}

// TestFetchByTCBEvaluationDataNumber: a request for a TCB evaluation data
// number asks PCS/PCCS v4 for tcbEvaluationDataNumber=N on the TCB info and
// QE identity (real TDX collateral of FMSPC 90c06f000000 numbered 17 and
// 18); update=early is sent as such; both together are refused.
func TestFetchByTCBEvaluationDataNumber(t *testing.T) {
	n18, n17 := vectorCollateral(t, "S03-tdx-v5-phala-no-tcb-level"), vectorCollateral(t, "S09-tdx-v5-automata-alibaba")
	for _, kind := range []string{pcs.KindPCS, pcs.KindPCCS} {
		srv := pcsfake.New(kind)
		if err := srv.Add(n18); err != nil {
			t.Fatal(err)
		}
		if err := srv.AddBaseline(n17); err != nil {
			t.Fatal(err)
		}
		f := &pcs.Fetcher{Kind: kind, BaseURL: srv.Start(t), Client: srv.Client()}
		req := pcs.FetchRequest{TEE: "tdx", FMSPC: "90c06f000000"}
		for _, c := range []struct {
			number uint32
			update string
			want   *pcs.Collateral
		}{{0, "", n18}, {17, "", n17}, {18, "", n18}, {0, "early", n18}, {0, "standard", n18}} {
			r := req
			r.TCBEvaluationDataNumber, r.Update = c.number, c.update
			got, err := f.Fetch(t.Context(), r)
			if err != nil {
				t.Fatalf("%s %s: %v", kind, r, err)
			}
			if !bytes.Equal(got.TCBInfo, c.want.TCBInfo) || !bytes.Equal(got.QEIdentity, c.want.QEIdentity) {
				t.Errorf("%s %s: not the TCB info and QE identity of that number", kind, r)
			}
		}
		r := req
		r.TCBEvaluationDataNumber = 16
		if _, err := f.Fetch(t.Context(), r); !errors.Is(err, pcs.ErrNotAtSource) {
			t.Errorf("%s number 16: %v, want collateral_not_at_source", kind, err)
		}
		r.Update = "early"
		if _, err := f.Fetch(t.Context(), r); !errors.Is(err, pcs.ErrFetch) || !strings.Contains(err.Error(), "cannot be combined") {
			t.Errorf("%s number and update: %v", kind, err)
		}
	}
	// A folder source picks the set of the number asked for.
	dir := t.TempDir()
	for name, c := range map[string]*pcs.Collateral{"a.json": n17, "b.json": n18} {
		b, err := c.MarshalBundle()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ds, err := pcs.NewDirSource(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		r    pcs.FetchRequest
		want *pcs.Collateral
	}{
		{pcs.FetchRequest{TEE: "tdx", FMSPC: "90c06f000000", TCBEvaluationDataNumber: 17}, n17},
		{pcs.FetchRequest{TEE: "tdx", FMSPC: "90c06f000000", TCBEvaluationDataNumber: 18}, n18},
		{pcs.FetchRequest{TEE: "tdx", FMSPC: "90c06f000000", Update: "early"}, n18},
	} {
		got, err := ds.Fetch(t.Context(), c.r)
		if err != nil || !bytes.Equal(got.TCBInfo, c.want.TCBInfo) {
			t.Errorf("folder %s: %v", c.r, err)
		}
	}
}

// TestTCBEvaluationDataNumbers: Intel's real TDX list (June 2025: 19, 18,
// 17 with their recovery-event and TCB dates) parses, verifies under the
// TCB signing certificate chained to Intel's root, is refused when one
// character changes, and is fetched from PCS and PCCS with its issuer chain.
func TestTCBEvaluationDataNumbers(t *testing.T) {
	raw := filepath.Join(vectors.Dir(t, "dcap"), "raw", "automata-dcap-attestation")
	body, err := os.ReadFile(filepath.Join(raw, "evm-0625-tdx-v4", "tdxtcbeval.json"))
	if err != nil {
		t.Fatal(err)
	}
	var chain []byte
	for _, f := range []string{"evm-common/tcb_signing.der", "evm-common/root_ca.der"} {
		der, err := os.ReadFile(filepath.Join(raw, f))
		if err != nil {
			t.Fatal(err)
		}
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	doc, err := pcs.ParseTCBEvaluationDataNumbers(body)
	if err != nil {
		t.Fatal(err)
	}
	date := func(s string) time.Time { d, _ := time.Parse(time.RFC3339, s); return d }
	want := []pcs.TCBEvalNumber{
		{19, date("2025-05-13T00:00:00Z"), date("2025-05-14T00:00:00Z")},
		{18, date("2024-11-12T00:00:00Z"), date("2024-11-13T00:00:00Z")},
		{17, date("2024-03-12T00:00:00Z"), date("2024-03-13T00:00:00Z")},
	}
	if doc.ID != "TDX" || doc.Version != 1 || !doc.IssueDate.Equal(date("2025-06-05T01:31:32Z")) || len(doc.Numbers) != 3 {
		t.Fatalf("%+v", doc)
	}
	for i := range want {
		if doc.Numbers[i] != want[i] {
			t.Errorf("[%d] = %+v, want %+v", i, doc.Numbers[i], want[i])
		}
	}
	roots := [][]byte{dcap.IntelRootKey()}
	if err := doc.VerifySignature(chain, roots); err != nil {
		t.Errorf("verify: %v", err)
	}
	if err := doc.VerifySignature(chain, [][]byte{make([]byte, 65)}); err == nil {
		t.Errorf("verified under an untrusted root")
	}
	bad, err := pcs.ParseTCBEvaluationDataNumbers(bytes.Replace(body, []byte(`"tcbEvaluationDataNumber":17`), []byte(`"tcbEvaluationDataNumber":16`), 1))
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.VerifySignature(chain, roots); err == nil {
		t.Errorf("a changed list verified")
	}
	for _, b := range []string{`{"tcbEvaluationDataNumbers":{"id":"SEV","version":1},"signature":"` + strings.Repeat("00", 64) + `"}`, `{}`} {
		if _, err := pcs.ParseTCBEvaluationDataNumbers([]byte(b)); !errors.Is(err, pcs.ErrCollateralFormat) {
			t.Errorf("%s: %v", b, err)
		}
	}
	for _, kind := range []string{pcs.KindPCS, pcs.KindPCCS} {
		srv := pcsfake.New(kind)
		srv.SetTCBEvaluationDataNumbers("tdx", body, chain)
		f := &pcs.Fetcher{Kind: kind, BaseURL: srv.Start(t), Client: srv.Client()}
		got, gotChain, err := f.TCBEvaluationDataNumbers(t.Context(), "tdx")
		if err != nil || !bytes.Equal(got.Raw, doc.Raw) || got.VerifySignature(gotChain, roots) != nil {
			t.Errorf("%s fetch: %v", kind, err)
		}
		if _, _, err := f.TCBEvaluationDataNumbers(t.Context(), "sgx"); !errors.Is(err, pcs.ErrNotAtSource) {
			t.Errorf("%s sgx: %v, want not at source", kind, err)
		}
	}
}
