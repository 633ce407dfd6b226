package service

import (
	"context"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/store"
)

// ImportCollateral stores Intel collateral (or a private platform's),
// keyed by the TEE, FMSPC and PCE ID of its TCB info. The TCB info is
// parsed here so that malformed collateral is refused at import; trust is
// decided when a quote is verified with it.
func (s *Service) ImportCollateral(ctx context.Context, who *Principal, col *pcs.Collateral, source string) (store.Collateral, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return store.Collateral{}, err
	}
	info, err := pcs.ParseTCBInfo(col.TCBInfo, col.TCBInfoSignature)
	if err != nil {
		return store.Collateral{}, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	if _, err := pcs.ParseQEIdentity(col.QEIdentity, col.QEIdentitySignature); err != nil {
		return store.Collateral{}, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	bundle, err := col.MarshalBundle()
	if err != nil {
		return store.Collateral{}, ErrInvalidRequest.Wrap(err)
	}
	now := s.clock.Now()
	row := store.Collateral{
		Key:    store.CollateralKey{TEE: strings.ToLower(info.ID), FMSPC: hex.EncodeToString(info.FMSPC[:]), PCEID: hex.EncodeToString(info.PCEID[:])},
		Bundle: bundle, IssueDate: info.IssueDate, NextUpdate: info.NextUpdate, FetchedAt: now, Source: source,
	}
	var stored store.Collateral
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		if stored, err = tx.PutCollateral(ctx, row); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, "", "collateral.import", now, map[string]string{
			"key": row.Key.String(), "sha256": stored.SHA256, "source": source,
			"next_update": info.NextUpdate.UTC().Format("2006-01-02T15:04:05Z")}))
	})
	if err != nil {
		return store.Collateral{}, mapStoreErr(err, "collateral")
	}
	s.invalidate(0)
	return stored, nil
}

// ListCollateral returns the latest collateral of every platform family.
func (s *Service) ListCollateral(ctx context.Context, who *Principal) ([]store.Collateral, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	rows, err := s.st.ListCollateral(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	return rows, nil
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
		return nil, errs.New("internal", "stored collateral cannot be read").WithStatus(http.StatusInternalServerError).Wrap(err)
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
	s    *Service
	srcs sourceSet
	res  *dcap.Result // the last DCAP verification, for explainExpired
}

func (s *Service) collateralAccess(p store.Provider) *collateralAccess {
	return &collateralAccess{s: s, srcs: s.sourcesFor(p)}
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
	res, col, err := s.verifyWithCollateral(ctx, q, key, now, a.srcs)
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
