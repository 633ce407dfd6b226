package service

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/internal/humane"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/store"
)

// ImportCollateral stores Intel collateral (or a private platform's),
// keyed by the TEE, FMSPC and PCE ID of its TCB info. The TCB info is
// parsed here so that malformed collateral is refused at import; trust is
// decided when a quote is verified with it. Expired collateral is stored
// all the same (a provider's grace period may accept it, and it is the
// best an air-gapped site may have): expired lists its documents that are
// not valid now, earliest first, for the caller to say so.
func (s *Service) ImportCollateral(ctx context.Context, who *Principal, col *pcs.Collateral, source string) (stored store.Collateral, expired []pcs.Expiry, err error) {
	return s.importCollateral(ctx, who, col, source, false)
}

// ImportBaselineCollateral is ImportCollateral for collateral kept for its
// TCB evaluation data number only (pinned: a TCB baseline a policy may
// select), whatever the platform's current number: it never becomes the
// platform's current collateral (avow serve --dev loads the simulated
// platform's recovered baseline so).
func (s *Service) ImportBaselineCollateral(ctx context.Context, who *Principal, col *pcs.Collateral, source string) (store.Collateral, []pcs.Expiry, error) {
	return s.importCollateral(ctx, who, col, source, true)
}

func (s *Service) importCollateral(ctx context.Context, who *Principal, col *pcs.Collateral, source string, pin bool) (stored store.Collateral, expired []pcs.Expiry, err error) {
	if err := require(who, store.RoleOwner); err != nil {
		return store.Collateral{}, nil, err
	}
	info, err := pcs.ParseTCBInfo(col.TCBInfo, col.TCBInfoSignature)
	if err != nil {
		return store.Collateral{}, nil, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	if _, err := pcs.ParseQEIdentity(col.QEIdentity, col.QEIdentitySignature); err != nil {
		return store.Collateral{}, nil, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	bundle, err := col.MarshalBundle()
	if err != nil {
		return store.Collateral{}, nil, ErrInvalidRequest.Wrap(err)
	}
	now := s.clock.Now()
	expired = col.Expired(now)
	row := store.Collateral{
		Key:    store.CollateralKey{TEE: strings.ToLower(info.ID), FMSPC: hex.EncodeToString(info.FMSPC[:]), PCEID: hex.EncodeToString(info.PCEID[:])},
		Bundle: bundle, IssueDate: info.IssueDate, NextUpdate: info.NextUpdate, FetchedAt: now, Source: source,
		TCBEvaluationDataNumber: info.TCBEvaluationDataNumber, Pinned: pin,
	}
	// Collateral of an older TCB evaluation data number than the key's
	// current one is kept for that number (a baseline a policy may
	// select); it never replaces the current collateral.
	if cur, err := s.st.GetCollateral(ctx, row.Key); err == nil && currentNumber(cur) > info.TCBEvaluationDataNumber {
		row.Pinned = true
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return store.Collateral{}, nil, mapStoreErr(err, "collateral")
	}
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		if stored, err = tx.PutCollateral(ctx, row); err != nil {
			return err
		}
		details := map[string]string{"key": row.Key.String(), "sha256": stored.SHA256, "source": source,
			"next_update":                info.NextUpdate.UTC().Format("2006-01-02T15:04:05Z"),
			"tcb_evaluation_data_number": strconv.FormatUint(uint64(info.TCBEvaluationDataNumber), 10)}
		if row.Pinned {
			details["pinned"] = "true"
		}
		if len(expired) > 0 {
			details["expired_at"] = expired[0].At.Format("2006-01-02T15:04:05Z")
		}
		return tx.AppendAudit(ctx, audit(who, "", "collateral.import", now, details))
	})
	if err != nil {
		return store.Collateral{}, nil, mapStoreErr(err, "collateral")
	}
	s.invalidate(0)
	return stored, expired, nil
}

// currentNumber is the TCB evaluation data number of a stored row, read
// from its bundle for rows stored before the store recorded it.
func currentNumber(row store.Collateral) uint32 {
	if row.TCBEvaluationDataNumber != 0 || len(row.Bundle) == 0 {
		return row.TCBEvaluationDataNumber
	}
	col, err := pcs.ParseBundle(row.Bundle)
	if err != nil {
		return 0
	}
	id, err := pcs.Identify(col)
	if err != nil {
		return 0
	}
	return id.TCBEvaluationDataNumber
}

// ListCollateralNumbers returns the latest collateral of every platform
// family and TCB evaluation data number (the baselines the service can
// verify with), pinned or current.
func (s *Service) ListCollateralNumbers(ctx context.Context, who *Principal) ([]CollateralListItem, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	rows, err := s.st.ListCollateralNumbers(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	now := s.clock.Now()
	out := make([]CollateralListItem, 0, len(rows))
	for _, row := range rows {
		item := CollateralListItem{Collateral: row}
		full, err := s.st.GetCollateralByID(ctx, row.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, mapStoreErr(err, "collateral")
		}
		if err == nil {
			if col, perr := pcs.ParseBundle(full.Bundle); perr == nil {
				item.ExpiresAt = s.describeStored(col, now).expiry
				if e := col.Expiries(); item.ExpiresAt.IsZero() && len(e) > 0 {
					item.ExpiresAt = e[0].At // it does not verify: its dates alone
				}
			}
		}
		if !item.ExpiresAt.IsZero() {
			item.TimeToExpiry = item.ExpiresAt.Sub(now)
		}
		item.Expired = item.ExpiresAt.IsZero() || !item.ExpiresAt.After(now)
		out = append(out, item)
	}
	return out, nil
}

// ExpiredWarning says which documents of imported collateral are expired
// and since when (ImportCollateral's expired, at now), in one sentence:
// "the collateral is expired: QE identity expired 2 years 5 months ago
// (2023-07-08T07:24:59Z), PCK CRL expired …; attestations with it are
// refused unless a provider's grace period covers it". "" when none is.
func ExpiredWarning(expired []pcs.Expiry, now time.Time) string {
	if len(expired) == 0 {
		return ""
	}
	parts := make([]string, 0, 4)
	for i, e := range expired {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(expired)-5))
			break
		}
		parts = append(parts, fmt.Sprintf("%s %s (%s)", e.Document, humane.Expiry(e.At.Sub(now)), e.At.UTC().Format(time.RFC3339)))
	}
	return "the collateral is expired: " + strings.Join(parts, ", ") + "; attestations with it are refused unless a provider's grace period covers it"
}

// CollateralListItem is a platform family's latest collateral row with
// when it expires (CollateralItem's expiry).
type CollateralListItem struct {
	store.Collateral
	ExpiresAt    time.Time     // the earliest nextUpdate / notAfter; zero when nothing parses
	TimeToExpiry time.Duration // ExpiresAt − now; ≤ 0 once expired
	Expired      bool
}

// ListCollateral returns the latest collateral of every platform family
// with its expiry.
func (s *Service) ListCollateral(ctx context.Context, who *Principal) ([]CollateralListItem, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	rows, err := s.st.ListCollateral(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	now := s.clock.Now()
	out := make([]CollateralListItem, 0, len(rows))
	for _, row := range rows {
		item, err := s.collateralItem(ctx, row, now)
		if err != nil {
			return nil, err
		}
		out = append(out, CollateralListItem{Collateral: row, ExpiresAt: item.NextUpdate, TimeToExpiry: item.TimeToExpiry, Expired: item.Expired})
	}
	return out, nil
}

// collateralFor returns the stored collateral of a platform family.
func (s *Service) collateralFor(ctx context.Context, key store.CollateralKey) (*storedCollateral, error) {
	c := s.caches()
	if sc, ok := lookup(s, c, c.collateral, key, CacheCollateral); ok {
		return sc, nil
	}
	row, err := s.st.GetCollateral(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrCollateralNotFound.Wrapf("no %s collateral for FMSPC %s (PCE ID %s); import it with `avow collateral import`",
			strings.ToUpper(key.TEE), key.FMSPC, key.PCEID)
	}
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	col, err := pcs.ParseBundle(row.Bundle)
	if err != nil {
		return nil, errs.Internal("stored collateral cannot be read").Wrap(err)
	}
	sc := newStoredCollateral(col, row)
	putCached(c, c.collateral, key, sc)
	return sc, nil
}

// collateralAccess is the service's collateral for one attestation against
// one provider: the attestation.Env.Collateral the types get. For Intel
// DCAP quotes it implements dcapquote.Collateral over the store, the
// caches and the provider's collateral sources.
type collateralAccess struct {
	s        *Service
	srcs     sourceSet
	baseline tcbBaseline  // the TCB baseline the provider's policy selects
	draft    bool         // the baseline is a draft policy's: no fetching by number
	res      *dcap.Result // the last DCAP verification, for explainExpired
}

func (s *Service) collateralAccess(p store.Provider, b tcbBaseline) *collateralAccess {
	return &collateralAccess{s: s, srcs: s.sourcesFor(p), baseline: b}
}

// VerifyQuote finds the quote's collateral (fetching from the provider's
// sources when it is missing or expired) and verifies the quote with it at
// now.
func (a *collateralAccess) VerifyQuote(ctx context.Context, q *quote.Quote, now time.Time) (*dcap.Result, pcs.CollateralHashes, error) {
	s := a.s
	ext, err := s.verifier.Platform(q)
	if err != nil {
		return nil, pcs.CollateralHashes{}, err
	}
	key := store.CollateralKey{TEE: strings.ToLower(teeOf(q)), FMSPC: hex.EncodeToString(ext.FMSPC[:]), PCEID: hex.EncodeToString(ext.PCEID[:])}
	var res *dcap.Result
	var col *storedCollateral
	if a.baseline.number != 0 {
		srcs := a.srcs
		if a.draft {
			// A draft policy (anonymous callers may send one) selects only
			// baselines the service holds: it never makes it fetch a number.
			srcs = sourceSet{}
		}
		res, col, err = s.verifyWithBaseline(ctx, q, key, now, srcs, a.baseline.number)
	} else {
		res, col, err = s.verifyWithCollateral(ctx, q, key, now, a.srcs)
	}
	a.res = res
	if err != nil {
		return nil, pcs.CollateralHashes{}, err
	}
	return res, col.hashes, nil
}

// explainExpired adds to a collateral_expired refusal of the provider's
// settings why no fresh collateral could be had (see Service.explainExpired).
func (a *collateralAccess) explainExpired(err error) error {
	return a.s.explainExpired(err, a.res, a.srcs)
}

func teeOf(q *quote.Quote) string {
	if q.IsTDX() {
		return "tdx"
	}
	return "sgx"
}
