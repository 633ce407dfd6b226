package snp

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/claims"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/vectors"
)

// expectedSet is the part of a vector set's expected.json the tests use.
type expectedSet struct {
	Set            string         `json:"set"`
	Kind           string         `json:"kind"`
	Product        string         `json:"product"`
	Signer         string         `json:"signer"`
	At             time.Time      `json:"at"`
	Result         string         `json:"result"`
	AlsoAcceptable []string       `json:"also_acceptable"`
	Claims         map[string]any `json:"claims"`
}

func snpSets(t testing.TB) []string {
	dir := vectors.Dir(t, "snp")
	sets, err := filepath.Glob(filepath.Join(dir, "S*"))
	if err != nil || len(sets) == 0 {
		t.Fatalf("no S* sets in %s", dir)
	}
	sort.Strings(sets)
	return sets
}

func readExpected(t testing.TB, dir string) expectedSet {
	t.Helper()
	var e expectedSet
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// loadSet reads a set's evidence as a relying party would send it.
func loadSet(t testing.TB, dir string, kind string) *Evidence {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	var main string
	switch kind {
	case "snp-report":
		main = "report.bin"
	case "azure-snp-hcl":
		main = "hcl-report.bin"
	case "maa-sevsnpvm-request":
		main = "request.json"
	default:
		t.Fatalf("unknown kind %q", kind)
	}
	ev, err := Parse(read(main))
	if err != nil {
		t.Fatalf("Parse(%s): %v", main, err)
	}
	for _, name := range []string{"vcek.der", "vlek.der", "vcek.pem"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err == nil {
			certs, err := ParseCertificates(b)
			if err != nil {
				t.Fatal(err)
			}
			ev.Certs = append(ev.Certs, certs...)
		}
	}
	return ev
}

func classOf(err error) string {
	if err == nil {
		return "ok"
	}
	return errs.Code(err)
}

// TestVectors runs every set of ../shared/vectors/snp through Verify at the
// set's time, twice (cold, then warm from the cache): each yields its
// class, and the ok sets their claims.
func TestVectors(t *testing.T) {
	for _, dir := range snpSets(t) {
		e := readExpected(t, dir)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			v := NewVerifier()
			for _, pass := range []string{"cold", "warm"} {
				ev := loadSet(t, dir, e.Kind)
				res, err := v.Verify(context.Background(), ev, Options{Now: e.At})
				got := classOf(err)
				if got != e.Result && !contains(e.AlsoAcceptable, got) {
					t.Fatalf("%s: result %s (%v), want %s", pass, got, err, e.Result)
				}
				if err != nil {
					continue
				}
				if res.Product != e.Product || res.Signer != e.Signer {
					t.Errorf("%s: product/signer %s/%s, want %s/%s", pass, res.Product, res.Signer, e.Product, e.Signer)
				}
				if pass == "warm" && !res.Cached {
					t.Errorf("warm: the chain was not taken from the cache")
				}
				c := res.Claims()
				for k, want := range e.Claims {
					if !jsonEqual(c[k], want) {
						t.Errorf("%s: claim %s = %v, want %v", pass, k, c[k], want)
					}
				}
			}
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func jsonEqual(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return false
	}
	var va, vb any
	_ = json.Unmarshal(ja, &va)
	_ = json.Unmarshal(jb, &vb)
	return reflect.DeepEqual(va, vb)
}

// TestMAATokenClaims compares every claim of the real MAA token of set S04
// with what avow derives from the request: the report claims, the
// attestation type and version, and x-ms-runtime. The rest are the
// service's (time claims, iss, jti, nonce, policy hash) or Azure's own.
func TestMAATokenClaims(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t, "snp"), "S04-milan-maa-spec-sevsnpvm")
	e := readExpected(t, dir)
	b, err := os.ReadFile(filepath.Join(dir, "response-claims.json"))
	if err != nil {
		t.Fatal(err)
	}
	var token map[string]any
	if err := json.Unmarshal(b, &token); err != nil {
		t.Fatal(err)
	}
	ev := loadSet(t, dir, e.Kind)
	res, err := Verify(context.Background(), ev, Options{Now: e.At})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Claims()
	if err := claims.AddRuntimeData(got, ev.RuntimeData.Bytes, ev.RuntimeData.DataType); err != nil {
		t.Fatal(err)
	}
	notFromEvidence := map[string]string{
		"exp": "service: token lifetime", "iat": "service", "nbf": "service", "iss": "service: the provider's attest URI",
		"jti": "service: random", "nonce": "service: echo of the request nonce (absent from the example request)",
		"x-ms-policy-hash":       "service: the policy's hash",
		"x-ms-compliance-status": "Azure's own statement that the VM is an Azure-compliant CVM; a self-hosted service cannot make it",
	}
	for k, want := range token {
		if why, ok := notFromEvidence[k]; ok {
			t.Logf("%s: not compared (%s)", k, why)
			continue
		}
		if !jsonEqual(got[k], want) {
			t.Errorf("claim %s = %v, MAA issued %v", k, got[k], want)
		}
	}
	for k := range got {
		if _, ok := token[k]; !ok {
			t.Errorf("claim %s is not in MAA's token", k)
		}
		if !slices.Contains(claims.NamesOf(claims.TypeSevSnpVm), k) {
			t.Errorf("claim %s is not registered for sevsnpvm in claims/registry.go (the policy linter would call it a misspelling)", k)
		}
	}
	for _, k := range claims.NamesOf(claims.TypeSevSnpVm) {
		if _, ok := got[k]; !ok && strings.HasPrefix(k, "x-ms-sevsnpvm-") {
			t.Errorf("claim %s is registered for sevsnpvm but not emitted", k)
		}
	}
}

func TestVersionOneReport(t *testing.T) {
	dir := filepath.Join(vectors.Dir(t, "snp"), "S04-milan-maa-spec-sevsnpvm")
	e := readExpected(t, dir)
	ev := loadSet(t, dir, e.Kind)
	if ev.Report.Version() != 1 {
		t.Fatalf("S04 report version %d, want 1", ev.Report.Version())
	}
	// go-sev-guest alone refuses it with exactly the refusal Verify accepts.
	if versionRefusal(ev.Report) == "" {
		t.Fatal("go-sev-guest accepts version 1 now; drop the version-1 path")
	}
	// A version-1 report whose signature is broken is still refused.
	bad := *ev.Report
	bad.Raw = append([]byte(nil), ev.Report.Raw...)
	bad.Raw[0x90] ^= 1
	p, err := ParseReport(bad.Raw)
	if err != nil {
		t.Fatal(err)
	}
	ev.Report = p
	ev.RuntimeData = nil
	_, err = NewVerifier().Verify(context.Background(), ev, Options{Now: e.At})
	if !errors.Is(err, ErrSignature) {
		t.Fatalf("flipped v1 report: %v, want report_signature_invalid", err)
	}
}
