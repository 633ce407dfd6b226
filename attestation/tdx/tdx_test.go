package tdx_test

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/attestation/dcapquote"
	"github.com/avowhq/avow/attestation/tdx"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/sgxsim"
)

var update = flag.Bool("update", false, "rewrite the golden claim files in testdata")

// bundle is collateral from one bundle, the way a test gives it to a type
// (the service gives its store, caches and sources).
type bundle struct {
	col   *pcs.Collateral
	roots [][]byte
}

func (b bundle) VerifyQuote(_ context.Context, q *quote.Quote, now time.Time) (*dcap.Result, pcs.CollateralHashes, error) {
	res, err := dcap.Verify(q, b.col, dcap.Options{Now: now, TrustedRootKeys: b.roots})
	return res, b.col.Hashes(), err
}

type expected struct {
	Kind        string   `json:"kind"`
	At          string   `json:"at"`
	Result      string   `json:"result"`
	TCBStatus   string   `json:"tcb_status"`
	AdvisoryIDs []string `json:"advisory_ids"`
	Expired     bool     `json:"collateral_expired"`
	Fields      map[string]any
}

func loadSet(t *testing.T, dir string) (raw []byte, col *pcs.Collateral, exp expected) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "quote.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if col, err = pcs.Load(filepath.Join(dir, "collateral.json")); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp.Fields); err != nil {
		t.Fatal(err)
	}
	return raw, col, exp
}

// attest runs a quote through the TdxVm type: Parse, Verify at `at`,
// Claims.
func attest(t *testing.T, raw []byte, col bundle, at time.Time, runtime *attestation.Data) (map[string]any, *attestation.Verified, error) {
	t.Helper()
	typ := tdx.TdxVm{}
	ev, err := typ.Parse(raw)
	if err != nil {
		return nil, nil, err
	}
	v, err := typ.Verify(context.Background(), ev, attestation.Env{Now: at, Collateral: col})
	if err != nil {
		return nil, nil, err
	}
	c, err := typ.Claims(v, runtime, nil)
	return c, v, err
}

// TestRealQuotes: every real TDX quote of ../shared/vectors/dcap that
// verifies gives MAA's TDX EAT-profile claims — each quote field as
// lower-case hex of its bytes, the TCB status and advisories the vector
// states — and S02's whole claim set is pinned in testdata.
func TestRealQuotes(t *testing.T) {
	n := 0
	for _, dir := range vectors.DCAPSets(t) {
		name := filepath.Base(dir)
		if !strings.Contains(name, "-tdx-") {
			continue
		}
		raw, col, exp := loadSet(t, dir)
		if exp.Result != "ok" {
			continue
		}
		n++
		t.Run(name, func(t *testing.T) {
			at, err := time.Parse(time.RFC3339, exp.At)
			if err != nil {
				t.Fatal(err)
			}
			c, v, err := attest(t, raw, bundle{col: col}, at, nil)
			if err != nil {
				t.Fatal(err)
			}
			if v.TCBStatus != exp.TCBStatus || v.CollateralExpired != exp.Expired || v.Evidence.TEE() != "tdx" || len(v.PlatformID) != 12 {
				t.Errorf("verified: %+v", v)
			}
			for claim, field := range map[string]string{
				"tdx_mrtd": "mrtd", "tdx_rtmr0": "rtmr0", "tdx_rtmr1": "rtmr1", "tdx_rtmr2": "rtmr2", "tdx_rtmr3": "rtmr3",
				"tdx_mrseam": "mrseam", "tdx_mrsignerseam": "mrsignerseam", "tdx_mrconfigid": "mrconfigid",
				"tdx_mrowner": "mrowner", "tdx_mrownerconfig": "mrownerconfig", "tdx_report_data": "report_data",
				"tdx_seam_attributes": "seam_attributes", "tdx_td_attributes": "td_attributes",
				"tdx_tee_tcb_svn": "tee_tcb_svn", "tdx_xfam": "xfam",
			} {
				if c[claim] != exp.Fields[field] {
					t.Errorf("%s = %v, want the vector's %s %v", claim, c[claim], field, exp.Fields[field])
				}
			}
			advisories := make([]any, len(exp.AdvisoryIDs))
			for i, a := range exp.AdvisoryIDs {
				advisories[i] = a
			}
			want := map[string]any{
				"x-ms-attestation-type": "tdxvm", "x-ms-ver": "1.0", "eat_profile": tdx.EATProfile, "intuse": "generic",
				"attester_tcb_status": exp.TCBStatus, "attester_advisory_ids": advisories, "attester_collateral_expired": exp.Expired,
			}
			for k, w := range want {
				if !reflect.DeepEqual(c[k], w) {
					t.Errorf("%s = %#v, want %#v", k, c[k], w)
				}
			}
			tcb, _ := hex.DecodeString(exp.Fields["tee_tcb_svn"].(string))
			if c["tdx_seamsvn"] != int(tcb[0])|int(tcb[1])<<8 {
				t.Errorf("tdx_seamsvn = %v for TEE_TCB_SVN %x", c["tdx_seamsvn"], tcb)
			}
			e, _ := v.Evidence.(*dcapquote.Evidence)
			if r, ok := v.Result.(*dcapquote.Result); !ok || e == nil || c["qe_svn"] != int(e.Quote.QEReport.ISVSVN) || c["pce_svn"] != int(r.PCK.PCESVN) {
				t.Errorf("pce_svn %v, qe_svn %v (result %T)", c["pce_svn"], c["qe_svn"], v.Result)
			}
		})
	}
	if n < 4 {
		t.Errorf("only %d verifying TDX sets", n)
	}
}

// TestGoldenClaims pins the whole claim set of the real quote S02 at its
// verification time (regenerate with -update).
func TestGoldenClaims(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t, "dcap"), "S02-tdx-v4-phala")
	raw, col, exp := loadSet(t, dir)
	at, _ := time.Parse(time.RFC3339, exp.At)
	c, _, err := attest(t, raw, bundle{col: col}, at, nil)
	if err != nil {
		t.Fatal(err)
	}
	attestation.ForToken(c)
	got, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "S02-claims.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("S02 claims differ from %s:\n%s", golden, got)
	}
}

// TestRuntimeDataBinding: MAA's TdxVm rule, SHA-256 of the runtime data
// equals REPORTDATA[0:32] (the last 32 bytes are not read; Azure's TDX CVMs
// leave them zero). SHA-512 over all 64 bytes, or SHA-256 in the second
// half, is refused with runtime_data_mismatch.
func TestRuntimeDataBinding(t *testing.T) {
	p := sgxsim.Default()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	col, err := p.Collateral(sgxsim.CollateralOptions{TEE: sgxsim.TDX, Now: at.Add(-time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	b := bundle{col: col, roots: [][]byte{dcap.RootKey(p.Root())}}
	runtime := []byte(`{"user-data":"42"}`)
	s256 := sha256.Sum256(runtime)
	tail := make([]byte, 64)
	copy(tail[32:], s256[:])
	for _, tc := range []struct {
		name       string
		reportData []byte
		ok         bool
	}{
		{"SHA-256, zeros after", s256[:], true},
		{"SHA-256, anything after", append(s256[:], []byte("a nonce of 32 bytes, not checked")...), true},
		{"SHA-256 in the second half", tail, false},
		{"SHA-512", func() []byte { h := sha512.Sum512(runtime); return h[:] }(), false},
		{"zero", nil, false},
	} {
		raw, err := p.Quote(sgxsim.QuoteOptions{TEE: sgxsim.TDX, ReportData: tc.reportData})
		if err != nil {
			t.Fatal(err)
		}
		for _, dt := range []string{"JSON", "Binary", "json"} {
			c, _, err := attest(t, raw, b, at, &attestation.Data{Bytes: runtime, DataType: dt})
			switch {
			case tc.ok && err != nil:
				t.Errorf("%s, %s: %v", tc.name, dt, err)
			case !tc.ok && !errors.Is(err, attestation.ErrRuntimeDataMismatch):
				t.Errorf("%s, %s: %v, want runtime_data_mismatch", tc.name, dt, err)
			case tc.ok && strings.EqualFold(dt, "JSON"):
				if rt, _ := c["x-ms-runtime"].(map[string]any); rt["user-data"] != "42" {
					t.Errorf("%s, %s: x-ms-runtime %v", tc.name, dt, c["x-ms-runtime"])
				}
			case tc.ok:
				for _, k := range []string{"x-ms-runtime", "x-ms-sgx-ehd", "maa-ehd", "aas-ehd"} {
					if _, has := c[k]; has {
						t.Errorf("%s, Binary: %s in the claims", tc.name, k)
					}
				}
			}
		}
	}
	// Not JSON, sent as JSON: invalid_request.
	raw, _ := p.Quote(sgxsim.QuoteOptions{TEE: sgxsim.TDX, ReportData: func() []byte { h := sha256.Sum256([]byte("{")); return h[:] }()})
	if _, _, err := attest(t, raw, b, at, &attestation.Data{Bytes: []byte("{"), DataType: "JSON"}); !errors.Is(err, attestation.ErrInvalidRequest) {
		t.Errorf("runtime data that is not JSON: %v", err)
	}
}

// TestParseRefusesSGX: an SGX quote is not TdxVm evidence.
func TestParseRefusesSGX(t *testing.T) {
	raw, err := sgxsim.Default().Quote(sgxsim.QuoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (tdx.TdxVm{}).Parse(raw); !errors.Is(err, dcap.ErrUnsupportedQuoteFormat) {
		t.Errorf("SGX quote as TdxVm: %v", err)
	}
	if _, err := (tdx.TdxVm{}).Parse(nil); !errors.Is(err, dcap.ErrUnsupportedQuoteFormat) {
		t.Errorf("no quote: %v", err)
	}
}

// FuzzParse: no input makes the TdxVm parser panic, and what it accepts is
// a TD quote.
func FuzzParse(f *testing.F) {
	raw, err := sgxsim.Default().Quote(sgxsim.QuoteOptions{TEE: sgxsim.TDX})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:100])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := (tdx.TdxVm{}).Parse(b)
		if err != nil {
			return
		}
		if ev.TEE() != "tdx" {
			t.Fatalf("accepted %s evidence", ev.TEE())
		}
	})
}

// FuzzParseExtra: the composite request's GPU members (Intel Trust
// Authority's nvgpu, Trustee's additionalEvidence) beside a valid TD quote
// never panic; what parses is TDX evidence.
func FuzzParseExtra(f *testing.F) {
	raw, err := sgxsim.Default().Quote(sgxsim.QuoteOptions{TEE: sgxsim.TDX})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(`{"verifier_nonce":{"val":"AA==","iat":"AA=="},"arch":"hopper","evidence_list":[{"evidence":"","certificate":""}]}`), []byte(nil))
	f.Add([]byte(nil), []byte(`"{\"nvidia\":{\"device_evidence_list\":[{\"arch\":\"Hopper\",\"evidence\":\"11e0\",\"certificate\":\"\"}]}}"`))
	f.Add([]byte(`{}`), []byte(`"{}"`))
	f.Fuzz(func(t *testing.T, ita, coco []byte) {
		extra := map[string][]byte{}
		if ita != nil {
			extra["nvgpu"] = ita
		}
		if coco != nil {
			extra["additionalEvidence"] = coco
		}
		ev, err := (tdx.TdxVm{}).ParseExtra(raw, extra)
		if err != nil {
			return
		}
		if ev.TEE() != "tdx" {
			t.Fatalf("accepted %s evidence", ev.TEE())
		}
	})
}
