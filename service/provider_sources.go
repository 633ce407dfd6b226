package service

import (
	"context"
	"encoding/json"
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

// maxProviderSources bounds a provider's collateralSources.
const maxProviderSources = 16

// CollateralSources returns a provider's collateralSources setting; nil
// when the provider uses the deployment's sources.
func CollateralSources(s store.Settings) []string {
	if len(s.Extra) == 0 {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(s.Extra, &m) != nil {
		return nil
	}
	var out []string
	if json.Unmarshal(m[collateralSourcesMember], &out) != nil || len(out) == 0 {
		return nil
	}
	return out
}

// withCollateralSources sets the collateralSources member of Extra (an
// empty list removes it), keeping the other members.
func withCollateralSources(extra json.RawMessage, specs []string) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(extra) > 0 {
		if err := json.Unmarshal(extra, &m); err != nil || m == nil {
			m = map[string]json.RawMessage{}
		}
	}
	if len(specs) == 0 {
		delete(m, collateralSourcesMember)
	} else {
		b, err := json.Marshal(specs)
		if err != nil {
			return nil, err
		}
		m[collateralSourcesMember] = b
	}
	if len(m) == 0 {
		return nil, nil
	}
	return json.Marshal(m)
}

// checkCollateralSources validates a collateralSources setting with the
// parser of avow serve --collateral-source and returns it trimmed.
func (s *Service) checkCollateralSources(specs []string) ([]string, error) {
	if len(specs) > maxProviderSources {
		return nil, ErrInvalidRequest.Wrapf("%d collateral sources; at most %d", len(specs), maxProviderSources)
	}
	out := make([]string, 0, len(specs))
	for _, spec := range specs {
		spec = strings.TrimSpace(spec)
		if _, err := pcs.ParseSource(spec, s.sourceOptions()); err != nil {
			return nil, ErrInvalidRequest.Wrapf("collateral source %q: %s", spec, errs.Detail(err))
		}
		out = append(out, spec)
	}
	return out, nil
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
// every change).
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
		src, err := pcs.ParseSource(spec, s.sourceOptions())
		if err != nil {
			// Valid when set (a folder may have gone since): the fetch
			// reports it with the other sources' errors.
			s.log.Warn("provider collateral source unusable", "provider", p.Name, "source", spec, "err", errs.Detail(err))
			src = brokenSource{spec: spec, err: err}
		}
		set.list = append(set.list, src)
	}
	putCached(c, c.sources, name, set)
	return set
}

// brokenSource stands for a provider's source that no longer parses.
type brokenSource struct {
	spec string
	err  error
}

func (b brokenSource) Name() string { return b.spec }

func (b brokenSource) Fetch(context.Context, pcs.FetchRequest) (*pcs.Collateral, error) {
	return nil, b.err
}
