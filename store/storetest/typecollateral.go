package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/avowhq/avow/store"
)

func init() {
	tests = append(tests, test{"TypeCollateral", testTypeCollateral}, test{"TypeCollateralInTx", testTypeCollateralTx})
}

// testTypeCollateral: rows of attestation types other than DCAP (AMD
// SEV-SNP VCEKs, chains, CRLs) are put, replaced, read and listed by type.
func testTypeCollateral(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	if _, err := s.GetTypeCollateral(ctx, "SevSnpVm", "vcek", "Milan/aa/01"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	vcek := store.TypeCollateral{Type: "SevSnpVm", Kind: "vcek", Key: "Milan/aa/01", Data: []byte("der-1"),
		NotAfter: t0.Add(24 * time.Hour), FetchedAt: t0, Source: "https://kdsintf.amd.com"}
	got, err := s.PutTypeCollateral(ctx, vcek)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.SHA256) != 64 {
		t.Errorf("sha256 %q", got.SHA256)
	}
	crl := store.TypeCollateral{Type: "SevSnpVm", Kind: "crl", Key: "Milan/vcek", Data: []byte("crl"), FetchedAt: t0, Source: "import"}
	if _, err := s.PutTypeCollateral(ctx, crl); err != nil {
		t.Fatal(err)
	}
	other := store.TypeCollateral{Type: "Gpu", Kind: "rim", Key: "x", Data: []byte("rim"), FetchedAt: t0, Source: "import"}
	if _, err := s.PutTypeCollateral(ctx, other); err != nil {
		t.Fatal(err)
	}
	r, err := s.GetTypeCollateral(ctx, "SevSnpVm", "vcek", "Milan/aa/01")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Data, vcek.Data) || !r.NotAfter.Equal(vcek.NotAfter) || !r.FetchedAt.Equal(t0) || r.Source != vcek.Source || r.SHA256 != got.SHA256 {
		t.Errorf("read back %+v", r)
	}
	// A put replaces the row.
	vcek.Data, vcek.FetchedAt, vcek.NotAfter = []byte("der-2"), t0.Add(time.Hour), time.Time{}
	if _, err := s.PutTypeCollateral(ctx, vcek); err != nil {
		t.Fatal(err)
	}
	r, _ = s.GetTypeCollateral(ctx, "SevSnpVm", "vcek", "Milan/aa/01")
	if string(r.Data) != "der-2" || !r.NotAfter.IsZero() || !r.FetchedAt.Equal(t0.Add(time.Hour)) || r.SHA256 == got.SHA256 {
		t.Errorf("replaced %+v", r)
	}
	list, err := s.ListTypeCollateral(ctx, "SevSnpVm")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Kind != "crl" || list[1].Kind != "vcek" {
		t.Errorf("list SevSnpVm: %+v", list)
	}
	all, _ := s.ListTypeCollateral(ctx, "")
	if len(all) != 3 || all[0].Type != "Gpu" {
		t.Errorf("list all: %+v", all)
	}
	for _, bad := range []store.TypeCollateral{{Kind: "k", Key: "k", Data: []byte("x")}, {Type: "t", Kind: "k", Key: "k"}} {
		if _, err := s.PutTypeCollateral(ctx, bad); !errors.Is(err, store.ErrInvalid) {
			t.Errorf("put %+v: %v", bad, err)
		}
	}
}

// testTypeCollateralTx: a put inside a rolled-back transaction leaves nothing.
func testTypeCollateralTx(t *testing.T, s store.Store) {
	ctx := context.Background()
	boom := errors.New("boom")
	err := s.WithTx(ctx, func(tx store.Tx) error {
		if _, err := tx.PutTypeCollateral(ctx, store.TypeCollateral{Type: "SevSnpVm", Kind: "crl", Key: "Genoa/vcek", Data: []byte("c"), Source: "x"}); err != nil {
			return err
		}
		if _, err := tx.GetTypeCollateral(ctx, "SevSnpVm", "crl", "Genoa/vcek"); err != nil {
			return err // the transaction sees its own write
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatal(err)
	}
	if _, err := s.GetTypeCollateral(ctx, "SevSnpVm", "crl", "Genoa/vcek"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after rollback: %v", err)
	}
}
