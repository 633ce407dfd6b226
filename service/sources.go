package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/store"
)

// CollateralConfig says where the service gets collateral it does not
// have, and how it keeps what it has fresh (docs/collateral.md, "Sources").
type CollateralConfig struct {
	// Sources are tried in order: PCCS, Intel PCS, local folders
	// (pcs.ParseSource). None: collateral comes only from imports.
	Sources []pcs.Source
	// Timeout bounds each source's fetch, on the attestation path and in
	// the refresh job (default 5s).
	Timeout time.Duration
	// RefreshLead: stored collateral is refreshed this long before its
	// earliest nextUpdate / notAfter (default 72h).
	RefreshLead time.Duration
	// RefreshMaxAge: stored collateral is also checked for a newer issue
	// once it was fetched or last checked this long ago, so that TCB
	// recoveries and revocations arrive before nextUpdate (default 24h;
	// negative: only RefreshLead counts).
	RefreshMaxAge time.Duration
	// RefreshInterval is how often the refresh job looks for due
	// collateral (default 10m).
	RefreshInterval time.Duration
	// RetryMin and RetryMax bound the back-off after a platform's
	// collateral could not be had from any source: RetryMin, doubled per
	// consecutive failure up to RetryMax, each ±20% jitter (defaults 1m,
	// 1h). Attestations of that platform do not ask the sources again
	// before then.
	RetryMin, RetryMax time.Duration
	// NodeID names this node as the holder of the refresh lease (default:
	// host name and a random suffix).
	NodeID string
	// ProviderSourceRules are the URL prefixes under which providers may
	// set collateralSources besides the deployment's own URL sources
	// (avow serve --provider-collateral-source-allow). File and folder
	// sources are never allowed for providers.
	ProviderSourceRules []pcs.SourceRule
	// SourceOptions build the sources of a provider's collateralSources
	// setting (pcs.ParseSource): the PCS API key and the HTTP client of
	// the deployment's sources.
	SourceOptions pcs.SourceOptions
}

// Refresh outcomes, as in the audit log and RefreshResult.Outcome.
const (
	OutcomeUpdated   = "updated"
	OutcomeUnchanged = "unchanged"
	OutcomeFailed    = "failed"
)

// RefreshLease is the store lease (store.Leaser) the refresh job of one
// node holds at a time.
const RefreshLease = "collateral-refresh"

// ErrNoSources is returned by a refresh when no source is configured.
var ErrNoSources = errs.New("collateral_sources_not_configured", "the server has no collateral sources (avow serve --collateral-source)")

// collateralState is the service's collateral fetching and refresh state.
type collateralState struct {
	cfg    CollateralConfig
	holder string

	// allow is what providers' collateralSources may name (providerRules).
	allow []pcs.SourceRule

	mu       sync.Mutex
	inflight map[fetchKey]chan struct{}
	keys     map[store.CollateralKey]*keyState // with the deployment's sources
	override map[fetchKey]*keyState            // with a provider's collateralSources
	counters CollateralCounters
}

// fetchKey names fetching one platform family from one list of sources:
// set is "" for the deployment's list, else the provider setting's
// strings (sourceSet.id).
type fetchKey struct {
	set    string
	key    store.CollateralKey
	number uint32 // a TCB evaluation data number (a baseline); 0: the current collateral
}

// sourceSet is the list of sources an attestation fetches from.
type sourceSet struct {
	id   string // "" for the deployment's sources
	list []pcs.Source
}

// keyState is what this node knows about fetching one platform family.
type keyState struct {
	checkedAt   time.Time // last fetch or refresh that found usable collateral
	lastAttempt time.Time
	lastOutcome string
	lastErrors  []string
	failures    int // consecutive
	retryAt     time.Time
}

// CollateralCounters count collateral fetching since the node started.
type CollateralCounters struct {
	Fetched          uint64            // collateral fetched on the attestation path and stored
	FetchFailed      uint64            // attestation-path fetches where no source had usable collateral
	Refreshed        uint64            // refreshes that stored newer collateral
	RefreshUnchanged uint64            // refreshes that found the stored collateral current
	RefreshFailed    uint64            // refreshes where no source had usable collateral
	Rejected         uint64            // collateral a source sent that failed verification (never stored)
	SourceErrors     map[string]uint64 // failed requests per source name (transport, status, missing, rejected)
}

func (s *Service) configureCollateral(cfg Config) error {
	for _, root := range cfg.PrivateRoots {
		key := dcap.RootKey(root)
		if key == nil {
			return errs.New("invalid_config", "a trusted root must have an ECDSA P-256 key").Wrapf("%s", root.Subject)
		}
		s.rootKeys = append(s.rootKeys, key)
		s.privateKeys = append(s.privateKeys, key)
	}
	c := cfg.Collateral
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Second
	}
	if c.RefreshLead <= 0 {
		c.RefreshLead = 72 * time.Hour
	}
	if c.RefreshMaxAge == 0 {
		c.RefreshMaxAge = 24 * time.Hour
	}
	if c.RefreshInterval <= 0 {
		c.RefreshInterval = 10 * time.Minute
	}
	if c.RetryMin <= 0 {
		c.RetryMin = time.Minute
	}
	if c.RetryMax < c.RetryMin {
		c.RetryMax = max(time.Hour, c.RetryMin)
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.NodeID = host + "-" + hex.EncodeToString(b[:])
	}
	s.colsrc = &collateralState{cfg: c, holder: c.NodeID, allow: providerRules(c), inflight: map[fetchKey]chan struct{}{},
		keys: map[store.CollateralKey]*keyState{}, override: map[fetchKey]*keyState{}, counters: CollateralCounters{SourceErrors: map[string]uint64{}}}
	return nil
}

// privateRoot reports whether rootKey is one of Config.PrivateRoots.
func (s *Service) privateRoot(rootKey []byte) bool {
	for _, k := range s.privateKeys {
		if bytes.Equal(k, rootKey) {
			return true
		}
	}
	return false
}

func (c *collateralState) enabled() bool { return c != nil && len(c.cfg.Sources) > 0 }

func (c *collateralState) state(key store.CollateralKey) *keyState { return c.stateFor("", key) }

// stateFor is the fetch state of key with the sources set (held mu).
func (c *collateralState) stateFor(set string, key store.CollateralKey) *keyState {
	if set != "" {
		st := c.override[fetchKey{set: set, key: key}]
		if st == nil {
			st = &keyState{}
			c.override[fetchKey{set: set, key: key}] = st
		}
		return st
	}
	st := c.keys[key]
	if st == nil {
		st = &keyState{}
		c.keys[key] = st
	}
	return st
}

// stateOf is the fetch state of fk (held mu).
func (c *collateralState) stateOf(fk fetchKey) *keyState {
	if fk.number == 0 {
		return c.stateFor(fk.set, fk.key)
	}
	st := c.override[fk]
	if st == nil {
		st = &keyState{}
		c.override[fk] = st
	}
	return st
}

// succeeded records usable collateral for key (held mu).
func (c *collateralState) succeeded(key store.CollateralKey, now time.Time, outcome string) {
	c.stateFor("", key).succeed(now, outcome)
}

func (st *keyState) succeed(now time.Time, outcome string) {
	st.checkedAt, st.lastAttempt, st.lastOutcome, st.lastErrors, st.failures, st.retryAt = now, now, outcome, nil, 0, time.Time{}
}

// failed records a failed attempt for key and schedules the next one with
// jittered exponential back-off (held mu).
func (c *collateralState) failed(key store.CollateralKey, now time.Time, attempts []string) time.Time {
	return c.backOff(c.stateFor("", key), now, attempts)
}

// backOff records a failed attempt in st and schedules the next one (held
// mu).
func (c *collateralState) backOff(st *keyState, now time.Time, attempts []string) time.Time {
	st.failures++
	delay := c.cfg.RetryMin
	for i := 1; i < st.failures && delay < c.cfg.RetryMax; i++ {
		delay *= 2
	}
	delay = min(delay, c.cfg.RetryMax)
	delay = time.Duration(float64(delay) * (0.8 + 0.4*mrand.Float64()))
	st.lastAttempt, st.lastOutcome, st.lastErrors, st.retryAt = now, OutcomeFailed, attempts, now.Add(delay)
	return st.retryAt
}

func (s *Service) verifyOptions(now time.Time) dcap.Options {
	return dcap.Options{Now: now, TrustedRootKeys: s.rootKeys, Cache: s.verifier}
}

// collateralFault reports verification errors that condemn the collateral
// rather than the quote: collateral from a source that fails this way is
// rejected and never stored.
func collateralFault(err error) bool {
	switch errs.Code(err) {
	case "collateral_invalid", "unknown_crl_issuer", "crl_invalid", "tcb_signing_chain_invalid",
		"tcb_info_invalid", "qe_identity_invalid", "tcb_info_mismatch", "pck_chain_untrusted":
		return true
	}
	return false
}

// verifyWithCollateral verifies q with the stored collateral of key. With
// sources configured, collateral that is missing, or expired at now, is
// fetched first (see fetchForQuote); when a fetch fails, expired stored
// collateral is still used and the provider's grace period decides
// (explainExpired adds why no fresh collateral could be had). srcs are the
// sources of the provider attested against (sourcesFor).
func (s *Service) verifyWithCollateral(ctx context.Context, q *quote.Quote, key store.CollateralKey, now time.Time, srcs sourceSet) (*dcap.Result, *storedCollateral, error) {
	opts := s.verifyOptions(now)
	sc, err := s.collateralFor(ctx, key)
	if err != nil {
		if !errors.Is(err, ErrCollateralNotFound) || len(srcs.list) == 0 {
			return nil, nil, err
		}
		res, col, verr, ferr := s.fetchForQuote(ctx, q, key, now, nil, srcs, 0)
		if ferr != nil {
			return nil, nil, ferr
		}
		return res, col, verr
	}
	res, err := dcap.Verify(q, sc.col, opts)
	// Expired, or broken (an import is only parsed): ask the sources. A PCK
	// CRL of the other CA (unknown_crl_issuer) is not replaced: platforms of
	// both CAs in one family would make each other's collateral flip.
	stale := res != nil && res.CollateralExpired
	broken := collateralFault(err) && !errors.Is(err, dcap.ErrUnknownCRLIssuer) && !errors.Is(err, dcap.ErrPCKChainUntrusted)
	if (stale || broken) && len(srcs.list) > 0 {
		if fres, fcol, verr, ferr := s.fetchForQuote(ctx, q, key, now, sc, srcs, 0); ferr == nil {
			if verr != nil {
				return nil, nil, verr
			}
			return fres, fcol, nil
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return res, sc, nil
}

// fetchForQuote fetches collateral for q's platform from the sources,
// verifies it with q exactly as an attestation does, stores it and returns
// the verification: res and verr are the quote's verdict with the fetched
// collateral, ferr says that no usable collateral could be had (naming the
// FMSPC and every source's error). Only quotes whose PCK chain ends in a
// trusted root make the service fetch. Concurrent calls for one platform
// share one fetch; after a failed fetch the sources are not asked again
// for that platform (and list of sources) before the back-off ends. With
// a TCB evaluation data number (a baseline, not 0) the sources are asked
// for that number's TCB info and QE identity, and what they give is stored
// pinned to it.
func (s *Service) fetchForQuote(ctx context.Context, q *quote.Quote, key store.CollateralKey, now time.Time, stored *storedCollateral, srcs sourceSet, number uint32) (res *dcap.Result, col *storedCollateral, verr, ferr error) {
	opts := s.verifyOptions(now)
	info, err := s.verifier.TrustedPlatform(q, opts)
	if err != nil {
		return nil, nil, nil, err
	}
	c := s.colsrc
	fk := fetchKey{srcs.id, key, number}
	for {
		c.mu.Lock()
		wait, busy := c.inflight[fk]
		if !busy {
			break // holding mu
		}
		c.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return nil, nil, nil, ErrCollateralNotFound.Wrapf("waiting for collateral of FMSPC %s: %v", key.FMSPC, ctx.Err())
		}
		// Another request fetched: use what it stored, if it is better.
		get := func() (*storedCollateral, error) { return s.collateralFor(ctx, key) }
		if number != 0 {
			get = func() (*storedCollateral, error) { return s.collateralForNumber(ctx, key, number) }
		}
		if sc, err := get(); err == nil && (stored == nil || sc.row.ID != stored.row.ID) {
			res, err := dcap.Verify(q, sc.col, opts)
			return res, sc, err, nil
		}
	}
	st := c.stateOf(fk)
	if now.Before(st.retryAt) {
		retry := st.retryAt
		c.mu.Unlock()
		return nil, nil, nil, s.noCollateral(key, stored, retry)
	}
	done := make(chan struct{})
	c.inflight[fk] = done
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.inflight, fk)
		c.mu.Unlock()
		close(done)
	}()

	// The fetch is shared with other requests and bounded by the sources'
	// timeouts: one client going away does not cancel it.
	ctx = context.WithoutCancel(ctx)
	req := pcs.FetchRequest{TEE: key.TEE, FMSPC: key.FMSPC, PCEID: key.PCEID, PCKCA: info.PCKCA, TCBEvaluationDataNumber: number}
	var prev *storedInfo
	if stored != nil {
		prev = s.describeStored(stored.col, now)
	}
	check := func(col *pcs.Collateral) error {
		if _, err := dcap.Verify(q, col, opts); collateralFault(err) {
			return err
		}
		return checkNumber(col, number)
	}
	got := s.fetchFrom(ctx, srcs.list, req, key, now, prev, check)
	if got.col == nil || (got.stale && prev != nil && !got.cres.EarliestExpirationDate.After(prev.expiry)) {
		c.mu.Lock()
		c.counters.FetchFailed++
		retry := c.backOff(c.stateOf(fk), now, got.attempts)
		c.mu.Unlock()
		s.auditCollateral(ctx, nil, "collateral.fetch", "failure", now, key, map[string]string{"errors": strings.Join(got.attempts, "; ")})
		return nil, nil, nil, s.noCollateral(key, stored, retry)
	}
	sc, err := s.storeFetched(ctx, nil, "collateral.fetch", key, got, now, number != 0)
	if err != nil {
		return nil, nil, nil, err
	}
	c.mu.Lock()
	c.counters.Fetched++
	c.stateOf(fk).succeed(now, OutcomeUpdated)
	c.mu.Unlock()
	res, verr = dcap.Verify(q, sc.col, opts)
	return res, sc, verr, nil
}

// sourcesHidden ends an attestation error about the sources. Anonymous
// callers read it: it names no source, URL, path or error body; each
// source's error is in the server log ("collateral source failed"), the
// collateral.fetch audit entry and avow collateral show.
const sourcesHidden = "the collateral sources' errors are in the server log and the audit log"

// noCollateral is the error of an attestation whose platform has no
// usable collateral: missing (collateral_not_found) or expired
// (collateral_expired), naming the FMSPC, the expiry and the next
// attempt, never a source (sourcesHidden).
func (s *Service) noCollateral(key store.CollateralKey, stored *storedCollateral, retry time.Time) error {
	what := strings.ToUpper(key.TEE) + " collateral for FMSPC " + key.FMSPC + " (PCE ID " + key.PCEID + ")"
	tail := "; next attempt after " + retry.UTC().Format(time.RFC3339) + " (" + sourcesHidden + ")"
	if stored == nil {
		return ErrCollateralNotFound.Wrapf("no %s is stored and no collateral source had it%s", what, tail)
	}
	return ErrCollateralExpired.Wrapf("the stored %s expired at %s and no collateral source had fresh collateral%s",
		what, s.describeStored(stored.col, s.clock.Now()).expiry.UTC().Format(time.RFC3339), tail)
}

// explainExpired adds to a provider's collateral_expired refusal that no
// fresh collateral could be had from srcs, the provider's sources, and
// when they are asked again (not why: sourcesHidden).
func (s *Service) explainExpired(err error, res *dcap.Result, srcs sourceSet) error {
	if !errors.Is(err, ErrCollateralExpired) || len(srcs.list) == 0 || res == nil || res.PCK == nil {
		return err
	}
	key := store.CollateralKey{TEE: res.TEE, FMSPC: hex.EncodeToString(res.PCK.FMSPC[:]), PCEID: hex.EncodeToString(res.PCK.PCEID[:])}
	c := s.colsrc
	c.mu.Lock()
	st := c.keys[key]
	if srcs.id != "" {
		st = c.override[fetchKey{set: srcs.id, key: key}]
	}
	failed := st != nil && st.lastOutcome == OutcomeFailed
	var retry time.Time
	if failed {
		retry = st.retryAt
	}
	c.mu.Unlock()
	if !failed {
		return err
	}
	return ErrCollateralExpired.Wrapf("%s; no fresh collateral could be fetched; next attempt after %s (%s)",
		causeText(err), retry.UTC().Format(time.RFC3339), sourcesHidden)
}

// causeText is the cause part of an errs.Error (its detail without the
// sentinel's message).
func causeText(err error) string {
	var e *errs.Error
	if errors.As(err, &e) && e.Cause != nil {
		return e.Cause.Error()
	}
	return errs.Detail(err)
}

// storedInfo is what the refresh logic needs of stored collateral.
type storedInfo struct {
	tcb    *pcs.TCBInfo
	qe     *pcs.QEIdentity
	pckCA  string
	expiry time.Time // earliest nextUpdate / notAfter; zero when it does not verify
}

// describeStored reads stored collateral with the verifier's rules (its
// results are cached by content).
func (s *Service) describeStored(col *pcs.Collateral, now time.Time) *storedInfo {
	out := &storedInfo{pckCA: pcs.PCKCAOf(col.PCKCRLIssuerChain)}
	if cres, err := dcap.VerifyCollateral(col, s.verifyOptions(now)); err == nil {
		out.tcb, out.qe, out.expiry = cres.TCBInfo, cres.QEIdentity, cres.EarliestExpirationDate
		if cres.PCKCA != "" {
			out.pckCA = cres.PCKCA
		}
	} else if info, err := pcs.ParseTCBInfo(col.TCBInfo, col.TCBInfoSignature); err == nil {
		out.tcb = info
	}
	return out
}

// fetched is the outcome of asking the sources.
type fetched struct {
	col      *pcs.Collateral
	cres     *dcap.CollateralResult
	source   string
	stale    bool     // the best collateral found is expired at now
	attempts []string // "source: error" for every source that did not give fresh collateral
}

// fetchBest asks the sources in order and returns the first collateral
// that verifies (dcap.VerifyCollateral, then check), is for key, is not
// older than prev and is not expired at now. When every usable answer is
// expired, the one that expires last is returned with stale set.
// Collateral that fails verification counts as rejected: it is never
// stored.
func (s *Service) fetchBest(ctx context.Context, req pcs.FetchRequest, key store.CollateralKey, now time.Time, prev *storedInfo, check func(*pcs.Collateral) error) fetched {
	return s.fetchFrom(ctx, s.colsrc.cfg.Sources, req, key, now, prev, check)
}

// fetchFrom is fetchBest with the sources srcs.
func (s *Service) fetchFrom(ctx context.Context, srcs []pcs.Source, req pcs.FetchRequest, key store.CollateralKey, now time.Time, prev *storedInfo, check func(*pcs.Collateral) error) fetched {
	c := s.colsrc
	var out fetched
	var fallback *fetched
	fail := func(src pcs.Source, rejected bool, format string, args ...any) {
		msg := src.Name() + ": " + strings.TrimSpace(fmt.Sprintf(format, args...))
		out.attempts = append(out.attempts, msg)
		c.mu.Lock()
		c.counters.SourceErrors[src.Name()]++
		if rejected {
			c.counters.Rejected++
		}
		c.mu.Unlock()
		s.log.Warn("collateral source failed", "source", src.Name(), "key", key.String(), "err", msg)
	}
	for _, src := range srcs {
		fctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		col, err := src.Fetch(fctx, req)
		timedOut := errors.Is(fctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		if err != nil {
			if timedOut {
				fail(src, false, "no answer within %s: %s", c.cfg.Timeout, errs.Detail(err))
			} else {
				fail(src, false, "%s", errs.Detail(err))
			}
			if ctx.Err() != nil {
				break
			}
			continue
		}
		cres, err := dcap.VerifyCollateral(col, s.verifyOptions(now))
		if err != nil {
			fail(src, true, "rejected: %s: %s", errs.Code(err), errs.Detail(err))
			continue
		}
		if cres.TEE != key.TEE || hex.EncodeToString(cres.TCBInfo.FMSPC[:]) != key.FMSPC || hex.EncodeToString(cres.TCBInfo.PCEID[:]) != key.PCEID {
			fail(src, true, "rejected: the collateral is for %s FMSPC %x PCE ID %x", strings.ToUpper(cres.TEE), cres.TCBInfo.FMSPC, cres.TCBInfo.PCEID)
			continue
		}
		if check != nil {
			if err := check(col); err != nil {
				fail(src, true, "rejected: %s: %s", errs.Code(err), errs.Detail(err))
				continue
			}
		}
		if prev != nil && prev.tcb != nil && (cres.TCBInfo.IssueDate.Before(prev.tcb.IssueDate) ||
			cres.TCBInfo.TCBEvaluationDataNumber < prev.tcb.TCBEvaluationDataNumber ||
			prev.qe != nil && cres.QEIdentity.IssueDate.Before(prev.qe.IssueDate)) {
			fail(src, false, "its collateral (TCB info issued %s) is older than the stored one (issued %s)",
				cres.TCBInfo.IssueDate.UTC().Format(time.RFC3339), prev.tcb.IssueDate.UTC().Format(time.RFC3339))
			continue
		}
		if cres.CollateralExpired {
			fail(src, false, "its collateral expired at %s", cres.EarliestExpirationDate.UTC().Format(time.RFC3339))
			if fallback == nil || cres.EarliestExpirationDate.After(fallback.cres.EarliestExpirationDate) {
				fallback = &fetched{col: col, cres: cres, source: src.Name(), stale: true}
			}
			continue
		}
		out.col, out.cres, out.source = col, cres, src.Name()
		return out
	}
	if fallback != nil {
		fallback.attempts = out.attempts
		return *fallback
	}
	return out
}

// storeFetched stores fetched collateral and its audit entry in one
// transaction, drops the caches and returns it as the latest for key.
//
// pinned stores it for its TCB evaluation data number only (a baseline
// fetched with tcbEvaluationDataNumber=N), not as the key's current
// collateral.
func (s *Service) storeFetched(ctx context.Context, who *Principal, op string, key store.CollateralKey, got fetched, now time.Time, pinned bool) (*storedCollateral, error) {
	bundle, err := got.col.MarshalBundle()
	if err != nil {
		return nil, errs.Internal("collateral cannot be encoded").Wrap(err)
	}
	info := got.cres.TCBInfo
	row := store.Collateral{Key: key, Bundle: bundle, IssueDate: info.IssueDate, NextUpdate: info.NextUpdate, FetchedAt: now, Source: got.source,
		TCBEvaluationDataNumber: info.TCBEvaluationDataNumber, Pinned: pinned}
	var stored store.Collateral
	err = s.st.WithTx(ctx, func(tx store.Tx) error {
		var err error
		if stored, err = tx.PutCollateral(ctx, row); err != nil {
			return err
		}
		details := map[string]string{"source": got.source, "sha256": stored.SHA256, "next_update": formatTime(got.cres.EarliestExpirationDate),
			"tcb_evaluation_data_number": strconv.FormatUint(uint64(info.TCBEvaluationDataNumber), 10)}
		if pinned {
			details["pinned"] = "true"
		}
		return tx.AppendAudit(ctx, collateralAudit(who, op, "success", now, key, details))
	})
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	s.invalidate(0)
	stored.Bundle = bundle
	sc := newStoredCollateral(got.col, stored)
	c := s.caches()
	if pinned {
		putCached(c, c.numbered, numberKey{key, info.TCBEvaluationDataNumber}, sc)
	} else {
		putCached(c, c.collateral, key, sc)
	}
	s.log.Info("stored collateral", "key", key.String(), "source", got.source, "op", op, "next_update", formatTime(got.cres.EarliestExpirationDate))
	return sc, nil
}

// collateralAudit is the audit entry of a collateral operation; who is
// nil for the service's own work (actor "system").
func collateralAudit(who *Principal, op, outcome string, now time.Time, key store.CollateralKey, details map[string]string) store.AuditEntry {
	e := audit(who, "", op, now, details)
	if who == nil {
		e.Actor = "system"
	}
	e.Outcome = outcome
	if e.Details == nil {
		e.Details = map[string]string{}
	}
	e.Details["key"] = key.String()
	return e
}

// auditCollateral appends a collateral audit entry on its own (failures:
// there is no change to write with it).
func (s *Service) auditCollateral(ctx context.Context, who *Principal, op, outcome string, now time.Time, key store.CollateralKey, details map[string]string) {
	if err := s.st.AppendAudit(ctx, collateralAudit(who, op, outcome, now, key, details)); err != nil {
		s.log.Warn("collateral audit entry not written", "op", op, "key", key.String(), "err", errs.Detail(err))
	}
}

// checkNumber refuses collateral whose TCB info is not of the TCB
// evaluation data number asked for (0: any).
func checkNumber(col *pcs.Collateral, number uint32) error {
	if number == 0 {
		return nil
	}
	info, err := pcs.ParseTCBInfo(col.TCBInfo, col.TCBInfoSignature)
	if err != nil {
		return err
	}
	if info.TCBEvaluationDataNumber != number {
		return errs.New("collateral_invalid", "the collateral is not of the TCB evaluation data number asked for").Wrapf(
			"TCB evaluation data number %d, asked for %d", info.TCBEvaluationDataNumber, number)
	}
	return nil
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}
