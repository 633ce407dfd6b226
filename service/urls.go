package service

import (
	"net"
	"net/url"
	"regexp"
	"strings"

	"github.com/avowhq/avow/errs"
)

// providerURLs says where each provider's data plane answers, which is
// also the iss of its tokens (DESIGN.md, "Providers and URLs"):
//
//   - path-based (the default): {public-url}/providers/{name};
//   - host-named (ProviderDomain): https://{name}.{domain}[:port], the
//     whole data plane at the root of that host, as MAA's
//     https://{name}.{region}.attest.azure.net;
//   - one provider at the root of the server itself (RootProvider), for
//     single-tenant set-ups: the public URL's scheme, host and port.
//
// Clients that use only the URL's authority — the Always Encrypted drivers
// fetch https://{authority}/.well-known/openid-configuration and require
// iss to be exactly https://host[:port] — need one of the last two.
type providerURLs struct {
	publicURL  string // without a trailing slash
	scheme     string
	port       string // ":8443", or "" for the scheme's default port
	domain     string // lower case, "" when providers are path-based
	root       string // the provider at the server's root, or ""
	rootOrigin string // scheme://host[:port] of the public URL
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ErrURLConfig reports a provider URL configuration that cannot work.
var ErrURLConfig = errs.New("provider_url_config_invalid", "the provider URL configuration is invalid")

func newProviderURLs(publicURL, domain, root string) (providerURLs, error) {
	u, err := url.Parse(publicURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return providerURLs{}, errs.New("invalid_config", "the public URL must be an absolute http(s) URL").Wrapf("%q", publicURL)
	}
	p := providerURLs{publicURL: strings.TrimRight(publicURL, "/"), scheme: u.Scheme}
	if port := u.Port(); port != "" && !(u.Scheme == "https" && port == "443") && !(u.Scheme == "http" && port == "80") {
		p.port = ":" + port
	}
	p.rootOrigin = u.Scheme + "://" + strings.ToLower(u.Hostname())
	if strings.Contains(u.Hostname(), ":") {
		p.rootOrigin = u.Scheme + "://[" + strings.ToLower(u.Hostname()) + "]"
	}
	p.rootOrigin += p.port
	domain = strings.Trim(strings.ToLower(strings.TrimSpace(domain)), ".")
	root = strings.ToLower(strings.TrimSpace(root))
	if (domain != "" || root != "") && strings.Trim(u.Path, "/") != "" {
		return providerURLs{}, ErrURLConfig.Wrapf("the public URL %s has a path; providers at their own host or at the server's root need a public URL without one", publicURL)
	}
	if domain != "" {
		if net.ParseIP(domain) != nil {
			return providerURLs{}, ErrURLConfig.Wrapf("the provider domain %q is an IP address; it must be a DNS name whose subdomains name the providers", domain)
		}
		for _, l := range strings.Split(domain, ".") {
			if !dnsLabel.MatchString(l) {
				return providerURLs{}, ErrURLConfig.Wrapf("the provider domain %q is not a DNS name (label %q)", domain, l)
			}
		}
		p.domain = domain
	}
	if root != "" {
		if !providerName.MatchString(root) {
			return providerURLs{}, ErrURLConfig.Wrapf("the root provider %q is not a provider name (3 to 24 lower-case letters, digits and hyphens, starting with a letter)", root)
		}
		p.root = root
	}
	return p, nil
}

// attestURI is a provider's attest URI.
func (p providerURLs) attestURI(provider string) string {
	name := strings.ToLower(provider)
	switch {
	case p.root != "" && name == p.root:
		return p.rootOrigin
	case p.domain != "":
		return p.scheme + "://" + name + "." + p.domain + p.port
	}
	return p.publicURL + "/providers/" + provider
}

// providerForHost returns the provider a request's Host names: NAME for
// NAME.{domain}, with or without a port.
func (p providerURLs) providerForHost(host string) (string, bool) {
	if p.domain == "" || host == "" {
		return "", false
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	label, ok := strings.CutSuffix(host, "."+p.domain)
	if !ok || label == "" || strings.Contains(label, ".") {
		return "", false
	}
	return label, true
}

// AttestURI returns a provider's attest URI, the iss of its tokens.
func (s *Service) AttestURI(provider string) string { return s.urls.attestURI(provider) }

// ProviderForHost returns the provider whose data plane a request for Host
// reaches (NAME for NAME.{ProviderDomain}), whether or not it exists.
func (s *Service) ProviderForHost(host string) (string, bool) { return s.urls.providerForHost(host) }

// RootProvider returns the provider served at the root of the server
// (Config.RootProvider), or "".
func (s *Service) RootProvider() string { return s.urls.root }

// ProviderDomain returns the domain under which providers have their own
// host (Config.ProviderDomain), or "".
func (s *Service) ProviderDomain() string { return s.urls.domain }
