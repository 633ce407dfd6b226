package api

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/avowhq/avow/errs"
)

// A provider whose publicNetworkAccess is Disabled (an ARM property,
// service/access.go) answers on its data plane only to clients on the
// networks the operator declared private (avow serve --private-networks).
// The client is the connection's peer address, or, when the operator names
// a trusted proxy header (--trusted-proxy-header, off by default) and the
// peer is one of the trusted proxies (--trusted-proxies), the address that
// header names: the right-most address in it that is not itself a trusted
// proxy, as each proxy appends the address it received the request from.
// Every other client gets 403 with MAA's error body.

// ErrPublicNetworkDisabled refuses a data-plane request from a network the
// operator did not declare private.
var ErrPublicNetworkDisabled = errs.New("public_network_access_disabled",
	"public network access to this attestation provider is disabled; it answers only to the server's private networks").WithStatus(http.StatusForbidden)

// NetworkOptions declare which networks are private and which proxies are
// trusted to name the client.
type NetworkOptions struct {
	// PrivateNetworks are the networks a provider with publicNetworkAccess
	// Disabled answers to.
	PrivateNetworks []netip.Prefix
	// TrustedProxyHeader, when set (e.g. X-Forwarded-For), names the
	// client's address in requests that come from a TrustedProxies address;
	// it is ignored on requests from anywhere else.
	TrustedProxyHeader string
	TrustedProxies     []netip.Prefix
}

// ParsePrefixes reads a comma-separated list of CIDRs or single addresses
// (a single address is its /32 or /128).
func ParsePrefixes(list string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, errs.New("invalid_config", "not a CIDR or an IP address").Wrapf("%q", f)
			}
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, errs.New("invalid_config", "not a CIDR or an IP address").Wrapf("%q", f)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func inPrefixes(a netip.Addr, list []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHostAddr reads an address as a proxy header or RemoteAddr gives it:
// "a.b.c.d", "a.b.c.d:port", "[v6]:port", "v6", "[v6]".
func parseHostAddr(s string) netip.Addr {
	s = strings.TrimSpace(s)
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if h, _, err := net.SplitHostPort(s); err == nil {
		s = h
	}
	a, err := netip.ParseAddr(strings.Trim(s, "[]"))
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

// networkClient returns the address of the request's client (see above); the
// zero Addr when a trusted proxy's header does not name one.
func (s *Server) networkClient(r *http.Request) netip.Addr {
	peer := parseHostAddr(r.RemoteAddr)
	n := s.network
	if n.TrustedProxyHeader == "" || !inPrefixes(peer, n.TrustedProxies) {
		return peer
	}
	values := r.Header.Values(n.TrustedProxyHeader)
	if len(values) == 0 {
		return peer // the proxy forwarded nothing: the proxy is the client
	}
	hops := strings.Split(strings.Join(values, ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a := parseHostAddr(hops[i])
		if !a.IsValid() {
			return netip.Addr{} // unreadable: trust nothing further left
		}
		if i == 0 || !inPrefixes(a, n.TrustedProxies) {
			return a
		}
	}
	return netip.Addr{}
}

// networkAllowed answers 403 and returns false when provider's public
// network access is disabled and the client is not on a private network.
func (s *Server) networkAllowed(w http.ResponseWriter, r *http.Request, provider string) bool {
	if provider == "" || !s.svc.PublicNetworkAccessDisabled(r.Context(), provider) {
		return true
	}
	a := s.networkClient(r)
	if inPrefixes(a, s.network.PrivateNetworks) {
		return true
	}
	who := "an unreadable address"
	if a.IsValid() {
		who = a.String()
	}
	s.writeError(w, r, ErrPublicNetworkDisabled.Wrapf("provider %s has publicNetworkAccess Disabled and %s is not on a private network of this server", provider, who))
	return false
}
