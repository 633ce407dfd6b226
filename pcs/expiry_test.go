package pcs

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
)

func loadVectorBundle(t *testing.T, set string) *Collateral {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(vectors.Dir(t, "dcap"), set, "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	col, err := ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	return col
}

// TestExpiries: S18's collateral (real, go-tdx-guest's) has no common
// validity window: at its verification time the QE identity and the CRLs
// of 2023 are expired, the TCB info of 2026 is not.
func TestExpiries(t *testing.T) {
	col := loadVectorBundle(t, "S18-tdx-v5-gotdx-expired-collateral")
	all := col.Expiries()
	names := map[string]bool{}
	for i, e := range all {
		names[e.Document] = true
		if i > 0 && e.At.Before(all[i-1].At) {
			t.Errorf("not sorted: %v", all)
		}
	}
	for _, want := range []string{"TCB info", "QE identity", "root CA CRL", "PCK CRL"} {
		if !names[want] {
			t.Errorf("no %s in %v", want, all)
		}
	}
	if len(all) < 6 {
		t.Errorf("the certificates are missing: %v", all)
	}
	now := time.Date(2026, 2, 3, 1, 0, 0, 0, time.UTC) // S18's verification time
	expired := col.Expired(now)
	if len(expired) == 0 || expired[0].At != all[0].At || expired[0].At.After(now) {
		t.Fatalf("expired %v", expired)
	}
	want := time.Date(2023, 7, 8, 7, 24, 59, 0, time.UTC) // README: earliest expiry
	if expired[0].At != want {
		t.Errorf("earliest expiry %v, want %v", expired[0], want)
	}
	for _, e := range expired {
		if e.Document == "TCB info" {
			t.Errorf("the TCB info of 2026 is not expired at %v: %v", now, e)
		}
	}
	// A fresh set: nothing expired at its verification time.
	if e := loadVectorBundle(t, "S09-tdx-v5-automata-alibaba").Expired(time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)); len(e) != 0 {
		t.Errorf("S09 at its time: %v", e)
	}
}
