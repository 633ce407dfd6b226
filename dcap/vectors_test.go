package dcap

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
)

// expected is the part of a vector's expected.json the verifier must reproduce.
type expected struct {
	Set               string   `json:"set"`
	Kind              string   `json:"kind"`
	At                string   `json:"at"`
	Root              string   `json:"root"`
	Result            string   `json:"result"`
	TCBStatus         *string  `json:"tcb_status"`
	AdvisoryIDs       []string `json:"advisory_ids"`
	CollateralExpired bool     `json:"collateral_expired"`
	QVLOutcome        struct {
		QVResult string `json:"sgx_ql_qv_result_t"`
	} `json:"qvl_outcome"`
	WithPCKCert *struct {
		PCKCert     string   `json:"pck_cert"`
		Result      string   `json:"result"`
		TCBStatus   string   `json:"tcb_status"`
		AdvisoryIDs []string `json:"advisory_ids"`
	} `json:"with_pck_cert"`
}

// vectorSet is one folder of ../shared/vectors/dcap, loaded.
type vectorSet struct {
	name  string
	dir   string
	quote []byte
	col   *pcs.Collateral
	exp   expected
	at    time.Time
	opts  Options
}

func loadSets(t testing.TB) []*vectorSet {
	t.Helper()
	var sets []*vectorSet
	for _, dir := range vectors.DCAPSets(t) {
		s := &vectorSet{name: filepath.Base(dir), dir: dir}
		var err error
		if s.quote, err = os.ReadFile(filepath.Join(dir, "quote.bin")); err != nil {
			t.Fatal(err)
		}
		bundle, err := os.ReadFile(filepath.Join(dir, "collateral.json"))
		if err != nil {
			t.Fatal(err)
		}
		if s.col, err = pcs.ParseBundle(bundle); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &s.exp); err != nil {
			t.Fatal(err)
		}
		if s.at, err = time.Parse(time.RFC3339, s.exp.At); err != nil {
			t.Fatal(err)
		}
		s.opts = Options{Now: s.at, Cache: NewCache()}
		switch s.exp.Root {
		case "intel-production":
			// the pinned Intel key: no TrustedRoots
		case "intel-test":
			s.opts.TrustedRoots = []*x509.Certificate{readCert(t, filepath.Join(dir, "root.pem"))}
		default:
			t.Fatalf("%s: unknown root %q", s.name, s.exp.Root)
		}
		sets = append(sets, s)
	}
	return sets
}

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func resultCode(err error) string {
	if err == nil {
		return "ok"
	}
	return errs.Code(err)
}

func TestVectors(t *testing.T) {
	for _, s := range loadSets(t) {
		t.Run(s.name, func(t *testing.T) {
			res, _, err := VerifyQuote(s.quote, s.col, s.opts)
			if got := resultCode(err); got != s.exp.Result {
				t.Fatalf("result = %s (%v), want %s", got, err, s.exp.Result)
			}
			if s.exp.Result != "ok" {
				if res.TCBStatus != "" {
					t.Errorf("failed verification reports TCB status %q", res.TCBStatus)
				}
				return
			}
			if string(res.TCBStatus) != *s.exp.TCBStatus {
				t.Errorf("tcb status = %s, want %s", res.TCBStatus, *s.exp.TCBStatus)
			}
			if !slices.Equal(res.AdvisoryIDs, s.exp.AdvisoryIDs) && !(len(res.AdvisoryIDs) == 0 && len(s.exp.AdvisoryIDs) == 0) {
				t.Errorf("advisory ids = %v, want %v", res.AdvisoryIDs, s.exp.AdvisoryIDs)
			}
			if res.CollateralExpired != s.exp.CollateralExpired {
				t.Errorf("collateral expired = %v, want %v (earliest expiry %s)", res.CollateralExpired, s.exp.CollateralExpired, res.EarliestExpirationDate)
			}
			if got := QVResult(res.TCBStatus); formatQV(got) != s.exp.QVLOutcome.QVResult {
				t.Errorf("sgx_ql_qv_result_t = %s, want %s", formatQV(got), s.exp.QVLOutcome.QVResult)
			}
			if res.TEE != s.exp.Kind[:3] {
				t.Errorf("tee = %s, kind %s", res.TEE, s.exp.Kind)
			}
		})
	}
}

func formatQV(v uint16) string {
	if v == 0 {
		return "0x0000"
	}
	return "0x" + string([]byte{hexDigit(v >> 12), hexDigit(v >> 8), hexDigit(v >> 4), hexDigit(v)})
}

func hexDigit(v uint16) byte { return "0123456789ABCDEF"[v&0xf] }

// TestVectorsWithPCKCert verifies the test-root sets with the PCK
// certificate supplied out of band (expected.json → with_pck_cert).
func TestVectorsWithPCKCert(t *testing.T) {
	for _, s := range loadSets(t) {
		if s.exp.WithPCKCert == nil {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			opts := s.opts
			opts.PCKCertificate = readCert(t, filepath.Join(s.dir, s.exp.WithPCKCert.PCKCert))
			res, _, err := VerifyQuote(s.quote, s.col, opts)
			if got := resultCode(err); got != s.exp.WithPCKCert.Result {
				t.Fatalf("result = %s (%v), want %s", got, err, s.exp.WithPCKCert.Result)
			}
			if err == nil && string(res.TCBStatus) != s.exp.WithPCKCert.TCBStatus {
				t.Errorf("tcb status = %s, want %s", res.TCBStatus, s.exp.WithPCKCert.TCBStatus)
			}
		})
	}
}

// TestExpiryBoundary pins QvE's bookkeeping: one second before the earliest
// expiry the collateral is fresh, at the earliest expiry it has expired, and
// expiry never changes the result unless StrictExpiry is set.
func TestExpiryBoundary(t *testing.T) {
	for _, s := range loadSets(t) {
		if s.exp.Result != "ok" || s.exp.CollateralExpired {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			res, _, err := VerifyQuote(s.quote, s.col, s.opts)
			if err != nil {
				t.Fatal(err)
			}
			exp := res.EarliestExpirationDate
			for _, c := range []struct {
				at      time.Time
				expired bool
			}{{exp.Add(-time.Second), false}, {exp, true}, {exp.Add(24 * time.Hour), true}} {
				opts := s.opts
				opts.Now = c.at
				res2, _, err := VerifyQuote(s.quote, s.col, opts)
				if err != nil {
					t.Fatalf("at %s: %v", c.at, err)
				}
				if res2.CollateralExpired != c.expired || res2.TCBStatus != res.TCBStatus {
					t.Errorf("at %s: expired=%v status=%s, want expired=%v status=%s", c.at, res2.CollateralExpired, res2.TCBStatus, c.expired, res.TCBStatus)
				}
				opts.StrictExpiry = true
				_, _, err = VerifyQuote(s.quote, s.col, opts)
				if c.expired != errors.Is(err, ErrCollateralExpired) {
					t.Errorf("strict at %s: err = %v, want expired=%v", c.at, err, c.expired)
				}
			}
		})
	}
}

func findSet(t testing.TB, prefix string) *vectorSet {
	for _, s := range loadSets(t) {
		if len(s.name) >= len(prefix) && s.name[:len(prefix)] == prefix {
			return s
		}
	}
	t.Fatalf("no set %s", prefix)
	return nil
}

// TestQuoteMutations applies the verified mutation recipes of the vectors'
// README: one flipped byte of the quote gives one precise error class.
func TestQuoteMutations(t *testing.T) {
	cases := []struct {
		set    string
		offset int
		want   error
	}{
		{"S01", 12, ErrUnsupportedQuoteFormat},
		{"S01", 368, ErrInvalidQuoteSignature},
		{"S01", 441, ErrInvalidQuoteSignature},
		{"S01", 884, ErrInvalidQEReportSignature},
		{"S01", 1014, ErrInvalidQEReportData},
		{"S02", 568, ErrInvalidQuoteSignature},
		{"S02", 1090, ErrInvalidQEReportSignature},
		{"S02", 1220, ErrInvalidQEReportData},
		{"S03", 574, ErrInvalidQuoteSignature},
	}
	for _, c := range cases {
		s := findSet(t, c.set)
		mutated := slices.Clone(s.quote)
		mutated[c.offset] ^= 0x01
		_, _, err := VerifyQuote(mutated, s.col, s.opts)
		if !errors.Is(err, c.want) {
			t.Errorf("%s flip byte %d: err = %v, want %s", c.set, c.offset, err, errs.Code(c.want))
		}
	}
}

// TestSignedRegionMutations flips every byte of the signed regions (header
// and body) of an SGX and a TDX quote: each must be rejected, never accepted.
func TestSignedRegionMutations(t *testing.T) {
	for _, name := range []string{"S01", "S02"} {
		s := findSet(t, name)
		end := 432
		if name == "S02" {
			end = 632
		}
		for off := 0; off < end; off++ {
			mutated := slices.Clone(s.quote)
			mutated[off] ^= 0x01
			_, _, err := VerifyQuote(mutated, s.col, s.opts)
			if err == nil {
				t.Fatalf("%s: flipping byte %d was accepted", name, off)
			}
			want := "invalid_quote_signature"
			// QVL judges the TDX module (TEE_TCB_SVN[1], MRSIGNERSEAM,
			// SEAMATTRIBUTES) before the quote signature.
			// Flipping TEE_TCB_SVN[1] from 1 to 0 makes QVL use tdxModule
			// itself, which matches, so the signature check decides.
			if name == "S02" && off >= 48+64 && off < 48+120 {
				want = "tdx_module_mismatch"
			}
			if code := errs.Code(err); off >= 48 && code != want {
				t.Errorf("%s: flipping body byte %d gave %s, want %s", name, off, code, want)
			}
		}
	}
}

// TestCollateralMutations changes one character inside each signed JSON
// document and one byte inside each CRL signature.
func TestCollateralMutations(t *testing.T) {
	for _, s := range loadSets(t) {
		if s.exp.Result != "ok" {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			check := func(what string, mutate func(c *pcs.Collateral), want error) {
				t.Helper()
				c := *s.col
				mutate(&c)
				_, _, err := VerifyQuote(s.quote, &c, s.opts)
				if !errors.Is(err, want) {
					t.Errorf("%s: err = %v, want %s", what, err, errs.Code(want))
				}
			}
			check("tcbEvaluationDataNumber changed", func(c *pcs.Collateral) {
				c.TCBInfo = bumpNumber(t, c.TCBInfo, "tcbEvaluationDataNumber")
			}, ErrTCBInfoInvalid)
			check("QE identity tcbEvaluationDataNumber changed", func(c *pcs.Collateral) {
				c.QEIdentity = bumpNumber(t, c.QEIdentity, "tcbEvaluationDataNumber")
			}, ErrQEIdentityInvalid)
			check("TCB info signature flipped", func(c *pcs.Collateral) {
				c.TCBInfoSignature = flipLast(c.TCBInfoSignature)
			}, ErrTCBInfoInvalid)
			check("QE identity signature flipped", func(c *pcs.Collateral) {
				c.QEIdentitySignature = flipLast(c.QEIdentitySignature)
			}, ErrQEIdentityInvalid)
			check("root CRL signature flipped", func(c *pcs.Collateral) {
				c.RootCACRL = flipLast(c.RootCACRL)
			}, ErrCRLInvalid)
			check("PCK CRL signature flipped", func(c *pcs.Collateral) {
				c.PCKCRL = flipLast(c.PCKCRL)
			}, ErrCRLInvalid)
			check("PCK CRL issuer chain replaced by the TCB signing chain", func(c *pcs.Collateral) {
				c.PCKCRLIssuerChain = c.TCBInfoIssuerChain
			}, ErrUnknownCRLIssuer)
			check("PCK CRL issuer chain: CA signature flipped", func(c *pcs.Collateral) {
				c.PCKCRLIssuerChain = flipCertSignature(t, c.PCKCRLIssuerChain)
			}, ErrUnknownCRLIssuer)
			check("TCB info issuer chain: signer signature flipped", func(c *pcs.Collateral) {
				c.TCBInfoIssuerChain = flipCertSignature(t, c.TCBInfoIssuerChain)
			}, ErrTCBSigningChainInvalid)
			check("CRLs swapped", func(c *pcs.Collateral) {
				c.RootCACRL, c.PCKCRL = c.PCKCRL, c.RootCACRL
			}, ErrUnknownCRLIssuer)
		})
	}
}

// TestTCBInfoWhitespace: QVL verifies over the compact re-serialisation,
// so whitespace between members does not change the result.
func TestTCBInfoWhitespace(t *testing.T) {
	s := findSet(t, "S01")
	c := *s.col
	c.TCBInfo = []byte(string(c.TCBInfo[:1]) + " " + string(c.TCBInfo[1:]))
	res, _, err := VerifyQuote(s.quote, &c, s.opts)
	if err != nil || string(res.TCBStatus) != *s.exp.TCBStatus {
		t.Fatalf("whitespace in tcbInfo: status %s, err %v", res.TCBStatus, err)
	}
}

// flipCertSignature flips a byte inside the signature of the first
// certificate of a PEM chain.
func flipCertSignature(t *testing.T, chain []byte) []byte {
	t.Helper()
	block, rest := pem.Decode(chain)
	if block == nil {
		t.Fatal("no PEM block")
	}
	der := slices.Clone(block.Bytes)
	der[len(der)-3] ^= 0x01
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), rest...)
}

func flipLast(b []byte) []byte {
	out := slices.Clone(b)
	out[len(out)-3] ^= 0x01
	return out
}

// bumpNumber changes the first digit of a numeric member's value.
func bumpNumber(t *testing.T, doc []byte, member string) []byte {
	t.Helper()
	key := []byte(`"` + member + `":`)
	i := indexOf(doc, key)
	if i < 0 {
		t.Fatalf("member %s not found", member)
	}
	out := slices.Clone(doc)
	d := i + len(key)
	if out[d] == '9' {
		out[d] = '1'
	} else {
		out[d]++
	}
	return out
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}
