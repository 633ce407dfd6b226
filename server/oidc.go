package server

import (
	"net/http"
	"strings"

	"github.com/avowhq/avow/oidc"
	"github.com/avowhq/avow/service"
)

// OIDCConfig makes a node accept JWT bearer tokens from an OpenID issuer
// beside admin tokens (avow serve --oidc-issuer, --oidc-audience,
// --oidc-role-claim, --oidc-role-map).
type OIDCConfig struct {
	Issuer    string            // "" disables OIDC
	Audience  string            // required with Issuer
	RoleClaim string            // default "roles"
	RoleMap   map[string]string // claim value -> reader, policy-admin or owner
	// ConsoleClientID is the web console's OAuth client id (avow serve
	// --console-oidc-client-id): with Issuer, the console signs in with
	// the issuer (server/console.go).
	ConsoleClientID string
	// HTTPClient fetches the issuer's metadata and keys (default: system
	// roots, 10 s timeout; SSL_CERT_FILE adds a private CA).
	HTTPClient *http.Client
}

// oidcVerifier returns the verifier of cfg, or nil when no issuer is set
// (an untyped nil: a nil *oidc.Verifier in the interface would be "set").
func oidcVerifier(cfg OIDCConfig) (service.BearerVerifier, error) {
	if strings.TrimSpace(cfg.Issuer) == "" {
		if cfg.Audience != "" || len(cfg.RoleMap) > 0 {
			return nil, ErrConfig.Wrapf("--oidc-audience and --oidc-role-map need --oidc-issuer")
		}
		return nil, nil
	}
	roles, err := oidc.ParseRoleMap(cfg.RoleMap)
	if err != nil {
		return nil, err
	}
	v, err := oidc.New(oidc.Config{Issuer: cfg.Issuer, Audience: cfg.Audience,
		RoleClaim: cfg.RoleClaim, RoleMap: roles, HTTPClient: cfg.HTTPClient})
	if err != nil {
		return nil, err
	}
	return v, nil
}
