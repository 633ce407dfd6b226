// Package console is avow's web console: static assets (vanilla ES
// modules, no build step) embedded in the binary and the handler that
// serves them under /ui/ with a strict Content-Security-Policy. The console
// is a client of the public API; it has no endpoints of its own beyond
// /ui/config.json (what the page needs to know to sign in) and
// /ui/templates.json (the policy templates avow ships).
package console

import (
	"embed"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
)

//go:embed assets
var assets embed.FS

// OIDC configures sign-in with an OpenID issuer (authorization code with
// PKCE, a public client).
type OIDC struct {
	Issuer   string `json:"issuer"`
	ClientID string `json:"clientId"`
	Scope    string `json:"scope"`
	// TokenType is the token the console sends as its bearer: "id_token"
	// when the API's audience is the console's client id, else
	// "access_token".
	TokenType string `json:"tokenType"`
}

// Type is an attestation type the server serves.
type Type struct {
	Name          string `json:"name"`
	DefaultPolicy string `json:"-"`
}

// Config is what the page learns from /ui/config.json.
type Config struct {
	Dev            bool   `json:"dev"`
	ProviderDomain string `json:"providerDomain,omitempty"`
	OIDC           *OIDC  `json:"oidc,omitempty"`
	// Types are the attestation types the server serves, in its order.
	Types []Type `json:"types"`
}

// CSP is the Content-Security-Policy of every /ui response without OIDC.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Handler serves the console: index.html at /ui/, the assets at
// /ui/assets/..., config.json and templates.json.
type Handler struct {
	csp       string
	config    []byte
	templates []byte
	files     fs.FS
}

// New returns the console handler of cfg.
func New(cfg Config) *Handler {
	if cfg.OIDC != nil && cfg.OIDC.Scope == "" {
		cfg.OIDC.Scope = "openid"
	}
	conf, _ := json.Marshal(cfg)
	tmpl, _ := json.Marshal(map[string]any{"templates": Templates(cfg.Types)})
	sub, _ := fs.Sub(assets, "assets")
	return &Handler{csp: cspFor(cfg), config: conf, templates: tmpl, files: sub}
}

// cspFor is CSP, with the issuer's origin allowed for fetch (discovery and
// the token endpoint) when OIDC sign-in is configured.
func cspFor(cfg Config) string {
	if cfg.OIDC == nil {
		return CSP
	}
	u, err := url.Parse(cfg.OIDC.Issuer)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return CSP
	}
	origin := u.Scheme + "://" + u.Host
	return strings.Replace(CSP, "connect-src 'self'", "connect-src 'self' "+origin, 1)
}

// ServeHTTP serves a request whose path starts with /ui.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", h.csp)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cache-Control", "no-cache")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/ui":
		http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
	case p == "/ui/" || p == "/ui/index.html":
		h.file(w, r, "index.html")
	case p == "/ui/config.json":
		h.write(w, r, "application/json; charset=utf-8", h.config)
	case p == "/ui/templates.json":
		h.write(w, r, "application/json; charset=utf-8", h.templates)
	case strings.HasPrefix(p, "/ui/assets/"):
		name := path.Clean(strings.TrimPrefix(p, "/ui/assets/"))
		if name == "index.html" || strings.HasPrefix(name, ".") {
			http.NotFound(w, r)
			return
		}
		h.file(w, r, name)
	default:
		http.NotFound(w, r)
	}
}

func (h *Handler) file(w http.ResponseWriter, r *http.Request, name string) {
	b, err := fs.ReadFile(h.files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	switch path.Ext(name) {
	case ".js":
		ct = "text/javascript; charset=utf-8"
	case ".html":
		ct = "text/html; charset=utf-8"
	case ".css":
		ct = "text/css; charset=utf-8"
	case ".svg":
		ct = "image/svg+xml"
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	h.write(w, r, ct, b)
}

func (h *Handler) write(w http.ResponseWriter, r *http.Request, ct string, b []byte) {
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(b)
	}
}
