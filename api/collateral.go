package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
	"github.com/avowhq/avow/wire"
)

// collateralRoutes serves /management/collateral and below:
//
//	GET, POST /management/collateral                            list, import
//	GET  /management/collateral/{tee}/{fmspc}/{pceid}           state and history
//	GET  /management/collateral/{tee}/{fmspc}/{pceid}/bundle    a stored bundle (?id= for a history row)
//	POST /management/collateral:refresh                         refresh now ({"keys": [...]}, all when absent)
//	POST /management/collateral:prune                           delete history ({"olderThan": "720h"} or {"before": RFC 3339})
func (s *Server) collateralRoutes(w http.ResponseWriter, r *http.Request, who *service.Principal, parts []string) {
	switch {
	case len(parts) == 1 && parts[0] == "collateral":
		s.collateral(w, r, who)
	case len(parts) == 1 && parts[0] == "collateral:refresh":
		s.collateralRefresh(w, r, who)
	case len(parts) == 1 && parts[0] == "collateral:prune":
		s.collateralPrune(w, r, who)
	case parts[0] == "collateral" && (len(parts) == 4 || len(parts) == 5 && parts[4] == "bundle"):
		if !s.method(w, r, http.MethodGet) {
			return
		}
		key, err := service.ParseCollateralKey(strings.Join(parts[1:4], "/"))
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		if len(parts) == 5 {
			s.collateralBundle(w, r, who, key)
			return
		}
		v, err := s.svc.GetCollateral(r.Context(), who, key)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, collateralViewOut(v))
	default:
		s.writeError(w, r, ErrNotFound.Wrapf("%s", r.URL.Path))
	}
}

func (s *Server) collateralBundle(w http.ResponseWriter, r *http.Request, who *service.Principal, key store.CollateralKey) {
	var id int64
	if v := r.URL.Query().Get("id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			s.writeError(w, r, service.ErrInvalidRequest.Wrapf("id %q is not a collateral row id", v))
			return
		}
		id = n
	}
	row, err := s.svc.CollateralBundle(r.Context(), who, key, id)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("x-avow-collateral-id", strconv.FormatInt(row.ID, 10))
	writeRaw(w, http.StatusOK, "application/json", row.Bundle)
}

func (s *Server) collateralRefresh(w http.ResponseWriter, r *http.Request, who *service.Principal) {
	if !s.method(w, r, http.MethodPost) || !s.allow(w, r, who, store.RoleOwner) {
		return
	}
	var in struct {
		Keys []string `json:"keys"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(r, MaxMgmtBody, &in); err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	var keys []store.CollateralKey
	for _, k := range in.Keys {
		key, err := service.ParseCollateralKey(k)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
		keys = append(keys, key)
	}
	results, err := s.svc.RefreshCollateral(r.Context(), who, keys)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	out := make([]wire.CollateralRefresh, 0, len(results))
	for _, res := range results {
		out = append(out, wire.CollateralRefresh{Key: res.Key.String(), TEE: res.Key.TEE, FMSPC: res.Key.FMSPC, PCEID: res.Key.PCEID,
			Outcome: res.Outcome, Source: res.Source, SHA256: res.SHA256,
			NextUpdate: timeOrNil(res.NextUpdate), RetryAt: timeOrNil(res.RetryAt), Errors: nonNil(res.Errors)})
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": out})
}

func (s *Server) collateralPrune(w http.ResponseWriter, r *http.Request, who *service.Principal) {
	if !s.method(w, r, http.MethodPost) || !s.allow(w, r, who, store.RoleOwner) {
		return
	}
	var in struct {
		OlderThan string     `json:"olderThan"`
		Before    *time.Time `json:"before"`
	}
	if err := decodeJSON(r, MaxMgmtBody, &in); err != nil {
		s.writeError(w, r, err)
		return
	}
	var before time.Time
	switch {
	case in.Before != nil && in.OlderThan == "":
		before = *in.Before
	case in.Before == nil && in.OlderThan != "":
		d, err := ParseDays(in.OlderThan)
		if err != nil || d <= 0 {
			s.writeError(w, r, ErrBadJSON.Wrapf("olderThan %q is not a positive duration like 720h or 30d", in.OlderThan))
			return
		}
		before = s.svc.Now().Add(-d)
	default:
		s.writeError(w, r, ErrBadJSON.Wrapf("give either olderThan or before"))
		return
	}
	n, err := s.svc.PruneCollateral(r.Context(), who, before)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, wire.CollateralPrune{Deleted: n, Before: before.UTC()})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// timeOrNil is t, or nil for the zero time (a member the JSON omits).
func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// collateralViewOut is GET /management/collateral/{tee}/{fmspc}/{pceid}.
func collateralViewOut(v *service.CollateralView) wire.CollateralView {
	out := wire.CollateralView{TEE: v.Key.TEE, FMSPC: v.Key.FMSPC, PCEID: v.Key.PCEID, ID: v.ID, Source: v.Source, SHA256: v.SHA256,
		IssueDate: v.IssueDate, FetchedAt: v.FetchedAt, AgeSeconds: int64(v.Age / time.Second), ExpiresInSeconds: int64(v.TimeToExpiry / time.Second),
		Expired: v.Expired, History: []wire.CollateralRow{}, NextUpdate: timeOrNil(v.NextUpdate)}
	if !v.LastAttempt.IsZero() {
		out.Refresh = &wire.CollateralRefreshState{LastAttempt: v.LastAttempt, LastOutcome: v.LastOutcome, LastErrors: nonNil(v.LastErrors),
			ConsecutiveFailures: v.ConsecutiveFailures, RetryAt: timeOrNil(v.RetryAt)}
	}
	for _, h := range v.History {
		hj := wire.CollateralRow{ID: h.ID, IssueDate: h.IssueDate, NextUpdate: h.NextUpdate, FetchedAt: h.FetchedAt,
			Source: h.Source, SHA256: h.SHA256, Size: h.Size, TCBEvaluationDataNumber: h.TCBEvaluationDataNumber, Pinned: h.Pinned}
		if h.Hashes.TCBInfoHash != "" {
			hh := wire.CollateralHashes(h.Hashes)
			hj.Hashes = &hh
		}
		out.History = append(out.History, hj)
	}
	return out
}
