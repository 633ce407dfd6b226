package service

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avowhq/avow/internal/vectors"
	"github.com/avowhq/avow/pcs"
)

// TestImportExpiredCollateral: real collateral (S01, Phala's) imported
// after its QE identity, PCK CRL and TCB info expired is stored; the
// import names the expired documents and since when, and the list marks
// it. Imported before, nothing is said and the list says when it expires.
func TestImportExpiredCollateral(t *testing.T) {
	col, err := pcs.Load(filepath.Join(vectors.Dir(t, "dcap"), "S01-sgx-v3-phala", "collateral.json"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	later := time.Date(2026, 11, 27, 4, 30, 0, 0, time.UTC)
	s := newTestService(t, &fixedClock{later})
	_, expired, err := s.ImportCollateral(ctx, owner, col, "vector S01")
	if err != nil {
		t.Fatal(err)
	}
	var docs []string
	for _, e := range expired {
		docs = append(docs, e.Document)
	}
	if strings.Join(docs, ", ") != "QE identity, PCK CRL, TCB info, root CA CRL" {
		t.Errorf("expired %v", expired)
	}
	want := "the collateral is expired: QE identity expired 1 year 4 months ago (2025-07-19T10:01:18Z), PCK CRL expired 1 year 4 months ago (2025-07-19T10:23:18Z), TCB info expired 1 year 4 months ago (2025-07-19T10:56:11Z), root CA CRL expired 7 months 27 days ago (2026-04-03T11:21:57Z); attestations with it are refused unless a provider's grace period covers it"
	if got := ExpiredWarning(expired, later); got != want {
		t.Errorf("warning\n got %s\nwant %s", got, want)
	}
	list, err := s.ListCollateral(ctx, owner)
	if err != nil || len(list) != 1 {
		t.Fatalf("list %v %v", list, err)
	}
	if it := list[0]; !it.Expired || !it.ExpiresAt.Equal(expired[0].At) || it.TimeToExpiry != expired[0].At.Sub(later) {
		t.Errorf("list item %+v", it)
	}

	before := time.Date(2025, 7, 1, 0, 0, 0, 0, time.UTC)
	s = newTestService(t, &fixedClock{before})
	if _, expired, err := s.ImportCollateral(ctx, owner, col, "vector S01"); err != nil || len(expired) != 0 || ExpiredWarning(expired, before) != "" {
		t.Errorf("fresh import: %v %v", expired, err)
	}
	list, err = s.ListCollateral(ctx, owner)
	if err != nil || len(list) != 1 || list[0].Expired || list[0].TimeToExpiry <= 0 {
		t.Errorf("fresh list %+v %v", list, err)
	}
}
