package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/avowhq/avow/service"
)

// reqState is what a request learns on its way that its error answer
// needs: the authenticated principal.
type reqState struct{ who *service.Principal }

type reqStateKey struct{}

func withReqState(ctx context.Context) context.Context {
	return context.WithValue(ctx, reqStateKey{}, &reqState{})
}

func stateOf(r *http.Request) *reqState {
	st, _ := r.Context().Value(reqStateKey{}).(*reqState)
	return st
}

// managementOps names the audit operation of the management writes, by
// method and route (see routeOf).
var managementOps = map[string]string{
	"POST /management/providers":                   "provider.create",
	"PATCH /management/providers/{id}":             "provider.update",
	"DELETE /management/providers/{id}":            "provider.delete",
	"POST /management/providers/{id}/keys:rotate":  "key.rotate",
	"POST /management/admin-tokens":                "admin_token.create",
	"DELETE /management/admin-tokens/{id}":         "admin_token.revoke",
	"POST /management/collateral":                  "collateral.import",
	"POST /management/collateral:refresh":          "collateral.refresh",
	"POST /management/collateral:prune":            "collateral.prune",
	"PUT /providers/{name}/policies/{type}":        "policy.set",
	"POST /providers/{name}/policies/{type}:reset": "policy.reset",
	"POST /providers/{name}/certificates:add":      "signer.add",
	"POST /providers/{name}/certificates:remove":   "signer.remove",
	// ARM: a PUT creates a provider or replaces the location and tags of
	// an existing one (see armPutOperation), a PATCH replaces its tags.
	"PUT " + armProviderRoute:    "provider.create",
	"PATCH " + armProviderRoute:  "provider.metadata",
	"DELETE " + armProviderRoute: "provider.delete",
}

// armProviderRoute is the route template of an ARM provider (armRoute).
const armProviderRoute = "/subscriptions/{sub}/resourceGroups/{rg}/providers/" + armType + "/{name}"

// auditRefused records a refused management write (native, data-plane
// policy and signer routes, ARM) of an authenticated principal in the
// audit log.
func (s *Server) auditRefused(r *http.Request, err error) {
	st := stateOf(r)
	if st == nil || st.who == nil || r.Method == http.MethodGet || r.Method == http.MethodHead {
		return
	}
	route := routeOf(r.URL.Path)
	op, ok := managementOps[r.Method+" "+route]
	if !ok {
		op = "request " + methodLabel(r.Method) + " " + route
	}
	provider := providerOfPath(r.URL.Path)
	if isARMPath(r.URL.Path) {
		provider = ""
		if req, err := parseARMPath(r.URL.Path); err == nil {
			provider = strings.ToLower(req.name) // ARM names are case-insensitive, stored lowercase
			if r.Method == http.MethodPut && req.kind == "provider" {
				op = s.armPutOperation(r, st.who, req, provider)
			}
		}
	}
	s.svc.AuditRefused(r.Context(), st.who, provider, op, err)
}

// armPutOperation names a refused ARM PUT as the change it asked for:
// provider.metadata when the provider exists in the path's scope (the PUT
// would have replaced its location and tags), provider.create otherwise.
func (s *Server) armPutOperation(r *http.Request, who *service.Principal, req *armRequest, name string) string {
	if v, err := s.svc.GetProvider(r.Context(), who, name); err == nil && req.scope.Contains(v.Metadata) {
		return "provider.metadata"
	}
	return "provider.create"
}

// providerOfPath is the provider a management or data-plane path names.
func providerOfPath(path string) string {
	for _, prefix := range []string{"/management/providers/", "/providers/"} {
		if rest, ok := strings.CutPrefix(path, prefix); ok {
			name, _, _ := strings.Cut(rest, "/")
			return name
		}
	}
	return ""
}
