package pcs

import (
	"errors"
	"net/url"
	"path"
	"strings"
)

// IsLocalSource reports whether spec names a file or folder source
// ("dir:PATH", "file:PATH" or a plain path: what ParseSource reads with
// NewDirSource) rather than a URL. It does not touch the file system.
func IsLocalSource(spec string) bool {
	spec = strings.TrimSpace(spec)
	switch {
	case spec == "", spec == KindPCS, strings.HasPrefix(spec, "pcs:"), strings.HasPrefix(spec, "pccs:"):
		return false
	case strings.HasPrefix(spec, "dir:"), strings.HasPrefix(spec, "file:"):
		return true
	}
	return !strings.HasPrefix(spec, "http://") && !strings.HasPrefix(spec, "https://")
}

// SourceRule is a URL prefix under which collateral sources are allowed
// (avow serve --provider-collateral-source-allow): a URL falls under it
// when it has the rule's scheme, host and port and its path is the
// rule's or below it (segment-wise, after removing dot segments).
type SourceRule struct {
	origin string // scheme://host:port, lowercase, port explicit
	path   string // without a trailing slash; "" for the whole origin
	text   string
}

// ParseSourceRule reads an allow-list value: "pcs" for Intel's PCS
// (https://api.trustedservices.intel.com), or an http(s) URL prefix such
// as https://pccs.internal:8081. File and folder sources have no rule:
// they are the operator's alone.
func ParseSourceRule(v string) (SourceRule, error) {
	v = strings.TrimSpace(v)
	if v == KindPCS {
		v = DefaultPCSURL
	}
	if !strings.HasPrefix(v, "http://") && !strings.HasPrefix(v, "https://") {
		return SourceRule{}, errors.New("want pcs or an http(s) URL prefix (file and folder sources are for the operator's --collateral-source only)")
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || u.Hostname() == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return SourceRule{}, errors.New("not a plain http(s) URL prefix (scheme://host[:port][/path])")
	}
	p := strings.TrimRight(cleanPath(u.Path), "/")
	return SourceRule{origin: origin(u), path: p, text: v}, nil
}

// Allows reports whether u falls under r.
func (r SourceRule) Allows(u *url.URL) bool {
	if r.origin == "" || u == nil || u.User != nil || origin(u) != r.origin {
		return false
	}
	p := cleanPath(u.Path)
	return r.path == "" || p == r.path || strings.HasPrefix(p, r.path+"/")
}

// String returns the rule as given.
func (r SourceRule) String() string { return r.text }

// cleanPath removes dot segments ("/a/../b" is "/b", as a server would
// read it); "" stays "".
func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	c := path.Clean("/" + p)
	if c == "/" {
		return ""
	}
	return c
}
