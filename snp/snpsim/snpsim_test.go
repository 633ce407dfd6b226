package snpsim

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/avowhq/avow/snp"
)

func TestReportVerifies(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	runtime := []byte(`{"hello":"snp"}`)
	h := sha256.Sum256(runtime)
	low := snp.TCB{Bootloader: 1, SNP: 2, Microcode: 10}
	for _, o := range []ReportOptions{
		{ReportData: h[:], Measurement: []byte{1, 2, 3}},
		{Version: 2, ReportData: h[:], Policy: DefaultPolicy | PolicyDebug, TCB: &low},
	} {
		raw, vcek, err := p.Report(o)
		if err != nil {
			t.Fatal(err)
		}
		r, err := snp.ParseReport(raw)
		if err != nil {
			t.Fatal(err)
		}
		roots := snp.AMDRoots().Clone()
		roots.Add(p.Root())
		ev := &snp.Evidence{Report: r, Certs: [][]byte{vcek}, RuntimeData: &snp.Data{Bytes: runtime, DataType: "JSON"}}
		res, err := snp.Verify(context.Background(), ev, snp.Options{Now: time.Now(), Roots: roots})
		if err != nil {
			t.Fatalf("%+v: %v", o, err)
		}
		c := res.Claims()
		if c["x-ms-sevsnpvm-is-debuggable"] != (o.Policy&PolicyDebug != 0) || res.Root.KeyHash != p.Root().KeyHash {
			t.Errorf("claims %v", c)
		}
		if o.TCB != nil && c["x-ms-sevsnpvm-microcode-svn"] != 10 {
			t.Errorf("microcode svn %v", c["x-ms-sevsnpvm-microcode-svn"])
		}
		// Not trusted by default.
		if _, err := snp.NewVerifier().Verify(context.Background(), ev, snp.Options{Now: time.Now()}); !errors.Is(err, snp.ErrChainInvalid) {
			t.Errorf("with AMD's roots only: %v", err)
		}
	}
}

func TestOpenPersists(t *testing.T) {
	dir := t.TempDir() + "/snp"
	p1, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Root().KeyHash != p2.Root().KeyHash || string(p1.ChipID()) != string(p2.ChipID()) || p1.TCB() != p2.TCB() {
		t.Fatal("a reopened platform differs")
	}
	// A report of the reopened platform verifies under the first one's root.
	raw, vcek, err := p2.Report(ReportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := snp.ParseReport(raw)
	roots := snp.AMDRoots().Clone()
	roots.Add(p1.Root())
	if _, err := snp.Verify(context.Background(), &snp.Evidence{Report: r, Certs: [][]byte{vcek}}, snp.Options{Now: time.Now(), Roots: roots}); err != nil {
		t.Fatal(err)
	}
}

// A VLEK-signed report verifies through the ASVK; without its VLEK it is
// vcek_unavailable (KDS gives VLEKs to cloud providers only); its VLEK is
// not a VCEK (the chain of a VLEK under the ASK is refused).
func TestVLEK(t *testing.T) {
	p, err := New()
	if err != nil {
		t.Fatal(err)
	}
	raw, vlek, err := p.Report(ReportOptions{VLEK: true})
	if err != nil {
		t.Fatal(err)
	}
	r, err := snp.ParseReport(raw)
	if err != nil {
		t.Fatal(err)
	}
	roots := snp.AMDRoots().Clone()
	roots.Add(p.Root())
	res, err := snp.NewVerifier().Verify(context.Background(), &snp.Evidence{Report: r, Certs: [][]byte{vlek}}, snp.Options{Now: time.Now(), Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if res.Signer != "vlek" || res.Product != "Milan" {
		t.Errorf("signer %s product %s", res.Signer, res.Product)
	}
	if _, err := snp.NewVerifier().Verify(context.Background(), &snp.Evidence{Report: r}, snp.Options{Now: time.Now(), Roots: roots}); !errors.Is(err, snp.ErrNoEndorsementKey) {
		t.Errorf("VLEK report without its VLEK: %v", err)
	}
	// The VCEK offered for a VLEK-signed report is not taken.
	vcek, _ := p.VCEK(p.TCB())
	if _, err := snp.NewVerifier().Verify(context.Background(), &snp.Evidence{Report: r, Certs: [][]byte{vcek}}, snp.Options{Now: time.Now(), Roots: roots}); !errors.Is(err, snp.ErrNoEndorsementKey) {
		t.Errorf("VLEK report with a VCEK: %v", err)
	}
}

// A Genoa platform: version-3 reports name Genoa by their CPUID fields,
// version-2 reports by the VCEK's productName; both verify against the
// Genoa root only.
func TestGenoa(t *testing.T) {
	p, err := NewFor("Genoa")
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range []uint32{2, 3} {
		raw, vcek, err := p.Report(ReportOptions{Version: version})
		if err != nil {
			t.Fatal(err)
		}
		r, _ := snp.ParseReport(raw)
		roots := snp.AMDRoots().Clone()
		roots.Add(p.Root())
		res, err := snp.NewVerifier().Verify(context.Background(), &snp.Evidence{Report: r, Certs: [][]byte{vcek}}, snp.Options{Now: time.Now(), Roots: roots})
		if err != nil {
			t.Fatalf("v%d: %v", version, err)
		}
		if res.Product != "Genoa" {
			t.Errorf("v%d: product %s", version, res.Product)
		}
	}
	if _, err := NewFor("Turin"); err == nil {
		t.Error("Turin is not simulated")
	}
}
