package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/server"
)

// Environment variables of avow serve's collateral flags.
const (
	envCollateralSources = "AVOW_COLLATERAL_SOURCES" // comma-separated, when no --collateral-source is given
	envPCSAPIKey         = "AVOW_PCS_API_KEY"        // when no --pcs-api-key-file is given
	// envProviderSourceAllow is comma-separated, when no
	// --provider-collateral-source-allow is given.
	envProviderSourceAllow = "AVOW_PROVIDER_COLLATERAL_SOURCE_ALLOW"
)

// collateralFlags are avow serve's collateral source, refresh and trust
// root flags.
type collateralFlags struct {
	apiKeyFile string
}

func addCollateralFlags(cmd *cobra.Command, o *server.CollateralOptions) *collateralFlags {
	cf := &collateralFlags{}
	f := cmd.Flags()
	f.StringArrayVar(&o.Sources, "collateral-source", nil, "where to fetch collateral the store lacks, tried in order (repeatable): a PCCS URL (https://pccs:8081), pcs or pcs:URL for Intel's PCS, or a bundle file or folder (default $"+envCollateralSources+", comma-separated)")
	f.DurationVar(&o.Timeout, "collateral-timeout", 5*time.Second, "how long one collateral source may take to answer")
	f.DurationVar(&o.RefreshLead, "collateral-refresh-lead", 72*time.Hour, "refresh stored collateral this long before its earliest nextUpdate")
	f.DurationVar(&o.RefreshMaxAge, "collateral-max-age", 24*time.Hour, "also look for newer collateral once the stored one was checked this long ago (negative: only before nextUpdate)")
	f.DurationVar(&o.RefreshInterval, "collateral-refresh-interval", 10*time.Minute, "how often the refresh job looks for collateral due")
	f.StringVar(&o.CACertFile, "collateral-ca-cert", "", "PEM CA certificates trusted for HTTPS collateral sources besides the system's (e.g. a PCCS's self-signed certificate)")
	f.StringArrayVar(&o.ProviderSourceAllow, "provider-collateral-source-allow", nil, "URL prefix (https://pccs.internal:8081), or pcs for Intel's PCS, under which provider owners may set their own collateral sources besides this server's --collateral-source URLs (repeatable; default $"+envProviderSourceAllow+", comma-separated); providers may never name files or folders")
	f.StringVar(&cf.apiKeyFile, "pcs-api-key-file", "", "file holding the Intel PCS subscription key, sent only to https://api.trustedservices.intel.com (default $"+envPCSAPIKey+")")
	f.StringArrayVar(&o.TrustRoots, "trust-root", nil, "PEM root certificate trusted besides Intel's (repeatable); its tokens carry \"x-avow-private-root\": true")
	return cf
}

func (cf *collateralFlags) apply(o *server.CollateralOptions) error {
	if len(o.Sources) == 0 {
		o.Sources = server.SplitSources(os.Getenv(envCollateralSources))
	}
	if len(o.ProviderSourceAllow) == 0 {
		o.ProviderSourceAllow = server.SplitSources(os.Getenv(envProviderSourceAllow))
	}
	o.PCSAPIKey = os.Getenv(envPCSAPIKey)
	if cf.apiKeyFile != "" {
		b, err := os.ReadFile(cf.apiKeyFile)
		if err != nil {
			return fmt.Errorf("--pcs-api-key-file: %w", err)
		}
		o.PCSAPIKey = strings.TrimSpace(string(b))
	}
	return nil
}
