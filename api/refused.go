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
}

// auditRefused records a refused management write of an authenticated
// principal in the audit log.
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
	s.svc.AuditRefused(r.Context(), st.who, providerOfPath(r.URL.Path), op, err)
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
