package api

import (
	"net/http"

	"github.com/avowhq/avow/service"
	"github.com/avowhq/avow/store"
)

// dataPlaneCaller authenticates a policies or certificates request. On a
// shared provider (service/shared.go) a GET without a bearer token is let
// through as an anonymous reader, as on MAA's shared instances, where
// GET /policies/{type} and GET /certificates need no authentication; it
// still counts against the per-address management rate.
func (s *Server) dataPlaneCaller(w http.ResponseWriter, r *http.Request, provider string) (*service.Principal, bool) {
	if r.Method != http.MethodGet || bearer(r) != "" || !s.svc.IsShared(provider) {
		return s.authenticate(w, r)
	}
	if !s.limitManagement(w, r, nil) {
		return nil, false
	}
	return &service.Principal{ID: "anonymous", Role: store.RoleReader, RequestID: requestID(r)}, true
}
