package snp

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
)

// The classes the shared negative sets do not cover, made from real sets.
func TestClassesFromRealSets(t *testing.T) {
	dir := vectors.Dir(t, "snp")
	s01 := loadSet(t, filepath.Join(dir, "S01-milan-vcek-gsg"), "snp-report")
	s02 := loadSet(t, filepath.Join(dir, "S02-milan-vcek-trustee"), "snp-report")
	s04 := loadSet(t, filepath.Join(dir, "S04-milan-maa-spec-sevsnpvm"), "maa-sevsnpvm-request")
	at := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	ctx := context.Background()

	// Another chip's genuine VCEK: vcek_mismatch (its signature fails too).
	ev := &Evidence{Report: s01.Report, Certs: s02.Certs}
	if _, err := NewVerifier().Verify(ctx, ev, Options{Now: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)}); !errors.Is(err, ErrMismatch) {
		t.Errorf("S01 with S02's VCEK: %v", err)
	}
	// A VCEK presented with a root that is not trusted: only the roots
	// passed in count (here none for Milan).
	empty := &Roots{}
	empty.Add(AMDRoots().For("Genoa")[0])
	if _, err := NewVerifier().Verify(ctx, &Evidence{Report: s01.Report, Certs: s01.Certs}, Options{Now: at, Roots: empty}); !errors.Is(err, ErrChainInvalid) {
		t.Errorf("S01 without the Milan root: %v", err)
	}
	// A certificate that is not a certificate.
	if _, err := NewVerifier().Verify(ctx, &Evidence{Report: s01.Report, Certs: [][]byte{[]byte("junk")}}, Options{Now: at}); !errors.Is(err, ErrChainInvalid) {
		t.Errorf("junk certificate: %v", err)
	}
	// Before the VCEK's notBefore: cert_expired.
	if _, err := NewVerifier().Verify(ctx, s01, Options{Now: time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC)}); !errors.Is(err, ErrCertExpired) {
		t.Errorf("before notBefore: %v", err)
	}
	// Init-time data must hash to HOST_DATA (S04's is zero).
	s04.InitTimeData = &Data{Bytes: []byte("x"), DataType: "Binary"}
	if _, err := NewVerifier().Verify(ctx, s04, Options{Now: time.Date(2022, 9, 21, 21, 47, 31, 0, time.UTC)}); !errors.Is(err, ErrBinding) {
		t.Errorf("init-time data: %v", err)
	}
	// A minimum TCB above the report's.
	if _, err := NewVerifier().Verify(ctx, s01, Options{Now: at, MinimumTCB: &TCB{Microcode: 200}}); !errors.Is(err, ErrTCBBelowMinimum) {
		t.Errorf("minimum TCB: %v", err)
	}
	// The warm path refuses the same way: a cached chain does not excuse
	// another chip's report.
	v := NewVerifier()
	if _, err := v.Verify(ctx, s02, Options{Now: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ctx, &Evidence{Report: s01.Report, Certs: s02.Certs}, Options{Now: time.Date(2023, 6, 1, 0, 0, 0, 0, time.UTC)}); !errors.Is(err, ErrMismatch) {
		t.Errorf("warm, S01 with S02's VCEK: %v", err)
	}
	// RequireCRL without a CRL.
	if _, err := NewVerifier().Verify(ctx, s01, Options{Now: at, RequireCRL: true}); !errors.Is(err, ErrCRLUnavailable) {
		t.Errorf("RequireCRL: %v", err)
	}
}
