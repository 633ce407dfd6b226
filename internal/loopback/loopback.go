// Package loopback dials names under .localhost on the loopback address.
// RFC 6761 reserves them for loopback, and browsers and curl resolve them
// so, but Go's resolver asks DNS. Host-named providers of a development
// server (https://NAME.avow.localhost:8443) are reached so without
// changing /etc/hosts or DNS.
package loopback

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"
)

// Is reports whether host (without a port) is localhost or a name under
// .localhost.
func Is(host string) bool {
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// Dial wraps d's DialContext: an address whose host is localhost or under
// .localhost is dialled at 127.0.0.1, then ::1; others as they are.
func Dial(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil || !Is(host) {
			return d.DialContext(ctx, network, addr)
		}
		c, err := d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		if err == nil {
			return c, nil
		}
		if c6, err6 := d.DialContext(ctx, network, net.JoinHostPort("::1", port)); err6 == nil {
			return c6, nil
		}
		return nil, err
	}
}

// Transport is a clone of http.DefaultTransport that dials with Dial.
func Transport() *http.Transport {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = Dial(&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second})
	return tr
}
