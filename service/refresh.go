package service

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/store"
)

// RefreshResult is the outcome of refreshing one platform family's
// collateral.
type RefreshResult struct {
	Key        store.CollateralKey
	Outcome    string    // OutcomeUpdated, OutcomeUnchanged or OutcomeFailed
	Source     string    // the source that answered (updated, unchanged)
	SHA256     string    // of the stored bundle (updated, unchanged)
	NextUpdate time.Time // earliest nextUpdate / notAfter of the collateral now stored
	Errors     []string  // each source's error ("source: error")
	RetryAt    time.Time // failed: when the refresh job tries again
}

// RunCollateralRefresh refreshes stored collateral from the sources until
// ctx ends: every RefreshInterval it takes the refresh lease (when the
// store is a store.Leaser; otherwise every node refreshes) and refreshes
// each platform family whose collateral is due (RefreshLead before its
// earliest nextUpdate, or checked longer than RefreshMaxAge ago) and not
// in back-off. Without sources it returns at once.
func (s *Service) RunCollateralRefresh(ctx context.Context) {
	c := s.colsrc
	if !c.enabled() {
		return
	}
	t := time.NewTicker(c.cfg.RefreshInterval)
	defer t.Stop()
	for {
		s.refreshDue(ctx)
		select {
		case <-ctx.Done():
			// Give the lease up so that another node takes over at once.
			if l, ok := store.LeaserOf(s.st); ok {
				rctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, _ = l.TryLease(rctx, RefreshLease, c.holder, 0)
				cancel()
			}
			return
		case <-t.C:
		}
	}
}

// refreshDue is one pass of the refresh job. It returns nil when another
// node holds the lease.
func (s *Service) refreshDue(ctx context.Context) []RefreshResult {
	c := s.colsrc
	if l, ok := store.LeaserOf(s.st); ok {
		held, err := l.TryLease(ctx, RefreshLease, c.holder, max(3*c.cfg.RefreshInterval, time.Minute))
		if err != nil {
			s.log.Warn("collateral refresh: the lease cannot be taken", "err", errs.Detail(err))
			return nil
		}
		if !held {
			return nil
		}
	}
	rows, err := s.st.ListCollateral(ctx)
	if err != nil {
		s.log.Warn("collateral refresh: cannot list the stored collateral", "err", errs.Detail(err))
		return nil
	}
	var out []RefreshResult
	for _, row := range rows {
		if ctx.Err() != nil {
			break
		}
		if s.refreshIsDue(ctx, row) {
			out = append(out, s.refreshKey(ctx, nil, row.Key))
		}
	}
	// Collateral kept for a TCB baseline is refreshed for its number.
	if numbered, err := s.st.ListCollateralNumbers(ctx); err == nil {
		for _, row := range numbered {
			if ctx.Err() != nil {
				break
			}
			if row.Pinned && row.TCBEvaluationDataNumber != 0 {
				if res, ok := s.refreshPinned(ctx, row.Key, row.TCBEvaluationDataNumber); ok {
					out = append(out, res)
				}
			}
		}
	}
	return out
}

// refreshIsDue says whether a platform family's collateral should be
// refreshed now.
func (s *Service) refreshIsDue(ctx context.Context, row store.Collateral) bool {
	now := s.clock.Now()
	c := s.colsrc
	c.mu.Lock()
	st := c.state(row.Key)
	retryAt, checkedAt := st.retryAt, st.checkedAt
	c.mu.Unlock()
	if now.Before(retryAt) {
		return false
	}
	if c.cfg.RefreshMaxAge > 0 {
		last := row.FetchedAt
		if checkedAt.After(last) {
			last = checkedAt
		}
		if !now.Before(last.Add(c.cfg.RefreshMaxAge)) {
			return true
		}
	}
	full, err := s.st.GetCollateral(ctx, row.Key)
	if err != nil {
		return false
	}
	col, err := pcs.ParseBundle(full.Bundle)
	if err != nil {
		return true
	}
	info := s.describeStored(col, now)
	return info.expiry.IsZero() || !now.Before(info.expiry.Add(-c.cfg.RefreshLead))
}

// refreshKey asks the sources for newer collateral of key and stores it
// when it verifies, is for key and is not older than what is stored. who
// is nil for the refresh job. Every outcome is written to the audit log
// (operation collateral.refresh).
func (s *Service) refreshKey(ctx context.Context, who *Principal, key store.CollateralKey) RefreshResult {
	c := s.colsrc
	now := s.clock.Now()
	out := RefreshResult{Key: key}
	req := pcs.FetchRequest{TEE: key.TEE, FMSPC: key.FMSPC, PCEID: key.PCEID}
	var prev *storedInfo
	var storedSHA string
	if row, err := s.st.GetCollateral(ctx, key); err == nil {
		storedSHA = row.SHA256
		if col, err := pcs.ParseBundle(row.Bundle); err == nil {
			prev = s.describeStored(col, now)
			req.PCKCA = prev.pckCA
		}
	}
	got := s.fetchBest(ctx, req, key, now, prev, nil)
	out.Errors = got.attempts
	if got.col == nil || (got.stale && prev != nil && !got.cres.EarliestExpirationDate.After(prev.expiry)) {
		c.mu.Lock()
		c.counters.RefreshFailed++
		out.RetryAt = c.failed(key, now, got.attempts)
		c.mu.Unlock()
		out.Outcome = OutcomeFailed
		s.auditCollateral(ctx, who, "collateral.refresh", "failure", now, key, map[string]string{
			"errors": strings.Join(got.attempts, "; "), "retry_at": formatTime(out.RetryAt)})
		s.log.Warn("collateral refresh failed", "key", key.String(), "errors", strings.Join(got.attempts, "; "), "retry_at", formatTime(out.RetryAt))
		return out
	}
	out.Source, out.NextUpdate = got.source, got.cres.EarliestExpirationDate
	bundle, err := got.col.MarshalBundle()
	if err == nil && sha256Hex(bundle) == storedSHA {
		out.Outcome, out.SHA256 = OutcomeUnchanged, storedSHA
		c.mu.Lock()
		c.counters.RefreshUnchanged++
		c.succeeded(key, now, OutcomeUnchanged)
		c.mu.Unlock()
		s.auditCollateral(ctx, who, "collateral.refresh", OutcomeUnchanged, now, key, map[string]string{
			"source": got.source, "sha256": storedSHA, "next_update": formatTime(out.NextUpdate)})
		return out
	}
	sc, err := s.storeFetched(ctx, who, "collateral.refresh", key, got, now, false)
	if err != nil {
		c.mu.Lock()
		out.RetryAt = c.failed(key, now, append(got.attempts, "store: "+errs.Detail(err)))
		c.mu.Unlock()
		out.Outcome, out.Errors = OutcomeFailed, append(out.Errors, "store: "+errs.Detail(err))
		return out
	}
	out.Outcome, out.SHA256 = OutcomeUpdated, sc.row.SHA256
	c.mu.Lock()
	c.counters.Refreshed++
	c.succeeded(key, now, OutcomeUpdated)
	c.mu.Unlock()
	return out
}

// RefreshCollateral refreshes the given platform families now (every
// stored one when keys is empty), whether due or not and ignoring the
// back-off (owner role). It needs sources.
func (s *Service) RefreshCollateral(ctx context.Context, who *Principal, keys []store.CollateralKey) ([]RefreshResult, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return nil, err
	}
	if !s.colsrc.enabled() {
		return nil, ErrNoSources
	}
	if len(keys) == 0 {
		rows, err := s.st.ListCollateral(ctx)
		if err != nil {
			return nil, mapStoreErr(err, "collateral")
		}
		for _, r := range rows {
			keys = append(keys, r.Key)
		}
	}
	out := make([]RefreshResult, 0, len(keys))
	for _, k := range keys {
		nk, err := k.Normalize()
		if err != nil {
			return nil, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
		}
		out = append(out, s.refreshKey(ctx, who, nk))
	}
	return out, nil
}

// PruneCollateral deletes collateral history rows fetched before before;
// the latest row of every platform family stays (owner role).
func (s *Service) PruneCollateral(ctx context.Context, who *Principal, before time.Time) (int64, error) {
	if err := require(who, store.RoleOwner); err != nil {
		return 0, err
	}
	if before.IsZero() {
		return 0, ErrInvalidRequest.Wrapf("prune needs a time")
	}
	now := s.clock.Now()
	var n int64
	err := s.st.WithTx(ctx, func(tx store.Tx) error {
		var err error
		if n, err = tx.PruneCollateral(ctx, before); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, audit(who, "", "collateral.prune", now, map[string]string{
			"before": formatTime(before), "deleted": strconv.FormatInt(n, 10)}))
	})
	if err != nil {
		return 0, mapStoreErr(err, "collateral")
	}
	return n, nil
}

// CollateralItem is the state of one platform family's collateral.
type CollateralItem struct {
	Key       store.CollateralKey
	ID        int64 // the latest row
	Source    string
	SHA256    string
	IssueDate time.Time // the TCB info's issueDate
	FetchedAt time.Time
	// NextUpdate is the earliest nextUpdate / notAfter of everything in the
	// collateral (TCB info, QE identity, CRLs, issuer chains): when it
	// expires (for collateral that does not verify, read from the
	// documents' dates alone). Zero when nothing in it parses.
	NextUpdate   time.Time
	Age          time.Duration // now − IssueDate
	TimeToExpiry time.Duration // NextUpdate − now; ≤ 0 once expired
	Expired      bool
	// What this node knows of fetching it (zero when it never tried).
	LastAttempt         time.Time
	LastOutcome         string // OutcomeUpdated, OutcomeUnchanged or OutcomeFailed
	LastErrors          []string
	ConsecutiveFailures int
	RetryAt             time.Time
}

// CollateralReport is the collateral state for monitoring: one item per
// stored platform family, and this node's counters.
type CollateralReport struct {
	Time     time.Time // the service clock's now
	Sources  []string  // names of the configured sources, in order
	Items    []CollateralItem
	Counters CollateralCounters
}

// CollateralReport returns the collateral state of every stored platform
// family (age and time to expiry) and this node's fetch and refresh
// counters, for metrics and `avow collateral show`. It needs no principal:
// the caller is the node itself.
func (s *Service) CollateralReport(ctx context.Context) (*CollateralReport, error) {
	rows, err := s.st.ListCollateral(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	now := s.clock.Now()
	rep := &CollateralReport{Time: now, Counters: s.collateralCounters()}
	if s.colsrc != nil {
		for _, src := range s.colsrc.cfg.Sources {
			rep.Sources = append(rep.Sources, src.Name())
		}
	}
	for _, row := range rows {
		item, err := s.collateralItem(ctx, row, now)
		if err != nil {
			return nil, err
		}
		rep.Items = append(rep.Items, item)
	}
	return rep, nil
}

func (s *Service) collateralCounters() CollateralCounters {
	c := s.colsrc
	if c == nil {
		return CollateralCounters{SourceErrors: map[string]uint64{}}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.counters
	out.SourceErrors = make(map[string]uint64, len(c.counters.SourceErrors))
	for k, v := range c.counters.SourceErrors {
		out.SourceErrors[k] = v
	}
	return out
}

func (s *Service) collateralItem(ctx context.Context, row store.Collateral, now time.Time) (CollateralItem, error) {
	item := CollateralItem{Key: row.Key, ID: row.ID, Source: row.Source, SHA256: row.SHA256, IssueDate: row.IssueDate, FetchedAt: row.FetchedAt}
	item.Age = now.Sub(row.IssueDate)
	full, err := s.st.GetCollateral(ctx, row.Key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return item, mapStoreErr(err, "collateral")
	}
	if err == nil {
		if col, perr := pcs.ParseBundle(full.Bundle); perr == nil {
			item.NextUpdate = s.describeStored(col, now).expiry
			if e := col.Expiries(); item.NextUpdate.IsZero() && len(e) > 0 {
				item.NextUpdate = e[0].At // it does not verify: its dates alone
			}
		}
	}
	if !item.NextUpdate.IsZero() {
		item.TimeToExpiry = item.NextUpdate.Sub(now)
	}
	item.Expired = item.NextUpdate.IsZero() || !item.NextUpdate.After(now)
	if c := s.colsrc; c != nil {
		c.mu.Lock()
		if st := c.keys[row.Key]; st != nil {
			item.LastAttempt, item.LastOutcome, item.ConsecutiveFailures, item.RetryAt = st.lastAttempt, st.lastOutcome, st.failures, st.retryAt
			item.LastErrors = append([]string(nil), st.lastErrors...)
		}
		c.mu.Unlock()
	}
	return item, nil
}

// CollateralHistoryItem is one stored row of a platform family with the
// digests a token's x-ms-sgx-collateral claim carries, so that the
// collateral a token was issued with can be found and re-verified.
type CollateralHistoryItem struct {
	store.Collateral
	Hashes pcs.CollateralHashes
}

// CollateralView is a platform family's collateral: its state and its
// history, newest first.
type CollateralView struct {
	CollateralItem
	History []CollateralHistoryItem
}

// GetCollateral returns a platform family's collateral state and history
// (reader role).
func (s *Service) GetCollateral(ctx context.Context, who *Principal, key store.CollateralKey) (*CollateralView, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	key, err := key.Normalize()
	if err != nil {
		return nil, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	rows, err := s.st.CollateralHistory(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrCollateralNotFound.Wrapf("no collateral is stored for %s", key)
	}
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	// The head is the key's current collateral: its latest row not pinned
	// to a TCB evaluation data number (baselines.go).
	head := rows[0]
	for _, r := range rows {
		if !r.Pinned {
			head = r
			break
		}
	}
	item, err := s.collateralItem(ctx, head, s.clock.Now())
	if err != nil {
		return nil, err
	}
	v := &CollateralView{CollateralItem: item}
	for _, r := range rows {
		h := CollateralHistoryItem{Collateral: r}
		if full, err := s.st.GetCollateralByID(ctx, r.ID); err == nil {
			if col, err := pcs.ParseBundle(full.Bundle); err == nil {
				h.Hashes = col.Hashes()
			}
		}
		v.History = append(v.History, h)
	}
	return v, nil
}

// CollateralBundle returns a stored bundle of a platform family: the
// latest when id is 0, else the history row id (reader role).
func (s *Service) CollateralBundle(ctx context.Context, who *Principal, key store.CollateralKey, id int64) (store.Collateral, error) {
	if err := require(who, store.RoleReader); err != nil {
		return store.Collateral{}, err
	}
	key, err := key.Normalize()
	if err != nil {
		return store.Collateral{}, ErrInvalidRequest.Wrapf("%s", errs.Detail(err))
	}
	var row store.Collateral
	if id == 0 {
		row, err = s.st.GetCollateral(ctx, key)
	} else {
		row, err = s.st.GetCollateralByID(ctx, id)
		if err == nil && row.Key != key {
			err = store.ErrNotFound
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		if id != 0 {
			return store.Collateral{}, ErrCollateralNotFound.Wrapf("no collateral row %d for %s", id, key)
		}
		return store.Collateral{}, ErrCollateralNotFound.Wrapf("no collateral is stored for %s", key)
	}
	if err != nil {
		return store.Collateral{}, mapStoreErr(err, "collateral")
	}
	return row, nil
}

// ParseCollateralKey reads "tee/fmspc/pceid" or "tee/fmspc" (PCE ID 0000,
// the only one Intel uses), any case.
func ParseCollateralKey(s string) (store.CollateralKey, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) == 2 {
		parts = append(parts, "0000")
	}
	if len(parts) != 3 {
		return store.CollateralKey{}, ErrInvalidRequest.Wrapf("collateral key %q: want TEE/FMSPC[/PCEID], e.g. sgx/00906ed50000/0000", s)
	}
	k, err := store.CollateralKey{TEE: parts[0], FMSPC: parts[1], PCEID: parts[2]}.Normalize()
	if err != nil {
		return k, ErrInvalidRequest.Wrapf("collateral key %q: %s", s, errs.Detail(err))
	}
	return k, nil
}
