package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/wire"
)

// parseSince reads a time bound: RFC 3339, or a duration before now
// ("24h", "30m", "7d").
func parseSince(name, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t, nil
	}
	if d, err := ParseDays(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, ErrBadQuery.Wrapf("%s=%q is neither an RFC 3339 time nor a duration such as 24h or 7d", name, v)
}

// ParseDays is time.ParseDuration that also accepts whole days ("30d").
func ParseDays(v string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(v, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100000 {
			return 0, ErrBadQuery.Wrapf("%q is not a number of days", v)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	return time.ParseDuration(v)
}

// ErrBadQuery is a malformed query parameter.
var ErrBadQuery = errs.New("invalid_query", "a query parameter is malformed")

// audit serves GET /management/audit?provider=&kind=&since=&until=&operation=&limit=&before=
// (reader role): entries newest first, {"entries": [...], "next": ID} where
// next, when present, is the before= value of the next page.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, who *service.Principal) {
	if !s.method(w, r, http.MethodGet) {
		return
	}
	q := r.URL.Query()
	now := s.svc.Now()
	var f store.AuditFilter
	var err error
	f.Provider = q.Get("provider")
	f.Kind = store.AuditKind(q.Get("kind"))
	f.OperationPrefix = q.Get("operation")
	if f.Since, err = parseSince("since", q.Get("since"), now); err != nil {
		s.writeError(w, r, err)
		return
	}
	if f.Until, err = parseSince("until", q.Get("until"), now); err != nil {
		s.writeError(w, r, err)
		return
	}
	if v := q.Get("before"); v != "" {
		if f.BeforeID, err = strconv.ParseInt(v, 10, 64); err != nil || f.BeforeID < 1 {
			s.writeError(w, r, ErrBadQuery.Wrapf("before=%q is not an entry id", v))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			s.writeError(w, r, ErrBadQuery.Wrapf("limit=%q is not a number from 1 to %d", v, store.MaxAuditLimit))
			return
		}
		f.Limit = n
	}
	entries, err := s.svc.ListAudit(r.Context(), who, f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := wire.AuditPage{Entries: make([]wire.AuditEntry, 0, len(entries))}
	for _, e := range entries {
		page.Entries = append(page.Entries, wire.AuditEntry{ID: e.ID, Time: e.Time, Kind: string(e.Kind), Actor: e.Actor, Provider: e.Provider,
			Operation: e.Operation, Outcome: e.Outcome, Details: e.Details, RequestID: e.RequestID})
	}
	if len(entries) > 0 && len(entries) == f.EffectiveLimit() {
		page.Next = entries[len(entries)-1].ID
	}
	writeJSON(w, http.StatusOK, page)
}
