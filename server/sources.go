package server

import (
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/service"
)

// CollateralOptions say where a node gets Intel collateral it does not
// have and which roots besides Intel's it trusts (docs/collateral.md).
type CollateralOptions struct {
	// Sources are --collateral-source values in order: a PCCS or PCS URL
	// ("pccs:URL", "pcs:URL", "pcs" for Intel's PCS) or a local bundle
	// file or folder (pcs.ParseSource).
	Sources []string
	// Timeout bounds each source's fetch (default 5s).
	Timeout time.Duration
	// RefreshLead, RefreshMaxAge, RefreshInterval tune the refresh job
	// (service.CollateralConfig; zero: the defaults).
	RefreshLead, RefreshMaxAge, RefreshInterval time.Duration
	// ProviderSourceAllow are the URL prefixes ("pcs" for Intel's PCS)
	// under which providers may set collateralSources besides the
	// Sources above (--provider-collateral-source-allow,
	// pcs.ParseSourceRule). Providers may never set a file or folder.
	ProviderSourceAllow []string
	// PCSAPIKey is sent as Ocp-Apim-Subscription-Key, only to Intel's PCS
	// over https (pcs.SendsAPIKey).
	PCSAPIKey string
	// CACertFile holds PEM CA certificates trusted for HTTPS sources
	// besides the system's (a PCCS's self-signed certificate).
	CACertFile string
	// TrustRoots are PEM (or DER) files of root certificates trusted beside
	// Intel's pinned root key (--trust-root); tokens for evidence chaining
	// to one carry "x-avow-private-root": true.
	TrustRoots []string
	// HTTPClient does the sources' requests (tests); nil builds one from
	// CACertFile.
	HTTPClient *http.Client
}

// SplitSources splits a comma-separated AVOW_COLLATERAL_SOURCES value.
func SplitSources(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// apply puts the options into a service configuration.
func (o CollateralOptions) apply(cfg *service.Config, log *slog.Logger) error {
	for _, path := range o.TrustRoots {
		data, err := os.ReadFile(path)
		if err != nil {
			return ErrConfig.Wrapf("--trust-root: %v", err)
		}
		certs, err := pcs.ParseCertificates(data)
		if err != nil {
			return ErrConfig.Wrapf("--trust-root %s: %s", path, errs.Detail(err))
		}
		for _, c := range certs {
			if string(c.RawIssuer) != string(c.RawSubject) || c.CheckSignatureFrom(c) != nil {
				return ErrConfig.Wrapf("--trust-root %s: %q is not a self-signed root certificate", path, c.Subject.CommonName)
			}
			cfg.PrivateRoots = append(cfg.PrivateRoots, c)
			log.Warn("trusting a private root besides Intel's; its tokens carry x-avow-private-root", "subject", c.Subject.String(), "file", path)
		}
	}
	// Providers' collateralSources are built with the same client and key.
	hc := o.HTTPClient
	if hc == nil {
		var err error
		if hc, err = sourceClient(o.CACertFile); err != nil {
			return err
		}
	}
	apiKey := o.PCSAPIKey
	cfg.Collateral.SourceOptions = pcs.SourceOptions{APIKey: apiKey, Client: hc}
	for _, spec := range o.Sources {
		src, err := pcs.ParseSource(spec, pcs.SourceOptions{APIKey: apiKey, Client: hc})
		if err != nil {
			return ErrConfig.Wrapf("--collateral-source: %s", errs.Detail(err))
		}
		cfg.Collateral.Sources = append(cfg.Collateral.Sources, src)
		log.Info("collateral source", "source", src.Name())
	}
	for _, v := range o.ProviderSourceAllow {
		r, err := pcs.ParseSourceRule(v)
		if err != nil {
			return ErrConfig.Wrapf("--provider-collateral-source-allow %q: %v", v, err)
		}
		cfg.Collateral.ProviderSourceRules = append(cfg.Collateral.ProviderSourceRules, r)
		log.Info("providers may set collateral sources under", "prefix", r.String())
	}
	cfg.Collateral.Timeout = o.Timeout
	cfg.Collateral.RefreshLead, cfg.Collateral.RefreshMaxAge, cfg.Collateral.RefreshInterval = o.RefreshLead, o.RefreshMaxAge, o.RefreshInterval
	return nil
}

// sourceClient is the HTTP client of URL sources: the system's roots plus
// caFile's certificates, TLS 1.2 or later, proxies from the environment.
func sourceClient(caFile string) (*http.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		data, err := os.ReadFile(caFile)
		if err != nil {
			return nil, ErrConfig.Wrapf("--collateral-ca-cert: %v", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, ErrConfig.Wrapf("--collateral-ca-cert %s holds no PEM certificate", caFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t}, nil
}
