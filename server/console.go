package server

import (
	"strings"

	"github.com/avowhq/avow/api"
	"github.com/avowhq/avow/console"
	"github.com/avowhq/avow/sgxsim"
)

// consoleOptions configure the web console of a node: the simulated
// platform in --dev, and OpenID sign-in when both an issuer and the
// console's client id are configured.
func consoleOptions(cfg Config, sim *sgxsim.Platform) api.ConsoleOptions {
	o := api.ConsoleOptions{Off: cfg.NoConsole, Dev: cfg.Dev, Sim: sim}
	if iss := strings.TrimSpace(cfg.OIDC.Issuer); iss != "" && cfg.OIDC.ConsoleClientID != "" {
		// The API checks aud: the console's ID token carries its client
		// id as aud, so it serves as the bearer when the API's audience is
		// the console's client id; otherwise the access token must.
		tokenType := "access_token"
		if cfg.OIDC.Audience == cfg.OIDC.ConsoleClientID {
			tokenType = "id_token"
		}
		o.OIDC = &console.OIDC{Issuer: iss, ClientID: cfg.OIDC.ConsoleClientID, Scope: "openid profile", TokenType: tokenType}
	}
	return o
}
