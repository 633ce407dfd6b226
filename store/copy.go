package store

import (
	"context"
	"slices"
	"time"
)

// CopyStats counts what Copy copied.
type CopyStats struct {
	Providers   int
	Policies    int
	Signers     int
	Keys        int
	AdminTokens int
	Collateral  int // rows, history included
	// TypeCollateral counts rows of other attestation types' collateral
	// (AMD SEV-SNP VCEKs, chains, CRLs).
	TypeCollateral int
	Audit          int
}

// copyAuditPage is how many audit entries Copy reads at a time (a
// variable for tests).
var copyAuditPage = MaxAuditLimit

// Copy copies everything src holds into dst, which must be empty: the
// providers with their settings, versions and timestamps, their policies,
// policy signer certificates (in the order added) and signing keys (sealed
// as they are, active and retired, with their retirement times), the admin
// tokens (revoked ones too), every collateral row with its history, and
// the audit log in order. Collateral and audit rows get new IDs in the same
// order. Everything is written in one transaction on dst: if Copy fails,
// dst is left as it was.
//
// src is read with its ordinary methods, not as one snapshot: stop every
// node using src while copying.
func Copy(ctx context.Context, dst, src Store) (CopyStats, error) {
	var st CopyStats
	if err := checkEmpty(ctx, dst); err != nil {
		return st, err
	}
	providers, err := src.ListProviders(ctx)
	if err != nil {
		return st, err
	}
	tokens, err := src.ListAdminTokens(ctx)
	if err != nil {
		return st, err
	}
	// Collateral rows of every key, oldest first: the latest row of each
	// key stays the latest.
	latest, err := src.ListCollateral(ctx)
	if err != nil {
		return st, err
	}
	var rows []Collateral
	for _, c := range latest {
		h, err := src.CollateralHistory(ctx, c.Key)
		if err != nil {
			return st, err
		}
		rows = append(rows, h...)
	}
	slices.SortFunc(rows, func(a, b Collateral) int { return compareInt(a.ID, b.ID) })
	typeRows, err := src.ListTypeCollateral(ctx, "")
	if err != nil {
		return st, err
	}
	// Audit pages, newest first; written oldest first.
	pages, err := auditPages(ctx, src)
	if err != nil {
		return st, err
	}

	err = dst.WithTx(ctx, func(tx Tx) error {
		st = CopyStats{}
		for _, p := range providers {
			if err := copyProvider(ctx, tx, src, p, &st); err != nil {
				return err
			}
		}
		for _, t := range tokens {
			if _, err := tx.CreateAdminToken(ctx, t); err != nil {
				return err
			}
			st.AdminTokens++
		}
		for _, r := range rows {
			c, err := src.GetCollateralByID(ctx, r.ID)
			if err != nil {
				return err
			}
			if _, err := tx.PutCollateral(ctx, c); err != nil {
				return err
			}
			st.Collateral++
		}
		for _, c := range typeRows {
			if _, err := tx.PutTypeCollateral(ctx, c); err != nil {
				return err
			}
			st.TypeCollateral++
		}
		for i := len(pages) - 1; i >= 0; i-- {
			f := AuditFilter{BeforeID: pages[i], Limit: copyAuditPage}
			page, err := src.ListAudit(ctx, f)
			if err != nil {
				return err
			}
			slices.Reverse(page)
			for j := range page {
				page[j].ID = 0
			}
			if err := tx.AppendAudit(ctx, page...); err != nil {
				return err
			}
			st.Audit += len(page)
		}
		return nil
	})
	return st, err
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func checkEmpty(ctx context.Context, s Store) error {
	ps, err := s.ListProviders(ctx)
	if err != nil {
		return err
	}
	ts, err := s.ListAdminTokens(ctx)
	if err != nil {
		return err
	}
	cs, err := s.ListCollateral(ctx)
	if err != nil {
		return err
	}
	as, err := s.ListAudit(ctx, AuditFilter{Limit: 1})
	if err != nil {
		return err
	}
	if len(ps)+len(ts)+len(cs)+len(as) > 0 {
		return ErrConflict.Wrapf("the destination store is not empty: %d providers, %d admin tokens, %d collateral keys, audit entries: %v",
			len(ps), len(ts), len(cs), len(as) > 0)
	}
	return nil
}

// auditPages returns the BeforeID of every page of the audit log, newest
// page first (0: the newest page).
func auditPages(ctx context.Context, s Store) ([]int64, error) {
	pages := []int64{0}
	f := AuditFilter{Limit: copyAuditPage}
	for {
		page, err := s.ListAudit(ctx, f)
		if err != nil {
			return nil, err
		}
		if len(page) < copyAuditPage {
			if len(page) == 0 && len(pages) > 1 {
				pages = pages[:len(pages)-1]
			}
			return pages, nil
		}
		f.BeforeID = page[len(page)-1].ID
		pages = append(pages, f.BeforeID)
	}
}

func copyProvider(ctx context.Context, tx Tx, src Store, p Provider, st *CopyStats) error {
	created, err := tx.CreateProvider(ctx, p)
	if err != nil {
		return err
	}
	// Versions are kept: replay updates until the copy is at p's version.
	for q := created; q.Version < p.Version; {
		next := p
		next.Version = q.Version
		if q, err = tx.UpdateProvider(ctx, next); err != nil {
			return err
		}
	}
	st.Providers++

	policies, err := src.ListPolicies(ctx, p.Name)
	if err != nil {
		return err
	}
	for _, pol := range policies {
		want := pol.Version
		pol.Version = 0
		for v := int64(0); v < want; v++ {
			if _, err := tx.SetPolicy(ctx, pol); err != nil {
				return err
			}
		}
		st.Policies++
	}

	signers, err := src.ListSigners(ctx, p.Name)
	if err != nil {
		return err
	}
	for _, s := range signers {
		if _, err := tx.AddSigner(ctx, s); err != nil {
			return err
		}
		st.Signers++
	}

	// Keys oldest first, the active one last: each rotation retires the
	// previous key at the time it was retired in src.
	keys, err := src.ListKeys(ctx, p.Name)
	if err != nil {
		return err
	}
	var active []SigningKey
	var retired []SigningKey
	for _, k := range keys {
		if k.Active {
			active = append(active, k)
		} else {
			retired = append(retired, k)
		}
	}
	slices.Reverse(retired) // ListKeys: newest first
	ordered := append(retired, active...)
	var retireAt time.Time
	for i, k := range ordered {
		if i > 0 {
			retireAt = ordered[i-1].RetiredAt
		}
		if _, err := tx.RotateKey(ctx, p.Name, k, retireAt); err != nil {
			return err
		}
		st.Keys++
	}
	return nil
}
