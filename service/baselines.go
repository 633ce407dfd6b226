package service

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/avowhq/avow/attestation"
	"github.com/avowhq/avow/dcap"
	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/policy"
	"github.com/avowhq/avow/quote"
	"github.com/avowhq/avow/store"
)

// TCB baselines (docs/tcb-baselines.md). A provider's policy selects the
// Intel TCB evaluation a DCAP quote is judged by, as MAA's does, with the
// configuration property x-ms-sgx-tcbidentifier:
//
//	configurationrules { => issueproperty(type="x-ms-sgx-tcbidentifier", value="17"); };
//
// "azuredefault" (MAA's default, and what a policy without the property
// gets) is the deployment's default baseline: the collateral the service
// keeps current for the platform (PCS/PCCS's standard update channel). A
// decimal number N is Intel's tcbEvaluationDataNumber N: the service
// verifies with the TCB info and QE identity of that number, fetched with
// tcbEvaluationDataNumber=N or imported, and refuses with
// tcb_baseline_unavailable when it has none — never with other collateral.
const (
	// TCBIdentifierProperty is MAA's configuration property.
	TCBIdentifierProperty = "x-ms-sgx-tcbidentifier"
	// DefaultTCBIdentifier is MAA's default identifier.
	DefaultTCBIdentifier = "azuredefault"
	// ClaimTCBBaseline is avow's claim with the TCB baseline the policy
	// selected ("azuredefault", "17"). MAA documents no token claim for
	// the baseline it used (docs/tcb-baselines.md).
	ClaimTCBBaseline = "x-avow-tcb-baseline"
	// ClaimTCBEvaluationDataNumber is avow's claim with the TCB evaluation
	// data number of the TCB info a DCAP quote was verified with.
	ClaimTCBEvaluationDataNumber = "x-avow-tcb-evaluation-data-number"
	// ClaimTCBGrace is avow's claim of a relaxation: the platform's TCB
	// status was admitted by the provider's tcbGrace setting.
	ClaimTCBGrace = "x-avow-tcb-grace"
)

// Errors of TCB baselines.
var (
	// ErrTCBBaselineUnavailable: the policy selects a TCB evaluation data
	// number the service has no collateral for and no source could give.
	ErrTCBBaselineUnavailable = errs.New("tcb_baseline_unavailable", "the service has no collateral for the TCB baseline the policy selects")
)

// tcbBaseline is the baseline a policy selects.
type tcbBaseline struct {
	id     string // as the policy says it: "azuredefault", "17"
	number uint32 // 0: the deployment's default (azuredefault)
}

// parseTCBIdentifier reads a value of x-ms-sgx-tcbidentifier: MAA's
// "azuredefault" or a TCB evaluation data number in decimal.
func parseTCBIdentifier(v any) (tcbBaseline, error) {
	s, ok := v.(string)
	if !ok {
		return tcbBaseline{}, errors.New(TCBIdentifierProperty + " must be a string: \"azuredefault\" or a TCB evaluation data number such as \"17\"")
	}
	if strings.EqualFold(s, DefaultTCBIdentifier) {
		return tcbBaseline{id: DefaultTCBIdentifier}, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || strings.TrimLeft(s, "0123456789") != "" {
		return tcbBaseline{}, errors.New(TCBIdentifierProperty + " " + strconv.Quote(s) + " is neither \"azuredefault\" nor a TCB evaluation data number such as \"17\"")
	}
	return tcbBaseline{id: strconv.FormatUint(n, 10), number: uint32(n)}, nil
}

// baselineOf evaluates a policy's configurationrules for its TCB baseline
// (the default when the policy sets none).
func baselineOf(p *policy.Policy) (tcbBaseline, error) {
	props, err := p.ConfigurationProperties()
	if err != nil {
		return tcbBaseline{}, err
	}
	v, ok := props[TCBIdentifierProperty]
	if !ok {
		return tcbBaseline{id: DefaultTCBIdentifier}, nil
	}
	return parseTCBIdentifier(v)
}

// errNoSourcesForNumber: no sources to fetch a number from (none
// configured, or a draft policy's baseline).
var errNoSourcesForNumber = errors.New("none is stored")

// numberKey names the collateral of one platform family and TCB
// evaluation data number.
type numberKey struct {
	key    store.CollateralKey
	number uint32
}

// collateralForNumber returns the latest stored collateral of key whose TCB
// info has the TCB evaluation data number n.
func (s *Service) collateralForNumber(ctx context.Context, key store.CollateralKey, n uint32) (*storedCollateral, error) {
	c := s.caches()
	nk := numberKey{key, n}
	if sc, ok := lookup(s, c, c.numbered, nk, CacheCollateral); ok {
		return sc, nil
	}
	row, err := s.st.GetCollateralForNumber(ctx, key, n)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrCollateralNotFound.Wrapf("no %s collateral of TCB evaluation data number %d for FMSPC %s", strings.ToUpper(key.TEE), n, key.FMSPC)
	}
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	col, err := pcs.ParseBundle(row.Bundle)
	if err != nil {
		return nil, errs.Internal("stored collateral cannot be read").Wrap(err)
	}
	sc := newStoredCollateral(col, row)
	putCached(c, c.numbered, nk, sc)
	return sc, nil
}

// verifyWithBaseline verifies q with the collateral of TCB evaluation data
// number n: stored, else fetched from srcs with tcbEvaluationDataNumber=n
// (and stored pinned to n); expired collateral is refreshed the same way.
// Without it the answer is ErrTCBBaselineUnavailable, never a verification
// with other collateral.
func (s *Service) verifyWithBaseline(ctx context.Context, q *quote.Quote, key store.CollateralKey, now time.Time, srcs sourceSet, n uint32) (*dcap.Result, *storedCollateral, error) {
	unavailable := func(cause error) error {
		if len(srcs.list) == 0 && errors.Is(cause, errNoSourcesForNumber) {
			cause = errors.New("none is stored, and it is fetched only for a stored policy from the provider's collateral sources")
		}
		return ErrTCBBaselineUnavailable.Wrapf("the policy selects TCB evaluation data number %d and there is no %s collateral of that number for FMSPC %s (%s); import it (avow collateral import) or configure a collateral source that serves it",
			n, strings.ToUpper(key.TEE), key.FMSPC, errs.Detail(cause))
	}
	sc, err := s.collateralForNumber(ctx, key, n)
	if err != nil {
		if !errors.Is(err, ErrCollateralNotFound) {
			return nil, nil, err
		}
		if len(srcs.list) == 0 {
			return nil, nil, unavailable(errNoSourcesForNumber)
		}
		res, col, verr, ferr := s.fetchForQuote(ctx, q, key, now, nil, srcs, n)
		if ferr != nil {
			return nil, nil, unavailable(ferr)
		}
		return res, col, verr
	}
	res, err := dcap.Verify(q, sc.col, s.verifyOptions(now))
	if res != nil && res.CollateralExpired && len(srcs.list) > 0 {
		if fres, fcol, verr, ferr := s.fetchForQuote(ctx, q, key, now, sc, srcs, n); ferr == nil {
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

// TCBGrace is one entry of a provider's tcbGrace setting: attestations of
// platforms whose TCB status is OutOfDate only because of AdvisoryIDs are
// admitted until Until, each marked in its token (ClaimTCBGrace) and its
// audit record. It is the controlled way through a TCB recovery: the new
// baseline is enforced, and platforms not yet updated keep working until a
// date.
type TCBGrace struct {
	AdvisoryIDs []string  `json:"advisoryIds"`
	Until       time.Time `json:"until"`
}

// The provider setting tcbGrace is kept in store.Settings.Extra.
const tcbGraceMember = "tcbGrace"

// graceStatus is the one TCB status a tcbGrace entry admits.
const graceStatus = "OutOfDate"

// TCBGraceOf returns a provider's tcbGrace setting.
func TCBGraceOf(s store.Settings) []TCBGrace {
	var out []TCBGrace
	if !extraMember(s.Extra, tcbGraceMember, &out) {
		return nil
	}
	return out
}

// maxGraceEntries bounds the setting (and the work of checking it).
const maxGraceEntries = 32

// checkTCBGrace validates a tcbGrace setting and returns it normalised:
// advisory ids upper case, sorted and unique, times in UTC.
func checkTCBGrace(in []TCBGrace) ([]TCBGrace, error) {
	if len(in) > maxGraceEntries {
		return nil, ErrInvalidRequest.Wrapf("tcbGrace has %d entries; at most %d", len(in), maxGraceEntries)
	}
	out := make([]TCBGrace, 0, len(in))
	for i, g := range in {
		if g.Until.IsZero() {
			return nil, ErrInvalidRequest.Wrapf("tcbGrace entry %d has no end (until): a grace always ends", i+1)
		}
		if len(g.AdvisoryIDs) == 0 || len(g.AdvisoryIDs) > 64 {
			return nil, ErrInvalidRequest.Wrapf("tcbGrace entry %d must list 1 to 64 advisory ids (INTEL-SA-01213)", i+1)
		}
		ids := make([]string, 0, len(g.AdvisoryIDs))
		for _, id := range g.AdvisoryIDs {
			id = strings.ToUpper(strings.TrimSpace(id))
			if !advisoryID(id) {
				return nil, ErrInvalidRequest.Wrapf("tcbGrace entry %d: %q is not an advisory id such as INTEL-SA-01213", i+1, id)
			}
			ids = append(ids, id)
		}
		sort.Strings(ids)
		out = append(out, TCBGrace{AdvisoryIDs: slices.Compact(ids), Until: g.Until.UTC().Truncate(time.Second)})
	}
	return out, nil
}

// advisoryID accepts Intel's advisory ids: letters, digits and '-', up to
// 32 characters, starting with a letter.
func advisoryID(s string) bool {
	if s == "" || len(s) > 32 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// withTCBGrace sets the tcbGrace member of Extra (removing it for an empty
// list), keeping the other members.
func withTCBGrace(extra json.RawMessage, g []TCBGrace) (json.RawMessage, error) {
	if len(g) == 0 {
		return withExtraMember(extra, tcbGraceMember, nil)
	}
	return withExtraMember(extra, tcbGraceMember, g)
}

// graceRelaxation is what a tcbGrace setting admitted: the claim value and
// the audit text.
type graceRelaxation struct {
	Status      string    `json:"tcbStatus"`
	AdvisoryIDs []string  `json:"advisoryIds"`
	Until       time.Time `json:"until"`
}

// tcbGraceFor returns the relaxation under which the provider's tcbGrace
// admits a platform of the given status and advisories at now, or nil. A
// platform is admitted when its status is OutOfDate, it has advisories,
// and each of them is listed in an entry that has not ended; Until is the
// earliest end among the entries used.
func tcbGraceFor(grace []TCBGrace, status string, advisories []string, now time.Time) *graceRelaxation {
	if status != graceStatus || len(advisories) == 0 || len(grace) == 0 {
		return nil
	}
	var until time.Time
	for _, a := range advisories {
		u := latestEnd(grace, strings.ToUpper(a), now)
		if u.IsZero() {
			return nil // an advisory no entry (still) lists
		}
		if until.IsZero() || u.Before(until) {
			until = u
		}
	}
	return &graceRelaxation{Status: status, AdvisoryIDs: append([]string(nil), advisories...), Until: until}
}

// latestEnd is the latest end, after now, of the entries listing advisory.
func latestEnd(grace []TCBGrace, advisory string, now time.Time) time.Time {
	var end time.Time
	for _, g := range grace {
		if now.Before(g.Until) && slices.Contains(g.AdvisoryIDs, advisory) && g.Until.After(end) {
			end = g.Until
		}
	}
	return end
}

// claim is the relaxation as the token shows it (ClaimTCBGrace).
func (g *graceRelaxation) claim() map[string]any {
	adv := make([]any, len(g.AdvisoryIDs))
	for i, a := range g.AdvisoryIDs {
		adv[i] = a
	}
	return map[string]any{"tcbStatus": g.Status, "advisoryIds": adv, "until": g.Until.UTC().Format(time.RFC3339)}
}

// String is the audit text: "OutOfDate INTEL-SA-01213 until 2026-01-31T00:00:00Z".
func (g *graceRelaxation) String() string {
	return g.Status + " " + strings.Join(g.AdvisoryIDs, ",") + " until " + g.Until.UTC().Format(time.RFC3339)
}

// TCBBaseline is one baseline of GET {attestUri}/tcbbaselines/{type}, in
// MAA's shape (api-version 2025-06-01, TcbBaseline).
type TCBBaseline struct {
	TCBIdentifier            string `json:"tcbIdentifier"`
	TCBEvaluationDataNumber  uint32 `json:"tcbEvaluationDataNumber,omitempty"`
	TCBReleaseDate           string `json:"tcbReleaseDate,omitempty"`
	MinimumPSWLinuxVersion   string `json:"minimumPswLinuxVersion,omitempty"`
	MinimumPSWWindowsVersion string `json:"minimumPswWindowsVersion,omitempty"`
	IsSelectedTCB            bool   `json:"isSelectedTcb"`
}

// mspsw are the minimum PSW versions MAA publishes for the TCB evaluation
// data numbers it offers (learn.microsoft.com, azure/attestation
// custom-tcb-baseline-enforcement); Intel's collateral does not carry them,
// so other numbers have none.
var mspsw = map[uint32][2]string{
	10: {"2.9", "2.7.101.2"},
	11: {"2.13.3", "2.13.100.2"},
	12: {"2.13.3", "2.13.100.2"},
	13: {"2.17", "2.16"},
	14: {"2.17", "2.16"},
	15: {"2.17", "2.16"},
}

// releaseDateFormat is MAA's tcbReleaseDate: "2020-11-11T00:00:00".
const releaseDateFormat = "2006-01-02T15:04:05"

// TCBBaselines lists the TCB baselines a provider's policy for attType can
// select, as MAA's GET /tcbbaselines/{type} does: "azuredefault" (the
// deployment's current collateral: the highest number among the current
// collateral of the type's TEE), then every TCB evaluation data number the
// service holds collateral of for that TEE, newest first, each with its
// release date (the latest tcbDate of its TCB info, which is Intel's
// tcbDate of the number) and, for the numbers MAA publishes, MAA's minimum
// PSW versions. isSelectedTcb marks the one the provider's policy selects.
// With selectedOnly (provideCurrentTcbInPolicy=true) only that one is
// listed. Types without TCB baselines list none.
func (s *Service) TCBBaselines(ctx context.Context, who *Principal, provider, attType string, selectedOnly bool) ([]TCBBaseline, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	p, attType, err := s.providerAndType(ctx, provider, attType)
	if err != nil {
		return nil, err
	}
	typ, err := s.AttestationType(attType)
	if err != nil {
		return nil, err
	}
	fam, ok := typ.(attestation.TCBBaselined)
	if !ok {
		return []TCBBaseline{}, nil
	}
	ap, err := s.activePolicy(ctx, p.Name, attType)
	if err != nil {
		return nil, err
	}
	selected := ap.baseline.id
	rows, err := s.st.ListCollateralNumbers(ctx)
	if err != nil {
		return nil, mapStoreErr(err, "collateral")
	}
	type info struct {
		release time.Time
	}
	numbers := map[uint32]*info{}
	var current uint32
	for _, r := range rows {
		if r.Key.TEE != fam.TCBFamily() || r.TCBEvaluationDataNumber == 0 {
			continue
		}
		if !r.Pinned && r.TCBEvaluationDataNumber > current {
			current = r.TCBEvaluationDataNumber
		}
		in := numbers[r.TCBEvaluationDataNumber]
		if in == nil {
			in = &info{}
			numbers[r.TCBEvaluationDataNumber] = in
		}
		if sc, err := s.collateralForNumber(ctx, r.Key, r.TCBEvaluationDataNumber); err == nil {
			if t, err := pcs.ParseTCBInfo(sc.col.TCBInfo, sc.col.TCBInfoSignature); err == nil {
				for _, l := range t.TCBLevels {
					if l.TCBDate.After(in.release) {
						in.release = l.TCBDate
					}
				}
			}
		}
	}
	entry := func(id string, n uint32) TCBBaseline {
		b := TCBBaseline{TCBIdentifier: id, TCBEvaluationDataNumber: n, IsSelectedTCB: id == selected}
		if in := numbers[n]; in != nil && !in.release.IsZero() {
			b.TCBReleaseDate = in.release.UTC().Format(releaseDateFormat)
		}
		if v, ok := mspsw[n]; ok {
			b.MinimumPSWLinuxVersion, b.MinimumPSWWindowsVersion = v[0], v[1]
		}
		return b
	}
	out := []TCBBaseline{entry(DefaultTCBIdentifier, current)}
	sorted := make([]uint32, 0, len(numbers))
	for n := range numbers {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	slices.Reverse(sorted)
	for _, n := range sorted {
		out = append(out, entry(strconv.FormatUint(uint64(n), 10), n))
	}
	if ap.baseline.number != 0 && numbers[ap.baseline.number] == nil {
		// The policy selects a number the service has no collateral of:
		// listed, so that the selection shows, without a release date.
		out = append(out, entry(ap.baseline.id, ap.baseline.number))
	}
	if selectedOnly {
		for _, b := range out {
			if b.IsSelectedTCB {
				return []TCBBaseline{b}, nil
			}
		}
		return []TCBBaseline{}, nil
	}
	return out, nil
}

// refreshPinned refreshes the collateral kept for TCB evaluation data
// number n of key (the refresh job, with the deployment's sources) when it
// is due: RefreshLead before its earliest expiry, or when it does not
// verify, and not in back-off. It reports false when nothing was due.
func (s *Service) refreshPinned(ctx context.Context, key store.CollateralKey, n uint32) (RefreshResult, bool) {
	c := s.colsrc
	now := s.clock.Now()
	out := RefreshResult{Key: key}
	row, err := s.st.GetCollateralForNumber(ctx, key, n)
	if err != nil {
		return out, false
	}
	col, err := pcs.ParseBundle(row.Bundle)
	if err != nil {
		return out, false
	}
	prev := s.describeStored(col, now)
	fk := fetchKey{key: key, number: n}
	c.mu.Lock()
	retryAt := c.stateOf(fk).retryAt
	c.mu.Unlock()
	if now.Before(retryAt) || !prev.expiry.IsZero() && now.Before(prev.expiry.Add(-c.cfg.RefreshLead)) {
		return out, false
	}
	req := pcs.FetchRequest{TEE: key.TEE, FMSPC: key.FMSPC, PCEID: key.PCEID, PCKCA: prev.pckCA, TCBEvaluationDataNumber: n}
	got := s.fetchBest(ctx, req, key, now, prev, func(col *pcs.Collateral) error { return checkNumber(col, n) })
	out.Errors = got.attempts
	number := strconv.FormatUint(uint64(n), 10)
	if got.col == nil || got.stale && !got.cres.EarliestExpirationDate.After(prev.expiry) {
		c.mu.Lock()
		c.counters.RefreshFailed++
		out.RetryAt = c.backOff(c.stateOf(fk), now, got.attempts)
		c.mu.Unlock()
		out.Outcome = OutcomeFailed
		s.auditCollateral(ctx, nil, "collateral.refresh", "failure", now, key, map[string]string{
			"errors": strings.Join(got.attempts, "; "), "retry_at": formatTime(out.RetryAt), "tcb_evaluation_data_number": number})
		return out, true
	}
	out.Source, out.NextUpdate = got.source, got.cres.EarliestExpirationDate
	if bundle, err := got.col.MarshalBundle(); err == nil && sha256Hex(bundle) == row.SHA256 {
		out.Outcome, out.SHA256 = OutcomeUnchanged, row.SHA256
		c.mu.Lock()
		c.counters.RefreshUnchanged++
		c.stateOf(fk).succeed(now, OutcomeUnchanged)
		c.mu.Unlock()
		return out, true
	}
	sc, err := s.storeFetched(ctx, nil, "collateral.refresh", key, got, now, true)
	if err != nil {
		c.mu.Lock()
		out.RetryAt = c.backOff(c.stateOf(fk), now, append(got.attempts, "store: "+errs.Detail(err)))
		c.mu.Unlock()
		out.Outcome, out.Errors = OutcomeFailed, append(out.Errors, "store: "+errs.Detail(err))
		return out, true
	}
	out.Outcome, out.SHA256 = OutcomeUpdated, sc.row.SHA256
	c.mu.Lock()
	c.counters.Refreshed++
	c.stateOf(fk).succeed(now, OutcomeUpdated)
	c.mu.Unlock()
	return out, true
}
