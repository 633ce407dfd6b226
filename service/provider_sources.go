package service

import (
	"context"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/pcs"
	"github.com/avowhq/avow/store"
)

// The provider setting collateralSources is kept in store.Settings.Extra
// as {"collateralSources": ["https://pccs:8081", "pcs"]}: the same strings
// as avow serve --collateral-source, in order. When present it replaces
// the deployment's sources for attestations against the provider
// (docs/collateral.md, "Sources").
const collateralSourcesMember = "collateralSources"

// ErrSourceNotAllowed refuses a provider's collateral source the operator
// does not allow: a file or folder, or a URL that is neither one of the
// deployment's sources nor under avow serve
// --provider-collateral-source-allow.
var ErrSourceNotAllowed = errs.New("collateral_source_not_allowed", "the collateral source is not allowed for providers")

// maxProviderSources bounds a provider's collateralSources.
const maxProviderSources = 16

// CollateralSources returns a provider's collateralSources setting; nil
// when the provider uses the deployment's sources.
func CollateralSources(s store.Settings) []string {
	var out []string
	if !extraMember(s.Extra, collateralSourcesMember, &out) || len(out) == 0 {
		return nil
	}
	return out
}

// withCollateralSources sets the collateralSources member of Extra (an
// empty list removes it), keeping the other members.
func withCollateralSources(extra json.RawMessage, specs []string) (json.RawMessage, error) {
	if len(specs) == 0 {
		return withExtraMember(extra, collateralSourcesMember, nil)
	}
	return withExtraMember(extra, collateralSourcesMember, specs)
}

// checkCollateralSources validates a collateralSources setting
// (providerSource) and returns it trimmed.
func (s *Service) checkCollateralSources(specs []string) ([]string, error) {
	if len(specs) > maxProviderSources {
		return nil, ErrInvalidRequest.Wrapf("%d collateral sources; at most %d", len(specs), maxProviderSources)
	}
	out := make([]string, 0, len(specs))
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if _, err := s.providerSource(spec); err != nil {
			return nil, err
		}
		out = append(out, spec)
	}
	return out, nil
}

// providerSource builds one source of a provider's collateralSources:
// only a URL (never a file or folder, which only the operator
// configures: a provider's path would probe the server's files) that is
// one of the deployment's URL sources or under a prefix of avow serve
// --provider-collateral-source-allow (collateralState.allowed). Every
// request of the source, redirects and the root CA CRL's distribution
// point included, must stay under those prefixes (Intel's CRL host
// excepted). It reads no file and makes no request.
func (s *Service) providerSource(spec string) (pcs.Source, error) {
	if pcs.IsLocalSource(spec) {
		return nil, ErrSourceNotAllowed.Wrapf("%q is a file or folder source: only the operator configures those (avow serve --collateral-source)", spec)
	}
	src, err := pcs.ParseSource(spec, s.sourceOptions())
	if err != nil {
		return nil, ErrInvalidRequest.Wrapf("collateral source %q: %s", spec, errs.Detail(err))
	}
	f, ok := src.(*pcs.Fetcher)
	if ok {
		base, err := url.Parse(f.BaseURL)
		ok = err == nil && s.colsrc.allowed(base)
	}
	if !ok {
		return nil, ErrSourceNotAllowed.Wrapf("%q is neither one of the server's collateral sources nor under a prefix the operator allows with avow serve --provider-collateral-source-allow", spec)
	}
	f.AllowURL = func(u *url.URL) bool { return s.colsrc.allowed(u) || pcs.IntelCRLURL(u) }
	return f, nil
}

// allowed reports whether u falls under the operator's allow-list for
// providers' sources.
func (c *collateralState) allowed(u *url.URL) bool {
	if c == nil {
		return false
	}
	for _, r := range c.allow {
		if r.Allows(u) {
			return true
		}
	}
	return false
}

// providerRules is the allow-list for providers' sources: the operator's
// rules and the base URL of each of the deployment's URL sources.
func providerRules(cfg CollateralConfig) []pcs.SourceRule {
	out := append([]pcs.SourceRule(nil), cfg.ProviderSourceRules...)
	for _, src := range cfg.Sources {
		if f, ok := src.(*pcs.Fetcher); ok {
			if r, err := pcs.ParseSourceRule(f.BaseURL); err == nil {
				out = append(out, r)
			}
		}
	}
	return out
}

func (s *Service) sourceOptions() pcs.SourceOptions {
	if s.colsrc == nil {
		return pcs.SourceOptions{}
	}
	return s.colsrc.cfg.SourceOptions
}

// sourcesFor returns the sources attestations against p fetch from: its
// collateralSources when set, else the deployment's. The sources built
// from a provider's setting are cached with the provider (dropped on
// every change). A stored source that is no longer allowed (the
// operator's allow-list changed, or a folder stored by an older version)
// or no longer parses is logged and kept as a source that fails without
// a request.
func (s *Service) sourcesFor(p store.Provider) sourceSet {
	specs := CollateralSources(p.Settings)
	if len(specs) == 0 {
		if s.colsrc == nil {
			return sourceSet{}
		}
		return sourceSet{list: s.colsrc.cfg.Sources}
	}
	id := strings.Join(specs, "\n")
	c := s.caches()
	name := strings.ToLower(p.Name)
	if set, ok := getCached(c, c.sources, name); ok && set.id == id {
		return set
	}
	set := sourceSet{id: id}
	for _, spec := range specs {
		src, err := s.providerSource(spec)
		if err != nil {
			s.log.Warn("provider collateral source not used", "provider", p.Name, "source", spec,
				"code", errs.Code(err), "err", errs.Detail(err))
			src = brokenSource{spec: spec, err: err}
		}
		set.list = append(set.list, src)
	}
	putCached(c, c.sources, name, set)
	return set
}

// brokenSource stands for a provider's source that is not used: it fails
// without a request.
type brokenSource struct {
	spec string
	err  error
}

func (b brokenSource) Name() string { return b.spec }

func (b brokenSource) Fetch(context.Context, pcs.FetchRequest) (*pcs.Collateral, error) {
	return nil, b.err
}
